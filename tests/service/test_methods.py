"""The method table behind HEAD and ``Allow``: matching, and its bounded cache of paths."""

from __future__ import annotations

from typing import Any

from unstuck.service import methods
from unstuck.service.methods import MethodTable

_PATHS: dict[str, dict[str, Any]] = {
    "/users": {"get": {}, "post": {}},
    "/users/{user_id}": {"get": {}},
    "/compute": {"post": {}, "parameters": []},
}


def test_methods_of_every_template_that_matches() -> None:
    table = MethodTable(_PATHS)
    assert table.allowed("/users") == {"GET", "HEAD", "POST"}
    assert table.allowed("/users/7") == {"GET", "HEAD"}
    assert table.allowed("/compute") == {"POST"}
    assert table.allowed("/nowhere") == frozenset()
    # Asked again, the same answers (now from the cache).
    assert table.allowed("/users/7") == {"GET", "HEAD"}
    assert table.allowed("/nowhere") == frozenset()


def test_the_cache_of_paths_stays_bounded() -> None:
    table = MethodTable(_PATHS)
    for user_id in range(3 * methods._CACHED_PATHS):
        assert table.allowed(f"/users/{user_id}") == {"GET", "HEAD"}
    assert len(table._cache) <= methods._CACHED_PATHS
