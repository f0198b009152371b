"""Video upload, task state and transcoded results (interface; being written)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
