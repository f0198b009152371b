"""PostgreSQL and Redis instances of a test's own, which it may stop, cut off or kill.

The shared instances of the machine are never touched. PostgreSQL refuses to
run as root: under root, ``initdb`` and the server run as the ``postgres``
user. :func:`isolated_link` puts a server behind a veth pair in a network
namespace of its own (names ``usk9…``, addresses in 10.209.0.0/16), so that a
test can take the link down: the silent network loss of a real outage, no RST.
"""

from __future__ import annotations

import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

_SERVER_USER = "postgres"


def _unavailable(reason: str) -> None:
    if os.environ.get("UNSTUCK_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} and UNSTUCK_REQUIRE_SERVICES=1")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Link:
    """A network namespace reached over a veth pair; the server side can go down."""

    namespace: str
    server_interface: str
    host_address: str
    server_address: str

    def run(self, *command: str) -> list[str]:
        return ["ip", "netns", "exec", self.namespace, *command]

    def cut(self) -> None:
        """Take the server's side down: packets vanish, nobody answers, no RST."""
        subprocess.run(self.run("ip", "link", "set", self.server_interface, "down"), check=True)

    def restore(self) -> None:
        subprocess.run(self.run("ip", "link", "set", self.server_interface, "up"), check=True)


@contextmanager
def isolated_link() -> Iterator[Link]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        _unavailable("network namespaces need root and iproute2")
    tag = uuid.uuid4().hex[:6]
    namespace, host_side, server_side = f"usk9{tag}", f"usk9{tag}h", f"usk9{tag}s"
    subnet = random.randrange(1, 255)
    block = random.randrange(0, 64) * 4
    host_address, server_address = f"10.209.{subnet}.{block + 1}", f"10.209.{subnet}.{block + 2}"
    steps = [
        ["ip", "netns", "add", namespace],
        ["ip", "link", "add", host_side, "type", "veth", "peer", "name", server_side],
        ["ip", "link", "set", server_side, "netns", namespace],
        ["ip", "addr", "add", f"{host_address}/30", "dev", host_side],
        ["ip", "link", "set", host_side, "up"],
        [
            "ip",
            "netns",
            "exec",
            namespace,
            "ip",
            "addr",
            "add",
            f"{server_address}/30",
            "dev",
            server_side,
        ],
        ["ip", "netns", "exec", namespace, "ip", "link", "set", server_side, "up"],
        ["ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up"],
    ]
    try:
        for step in steps:
            subprocess.run(step, check=True, capture_output=True)
        yield Link(namespace, server_side, host_address, server_address)
    finally:
        subprocess.run(["ip", "link", "del", host_side], capture_output=True)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


def _as_server_user() -> list[str]:
    return ["runuser", "-u", _SERVER_USER, "--"] if os.geteuid() == 0 else []


@dataclass
class OwnPostgres:
    directory: Path
    host: str
    port: int
    wrap: list[str]

    def url(self, driver: str = "asyncpg") -> str:
        return f"postgresql+{driver}://postgres@{self.host}:{self.port}/postgres"

    @property
    def libpq_url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        command = [*self.wrap, *_as_server_user(), "pg_ctl", *args]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-h {self.host} -p {self.port} -k {self.directory} -c fsync=off"
        # A log file of its own: the server must not inherit (and hold open) our pipes.
        log = str(self.directory / "server.log")
        self._pg_ctl("-D", str(self.directory / "data"), "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        self._pg_ctl("-D", str(self.directory / "data"), "-m", "immediate", "-w", "stop")


@contextmanager
def own_postgres(host: str = "127.0.0.1", wrap: list[str] | None = None) -> Iterator[OwnPostgres]:
    """A fresh cluster (trust authentication) on `host`; `wrap` runs it, e.g. in a namespace."""
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        _unavailable("initdb and pg_ctl are not on PATH")
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam(_SERVER_USER)
        except KeyError:
            _unavailable(f"running as root, and there is no {_SERVER_USER} user to run PostgreSQL")
    directory = Path(tempfile.mkdtemp(prefix="unstuck-pg-"))
    if os.geteuid() == 0:
        os.chown(directory, user.pw_uid, user.pw_gid)
    server = OwnPostgres(directory, host, free_port() if wrap is None else 5432, wrap or [])
    initdb = [*_as_server_user(), "initdb", "-A", "trust", "-U", "postgres"]
    subprocess.run(
        [*initdb, "-D", str(directory / "data")], check=True, capture_output=True, timeout=120
    )
    # Trust from anywhere: the cluster lives only as long as the test, on a private address.
    with (directory / "data" / "pg_hba.conf").open("a") as hba:
        hba.write("host all all 0.0.0.0/0 trust\n")
    try:
        server.start()
        yield server
    finally:
        with suppress(subprocess.SubprocessError):
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)
