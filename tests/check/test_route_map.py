"""Route map details: unknown prefixes stay visible, mounts, add_api_route, class dependencies."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, cast

from unstuck.check import Report, check
from unstuck.check.formats import route_map_text

APP = """
import os

from fastapi import APIRouter, Depends, FastAPI

from external_settings import config

api = APIRouter(prefix=config.PREFIX)
admin = FastAPI()


class Pagination:
    def __init__(self, page: int = 1):
        self.page = page


class Checker:
    async def __call__(self) -> bool:
        return True


check_token = Checker()


@api.get("/items")
async def items(pages: Pagination = Depends(), ok: bool = Depends(check_token)):
    return []


def stats():
    return {}


@admin.delete("/cache")
def clear_cache():
    return None


app = FastAPI()
app.include_router(api)
app.add_api_route("/stats", stats, methods=["GET", "POST"])
app.mount("/admin", admin)
"""


def _checked(tmp_path: Path, source: str) -> Report:
    """The report on an application of one module, ``source``."""
    (tmp_path / "main.py").write_text(textwrap.dedent(source))
    return check([tmp_path], jobs=1)


def test_route_map_details(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(textwrap.dedent(APP))
    report = check([tmp_path], jobs=1)
    routes = {(tuple(r.methods), r.path): r for r in report.routes}
    assert set(routes) == {
        (("GET",), "{config.PREFIX}/items"),
        (("GET", "POST"), "/stats"),
        (("DELETE",), "/admin/cache"),
    }
    items = routes[("GET",), "{config.PREFIX}/items"]
    assert [(d.name, d.runs) for d in items.dependencies] == [
        ("main.Pagination.__init__", "thread pool"),
        ("main.Checker.__call__", "event loop"),
    ]
    assert routes[("GET", "POST"), "/stats"].runs == "thread pool"
    assert report.findings == []


def test_library_security_scheme_is_a_dependency_on_the_loop(tmp_path: Path) -> None:
    report = _checked(
        tmp_path,
        """
    from typing import Annotated
    from fastapi import Depends, FastAPI
    from fastapi.security import OAuth2PasswordBearer

    app = FastAPI()
    TokenDep = Annotated[str, Depends(OAuth2PasswordBearer(tokenUrl="token"))]

    def current_user(token: TokenDep) -> str:
        return token

    @app.get("/me")
    async def me(user: Annotated[str, Depends(current_user)]):
        return user
        """,
    )
    (route,) = report.routes
    (user,) = cast(list[dict[str, Any]], route.as_json()["dependencies"])
    assert (user["name"], user["runs"]) == ("main.current_user", "thread pool")
    (scheme,) = user["dependencies"]
    assert scheme == {
        "name": "fastapi.security.OAuth2PasswordBearer",
        "location": None,
        "runs": "event loop",
        "dependencies": [],
        "blocking": [],
    }


def test_route_map_shows_what_wraps_each_route() -> None:
    fixture = Path(__file__).parent / "fixtures" / "shapes" / "middleware"
    report = check([fixture], jobs=1)
    text = route_map_text(report.routes)
    assert "    wrapped by:\n      middleware fastapi.middleware.cors.CORSMiddleware" in text
    assert "exception handler shop.middleware.on_value_error [thread pool]" in text
    assert "        blocks (event loop): " in text  # under the middleware that blocks
    listed = cast(list[dict[str, Any]], report.as_json()["routes"])
    routes = {route["path"]: route for route in listed}
    wrapped = routes["/products"]["wrapped_by"]
    assert wrapped[0] == {
        "kind": "middleware",
        "name": "fastapi.middleware.cors.CORSMiddleware",
        "location": None,
        "runs": "event loop",
        "blocking": [],
    }
    assert [item["code"] for item in wrapped[1]["blocking"]] == ["USK102"]


def test_a_call_reached_through_two_coroutines_of_a_route_is_listed_once(tmp_path: Path) -> None:
    report = _checked(
        tmp_path,
        """
    import time

    from fastapi import FastAPI

    app = FastAPI()


    def load() -> None:
        time.sleep(1)


    async def first() -> None:
        load()


    async def second() -> None:
        load()


    @app.get("/both")
    async def both() -> None:
        await first()
        await second()
        """,
    )
    (route,) = report.routes
    assert [(item.code, item.line) for item in route.blocking] == [("USK101", 10)]


def test_the_route_a_finding_names_is_where_its_chain_starts(tmp_path: Path) -> None:
    report = _checked(
        tmp_path,
        """
    import time

    from fastapi import FastAPI

    app = FastAPI()


    def load() -> None:
        time.sleep(1)


    def prepare() -> None:
        load()


    @app.delete("/archive")
    async def archive() -> None:
        prepare()


    @app.post("/load")
    async def reload() -> None:
        load()
        """,
    )
    (finding,) = report.findings
    assert finding.routes == ("DELETE /archive", "POST /load")
    assert [link.function for link in finding.chain] == ["main.reload", "main.load"]
    assert finding.route == "POST /load"


def test_the_route_named_is_the_nearest_of_those_that_await_the_chain_start(
    tmp_path: Path,
) -> None:
    report = _checked(
        tmp_path,
        """
    import time

    from fastapi import FastAPI

    app = FastAPI()


    async def read_event() -> None:
        time.sleep(1)


    async def poll() -> None:
        await read_event()


    @app.delete("/archive")
    async def archive() -> None:
        await poll()


    @app.get("/events")
    async def events() -> None:
        await read_event()
        """,
    )
    (finding,) = report.findings
    assert finding.routes == ("DELETE /archive", "GET /events")
    assert finding.route == "GET /events"
