"""Routers that libraries build: the routes they add to an application.

An application's route map includes routes it did not write: the login and register
routes a user-management library generates, the endpoint of a GraphQL router. Each
entry names the library's callable (a method of the object the library hands out, or a
router class) and the routes it adds, relative to where the router is included.
Extending it is a change to this data only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LibraryBlock:
    """Blocking work the library's own code does on the loop for a route, unless the
    application overrides the ``hook`` that does it."""

    hook: str
    code: str  # the rule
    label: str  # what blocks, as findings name it


@dataclass(frozen=True, slots=True)
class LibraryRoute:
    methods: tuple[str, ...]
    path: str
    # methods the library's route calls on the application's subclass of a class of the
    # library (``HOOK_BASES``): ``authenticate`` of its ``UserManager`` on the login route
    hooks: tuple[str, ...] = ()
    blocks: tuple[LibraryBlock, ...] = ()


def _routes(*pairs: tuple[str, str] | tuple[str, str, str]) -> tuple[LibraryRoute, ...]:
    return tuple(
        LibraryRoute(
            tuple(methods.split(",")),
            path,
            tuple(" ".join(hooks).split()),
            _LIBRARY_BLOCKS.get((methods, path), ()) if hooks else (),
        )
        for methods, path, *hooks in pairs
    )


# fastapi-users' user manager hashes and checks passwords with its ``PasswordHelper``
# (bcrypt or argon2, tens to hundreds of milliseconds) in its coroutines, on the loop
_LIBRARY_BLOCKS: dict[tuple[str, str], tuple[LibraryBlock, ...]] = {
    ("POST", "/login"): (
        LibraryBlock(
            "authenticate",
            "USK113",
            "`PasswordHelper.verify_and_update()` in fastapi-users' `authenticate()`",
        ),
    ),
    ("POST", "/register"): (
        LibraryBlock("create", "USK113", "`PasswordHelper.hash()` in fastapi-users' `create()`"),
    ),
    ("POST", "/reset-password"): (
        LibraryBlock(
            "reset_password",
            "USK113",
            "`PasswordHelper.hash()` in fastapi-users' `reset_password()`",
        ),
    ),
}


# The library classes whose subclasses in an application hold the hooks its routes call.
HOOK_BASES: dict[str, frozenset[str]] = {
    "fastapi_users": frozenset(
        {"fastapi_users.BaseUserManager", "fastapi_users.manager.BaseUserManager"}
    ),
}


# ``fastapi_users.get_auth_router(backend)`` and the like, by (library, class, method):
# the object is ``FastAPIUsers[User, ID](...)``, whichever module it is imported from.
ROUTER_METHODS: dict[tuple[str, str, str], tuple[LibraryRoute, ...]] = {
    ("fastapi_users", "FastAPIUsers", "get_auth_router"): _routes(
        ("POST", "/login", "authenticate on_after_login"), ("POST", "/logout")
    ),
    ("fastapi_users", "FastAPIUsers", "get_register_router"): _routes(
        ("POST", "/register", "create validate_password on_after_register")
    ),
    ("fastapi_users", "FastAPIUsers", "get_reset_password_router"): _routes(
        ("POST", "/forgot-password", "get_by_email forgot_password on_after_forgot_password"),
        ("POST", "/reset-password", "reset_password validate_password on_after_reset_password"),
    ),
    ("fastapi_users", "FastAPIUsers", "get_verify_router"): _routes(
        ("POST", "/request-verify-token", "get_by_email request_verify on_after_request_verify"),
        ("POST", "/verify", "verify on_after_verify"),
    ),
    ("fastapi_users", "FastAPIUsers", "get_users_router"): _routes(
        ("GET", "/me"),
        ("PATCH", "/me", "update validate_password on_after_update"),
        ("GET", "/{id}", "get"),
        ("PATCH", "/{id}", "get update validate_password on_after_update"),
        ("DELETE", "/{id}", "get delete on_before_delete on_after_delete"),
    ),
    ("fastapi_users", "FastAPIUsers", "get_oauth_router"): _routes(
        ("GET", "/authorize"),
        ("GET", "/callback", "oauth_callback on_after_register on_after_login"),
    ),
    ("fastapi_users", "FastAPIUsers", "get_oauth_associate_router"): _routes(
        ("GET", "/authorize"), ("GET", "/callback", "oauth_associate_callback")
    ),
}

# Routers a library module holds, ready to include: ``app.include_router(router)`` after
# ``from dockerflow.fastapi import router`` (Mozilla's health and version endpoints).
ROUTER_OBJECTS: dict[str, tuple[LibraryRoute, ...]] = {
    "dockerflow.fastapi.router": _routes(
        ("GET,HEAD", "/__lbheartbeat__"),
        ("GET,HEAD", "/__heartbeat__"),
        ("GET", "/__version__"),
        ("GET", "/__error__"),
    ),
}

# Generic library classes whose subscription (``FastAPIUsers[User, UUID]``) is the class.
GENERIC_OWNERS = frozenset({(library, owner) for library, owner, _method in ROUTER_METHODS})

# Router classes of libraries: like ``APIRouter``, and the routes they come with (at the
# ``path`` argument of the constructor, ``""`` by default).
ROUTER_CLASSES: dict[str, tuple[LibraryRoute, ...]] = {
    "cadwyn.VersionedAPIRouter": (),
    "cadwyn.routing.VersionedAPIRouter": (),
    "fastapi_utils.inferring_router.InferringRouter": (),
    "fastapi_restful.inferring_router.InferringRouter": (),
    "fastapi_restful.InferringRouter": (),
    "strawberry.fastapi.GraphQLRouter": _routes(("GET", ""), ("POST", ""), ("WEBSOCKET", "")),
    "strawberry.fastapi.router.GraphQLRouter": _routes(
        ("GET", ""), ("POST", ""), ("WEBSOCKET", "")
    ),
}


# Application classes of libraries: like ``FastAPI`` (routes, mounts, middleware).
APP_CLASSES = frozenset({"cadwyn.Cadwyn", "cadwyn.applications.Cadwyn"})


# Methods of those apps that include every router passed to them at the root.
INCLUDING_METHODS = frozenset({"generate_and_include_versioned_routers"})


def method_routes(owner: str, method: str) -> tuple[LibraryRoute, ...] | None:
    """The routes ``owner.method(...)`` builds, ``owner`` a dotted library class name."""
    library, _, name = owner.partition(".")
    return ROUTER_METHODS.get((library, owner.rpartition(".")[2], method)) if name else None


def is_generic_owner(owner: str) -> bool:
    return (owner.partition(".")[0], owner.rpartition(".")[2]) in GENERIC_OWNERS
