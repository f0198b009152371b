"""Settings of the service, from ``UNSTUCK_*`` environment variables.

Nothing configured means the embedded default: SQLite, an in-process cache and
Celery on kombu's filesystem transport, all under ``data_dir``. Every limit the
service enforces (upload size, delays, pool sizes, timeouts) is a setting here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_SCHEMES: dict[str, tuple[str, ...]] = {
    "database_url": ("postgresql+asyncpg", "sqlite+aiosqlite"),
    "redis_url": ("redis", "rediss", "unix"),
    "broker_url": ("redis", "amqp", "rediss", "amqps", "pyamqp"),
    "upstream_url": ("http", "https"),
}


def environment_name(field: str) -> str:
    return f"UNSTUCK_{field.upper()}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UNSTUCK_", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None,
        description="postgresql+asyncpg://... or sqlite+aiosqlite:///...; default: SQLite",
    )
    redis_url: str | None = Field(default=None, description="cache; default: in-process TTL cache")
    broker_url: str | None = Field(
        default=None, description="redis://... or amqp://...; default: filesystem transport"
    )
    upstream_url: str | None = Field(
        default=None, description="base URL for /proxy and /safe; default: the built-in upstream"
    )

    # Connection pool, per engine and per worker process.
    pool_size: int = Field(default=20, ge=1)
    max_overflow: int = Field(default=10, ge=0)
    pool_timeout: float = Field(default=30.0, gt=0)
    pool_recycle: int = Field(default=3600, ge=-1)
    pool_pre_ping: bool = True

    # Processes and threads.
    workers: int = Field(default=1, ge=1, description="uvicorn worker processes")
    thread_pool_tokens: int = Field(default=40, ge=1, description="anyio limiter for def routes")
    pipeline_thread_tokens: int = Field(
        default=10, ge=1, description="limiter of the video pipeline's blocking calls"
    )
    compute_threads: int = Field(default=4, ge=1, description="executor behind POST /compute")
    process_pool_workers: int = Field(default=2, ge=1)
    process_pool_start_method: Literal["spawn", "forkserver", "fork"] = "forkserver"

    # Limits of the routes.
    max_delay_s: float = Field(default=10.0, gt=0)
    compute_max_n: int = Field(default=50_000_000, ge=1)
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    max_concurrent_uploads: int = Field(default=8, ge=1, description="per worker process")
    data_dir_quota_bytes: int = Field(default=20 * 1024**3, ge=1)
    min_free_disk_bytes: int = Field(default=1024**3, ge=0)
    # The largest body a route needs is /ml-inference's 1,000 rows (about 25 kB); a body
    # under the limit is parsed and validated on the loop, which takes about 10 ms at 64 KiB.
    max_body_bytes: int = Field(
        default=64 * 1024, ge=1, description="request body of every route but the uploads"
    )
    upstream_timeout_s: float = Field(default=5.0, gt=0)
    safe_timeout_s: float = Field(default=2.0, gt=0)
    cache_ttl_s: float = Field(default=60.0, gt=0)
    cache_prefix: str = Field(default="unstuck:", description="prefix of every cache key")
    cache_max_entries: int = Field(default=10_000, ge=1, description="in-process cache only")

    # The video pipeline (docs/videos.md): storage, job liveness, retention.
    storage_url: str | None = Field(
        default=None,
        description="s3://bucket/prefix for uploads and results; default: folders in data_dir",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint; default: the AWS one of s3_region"
    )
    s3_region: str = Field(default="us-east-1", min_length=1)
    s3_access_key_id: str | None = Field(default=None, description="default: boto3's chain")
    s3_secret_access_key: str | None = Field(default=None, description="default: boto3's chain")
    s3_timeout_s: float = Field(default=10.0, gt=0, description="connect and read timeout")
    job_heartbeat_s: float = Field(
        default=10.0, gt=0, description="a running job and each worker write their heartbeat"
    )
    job_requeue_after_s: float = Field(
        default=60.0, gt=0, description="a job silent this long is sent to the queue again"
    )
    job_max_attempts: int = Field(
        default=3, ge=1, description="workers lost on one job before it is a FAILURE"
    )
    retention_s: float = Field(
        default=7 * 24 * 3600.0, gt=0, description="results and job rows are deleted after"
    )
    upload_abandoned_after_s: float = Field(
        default=3600.0,
        gt=0,
        description="an upload whose web process died before it was queued is deleted after",
    )

    # What a client may hold (unstuck.service.http_protocol, uvicorn's options).
    max_connections: int = Field(
        default=10_000, ge=1, description="per worker; idle ones are closed first past it"
    )
    head_timeout_s: float = Field(default=10.0, gt=0, description="to send a request's head")
    max_head_bytes: int = Field(default=64 * 1024, ge=1024)
    max_headers: int = Field(default=100, ge=1)
    keep_alive_s: int = Field(default=5, ge=1, description="idle time between requests")
    backlog: int = Field(default=2048, ge=1, description="connections queued by the kernel")
    worker_healthcheck_s: int = Field(
        default=30, ge=1, description="--workers N: a worker silent this long is replaced"
    )

    # Bounded waits on the backends (PostgreSQL: unstuck.service.db_timeouts).
    db_connect_timeout_s: float = Field(default=5.0, gt=0)
    db_statement_timeout_s: float = Field(
        default=30.0, gt=0, description="server-side statement_timeout, both engines"
    )
    db_tcp_user_timeout_s: float = Field(
        default=10.0, gt=0, description="a connection whose data stays unacknowledged is dropped"
    )
    db_keepalive_idle_s: int = Field(default=10, ge=1)
    db_keepalive_interval_s: int = Field(default=5, ge=1)
    db_keepalive_count: int = Field(default=3, ge=1)
    redis_timeout_s: float = Field(default=2.0, gt=0, description="connect and socket timeout")

    antipatterns: bool = Field(default=False, description="mount /bad and /also-bad")
    asyncio_debug: bool = Field(default=False, description="loop.set_debug(True) in lifespan")
    watch_token: str | None = None
    telemetry: bool = Field(
        default=False,
        description="FastAPI's native OpenTelemetry: a span, metrics and logs for every request",
    )

    @field_validator("database_url", "redis_url", "broker_url", "upstream_url")
    @classmethod
    def _supported_scheme(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Found here, at start, rather than as a traceback from a driver later on.
        if value is None:
            return None
        schemes = _SCHEMES[info.field_name or ""]
        scheme = value.partition("://")[0].lower() if "://" in value else ""
        if scheme not in schemes:
            accepted = ", ".join(f"{name}://" for name in schemes)
            shown = f"{scheme}://" if scheme else "a URL with no scheme"
            raise ValueError(f"{shown} is not supported; use {accepted}")
        return value

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, ``None`` on PostgreSQL."""
        url = self.async_database_url
        prefix = "sqlite+aiosqlite:///"
        if not url.startswith(prefix) or url[len(prefix) :] in ("", ":memory:"):
            return None
        return Path(url[len(prefix) :].split("?", 1)[0])

    @property
    def is_postgres(self) -> bool:
        return self.async_database_url.startswith("postgresql")

    @property
    def async_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'unstuck.db').resolve()}"

    @property
    def sync_database_url(self) -> str:
        """The same database through a sync driver (psycopg 3 / sqlite3)."""
        url = self.async_database_url
        for async_prefix, sync_prefix in (
            ("postgresql+asyncpg://", "postgresql+psycopg://"),
            ("sqlite+aiosqlite://", "sqlite://"),
        ):
            if url.startswith(async_prefix):
                return sync_prefix + url[len(async_prefix) :]
        return url


def settings_error(exc: ValidationError) -> str:
    """One line naming each bad ``UNSTUCK_*`` variable and what is wrong with it."""
    problems = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        name = environment_name(field) if field in Settings.model_fields else field
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{name}={error['input']!r}: {message}" if name else message)
    return "invalid settings: " + "; ".join(problems)
