"""Shapes of real applications: package layouts, route registration and value flows
that the checker must model. Each fixture under ``fixtures/shapes/`` marks every line
that must be reported with ``# expect: CODE``; nothing else may be reported."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from unstuck.check import Report, check
from unstuck.check.config import Config

SHAPES = Path(__file__).parent / "fixtures" / "shapes"
_EXPECT = re.compile(r"#\s*expect:\s*(USK\d+)")


def _check(name: str) -> Report:
    return check([SHAPES / name], jobs=1)


def _marked(root: Path) -> set[tuple[str, int, str]]:
    return {
        (path.relative_to(root).as_posix(), number, code)
        for path in root.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        for code in _EXPECT.findall(line)
    }


def _found(report: Report, root: Path) -> set[tuple[str, int, str]]:
    return {
        (Path(f.path).resolve().relative_to(root.resolve()).as_posix(), f.line, f.code)
        for f in report.findings
    }


def _routes(report: Report) -> dict[str, str]:
    return {f"{','.join(r.methods)} {r.path}": r.handler for r in report.routes}


@pytest.mark.parametrize("name", sorted(p.name for p in SHAPES.iterdir() if p.is_dir()))
def test_findings_are_exactly_the_marked_lines(name: str) -> None:
    assert _found(_check(name), SHAPES / name) == _marked(SHAPES / name)


def test_namespace_portion_inside_a_package_keeps_its_full_name() -> None:
    report = _check("namespace_portion")
    assert _routes(report) == {"POST /api/orders/{order_id}/confirm": "shop.routers.orders.confirm"}
    connect, send = report.findings
    assert (connect.line, send.line) == (5, 6)
    assert [step.function for step in send.chain] == [
        "shop.routers.orders.confirm",
        "shop.mail.sender.send_confirmation",
    ]


def test_app_without_init_files_resolves_imports_spelled_from_above() -> None:
    report = _check("no_init")
    assert set(_routes(report)) == {"GET /items/v1/{item_id}", "GET /users/me"}
    assert {f.route for f in report.findings} == {"GET /items/v1/{item_id}", "GET /users/me"}


def test_app_passed_to_an_untyped_parameter_gets_its_routes() -> None:
    report = _check("app_passed")
    assert len(report.routes) == 2  # one app per branch, each route listed once
    assert set(_routes(report)) == {
        "POST /api/{version}/notes",
        "GET /health",
    }
    (finding,) = report.findings
    assert finding.route == "POST /api/{version}/notes"


def test_router_filled_and_returned_by_a_function_keeps_each_prefix() -> None:
    report = _check("router_factory")
    assert set(_routes(report)) == {"GET /api/me", "GET /{tenant}/api/me"}


def test_router_factory_exported_over_its_submodule_and_not_test_apps() -> None:
    # ``from pkg.routers import get_notes_router`` is the function the package binds,
    # not its submodule of the same name; the app a test builds is not the service
    report = _check("factory_packages")
    assert set(_routes(report)) == {"GET /api/v1/notes", "POST /api/v1/notes/{note_id}/archive"}


def test_routes_given_as_objects() -> None:
    report = _check("declared_routes")
    assert _routes(report) == {
        "GET,HEAD /legacy/": "site.homepage",
        "GET /legacy/users": "site.users",
        "WEBSOCKET /legacy/feed": "site.feed",
        "GET /v2/items": "site.items",
        "GET /static-pages/home": "site.homepage",
        # a list of routes built up before the app is made
        "GET /health/": "site.users",
        "GET /health/database": "site.users",
        "GET /health/queue": "site.users",
        "GET /health/cache": "site.users",
        # ``@app.route`` / ``@router.websocket_route``
        "GET,POST /old-style": "site.old_style",
        "WEBSOCKET /legacy/events": "site.events",
        # an ``APIRoute`` imported under another name, in an app a method makes
        "POST /v1/predict": "site.Endpoints.predict",
        # a route class of the project's, derived from ``APIRoute``
        "GET /v2/ready": "site.Endpoints.ready",
        "POST /v2/load": "site.Endpoints.load",
    }


def test_starlettes_routes_get_no_prefix_or_dependency_of_their_router() -> None:
    report = _check("plain_routes")
    assert _routes(report) == {
        "GET /api/conversations/{cid}/messages": "site.messages",
        "GET /api/files/{path:path}": "site.files",
        "POST /api/proxy": "site.forward",
        "GET /api/scrape": "starlette_exporter.handle_metrics (library)",
        "GET /metrics": "starlette_exporter.handle_metrics (library)",
    }
    depends = {route.path: [d.name for d in route.dependencies] for route in report.routes}
    assert depends == {
        "/api/conversations/{cid}/messages": ["site.audited"],
        "/api/files/{path:path}": [],
        "/api/proxy": [],
        "/api/scrape": [],
        "/metrics": [],
    }
    (finding,) = report.findings
    assert finding.routes == ("GET /api/conversations/{cid}/messages",)


def test_work_a_constant_flag_turns_off_is_not_reached() -> None:
    report = _check("flag_arguments")
    assert {(f.line, f.routes) for f in report.findings} == {
        (10, ("GET /parsed",)),
        (11, ("GET /parsed",)),
        (17, ("POST /save",)),
        # after ``if cached: return ...``, only a call that leaves ``cached`` false
        (46, ("GET /slow",)),
        (47, ("GET /slow",)),
        # after ``if not resolve: return ...``, only a call that leaves it true
        (65, ("GET /resolved",)),
        # a constant passed by position (arithmetic on numbers included) counts too
        (83, ("PUT /forever", "PUT /spread")),
        # a block of a coroutine that every call turns off is gone (``snapshot``); one
        # that some calls run is there for the routes of those calls only
        (121, ("POST /records",)),
        (122, ("POST /records",)),
        # flags handed on to a method: ``if sync or wait:`` only for the call that sets
        # one; the ``else`` of ``if sync and wait:`` for both
        (417, ("POST /submissions/waited",)),
        (423, ("POST /submissions", "POST /submissions/waited")),
        # a coroutine awaited under a flag: for the routes whose calls set it
        (442, ("GET /entities/{name}/full",)),
        (443, ("GET /entities/{name}/full",)),
        # a function annotated ``-> str`` passed for it: never ``None``
        (470, ("GET /owners",)),
        (471, ("GET /owners",)),
        # ``if isinstance(image, UploadFile):`` for the caller that passes one only
        (491, ("POST /masks/file",)),
        # a dependency is called by FastAPI, with what the request holds
        (129, ("POST /snapshots",)),
        # a parameter handed on is what every caller gives: none gives ``full_shot`` a
        # path, so ``scroll_shot`` never writes; ``shot_of`` hands on a request's
        (158, ("GET /saved-shots",)),
        # a coroutine kept in a table may be called through it with a path
        (180, ("POST /exports",)),
        (181, ("POST /exports",)),
        # ``Report(path)`` runs ``__init__`` though no call names it: its parameter is
        # not only what ``super().__init__()`` leaves it
        (204, ("GET /reports",)),
        (205, ("GET /reports",)),
        # a factory called with constants returns only what their branches make: the
        # store of ``if mode == "sync":`` is never made, so its ``ids`` never runs
        (284, ("GET /ids",)),
        (285, ("GET /ids",)),
        # ``if workspace is None:`` where every caller passes an object it made is off;
        # a value from ``os.environ.get`` may be ``None``
        (331, ("POST /packages",)),
        # nor is a text, a formatted text or a parameter typed ``str``: only the call
        # that passes nothing reads the file
        (383, ("GET /notes/{name}",)),
        (384, ("GET /notes/{name}",)),
        # ``if renames:`` on a default ``{}`` no caller overrides: off
        (524, ("POST /commits",)),
        (525, ("POST /commits",)),
        # ``if shard_size > 0:`` on a default 0 no caller overrides: off; ``if retries >
        # 0:`` on a default 3: on
        (539, ("POST /rows",)),
    }


def test_work_under_a_comparison_a_constant_argument_fails_is_not_reached() -> None:
    # ``save(..., to=Target.MEMORY)`` never runs ``if to == Target.DISK or ...:``
    report = _check("mode_arguments")
    stored = {(f.line, f.routes) for f in report.findings if f.path.endswith("store.py")}
    assert stored == {
        (11, ("PUT /files/{name}",)),
        (12, ("PUT /files/{name}",)),
        (19, ("GET /exports/{name}",)),
        (20, ("GET /exports/{name}",)),
        (26, ("PUT /files/{name}",)),
        (33, ("POST /grades/{name}",)),  # an alias of the default member: the same value
        (38, ("POST /runs/{name}",)),  # ``auto()`` members differ
    }
    # a list filled only under ``if to == Target.DISK ...``: empty for other modes, so
    # ``if sent: announce(sent)`` does not run for them (but a call it is handed to may
    # fill it)
    published = {f.routes for f in report.findings if f.path.endswith("publish.py")}
    assert published == {("POST /noted", "POST /published/disk")}


def test_context_managers_block_where_they_are_entered() -> None:
    report = check([SHAPES / "context_managers"], jobs=1, config=Config(once_per_process=True))
    assert {(f.line, f.routes) for f in report.findings} == {
        (14, ("GET /snapshot",)),
        (15, ("GET /snapshot",)),
        (27, ("GET /throttled",)),
    }
    # entered on the lifespan handler's exit stack: once per process
    assert {(f.line, f.once) for f in report.once_per_process} == {
        (32, "in the lifespan handler"),
        (33, "in the lifespan handler"),
    }


def test_a_path_under_if_walrus_is_not_the_bare_path() -> None:
    # ``if suffix := mount_suffix():`` rules out the "" that ``mount_suffix`` may return
    assert _routes(_check("truthy_paths")) == {
        "GET /.well-known/status": "app.status",
        "GET /.well-known/status{mount_suffix()}": "app.status",
    }


def test_a_package_imported_by_a_shorter_name_is_followed() -> None:
    # ``backend.server.settings`` imported as ``server.settings``
    report = _check("run_from_subfolder")
    (finding,) = report.findings
    assert finding.routes == ("GET /settings",)


def test_routers_injected_through_a_constructor_keep_their_prefix() -> None:
    # ``Application(**routers)``: the parameters are annotated with the route classes,
    # what is passed (by a dict of keyword arguments) are the routers they hand out
    report = _check("injected_routers")
    assert _routes(report) == {
        "GET /v1/users/{user_id}": "server.routers.UserRoutes.setup.<locals>.get_user",
        "GET /v1/health": "server.routers.HealthRoutes.setup.<locals>.health",
        "GET /openapi-extra": "server.app.Application.__init__.<locals>.openapi_extra",
    }


def test_routers_of_classes_derived_from_apirouter_and_fastapi() -> None:
    report = _check("router_classes")
    assert _routes(report) == {
        "GET /api/invoices/": "portal.invoices.list_invoices",
        "GET /api/invoices/{invoice_id}/pdf": "portal.invoices.invoice_pdf",
        "GET /api/github/start": "portal.sign_in.provider_router.<locals>.start",
        "GET /api/github/return": "portal.sign_in.provider_router.<locals>.finish",
        "GET /api/gitlab/start": "portal.sign_in.provider_router.<locals>.start",
        "GET /api/gitlab/return": "portal.sign_in.provider_router.<locals>.finish",
        "GET /staff/reports": "portal.staff.reports",
    }
    (finding,) = report.findings
    assert finding.route == "GET /api/invoices/{invoice_id}/pdf"
    # the guard a router subclass passes to ``super().__init__`` runs for its routes
    (staff,) = [route for route in report.routes if route.path == "/staff/reports"]
    assert [dependency.name for dependency in staff.dependencies] == [
        "portal.routing.require_staff"
    ]


def test_routers_registered_in_loops_keep_each_prefix() -> None:
    report = _check("registration_loops")
    assert _routes(report) == {
        "GET /api/tickets/": "desk.routers.tickets.list_tickets",
        "GET /api/agents/": "desk.routers.agents.list_agents",
        "GET /v1/reports": "desk.routers.reports.old_reports",
        "GET /v2/reports": "desk.routers.reports.reports",
        "GET /api/search/": "desk.routers.search.search",
        "POST /api/exports/csv": "desk.routers.search.export_csv",
        "POST /api/plugins/mail/inbound": "desk.plugins.inbound_mail",
        "GET /areas/billing/summary": "desk.routers.areas.billing_summary",
        "GET /areas/audit/summary": "desk.routers.areas.audit_summary",
        "GET /regions/west/status": "desk.routers.areas.west_status",
        "GET /regions/east/status": "desk.routers.areas.east_status",
        "GET /api/v1/health": "desk.routers.areas.health_check",
        "GET /api/v2/health": "desk.routers.areas.health_check",
        "GET /ping": "desk.main.ping",
        "WEBSOCKET /feed": "desk.main.feed",
    }
    (finding,) = report.findings
    assert finding.route == "GET /v1/reports"


def test_middleware_and_exception_handlers_wrap_the_routes_of_their_app() -> None:
    report = _check("middleware")
    wrapped = {
        route.path: [(w.kind, w.name.rpartition(".")[2], w.runs) for w in route.wrapped_by]
        for route in report.routes
    }
    outer = [
        ("middleware", "CORSMiddleware", "event loop"),
        ("middleware", "dispatch", "event loop"),
        ("exception handler", "on_value_error", "thread pool"),
        ("middleware", "add_server_header", "event loop"),
        ("exception handler", "on_key_error", "event loop"),
    ]
    # the mounted app's own middleware runs only for its routes, inside the outer app's
    inner = [("middleware", "__call__", "event loop"), ("middleware", "slow_down", "event loop")]
    # a host-routed app runs inside the outer app too
    assert wrapped == {"/products": outer, "/admin/stats": [*outer, *inner], "/status": outer}
    (products,) = [route for route in report.routes if route.path == "/products"]
    assert products.advice.startswith("blocks the event loop")
    (audit,) = [w for w in products.wrapped_by if w.name.endswith("dispatch")]
    assert [(item.code, item.line) for item in audit.blocking] == [("USK102", 17)]
    # a finding in middleware names what it runs for
    assert {(f.code, f.route) for f in report.findings} == {
        ("USK102", "middleware of 3 routes"),
        ("USK101", "middleware of 1 route"),
    }


def test_app_factory_with_a_long_router_loop_and_handlers_named_alike() -> None:
    report = _check("app_factory")
    resources = [
        *("alerts", "billing", "catalog", "devices", "events", "files", "groups"),
        *("hooks", "invites", "jobs", "keys", "logs", "metrics"),
    ]
    routes = _routes(report)
    # the admin app is mounted in one of two blocks: listed once, at the known prefix
    expected = {f"GET /api/{name}/" for name in resources} | {"GET /health", "GET /admin/users"}
    assert set(routes) == expected
    # each ``async def _`` is its own handler, not the last one thirteen times
    assert len({routes[f"GET /api/{name}/"] for name in resources}) == len(resources)
    (finding,) = report.findings
    assert finding.route == "GET /health"


def test_controller_objects_and_the_apps_own_router() -> None:
    report = _check("controllers")
    assert _routes(report) == {
        "GET /ping": "service.ping",
        "GET /v1/reporting/reports/": "service.ReportsController.list_reports",
        "DELETE,GET /v1/reporting/reports/{report_id}": "service.ReportsController.render",
        "GET,HEAD /legacy/health": "service.legacy_health",
        "WEBSOCKET /legacy/feed": "service.legacy_feed",
    }
    (finding,) = report.findings
    assert finding.route == "DELETE,GET /v1/reporting/reports/{report_id}"


def test_routers_of_modules_imported_by_name() -> None:
    report = _check("discovered")
    assert _routes(report) == {
        "GET /api/patients/": "clinic.routers.patients.list_patients",
        "POST /api/visits/": "clinic.routers.visits.book_visit",
        # included by name elsewhere: not also under the discovery loop's prefix
        "GET /internal/health": "clinic.internal.health",
    }
    (finding,) = report.findings
    assert finding.route == "POST /api/visits/"


def test_routers_that_libraries_build_list_their_routes() -> None:
    report = _check("library_routers")
    routes = _routes(report)
    library = {label for label, handler in routes.items() if handler.endswith("(library)")}
    assert library == {
        "POST /auth/jwt/login",
        "POST /auth/jwt/logout",
        "POST /auth/register",
        "POST /auth/forgot-password",
        "POST /auth/reset-password",
        "GET /users/me",
        "PATCH /users/me",
        "GET /users/{id}",
        "PATCH /users/{id}",
        "DELETE /users/{id}",
        "GET /graphql",
        "POST /graphql",
        "WEBSOCKET /graphql",
        "GET,HEAD /__lbheartbeat__",
        "GET,HEAD /__heartbeat__",
        "GET /__version__",
        "GET /__error__",
    }
    # a library's APIRouter subclass holds the project's own routes
    assert routes["GET /api/teams/"] == "accounts.users.list_teams"
    # the library's routes run the hooks the project's user manager overrides
    assert {(Path(f.path).name, f.line): f.routes for f in report.findings} == {
        ("models.py", 18): ("POST /auth/jwt/login",),
        ("models.py", 24): ("POST /auth/reset-password",),
        ("models.py", 25): ("POST /auth/reset-password",),
        # what the library's own methods block, where its routers are included
        ("main.py", 9): ("POST /auth/register",),
        ("main.py", 10): ("POST /auth/reset-password",),
    }


def test_route_decorators_made_by_helpers() -> None:
    report = _check("route_helpers")
    assert _routes(report) == {
        "GET,HEAD /pages/": "pages.index",
        "GET,HEAD /pages/archive": "pages.archive",
        "GET /pages/feed.json": "pages.feed",
        "POST /pages/drafts": "pages.save_draft",
    }
    assert {f.line: f.route for f in report.findings} == {
        26: "GET,HEAD /pages/archive",
        57: "POST /pages/drafts",
        58: "POST /pages/drafts",
    }


def test_a_generic_base_query_is_one_finding_for_both_repositories() -> None:
    (finding,) = _check("generic_repository").findings
    assert finding.routes == ("GET /groups/{name}", "GET /users/{user_id}")
    assert len(finding.entries) == 2


def test_a_middleware_class_defined_in_a_function_wraps_the_routes_of_its_app() -> None:
    report = _check("local_middleware")
    wrapped = {
        route.path: [w.name.removeprefix("app.") for w in route.wrapped_by]
        for route in report.routes
    }
    assert wrapped == {
        "/items": ["add_timing.<locals>.Timing.dispatch"],
        "/admin/users": ["build_admin.<locals>.Audit.dispatch"],
    }
    assert {(f.line, f.route) for f in report.findings} == {
        (13, "middleware of 1 route"),
        (24, "middleware of 1 route"),
        (25, "middleware of 1 route"),
    }


def test_what_add_middleware_gives_the_middleware_is_followed_into_dispatch() -> None:
    report = _check("middleware_arguments")
    assert {(f.line, f.route) for f in report.findings} == {
        (13, "middleware of 1 route"),
        (14, "middleware of 1 route"),
    }


def test_state_set_in_lifespan_and_middleware_is_followed_into_routes() -> None:
    findings = {f.line: f for f in _check("app_state").findings}
    assert findings[41].route == "GET /cached/{key}"  # app.state.cache, set in lifespan
    assert findings[46].route == "GET /users/{user_id}"  # request.state.db, set in middleware


def test_a_coroutine_given_to_background_tasks_blocks_the_loop_of_its_route() -> None:
    notify, run = _check("background_tasks").findings
    assert notify.routes == ("POST /users/{user_id}",)
    assert run.routes == ("POST /imports",)  # handed on by a ``def`` route


def test_validators_of_a_def_routes_model_run_on_the_loop() -> None:
    findings = _check("validators").findings
    assert {(f.line, f.routes) for f in findings} == {
        (22, ("POST /signup",)),
        (30, ("POST /signup",)),
    }


def test_server_helpers_settings_defaults_and_library_apps() -> None:
    report = _check("server_helpers")
    assert set(_routes(report)) == {
        # a helper that passes its parameters to add_api_route, once per call
        "GET /topics",
        "POST /topics",
        # and one that passes on ``**options``, methods among them
        "POST /drafts",
        "GET /drafts",
        # add_api_route in a loop over paths
        "POST /v1/messages",
        "POST /compat/v1/messages",
        # a path read from the environment with a written default
        "GET /policy-data",
        # the two definitions of one method and path in an if/else: one route
        "GET /limit",
        # routes added in a method given the app (self is not an argument)
        "GET /healthcheck",
        # a library's app class and its own include method, mounted
        "GET /execution/health/ping",
        # a router included through helpers that pass it and its prefix on
        "POST /auth/refresh",
        "POST /auth/mobile/refresh",
    }


def test_abstract_method_called_on_the_base_class_runs_every_override() -> None:
    report = _check("abstract_dispatch")
    assert {(f.line, f.route) for f in report.findings} == {
        (24, "POST /score/{kind}"),
        (30, "POST /score/{kind}"),
    }


def test_every_override_of_an_abstract_method_is_followed_however_many() -> None:
    report = _check("many_overrides")
    assert len(report.findings) == 14
    assert {f.route for f in report.findings} == {"POST /send/{name}"}


def test_a_class_based_views_attributes_are_dependencies_of_each_route() -> None:
    report = _check("class_based_views")
    assert {f.routes for f in report.findings} == {("GET /notes/", "GET /notes/{name}")}
    for route in report.routes:
        # base classes' first, as the view's ``__init__`` takes them
        assert [d.name for d in route.dependencies] == [
            "views.current_user",
            "views.open_store",
            "views.audit_trail",
        ]


def test_route_paths_given_to_an_app_factory_as_parameters() -> None:
    # one passed by keyword, one left to its default, one passed by position, one to a
    # method (after ``self``)
    assert set(_routes(_check("factory_paths"))) == {
        "GET /svc/alive",
        "GET /svc/info/details",
        "GET /guide/v1/index",
        "GET /plugins/search/status",
    }


def test_a_call_of_an_abstract_method_reaches_each_override() -> None:
    report = _check("abstract_services")
    routes = {(Path(f.path).name, f.line): f.routes for f in report.findings}
    assert routes[("storage.py", 22)] == ("PUT /blobs/{key}",)
    assert routes[("storage.py", 27)] == ("PUT /blobs/{key}",)
    assert routes[("storage.py", 36)] == ("POST /alerts",)
    # the subclass's override of the override, and the one it calls through super()
    assert routes[("storage.py", 51)] == ("POST /sweep",)
    assert routes[("storage.py", 46)] == ("POST /sweep",)


def test_loop_items_keep_their_own_routers_and_factory_calls() -> None:
    # a name reused by two module-level loops holds one loop's items in each body; a
    # factory called with the loop's item makes one router per item
    assert set(_routes(_check("loop_items"))) == {
        "GET /shop/catalog",
        "GET /back-office/stock",
        "GET /items/pens/",
        "GET /items/inks/",
        "GET /outlet/paper/",
    }


def test_sync_callbacks_the_loop_runs_are_reported_with_their_route() -> None:
    report = check([SHAPES / "loop_callbacks"], Config(once_per_process=True), jobs=1)
    assert {f.line: f.routes for f in report.findings} == {
        14: ("POST /uploads/{name}",),
        18: ("POST /uploads/{name}",),
    }
    (once,) = report.once_per_process
    assert once.line == 22


def test_routers_exported_lazily_by_a_module_getattr_keep_their_prefix() -> None:
    # ``from pkg import crates_router`` where ``pkg/__init__.py`` has no such global but
    # a PEP 562 ``__getattr__`` that imports it from a table of (module, attribute)
    report = _check("lazy_exports")
    assert _routes(report) == {
        "GET /api/v1/crates/{crate_id}": "depot.api.v1.crates.get_crate",
        "GET /api/v1/docks/": "depot.api.v1.docks.router.list_docks",
        "GET /api/v1/health": "depot.api.v1.health.health",
    }
    (finding,) = report.findings
    assert finding.route == "GET /api/v1/crates/{crate_id}"


def test_module_imported_by_its_last_name_from_inside_its_folder() -> None:
    # ``sys.path.insert(0, backend)`` then ``from helpers import save_report``: the one
    # ``helpers`` module of the project, which defines it; ``from redis import from_url``
    # stays the library's although the project's ``redis.py`` defines a ``from_url``
    report = _check("top_level_module")
    assert {(f.code, f.route) for f in report.findings} == {
        ("USK110", "POST /reports"),
        ("USK106", "POST /reports"),
    }


def test_a_library_method_runs_the_hooks_of_a_project_subclass() -> None:
    report = _check("library_hooks")
    finding = next(f for f in report.findings if "lookup_client" in f.message)
    # ``revoke_response`` is declared under ``if TYPE_CHECKING:`` only: the library's runs
    assert set(finding.routes) == {"POST /purge", "POST /revoke", "POST /token"}
    assert [step.function for step in finding.chain] == [
        "library_hooks.tokens.token",
        "library_hooks.tokens.Server.lookup_client",
    ]


def test_registration_methods_a_router_class_overrides_are_played_on_each_path() -> None:
    report = _check("router_overrides")
    assert _routes(report) == {
        # the slash twin of each path, computed in ``add_api_route``
        "GET /items/": "shop.views.list_items",
        "GET /items": "shop.views.list_items",
        "GET /items/{item_id}": "shop.views.get_item",
        "GET /items/{item_id}/": "shop.views.get_item",
        # an override that only logs registers the path as written
        "GET /audit/events": "shop.views.events",
        # a test on the instance cannot be read: both registrations may happen
        "GET /reports/legacy/daily/": "shop.views.daily",
        "GET /reports/daily": "shop.views.daily",
        # decorators made by ``api_route``, kept in names, each a registration
        "GET /runs/{run_id}": "shop.views.get_run",
        "GET /runs/{run_id}/": "shop.views.get_run",
    }
    (finding,) = report.findings
    assert sorted(finding.routes) == ["GET /items/{item_id}", "GET /items/{item_id}/"]


def test_a_line_that_some_callers_turn_off_names_the_routes_of_the_others() -> None:
    report = _check("caller_flags")
    (mkdir,) = report.findings
    assert mkdir.routes == ("POST /sync",)
    assert mkdir.route == "POST /sync"


def test_a_factory_parameter_without_annotation_is_what_its_calls_give() -> None:
    report = _check("untyped_factory")
    assert {f.route for f in report.findings} == {"GET /query/{name}"}


def test_a_class_method_called_on_a_subclass_makes_the_subclass() -> None:
    (unlink,) = _check("class_method_results").findings
    assert unlink.routes == ("DELETE /uploads/{key}",)


def test_a_class_stored_under_type_of_a_base_is_one_of_its_subclasses() -> None:
    (remove,) = _check("declared_classes").findings
    assert remove.routes == ("DELETE /graph",)


def test_app_dependencies_chosen_by_a_condition_run_for_every_route() -> None:
    (finding,) = _check("conditional_app_dependencies").findings
    assert finding.route == "GET /orders"


def test_paths_of_the_docs_pages_read_from_the_app() -> None:
    report = _check("docs_pages_served_anew")
    assert sorted((route.label, route.handler) for route in report.routes) == [
        ("GET /docs", "main.docs"),
        ("GET /docs/oauth2-redirect", "main.oauth2_redirect"),
        ("GET /docs/oauth2-redirect", "main.serve_docs_offline.<locals>.offline_redirect"),
        ("GET /reference", "main.reference"),
    ]


def test_the_chain_shown_starts_at_the_route_it_names() -> None:
    for finding in _check("chain_from_the_route").findings:
        assert finding.route == "POST /jobs"
        assert finding.chain[0].function == "app.create_job"


def test_a_prefix_made_of_names_is_their_text() -> None:
    assert set(_routes(_check("prefix_of_names"))) == {
        "GET /api/v1/orders",
        "GET /api/v1/orders/{order_id}",
    }


def test_routers_included_with_the_keywords_of_a_dict() -> None:
    assert set(_routes(_check("include_spread"))) == {
        "GET /v2/orders",
        "GET /v2/orders/{order_id}",
        "POST /v2/refunds",
    }


def test_routers_added_by_the_lifespan_to_the_app_it_is_given() -> None:
    report = _check("routers_added_in_lifespan")
    (route,) = report.routes
    assert route.label == "GET /api/orders"
    # the app's middleware runs for it
    assert [wrapper.name for wrapper in route.wrapped_by] == ["app.create_app.<locals>.timed"]


def test_a_name_a_package_exports_lazily_through_import_module() -> None:
    (finding,) = _check("lazy_module_getattr").findings
    assert finding.route == "GET /items/{sku}"


def test_paths_read_by_enum_member_and_from_settings_with_an_empty_default() -> None:
    assert _routes(_check("paths_from_settings")) == {
        "POST /gateway/openai/chat": "app.chat",
        "POST /gateway/openai/embeddings": "app.embed",
        "GET /v1/models": "app.list_models",
        "GET /admin/models": "app.list_models",
    }


def test_routes_an_app_class_adds_to_itself() -> None:
    report = _check("routes_added_by_app_class")
    assert _routes(report) == {"GET /stock": "app.ShopAPI.stock"}
    assert report.findings[0].route == "GET /stock"


def test_a_handler_looked_up_in_a_table_on_the_instance_runs_for_the_route() -> None:
    report = _check("keyed_registry")
    handled = [f for f in report.findings if f.path.endswith("messages.py")]
    assert len(handled) == 2
    assert all(finding.routes == ("WEBSOCKET /messages",) for finding in handled)


def test_a_single_dispatch_call_runs_each_registered_implementation() -> None:
    report = _check("single_dispatch")
    assert {finding.route for finding in report.findings} == {"GET /render"}


def test_an_attribute_a_factory_of_the_class_sets_is_the_instances() -> None:
    (finding,) = _check("factory_attributes").findings
    assert finding.route == "GET /voices"


def test_handlers_a_decorator_registers_in_a_table_run_for_the_route() -> None:
    report = _check("decorator_registries")
    assert {finding.route for finding in report.findings} == {"WEBSOCKET /realtime"}


def test_routes_a_router_class_adds_through_its_base_when_made() -> None:
    report = _check("routes_added_by_router_class")
    assert _routes(report) == {
        "GET /ui/": "ui.static.StaticRouter.index",
        "GET /ui/{file_path:path}": "ui.static.StaticRouter.static_file",
        "GET /ui/ping": "ui.static.StaticRouter.ping",
    }
    assert {finding.route for finding in report.findings} == {"GET /ui/{file_path:path}"}


def test_star_imports_of_the_project_before_a_library_and_a_prefix_passed_to_a_helper() -> None:
    assert set(_routes(_check("star_exports"))) == {"GET /api/v1/orders", "GET /api/v1/refunds"}


def test_a_class_given_as_a_parameter_with_a_default_makes_its_instances() -> None:
    for finding in _check("class_parameter").findings:
        assert finding.route == "WEBSOCKET /feed"


def test_a_str_method_given_wrong_arguments_leaves_the_path_unknown() -> None:
    (route,) = _check("text_methods_misused").routes
    assert route.path.endswith("/orders")


def test_a_base_method_runs_the_override_of_its_receivers_class() -> None:
    # ``listing`` of the base calls ``self._entries()``: only receivers whose class
    # runs the disk override reach its walk
    (finding,) = _check("template_methods").findings
    assert finding.routes == ("GET /disk", "GET /kinds/{kind}")


def test_a_protocols_implementers_run_for_the_route_of_an_injected_service() -> None:
    report = _check("protocol_implementers")
    # the runner's own blocking is reported, for no route: a lone ``execute`` is no
    # evidence that the service's session is a runner
    assert [(f.line, f.routes) for f in report.findings] == [(22, ("POST /login",)), (47, ())]


def test_a_router_factory_called_from_several_places_makes_a_router_per_call() -> None:
    assert _routes(_check("factory_copies")) == {
        "GET /stores/": "app.make_crud.<locals>.list_items",
        "GET /stores/{store_id}/ping": "app.ping",
        "GET /discounts/": "app.make_crud.<locals>.list_items",
        # the prefix this call passes
        "GET /v1/items/": "app.make_crud.<locals>.list_items",
    }


def test_routes_a_managers_methods_add_through_the_apps_decorators() -> None:
    report = _check("manager_decorators")
    assert _routes(report) == {
        "GET /v1/models": "app.setup.<locals>.list_models",
        "POST /v1/models/reload": "app.setup.<locals>.reload_models",
        "GET /v1/speakers": "app.setup.<locals>.list_speakers",
    }
    assert [(f.line, f.routes) for f in report.findings] == [(32, ("GET /v1/models",))]


def test_routes_added_through_an_object_kept_on_a_module_of_shared_state() -> None:
    # ``shared.api = Api(app)`` in one module, ``shared.api.add_api_route(...)`` in
    # another; the wrapper hands the caller's ``**kwargs`` on, with a key of its own set
    routes = _routes(_check("shared_module_state"))
    assert routes == {
        "GET /log": "pkg.api.Api.get_log",
        "POST /log": "pkg.api.Api.post_log",
        "GET /thumb": "pkg.main.thumb",
    }


def test_a_base_class_step_runs_the_override_of_the_subclasses_made() -> None:
    report = _check("template_steps")
    assert {(f.line, f.routes) for f in report.findings} == {(20, ("POST /run",))}


def test_a_flag_handed_on_through_coroutines_counts_for_the_routes_that_set_it() -> None:
    report = _check("forwarded_flags")
    routes = ("POST /connections/named/upload", "POST /connections/upload")
    items = ("POST /items/upload",)
    assert {(f.line, f.routes) for f in report.findings} == {
        (8, routes),
        (9, routes),
        (54, items),
        (55, items),
    }


def test_isinstance_of_an_attribute_of_self_narrows_it_in_the_block() -> None:
    # the sync handler's step runs in the thread pool for the runner's route
    report = _check("isinstance_narrowing")
    assert {f.routes for f in report.findings if f.line == 96} == {("POST /handlers",)}


def test_a_name_bound_in_a_block_of_a_module_level_if_is_that_blocks_value_there() -> None:
    # the API block's router has no key routes, and each router keeps its own prefix
    assert set(_routes(_check("module_blocks"))) == {
        "GET /api/v1/keys",
        "POST /api/v1/chats",
        "POST /v1/chats",
    }


def test_a_coroutine_handed_to_a_helper_that_awaits_it_counts_for_the_route_that_hands_it() -> None:
    report = _check("handed_coroutines")
    assert {(f.line, f.routes) for f in report.findings} == {
        (23, ("GET /previews/{key}",)),
        (30, ("GET /thumbnails/{key}",)),
    }


def test_a_route_whose_handler_is_chosen_at_start_reports_what_either_blocks() -> None:
    report = _check("alternative_endpoints")
    assert [(r.path, r.methods) for r in report.routes] == [("/solve", ["POST"])]
    assert [(f.line, f.routes) for f in report.findings] == [(11, ("POST /solve",))]


def test_the_object_a_query_gives_is_an_instance_of_its_model() -> None:
    report = _check("model_rows")
    (hashing,) = [f for f in report.findings if f.code == "USK113"]
    assert hashing.routes == ("POST /check/{password_id}", "POST /token")


def test_an_app_bound_again_to_what_an_unknown_call_makes_of_it_keeps_its_routes() -> None:
    report = _check("app_rebound")
    assert _routes(report) == {"GET /items/{item_id}": "app.read_item"}
    (finding,) = report.findings
    assert finding.route == "GET /items/{item_id}"


def test_a_generator_a_sync_helper_hands_to_a_response_counts_for_the_route() -> None:
    (finding,) = _check("stream_helpers").findings
    assert finding.routes == ("GET /runs/{run_id}/events",)


def test_an_override_only_a_command_makes_is_not_what_a_request_runs() -> None:
    (finding,) = _check("served_overrides").findings
    assert (finding.line, finding.routes) == (21, ("GET /diff",))


def test_routes_put_in_a_routers_list_by_hand_are_listed() -> None:
    report = _check("route_lists")
    assert _routes(report) == {
        "POST /api/query": "app.QueryApp.__call__",
        "WEBSOCKET /api/query": "app.QueryApp.__call__",
        "GET /api/health": "app.health",
        "GET /api/graphql": "strawberry.asgi.GraphQL (library)",
    }
    (finding,) = report.findings
    assert finding.routes == ("POST /api/query", "WEBSOCKET /api/query")


def test_routes_registered_from_tables_pair_each_item_with_its_router() -> None:
    report = _check("route_tables")
    assert _routes(report) == {
        "GET /projects": "app.list_projects",
        "POST /projects": "app.create_project",
        "GET /users": "app.list_users",
        "GET,HEAD /ops/health": "app.health",
        "POST /api/tracking/logs": "app.TrackerAPI.add_log",
    }
    (finding,) = report.findings
    assert finding.route == "GET /projects"


def test_a_router_that_documents_openapi_callbacks_serves_no_route() -> None:
    assert _routes(_check("openapi_callbacks")) == {"POST /jobs": "app.create_job"}


def test_a_def_route_inside_an_async_wrapper_runs_on_the_loop() -> None:
    report = _check("async_wrappers")
    runs = {route.path: route.runs for route in report.routes}
    assert runs == {"/reports": "event loop", "/exports": "thread pool"}
    (finding,) = report.findings
    assert finding.route == "GET /reports"
