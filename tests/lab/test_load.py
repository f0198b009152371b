"""The load generator against a tiny real HTTP/1.1 server."""

from __future__ import annotations

import asyncio
import math

import pytest

from unstuck.lab.client import Connection, ProtocolError, Request
from unstuck.lab.load import (
    LoadError,
    Probe,
    Target,
    burst,
    closed_loop,
    latency_ms,
    percentile,
    throughput,
    wall_time,
)

from .conftest import TinyServer


def test_burst_runs_requests_at_once_each_on_its_own_connection(tiny_server: TinyServer) -> None:
    requests = [Request.get("/sleep?s=0.5")] * 20
    outcomes = asyncio.run(burst(tiny_server.target, requests, timeout_s=10))
    assert [o.status for o in outcomes] == [200] * 20
    assert all(o.body == b"slept" for o in outcomes)
    assert len(tiny_server.client_ports) == 20
    # One after the other would take 10 s; together they take about one sleep.
    assert wall_time(outcomes) < 5


def test_closed_loop_reuses_its_connections_and_stops_at_the_count(
    tiny_server: TinyServer,
) -> None:
    outcomes = asyncio.run(
        closed_loop(
            tiny_server.target,
            lambda index: Request.get(f"/status?code={200 + index % 2}"),
            connections=2,
            duration_s=30,
            max_requests=10,
            timeout_s=5,
        )
    )
    assert len(outcomes) == 10
    assert sorted(o.status for o in outcomes) == [200] * 5 + [201] * 5
    assert len(tiny_server.client_ports) == 2
    assert throughput(outcomes) > 0


def test_closed_loop_stops_at_the_duration(tiny_server: TinyServer) -> None:
    outcomes = asyncio.run(
        closed_loop(
            tiny_server.target,
            lambda _: Request.get("/sleep?s=0.1"),
            connections=1,
            duration_s=0.35,
            max_requests=1_000,
            timeout_s=5,
        )
    )
    assert 1 <= len(outcomes) <= 5


def test_bodies_chunked_until_close_and_posted(tiny_server: TinyServer) -> None:
    async def exchange() -> list[bytes]:
        connection = Connection(tiny_server.target.host, tiny_server.target.port)
        try:
            chunked = await connection.send(Request.get("/chunked"))
            posted = await connection.send(Request.post_json("/echo", '{"n": 1}'))
            to_close = await connection.send(Request.get("/until-close"))
            again = await connection.send(Request.get("/status?code=204"))
        finally:
            connection.close()
        assert again.status == 204
        return [chunked.body, posted.body, to_close.body]

    assert asyncio.run(exchange()) == [b"hello chunked world", b'{"n": 1}', b"read me to the end"]


@pytest.mark.parametrize("status", [204, 304])
def test_an_answer_without_a_body_ends_with_its_headers(
    tiny_server: TinyServer, status: int
) -> None:
    async def twice() -> list[tuple[int, bytes]]:
        connection = Connection(tiny_server.target.host, tiny_server.target.port)
        try:
            async with asyncio.timeout(5):
                empty = await connection.send(Request.get(f"/status?code={status}"))
                after = await connection.send(Request.get("/status?code=200"))
        finally:
            connection.close()
        return [(empty.status, empty.body), (after.status, after.body)]

    # The same connection carries the next request: the empty answer was not read to its end.
    assert asyncio.run(twice()) == [(status, b""), (200, b"as asked")]
    assert len(tiny_server.client_ports) == 1


def test_head_reads_no_body_although_a_length_is_given(tiny_server: TinyServer) -> None:
    async def head_then_get() -> list[tuple[int, bytes]]:
        connection = Connection(tiny_server.target.host, tiny_server.target.port)
        try:
            async with asyncio.timeout(5):
                head = await connection.send(Request.head("/anything"))
                after = await connection.send(Request.get("/status?code=200"))
        finally:
            connection.close()
        return [(head.status, head.body), (after.status, after.body)]

    assert asyncio.run(head_then_get()) == [(200, b""), (200, b"as asked")]


def test_something_that_is_not_http_is_a_protocol_error() -> None:
    async def garbage() -> None:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        connection = Connection("127.0.0.1", port)
        try:
            async with asyncio.timeout(5):
                await connection.send(Request.get("/"))
        finally:
            connection.close()
            server.close()

    with pytest.raises(ProtocolError, match=r"not HTTP/1\.1"):
        asyncio.run(garbage())


def test_a_connection_closed_by_the_server_is_reopened_for_the_next_get(
    tiny_server: TinyServer,
) -> None:
    async def twice() -> list[int]:
        connection = Connection(tiny_server.target.host, tiny_server.target.port)
        try:
            first = await connection.send(Request.get("/drop-after"))
            await asyncio.sleep(0.1)
            second = await connection.send(Request.get("/status?code=200"))
        finally:
            connection.close()
        return [first.status, second.status]

    assert asyncio.run(twice()) == [200, 200]


def test_a_slow_answer_is_a_timeout_outcome_not_an_exception(tiny_server: TinyServer) -> None:
    outcomes = asyncio.run(burst(tiny_server.target, [Request.get("/sleep?s=2")], timeout_s=0.2))
    assert outcomes[0].status == 0
    assert outcomes[0].error == "no answer within 0.2 s"
    assert 0.2 <= outcomes[0].elapsed < 1.5


def test_no_server_is_a_load_error() -> None:
    with pytest.raises(LoadError, match="could not open 2 connections"):
        asyncio.run(burst(Target("127.0.0.1", 1), [Request.get("/")] * 2, timeout_s=1))


def test_bounds_are_checked(tiny_server: TinyServer) -> None:
    with pytest.raises(LoadError, match="connections must be from 1"):
        asyncio.run(burst(tiny_server.target, [], timeout_s=1))
    with pytest.raises(LoadError, match="positive duration"):
        asyncio.run(
            closed_loop(
                tiny_server.target,
                lambda _: Request.get("/"),
                connections=1,
                duration_s=0,
                max_requests=1,
                timeout_s=1,
            )
        )


def test_probe_samples_while_a_load_runs(tiny_server: TinyServer) -> None:
    async def probed() -> Probe:
        async with Probe(tiny_server.target, "/status?code=200", interval_s=0.02) as probe:
            await burst(tiny_server.target, [Request.get("/sleep?s=0.3")] * 3, timeout_s=5)
        return probe

    probe = asyncio.run(probed())
    assert len(probe.samples) >= 3
    assert all(sample.status == 200 for sample in probe.samples)
    summary = latency_ms(probe.samples)
    assert summary["count"] == summary["ok"] == len(probe.samples)


def test_percentile_interpolates() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert percentile([0.0, 10.0], 95) == pytest.approx(9.5)
    assert math.isnan(percentile([], 50))


def test_requests_without_keep_alive_each_get_a_new_connection(tiny_server: TinyServer) -> None:
    once = Request("GET", "/status?code=200", keep_alive=False)
    outcomes = asyncio.run(
        closed_loop(
            tiny_server.target,
            lambda _: once,
            connections=1,
            duration_s=30,
            max_requests=4,
            timeout_s=5,
        )
    )
    assert [o.status for o in outcomes] == [200] * 4
    assert len(tiny_server.client_ports) == 4
