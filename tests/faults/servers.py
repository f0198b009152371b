"""Servers the fault tests own, so that they can kill and restart them.

A PostgreSQL cluster (``initdb`` + ``pg_ctl`` on a free port, as the
``postgres`` user when run as root), ``redis-server`` processes (with or
without an append-only file) and moto's standalone S3 server. Each listens on
every address, so that processes in other network namespaces reach them too.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def require(condition: bool, reason: str) -> None:
    """Skip with `reason` unless `condition`; fail instead under UNSTUCK_REQUIRE_SERVICES=1."""
    if condition:
        return
    if os.environ.get("UNSTUCK_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} and UNSTUCK_REQUIRE_SERVICES=1")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        port: int = probe.getsockname()[1]
        return port


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


def postgres_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@dataclass
class Postgres:
    folder: Path
    port: int
    bin: Path

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(prefix + list(command), check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        if not (self.folder / "PG_VERSION").exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(self.folder.parent, "postgres", "postgres")
                shutil.chown(self.folder, "postgres", "postgres")
            self._run(
                str(self.bin / "initdb"),
                "-D",
                str(self.folder),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
            )
            with (self.folder / "pg_hba.conf").open("a") as hba:
                hba.write("host all all 10.211.0.0/16 trust\n")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=* -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.folder),
            "-o",
            options,
            "-l",
            str(self.folder / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder), "-m", "immediate", "stop")

    def url(self, host: str = "127.0.0.1") -> str:
        return f"postgresql+asyncpg://postgres@{host}:{self.port}/postgres"


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
