"""The Celery application of the service and its one task, ``unstuck.transcode_video``.

`create_celery` is called by the web process (to send tasks and read their
state) and by ``unstuck worker`` (to run them); both build the app from the
same `Settings`, so they agree on broker, result backend, queue and task name.

Brokers, chosen by ``UNSTUCK_BROKER_URL``:

- unset: kombu's filesystem transport in ``data_dir/broker`` and a SQLite
  result backend in ``data_dir/celery-results.db`` (one machine, no server);
- ``redis://``: Redis, with the same Redis as result backend unless
  ``UNSTUCK_RESULT_BACKEND`` says otherwise;
- ``amqp://``: RabbitMQ, with ``UNSTUCK_RESULT_BACKEND`` or the SQLite one.

``task_track_started`` is on so that a running task reads STARTED rather than
PENDING, which Celery also answers for ids it has never seen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from unstuck.service import transcode
from unstuck.service.settings import Settings
from unstuck.service.video_store import VideoStore

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


class TranscodeTimeoutError(RuntimeError):
    """The transcode ran past the soft time limit."""


def create_celery(settings: Settings, queue_settings: QueueSettings | None = None) -> Celery:
    """Build the Celery app for `settings` and register the transcode task on it.

    Creates the folders of the data dir it uses (broker, uploads, videos).
    """
    queue = queue_settings or QueueSettings()
    data_dir = settings.data_dir.resolve()
    store = VideoStore(data_dir)
    store.create_folders()

    app = Celery("unstuck", set_as_current=False)
    app.conf.update(
        _broker_conf(settings, data_dir),
        task_track_started=True,
        result_extended=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_default_queue=queue.celery_queue,
        broker_connection_retry_on_startup=True,
        # A broker or backend that is down must become a quick 503 in the web process,
        # not a request hanging through Celery's default of 20 reconnect attempts.
        broker_connection_timeout=3.0,
        task_publish_retry_policy=_RETRY_POLICY,
        result_backend_transport_options={"retry_policy": _RETRY_POLICY},
        redis_socket_connect_timeout=3.0,
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
        # Bad uploads are the user's error, not the worker's: no traceback in its log.
        throws=(transcode.NotAVideoError, TranscodeTimeoutError),
    )
    def transcode_video(self: Task[Any, Any], upload_name: str) -> dict[str, Any]:
        task_id = self.request.id
        if not isinstance(task_id, str):
            raise RuntimeError("transcode_video must run as a task, with an id")
        return run_transcode(
            store, task_id, upload_name, queue.video_max_width, queue.task_soft_time_limit_s
        )

    # Finalizing loads the configuration and binds the tasks (imports, getcwd): do it
    # here, at start-up, rather than on the event loop at the first request.
    app.finalize(auto=True)
    return app


def run_transcode(
    store: VideoStore, task_id: str, upload_name: str, max_width: int, soft_limit_s: int
) -> dict[str, Any]:
    """The body of the task: transcode the upload of `task_id`, then remove the upload."""
    source = store.upload_path(task_id)
    if upload_name != source.name:
        # The name is part of the message; refuse anything but the one this id owns.
        raise ValueError(f"upload {upload_name!r} does not belong to task {task_id}")
    if not source.is_file():
        raise FileNotFoundError(f"the upload of task {task_id} is no longer on disk")
    try:
        info = transcode.transcode(
            source, store.video_path(task_id), store.thumbnail_path(task_id), max_width
        )
    except SoftTimeLimitExceeded as exc:
        raise TranscodeTimeoutError(
            f"transcoding took longer than the limit of {soft_limit_s} s"
        ) from exc
    finally:
        source.unlink(missing_ok=True)
    return {
        "width": info.width,
        "height": info.height,
        "codec": info.codec,
        "duration_s": info.duration_s,
        "size": store.video_path(task_id).stat().st_size,
    }


def _broker_conf(settings: Settings, data_dir: Path) -> dict[str, Any]:
    sqlite_backend = f"db+sqlite:///{data_dir / 'celery-results.db'}"
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
            "result_backend": settings.result_backend or sqlite_backend,
        }
    scheme = broker.split("://", 1)[0].lower()
    if scheme in {"redis", "rediss"}:
        return {"broker_url": broker, "result_backend": settings.result_backend or broker}
    if scheme in {"amqp", "amqps", "pyamqp"}:
        return {"broker_url": broker, "result_backend": settings.result_backend or sqlite_backend}
    raise ValueError(
        f"UNSTUCK_BROKER_URL {scheme}://... is not supported: use redis://, amqp:// "
        "or leave it unset for the embedded filesystem broker"
    )
