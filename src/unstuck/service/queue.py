"""The Celery application of the service and its one task, ``unstuck.transcode_video``.

`create_celery` is called by the web process (to send tasks) and by ``unstuck
worker`` (to run them); both build the app from the same `Settings`, so they
agree on broker, queue and task name.

Brokers, chosen by ``UNSTUCK_BROKER_URL``:

- unset: kombu's filesystem transport in ``data_dir/broker`` (one machine, no server);
- ``redis://``: Redis;
- ``amqp://``: RabbitMQ.

Delivery is at least once: a message is acknowledged after the task ran
(``acks_late``), given back when the process running it dies
(``reject_on_worker_lost``), one at a time per process (prefetch 1), and
Redis's visibility timeout is sized from the hard time limit, so it never
hands a running task to a second worker. What the broker may still lose (a
restart without persistence, a worker killed between taking a message and
recording it) is recovered from the ``video_jobs`` rows (`unstuck.service.jobs`,
`unstuck.service.recovery`). No result backend: users read the rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery, Task
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from unstuck.service import broker_folder, transcode
from unstuck.service.settings import Settings

TRANSCODE_TASK = "unstuck.transcode_video"

_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.0, "interval_step": 0.5, "interval_max": 1.0}


class QueueSettings(BaseSettings):
    """Settings of the task queue, from ``UNSTUCK_*`` variables like `Settings`."""

    model_config = SettingsConfigDict(env_prefix="UNSTUCK_", extra="ignore")

    celery_queue: str = Field(default="unstuck", min_length=1, description="queue of the tasks")
    task_soft_time_limit_s: int = Field(
        default=300, gt=0, description="the task is told to stop (it fails cleanly)"
    )
    task_time_limit_s: int = Field(
        default=330, gt=0, description="the pool process running the task is killed"
    )
    video_max_width: int = Field(default=transcode.MAX_WIDTH, ge=2)

    @model_validator(mode="after")
    def _hard_after_soft(self) -> QueueSettings:
        if self.task_time_limit_s <= self.task_soft_time_limit_s:
            raise ValueError(
                "UNSTUCK_TASK_TIME_LIMIT_S must be greater than UNSTUCK_TASK_SOFT_TIME_LIMIT_S, "
                "so that the task can stop cleanly before its process is killed"
            )
        return self


def visibility_timeout_s(queue: QueueSettings) -> int:
    """How long Redis waits for an ack before handing a message out again.

    Longer than the hard time limit, so a task still running is never given to a
    second worker; a lost worker is noticed sooner from its job's heartbeat.
    """
    return 2 * queue.task_time_limit_s


def create_celery(settings: Settings, queue_settings: QueueSettings | None = None) -> Celery:
    """Build the Celery app for `settings` and register the transcode task on it."""
    queue = queue_settings or QueueSettings()
    data_dir = settings.data_dir.resolve()

    app = Celery("unstuck", set_as_current=False)
    broker = _broker_conf(settings, data_dir)
    broker["broker_transport_options"] = {
        "visibility_timeout": visibility_timeout_s(queue),
        **broker.get("broker_transport_options", {}),
    }
    app.conf.update(
        broker,
        result_backend=None,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=queue.celery_queue,
        broker_connection_retry_on_startup=True,
        # A worker that lost its broker keeps trying: the link may come back.
        broker_connection_max_retries=None,
        # A broker that is down must become a quick 503 in the web process,
        # not a request hanging through Celery's default of 20 reconnect attempts.
        broker_connection_timeout=3.0,
        task_publish_retry_policy=_RETRY_POLICY,
        redis_socket_connect_timeout=3.0,
        redis_socket_timeout=10.0,
        # At least once: acknowledged after the run, given back if the process dies.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # Transcodes are long: a worker takes one at a time, not a prefetched batch.
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
    )

    @app.task(
        name=TRANSCODE_TASK,
        bind=True,
        # One task per app: a shared task would be registered on every app built later.
        shared=False,
        soft_time_limit=queue.task_soft_time_limit_s,
        time_limit=queue.task_time_limit_s,
        ignore_result=True,
    )
    def transcode_video(self: Task[Any, Any]) -> None:
        task_id = self.request.id
        if not isinstance(task_id, str):
            raise RuntimeError("transcode_video must run as a task, with an id")
        # Imported here: the web process builds this app but never runs the task.
        from unstuck.service.transcode_job import run_job

        run_job(settings, queue, task_id)

    # Finalizing loads the configuration and binds the tasks (imports, getcwd): do it
    # here, at start-up, rather than on the event loop at the first request.
    app.finalize(auto=True)
    return app


def _broker_conf(settings: Settings, data_dir: Path) -> dict[str, Any]:
    broker = settings.broker_url
    if broker is None:
        messages = data_dir / "broker" / "messages"
        processed = data_dir / "broker" / "processed"
        messages.mkdir(parents=True, exist_ok=True)
        processed.mkdir(parents=True, exist_ok=True)
        # Exchange bindings: kombu keeps them in ./control unless told, which would
        # scatter state into whatever directory the process was started from.
        control = data_dir / "broker" / "control"
        control.mkdir(parents=True, exist_ok=True)
        return {
            "broker_url": "filesystem://localhost//",
            # kombu's filesystem transport, with messages written atomically.
            "broker_transport": broker_folder.TRANSPORT,
            "broker_transport_options": {
                # The same folder both ways: producers write where the worker reads.
                "data_folder_in": str(messages),
                "data_folder_out": str(messages),
                "processed_folder": str(processed),
                "control_folder": str(control),
                "store_processed": False,
                "polling_interval": 0.2,
            },
            # The filesystem transport has no broadcast for remote control.
            "worker_enable_remote_control": False,
        }
    scheme = broker.split("://", 1)[0].lower()
    if scheme in {"redis", "rediss"}:
        return {
            "broker_url": broker,
            # A broken link must become an error the consumer reconnects from, not a
            # socket read that waits for ever.
            "broker_transport_options": {
                "socket_timeout": 10,
                "socket_connect_timeout": 3,
                "socket_keepalive": True,
                "health_check_interval": 5,
            },
        }
    if scheme in {"amqp", "amqps", "pyamqp"}:
        return {"broker_url": broker}
    raise ValueError(
        f"UNSTUCK_BROKER_URL {scheme}://... is not supported: use redis://, amqp:// "
        "or leave it unset for the embedded filesystem broker"
    )
