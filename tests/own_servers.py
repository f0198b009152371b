"""Servers of a test's own, which it may stop, cut off or kill: PostgreSQL, Redis, S3.

The shared instances of the machine are never touched. PostgreSQL refuses to
run as root: under root, ``initdb`` and the server run as the ``postgres``
user (binaries from PATH, else the newest under /usr/lib/postgresql/*/bin).
:func:`isolated_link` puts a server behind a veth pair in a network
namespace of its own (names ``usk9…``, addresses in 10.209.0.0/16), so that a
test can take the link down: the silent network loss of a real outage, no RST.
`Redis` runs ``redis-server`` with or without an append-only file; `S3Server`
is moto's standalone server, an S3-compatible HTTP endpoint. Servers started
with ``listen_all`` (or bound to 0.0.0.0) are reachable from other namespaces.
"""

from __future__ import annotations

import glob
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

_SERVER_USER = "postgres"


def _unavailable(reason: str) -> None:
    if os.environ.get("UNSTUCK_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} and UNSTUCK_REQUIRE_SERVICES=1")
    pytest.skip(reason)


def require(condition: bool, reason: str) -> None:
    """Skip with `reason` unless `condition`; fail instead under UNSTUCK_REQUIRE_SERVICES=1."""
    if not condition:
        _unavailable(reason)


def free_port() -> int:
    """A port free on every address (servers of `listen_all` bind them all)."""
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_group(process: subprocess.Popen[bytes], within_s: float = 30.0) -> bool:
    """SIGTERM to a server started in a process group of its own; if it has not ended
    ``within_s`` later, SIGKILL to the whole group. Whether SIGTERM was enough."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(within_s)
        return True
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return False


def wait_for_port(port: int, timeout: float = 20.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), 0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port}") from None
            time.sleep(0.05)


def _postgres_program(name: str) -> str | None:
    found = shutil.which(name)
    if found is not None:
        return found
    installed = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return installed[-1] if installed else None


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
    listen_all: bool = False

    def url(self, driver: str = "asyncpg") -> str:
        return f"postgresql+{driver}://postgres@{self.host}:{self.port}/postgres"

    def database_url(self, database: str, host: str | None = None) -> str:
        """The asyncpg URL of `database`, reached through `host` (default: the server's)."""
        return f"postgresql+asyncpg://postgres@{host or self.host}:{self.port}/{database}"

    @property
    def libpq_url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        command = [*self.wrap, *_as_server_user(), _postgres_program("pg_ctl") or "pg_ctl", *args]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        # pg_ctl hands the options to a shell: quoted, '*' is not a glob.
        listen = "'*'" if self.listen_all else self.host
        options = f"-h {listen} -p {self.port} -k {self.directory} -c fsync=off"
        # A log file of its own: the server must not inherit (and hold open) our pipes.
        log = str(self.directory / "server.log")
        self._pg_ctl("-D", str(self.directory / "data"), "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        self._pg_ctl("-D", str(self.directory / "data"), "-m", "immediate", "-w", "stop")


@contextmanager
def own_postgres(
    host: str = "127.0.0.1", wrap: list[str] | None = None, *, listen_all: bool = False
) -> Iterator[OwnPostgres]:
    """A fresh cluster (trust authentication) on `host`; `wrap` runs it, e.g. in a namespace;
    `listen_all` makes it listen on every address (for clients in other namespaces)."""
    initdb_program = _postgres_program("initdb")
    if initdb_program is None or _postgres_program("pg_ctl") is None:
        _unavailable("initdb and pg_ctl are neither on PATH nor in /usr/lib/postgresql")
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam(_SERVER_USER)
        except KeyError:
            _unavailable(f"running as root, and there is no {_SERVER_USER} user to run PostgreSQL")
    directory = Path(tempfile.mkdtemp(prefix="unstuck-pg-"))
    if os.geteuid() == 0:
        os.chown(directory, user.pw_uid, user.pw_gid)
    server = OwnPostgres(
        directory, host, free_port() if wrap is None else 5432, wrap or [], listen_all
    )
    initdb = [*_as_server_user(), str(initdb_program), "-A", "trust", "-U", "postgres"]
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


@dataclass
class Redis:
    folder: Path
    port: int
    persistent: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "0.0.0.0",
            "--protected-mode",
            "no",
            "--save",
            "",
            "--dir",
            str(self.folder),
        ]
        command += (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self.persistent
            else ["--appendonly", "no"]
        )
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_for_port(self.port)

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def url(self, host: str = "127.0.0.1") -> str:
        return f"redis://{host}:{self.port}/0"


@dataclass
class S3Server:
    """moto's standalone server: an S3-compatible HTTP endpoint (a stand-in for one)."""

    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        command = [
            str(Path(sys.executable).parent / "moto_server"),
            "-H",
            "0.0.0.0",
            "-p",
            str(self.port),
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)

    def endpoint(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def create_bucket(self, name: str) -> None:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint(),
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        client.create_bucket(Bucket=name)
