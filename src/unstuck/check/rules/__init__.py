"""The rules, one module each; the codes are stable.

USK1xx: blocking work reachable on the event loop. USK2xx: asyncio misuse.
"""

from unstuck.check.rule import Rule
from unstuck.check.rules import (
    blocking_sleep,
    boto3_calls,
    celery_calls,
    configured,
    console_input,
    cpu_heavy,
    file_io,
    file_metadata,
    get_event_loop,
    http_timeout,
    nested_loop_run,
    smtp,
    sockets,
    subprocesses,
    sync_db_driver,
    sync_http,
    sync_orm,
    sync_redis,
    sync_sdk,
    sync_sqlalchemy,
    sync_wait,
)

ALL_RULES: tuple[Rule, ...] = tuple(
    module.RULE
    for module in (
        configured,
        blocking_sleep,
        sync_http,
        sockets,
        sync_db_driver,
        sync_sqlalchemy,
        sync_redis,
        boto3_calls,
        smtp,
        subprocesses,
        file_io,
        celery_calls,
        console_input,
        cpu_heavy,
        sync_wait,
        sync_sdk,
        sync_orm,
        file_metadata,
        get_event_loop,
        nested_loop_run,
        http_timeout,
    )
)

__all__ = ["ALL_RULES"]
