"""The ``video_jobs`` rows: the one record of every transcode, and how its state moves.

The web process inserts an UPLOADING row before it stores the upload
(`reserve_statement`), turns it PENDING once the upload is stored
(`issue_statement`), then sends the task; ``/task/{id}`` knows every id it
issued and nothing else (an UPLOADING row is not issued yet). So a web process
killed at any point leaves either nothing or a row naming what it stored:
`abandon` takes the UPLOADING rows older than ``upload_abandoned_after_s``
(ABANDONED), for the recovery to delete their upload, then the row. The worker moves the
row: `claim` (PENDING -> STARTED, or a STARTED row whose worker went silent),
`beat` while it runs, then `succeed` or `fail`. Every move is a conditional
UPDATE, so two deliveries of one task (at-least-once) cannot both run it, and
a finished job is never redone.

`requeue` is the recovery: run periodically by every worker, it finds STARTED
jobs whose heartbeat is older than ``job_requeue_after_s`` (their worker was
killed, lost its host or its link) and PENDING jobs sent that long ago (the
message was lost with a broker that restarted without persistence, or taken by
a worker that died before it could ack it), and returns their ids to be sent
again. A PENDING job is re-sent with exponential back-off, so a long backlog
does not flood the queue with copies. `expired` finds the rows past retention.

Functions take a sync `Engine` (the worker); the web process runs the
statements it needs (`insert_statement`, `select_statement`) on its async engine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import (
    Delete,
    Engine,
    Insert,
    Row,
    Select,
    Update,
    create_engine,
    delete,
    func,
    insert,
    pool,
    select,
    update,
)

from unstuck.service import db_timeouts
from unstuck.service.models import VideoJob, VideoWorker
from unstuck.service.settings import Settings

UPLOADING = "UPLOADING"  # the web process is storing the upload; not sent yet
ABANDONED = "ABANDONED"  # its web process died mid-upload: the recovery deletes it
PENDING = "PENDING"
STARTED = "STARTED"
SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
FINAL_STATES = frozenset({SUCCESS, FAILURE})

# A PENDING job is re-sent after requeue_after, then 2x, 4x ... up to this factor.
_MAX_BACKOFF_FACTOR = 32
_BATCH = 100

logger = logging.getLogger("unstuck.service.jobs")


def worker_engine(settings: Settings) -> Engine:
    """The sync engine of a worker process: no pool (a connection now and then, none to
    go stale across a cut link), and bounded waits when PostgreSQL is out of reach."""
    # SQLite (the embedded default, shared with the web process): wait for the write
    # lock rather than fail at once.
    connect_args: dict[str, Any] = {"timeout": 5.0}
    if settings.is_postgres:
        connect_args = db_timeouts.psycopg_connect_args(settings)
    return create_engine(
        settings.sync_database_url, poolclass=pool.NullPool, connect_args=connect_args
    )


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite gives datetimes back without their zone; every one written here is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Job:
    id: str
    state: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    result: dict[str, Any] | None
    error_type: str | None
    error_message: str | None

    @classmethod
    def from_row(cls, row: Row[Any]) -> Job:
        return cls(
            id=row.id,
            state=row.state,
            created_at=aware(row.created_at),
            started_at=aware(row.started_at) if row.started_at else None,
            finished_at=aware(row.finished_at) if row.finished_at else None,
            attempts=row.attempts,
            result=row.result,
            error_type=row.error_type,
            error_message=row.error_message,
        )


class Claim(Enum):
    """What a delivery of the task finds when it tries to take the job."""

    CLAIMED = "claimed"  # this worker runs it
    FINISHED = "finished"  # already SUCCESS or FAILURE: nothing to do
    BUSY = "busy"  # another worker runs it and is alive
    UNKNOWN = "unknown"  # no such row (never issued, or expired)


def insert_statement(task_id: str, client_filename: str | None, size: int) -> Insert:
    moment = now()
    return insert(VideoJob).values(
        id=task_id,
        state=PENDING,
        client_filename=client_filename,
        size=size,
        created_at=moment,
        sent_at=moment,
        sends=1,
        attempts=0,
    )


def reserve_statement(task_id: str, client_filename: str | None, size: int) -> Insert:
    """The row of an upload about to be stored: in the database before the object is."""
    return insert_statement(task_id, client_filename, size).values(state=UPLOADING)


def issue_statement(task_id: str) -> Update:
    """UPLOADING -> PENDING once the upload is stored; no row changes when the recovery
    has taken it meanwhile (ABANDONED, or deleted)."""
    moment = now()
    return (
        update(VideoJob)
        .where(VideoJob.id == task_id, VideoJob.state == UPLOADING)
        .values(state=PENDING, sent_at=moment)
    )


def select_statement(task_id: str) -> Select[Any]:
    return select(VideoJob.__table__).where(VideoJob.id == task_id)


def delete_statement(task_id: str) -> Delete:
    return delete(VideoJob).where(VideoJob.id == task_id)


def latest_worker_statement() -> Select[Any]:
    return select(func.max(VideoWorker.seen_at))


def read(engine: Engine, task_id: str) -> Job | None:
    with engine.connect() as connection:
        row = connection.execute(select_statement(task_id)).first()
    return Job.from_row(row) if row is not None else None


def claim(
    engine: Engine, task_id: str, worker: str, requeue_after_s: float, max_attempts: int
) -> Claim:
    moment = now()
    stale = moment - timedelta(seconds=requeue_after_s)
    taken = (
        update(VideoJob)
        .where(
            VideoJob.id == task_id,
            (VideoJob.state == PENDING)
            | ((VideoJob.state == STARTED) & (VideoJob.heartbeat_at < stale)),
        )
        .values(
            state=STARTED,
            worker=worker,
            started_at=moment,
            heartbeat_at=moment,
            attempts=VideoJob.attempts + 1,
        )
        .returning(VideoJob.attempts)
    )
    with engine.begin() as connection:
        attempts = connection.execute(taken).scalar()
        if attempts is None:
            row = connection.execute(select_statement(task_id)).first()
            if row is None:
                return Claim.UNKNOWN
            return Claim.FINISHED if row.state in FINAL_STATES else Claim.BUSY
    if attempts > max_attempts:
        fail(
            engine,
            task_id,
            "WorkerLostError",
            f"the worker transcoding this video was lost {attempts - 1} times; "
            "upload it again or ask the operator to look at the workers' logs",
        )
        return Claim.FINISHED
    return Claim.CLAIMED


def beat(engine: Engine, task_id: str, worker: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(VideoJob)
            .where(VideoJob.id == task_id, VideoJob.worker == worker, VideoJob.state == STARTED)
            .values(heartbeat_at=now())
        )


def succeed(engine: Engine, task_id: str, result: dict[str, Any]) -> None:
    _finish(engine, task_id, state=SUCCESS, result=result)


def fail(engine: Engine, task_id: str, error_type: str, message: str) -> None:
    _finish(engine, task_id, state=FAILURE, error_type=error_type, error_message=message)


def _finish(engine: Engine, task_id: str, **values: Any) -> None:
    # Whoever finishes first wins; the outputs of a second run are the same files.
    with engine.begin() as connection:
        connection.execute(
            update(VideoJob)
            .where(VideoJob.id == task_id, VideoJob.state.not_in(FINAL_STATES))
            .values(finished_at=now(), **values)
        )


def requeue(engine: Engine, requeue_after_s: float) -> list[str]:
    """Ids of the jobs to send again, each taken by this caller alone (see the docstring)."""
    moment = now()
    stale = moment - timedelta(seconds=requeue_after_s)
    candidates = (
        select(VideoJob.id, VideoJob.state, VideoJob.sent_at, VideoJob.sends)
        .where(
            ((VideoJob.state == STARTED) & (VideoJob.heartbeat_at < stale))
            | ((VideoJob.state == PENDING) & (VideoJob.sent_at < stale))
        )
        .limit(_BATCH)
    )
    due: list[str] = []
    with engine.begin() as connection:
        for row in connection.execute(candidates).all():
            if row.state == PENDING:
                factor = min(2 ** max(row.sends - 1, 0), _MAX_BACKOFF_FACTOR)
                if aware(row.sent_at) + timedelta(seconds=requeue_after_s * factor) > moment:
                    continue
                guard = (VideoJob.state == PENDING) & (VideoJob.sends == row.sends)
            else:
                guard = (VideoJob.state == STARTED) & (VideoJob.heartbeat_at < stale)
            taken = connection.execute(
                update(VideoJob)
                .where(VideoJob.id == row.id, guard)
                .values(state=PENDING, worker=None, sent_at=moment, sends=VideoJob.sends + 1)
            )
            if taken.rowcount == 1:
                due.append(row.id)
    return due


def abandon(engine: Engine, after_s: float) -> list[str]:
    """Ids of uploads whose web process died: UPLOADING rows older than `after_s`, now
    ABANDONED (each taken by this caller alone), and ABANDONED rows a previous round
    did not finish."""
    before = now() - timedelta(seconds=after_s)
    with engine.begin() as connection:
        stale = list(
            connection.execute(
                select(VideoJob.id)
                .where(VideoJob.state == UPLOADING, VideoJob.created_at < before)
                .limit(_BATCH)
            ).scalars()
        )
        taken = []
        for task_id in stale:
            marked = connection.execute(
                update(VideoJob)
                .where(VideoJob.id == task_id, VideoJob.state == UPLOADING)
                .values(state=ABANDONED)
            )
            if marked.rowcount == 1:
                taken.append(task_id)
        # Left by a round that died between marking and deleting: anyone may finish them.
        left = connection.execute(
            select(VideoJob.id)
            .where(VideoJob.state == ABANDONED, VideoJob.id.not_in(taken))
            .limit(_BATCH)
        ).scalars()
        return [*taken, *left]


def delete_abandoned(engine: Engine, task_ids: list[str]) -> None:
    with engine.begin() as connection:
        connection.execute(
            delete(VideoJob).where(VideoJob.id.in_(task_ids), VideoJob.state == ABANDONED)
        )


def expired(engine: Engine, retention_s: float) -> list[str]:
    """Ids of jobs finished more than `retention_s` ago (a batch of them)."""
    before = now() - timedelta(seconds=retention_s)
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(VideoJob.id)
                .where(VideoJob.state.in_(FINAL_STATES), VideoJob.finished_at < before)
                .limit(_BATCH)
            ).scalars()
        )


def delete_jobs(engine: Engine, task_ids: list[str]) -> None:
    with engine.begin() as connection:
        connection.execute(delete(VideoJob).where(VideoJob.id.in_(task_ids)))


def worker_seen(engine: Engine, worker: str) -> None:
    moment = now()
    with engine.begin() as connection:
        seen = connection.execute(
            update(VideoWorker).where(VideoWorker.name == worker).values(seen_at=moment)
        )
        if seen.rowcount == 0:
            connection.execute(insert(VideoWorker).values(name=worker, seen_at=moment))
        # Rows of workers silent for a day tell nothing any more.
        connection.execute(
            delete(VideoWorker).where(VideoWorker.seen_at < moment - timedelta(days=1))
        )


def worker_gone(engine: Engine, worker: str) -> None:
    with engine.begin() as connection:
        connection.execute(delete(VideoWorker).where(VideoWorker.name == worker))
