"""The moves of a video_jobs row, on SQLite and PostgreSQL: claims, heartbeats, re-queueing
with back-off, the attempts limit, retention (rows and objects) and worker liveness."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from unstuck.service import jobs
from unstuck.service.models import VideoJob, VideoWorker
from unstuck.service.queue import create_celery
from unstuck.service.recovery import Recovery
from unstuck.service.settings import Settings
from unstuck.service.storage import (
    create_storage,
    new_task_id,
    thumbnail_key,
    upload_key,
    video_key,
)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = jobs.worker_engine(settings)
    try:
        yield engine
    finally:
        engine.dispose()


def _issue(engine: Engine) -> str:
    task_id = new_task_id()
    with engine.begin() as connection:
        connection.execute(jobs.insert_statement(task_id, "a.mp4", 10))
    return task_id


def _age(engine: Engine, task_id: str, seconds: float, **columns: bool) -> None:
    """Move the row's timestamps `seconds` into the past, as time passing would."""
    moment = jobs.now() - timedelta(seconds=seconds)
    with engine.begin() as connection:
        connection.execute(
            update(VideoJob)
            .where(VideoJob.id == task_id)
            .values(**{name: moment for name, chosen in columns.items() if chosen})
        )


def test_one_delivery_runs_a_job_and_a_finished_one_is_not_redone(engine: Engine) -> None:
    task_id = _issue(engine)

    assert jobs.claim(engine, task_id, "w1", 60, 3) is jobs.Claim.CLAIMED
    assert jobs.claim(engine, task_id, "w2", 60, 3) is jobs.Claim.BUSY
    jobs.succeed(engine, task_id, {"size": 1})
    assert jobs.claim(engine, task_id, "w2", 60, 3) is jobs.Claim.FINISHED
    jobs.fail(engine, task_id, "X", "late")  # a second finisher changes nothing
    assert jobs.claim(engine, new_task_id(), "w1", 60, 3) is jobs.Claim.UNKNOWN

    job = jobs.read(engine, task_id)
    assert job is not None
    assert (job.state, job.result, job.error_type, job.attempts) == (
        "SUCCESS",
        {"size": 1},
        None,
        1,
    )


def test_a_silent_worker_job_is_requeued_and_the_attempts_are_bounded(engine: Engine) -> None:
    task_id = _issue(engine)
    assert jobs.claim(engine, task_id, "w1", 60, 2) is jobs.Claim.CLAIMED
    jobs.beat(engine, task_id, "w1")
    assert jobs.requeue(engine, 60) == []

    _age(engine, task_id, 61, heartbeat_at=True)
    assert jobs.requeue(engine, 60) == [task_id]
    assert jobs.requeue(engine, 60) == []  # taken once
    assert jobs.read(engine, task_id).state == "PENDING"  # type: ignore[union-attr]
    assert jobs.claim(engine, task_id, "w2", 60, 2) is jobs.Claim.CLAIMED

    # The second worker dies too: past the attempts limit the job fails, never stays STARTED.
    _age(engine, task_id, 61, heartbeat_at=True)
    assert jobs.requeue(engine, 60) == [task_id]
    assert jobs.claim(engine, task_id, "w3", 60, 2) is jobs.Claim.FINISHED
    job = jobs.read(engine, task_id)
    assert job is not None
    assert (job.state, job.error_type) == ("FAILURE", "WorkerLostError")
    assert "lost 2 times" in (job.error_message or "")


def test_a_pending_job_is_sent_again_with_back_off(engine: Engine) -> None:
    task_id = _issue(engine)
    assert jobs.requeue(engine, 10) == []
    _age(engine, task_id, 11, sent_at=True)
    assert jobs.requeue(engine, 10) == [task_id]  # first re-send after the bound
    _age(engine, task_id, 11, sent_at=True)
    assert jobs.requeue(engine, 10) == []  # the next one waits twice as long
    _age(engine, task_id, 21, sent_at=True)
    assert jobs.requeue(engine, 10) == [task_id]


def test_retention_deletes_rows_objects_and_keeps_the_recent(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    store = create_storage(settings)
    old, recent = _issue(engine), _issue(engine)
    for task_id in (old, recent):
        for key in (upload_key(task_id), video_key(task_id), thumbnail_key(task_id)):
            (tmp_path / "object").write_bytes(b"x")
            store.put_file(key, tmp_path / "object")
        jobs.claim(engine, task_id, "w", 60, 3)
        jobs.succeed(engine, task_id, {})
    _age(engine, old, 3600, finished_at=True)

    recovery = Recovery(
        create_celery(settings), settings.model_copy(update={"retention_s": 60}), "w"
    )
    try:
        recovery.tick()
    finally:
        recovery.stop()

    assert jobs.read(engine, old) is None
    assert not any(store.exists(key(old)) for key in (upload_key, video_key, thumbnail_key))
    assert jobs.read(engine, recent) is not None
    assert store.exists(video_key(recent))
    # Stopping removed the worker's liveness row that the tick wrote.
    with engine.connect() as connection:
        assert connection.execute(select(VideoWorker.name)).all() == []


def test_uploads_left_uploading_are_deleted_after_the_bound_with_their_objects(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    store = create_storage(settings)
    old, recent, issued = new_task_id(), new_task_id(), new_task_id()
    for task_id in (old, recent, issued):
        with engine.begin() as connection:
            connection.execute(jobs.reserve_statement(task_id, "a.mp4", 1))
        (tmp_path / "object").write_bytes(b"x")
        store.put_file(upload_key(task_id), tmp_path / "object")
    with engine.begin() as connection:
        assert connection.execute(jobs.issue_statement(issued)).rowcount == 1
    _age(engine, old, 120, created_at=True)
    _age(engine, issued, 120, created_at=True)
    # A file a dead web process was receiving, and one still arriving.
    incoming = tmp_path / "incoming"
    incoming.mkdir(exist_ok=True)
    stale, arriving = incoming / f"{old}.upload", incoming / f"{recent}.upload"
    for path in (stale, arriving):
        path.write_bytes(b"x")
    os.utime(stale, (time.time() - 120, time.time() - 120))

    bounded = settings.model_copy(update={"upload_abandoned_after_s": 60, "data_dir": tmp_path})
    recovery = Recovery(create_celery(bounded), bounded, "w")
    try:
        recovery.tick()
    finally:
        recovery.stop()

    assert jobs.read(engine, old) is None
    assert not store.exists(upload_key(old))
    found = jobs.read(engine, recent)
    assert found is not None
    assert found.state == jobs.UPLOADING
    assert store.exists(upload_key(recent))
    # A PENDING job is the workers' to run, however old.
    issued_job = jobs.read(engine, issued)
    assert issued_job is not None
    assert issued_job.state == jobs.PENDING
    assert store.exists(upload_key(issued))
    assert not stale.exists()
    assert arriving.exists()


def test_an_upload_taken_by_the_recovery_is_not_issued(engine: Engine) -> None:
    task_id = new_task_id()
    with engine.begin() as connection:
        connection.execute(jobs.reserve_statement(task_id, "a.mp4", 1))
    _age(engine, task_id, 120, created_at=True)
    assert jobs.abandon(engine, 60) == [task_id]
    # A round that died here: the next one takes the row again, whatever its age.
    assert jobs.abandon(engine, 3600) == [task_id]
    with engine.begin() as connection:
        assert connection.execute(jobs.issue_statement(task_id)).rowcount == 0
    jobs.delete_abandoned(engine, [task_id])
    assert jobs.read(engine, task_id) is None
