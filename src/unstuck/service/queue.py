"""Celery application of the service (interface; being written)."""

from __future__ import annotations

from celery import Celery

from unstuck.service.settings import Settings


def create_celery(settings: Settings) -> Celery:
    raise NotImplementedError
