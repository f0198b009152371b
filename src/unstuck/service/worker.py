"""Celery worker processes of the service (interface; being written)."""

from __future__ import annotations

import subprocess

from unstuck.service.settings import Settings


def spawn_embedded_worker(settings: Settings) -> subprocess.Popen[bytes]:
    raise NotImplementedError


def stop_worker(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    raise NotImplementedError


def worker(argv: list[str]) -> int:
    raise NotImplementedError
