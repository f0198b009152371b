"""Runtime monitor for the event loop of a FastAPI/Starlette app."""
