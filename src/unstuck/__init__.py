"""unstuck: keep a FastAPI service's event loop unstuck."""
