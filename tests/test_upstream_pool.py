"""The upstream connection pool against a server whose answers are exact bytes: HTTP/1.1 framing,
keep-alive and its limits, compression, timeouts, broken answers and TLS."""

from __future__ import annotations

import asyncio
import gzip
import ssl
import subprocess
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from axonhub.upstream.http1 import BodyError, ConnectionClosed, MalformedAnswer, ReadTimeout
from axonhub.upstream.pool import ConnectFailed, Pool, target_of
from tests.fakes.raw_http import RawServer, Step, chunked, json_answer

LIMITS = {"connect": 2.0, "first_byte": 2.0, "read": 2.0}


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    raw = RawServer()
    await raw.start()
    yield raw
    await raw.close()


@pytest.fixture
async def pool() -> AsyncIterator[Pool]:
    connections = Pool()
    yield connections
    await connections.close()


async def post(pool: Pool, url: str, body: bytes = b"{}", **limits: float) -> tuple[int, bytes]:
    response = await pool.request(url + "/v1/x", {"Content-Type": "application/json"}, body, **{**LIMITS, **limits})
    return response.status, await response.read()


async def test_a_content_length_answer_is_read_and_its_connection_reused(server: RawServer, pool: Pool) -> None:
    server.answer(Step([json_answer(b'{"a":1}')]), Step([json_answer(b'{"b":2}')]))
    assert await post(pool, server.url, b'{"q":1}') == (200, b'{"a":1}')
    assert await post(pool, server.url, b'{"q":2}') == (200, b'{"b":2}')
    assert [(s.body, s.connection) for s in server.seen] == [(b'{"q":1}', 1), (b'{"q":2}', 1)]


async def test_the_request_head_carries_the_callers_headers_and_sane_defaults(server: RawServer, pool: Pool) -> None:
    server.answer(Step([json_answer(b"{}")]))
    response = await pool.request(
        server.url + "/v1beta/models/gemini 3:streamGenerateContent?alt=sse",
        {"x-api-key": "k", "Content-Length": "999", "Host": "evil"},
        b"12345",
        **LIMITS,
    )
    await response.read()
    [seen] = server.seen
    assert seen.head.split("\r\n")[0] == "POST /v1beta/models/gemini%203:streamGenerateContent?alt=sse HTTP/1.1"
    assert (seen.header("Host"), seen.header("x-api-key"), seen.header("Content-Length")) == (
        f"127.0.0.1:{server.port}",
        "k",
        "5",
    )
    assert (seen.header("Accept-Encoding"), seen.header("User-Agent")) == ("gzip, deflate", "AxonHub/0.1.0")
    assert seen.body == b"12345"


async def test_a_header_with_a_line_break_is_never_sent(server: RawServer, pool: Pool) -> None:
    with pytest.raises(ValueError, match="line break"):
        await pool.request(server.url, {"x-evil": "a\r\nInjected: yes"}, b"", **LIMITS)
    assert server.seen == []


async def test_chunked_bodies_arrive_whole_whatever_the_byte_boundaries(server: RawServer, pool: Pool) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = b"4;ext=1\r\ndata\r\n6\r\n: ping\r\n0\r\nX-Trailer: t\r\n\r\n"
    dribbled: list[bytes | float] = [head[:7], 0.01, head[7:]]
    for i in range(len(body)):
        dribbled += [body[i : i + 1], 0.001]
    server.answer(Step(dribbled), Step([json_answer(b"{}")]))
    response = await pool.request(server.url, {}, b"", **LIMITS)
    assert (response.status, response.content_type) == (200, "text/event-stream")
    pieces = [piece async for piece in response.content.iter_any()]
    assert b"".join(pieces) == b"data: ping"
    assert len(pieces) > 1  # handed on as it arrived, not held to the end
    response.release()
    assert await post(pool, server.url) == (200, b"{}")
    assert [s.connection for s in server.seen] == [1, 1]


# Chunks in every form a server may use, several to a read: extensions, upper-case and zero-padded
# sizes, a size line with a space, a chunk ended by a bare LF, and data that looks like chunk framing.
MANY_CHUNKS = (
    b"5;name=value\r\nhello\r\nA\r\n0123456789\r\n0007\r\n\r\n0\r\n\r\n\r\n3 \r\nabc\r\n2\r\nde\n1\r\nf\r\n0\r\n\r\n"
)
MANY_CHUNKS_DATA = b"hello0123456789\r\n0\r\n\r\nabcdef"


@pytest.mark.parametrize("cut", [None, 3, 9, 21, 22, 40, 60, 75], ids=lambda c: "whole" if c is None else f"cut-at-{c}")
async def test_several_chunks_to_a_read_arrive_exactly(server: RawServer, pool: Pool, cut: int | None) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    reads: list[bytes | float] = (
        [head + MANY_CHUNKS] if cut is None else [head + MANY_CHUNKS[:cut], 0.02, MANY_CHUNKS[cut:]]
    )
    server.answer(Step(reads), Step([json_answer(b"{}")]))
    response = await pool.request(server.url, {}, b"", **LIMITS)
    assert await response.read() == MANY_CHUNKS_DATA
    response.release()
    assert await post(pool, server.url) == (200, b"{}")  # the answer ended exactly: the connection is reused
    assert [s.connection for s in server.seen] == [1, 1]


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", lambda b: zlib.compress(b)[2:-4])],
    ids=["gzip", "zlib-deflate", "raw-deflate"],
)
async def test_compressed_answers_are_inflated(
    server: RawServer, pool: Pool, encoding: str, pack: Callable[[bytes], bytes]
) -> None:
    packed = pack(b'{"text":"' + b"x" * 5000 + b'"}')
    server.answer(
        Step(
            [
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n",
                f"Content-Encoding: {encoding}\r\n\r\n".encode(),
                chunked(packed[:10], packed[10:]),
            ]
        )
    )
    assert await post(pool, server.url) == (200, b'{"text":"' + b"x" * 5000 + b'"}')


async def test_an_answer_read_to_the_close_is_whole_and_its_connection_not_reused(
    server: RawServer, pool: Pool
) -> None:
    server.answer(
        Step([b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n", b'{"to":', 0.01, b'"the end"}'], "close"),
        Step([json_answer(b"{}")]),
    )
    assert await post(pool, server.url) == (200, b'{"to":"the end"}')
    assert await post(pool, server.url) == (200, b"{}")
    assert [s.connection for s in server.seen] == [1, 2]


@pytest.mark.parametrize(
    "answer",
    [json_answer(b"{}", "Connection: close"), b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}"],
    ids=["connection-close", "http-1.0"],
)
async def test_a_connection_the_server_will_close_is_not_reused(server: RawServer, pool: Pool, answer: bytes) -> None:
    server.answer(Step([answer]), Step([json_answer(b"{}")]))
    await post(pool, server.url)
    await post(pool, server.url)
    assert [s.connection for s in server.seen] == [1, 2]


async def test_bytes_past_the_content_length_make_the_connection_unusable(server: RawServer, pool: Pool) -> None:
    server.answer(Step([json_answer(b"{}") + b"HTTP/1.1 200 OK\r\n"]), Step([json_answer(b"[]")]))
    assert await post(pool, server.url) == (200, b"{}")
    assert await post(pool, server.url) == (200, b"[]")
    assert [s.connection for s in server.seen] == [1, 2]


async def test_interim_answers_are_skipped(server: RawServer, pool: Pool) -> None:
    server.answer(
        Step([b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n", json_answer(b"{}")])
    )
    assert await post(pool, server.url) == (200, b"{}")


async def test_a_keep_alive_connection_the_server_dropped_while_idle_is_replaced_unseen(
    server: RawServer, pool: Pool
) -> None:
    server.answer(Step([json_answer(b"{}")], "close"), Step([json_answer(b"[]")]))
    assert await post(pool, server.url) == (200, b"{}")
    # The pool cannot know yet: the close may not have arrived. Either way the request succeeds.
    assert await post(pool, server.url) == (200, b"[]")
    assert [s.connection for s in server.seen] == [1, 2]


async def test_a_reused_connection_that_dies_unanswered_is_retried_once_on_a_new_one(
    server: RawServer, pool: Pool
) -> None:
    server.answer(Step([json_answer(b"{}")]), Step([], "reset"), Step([json_answer(b"[]")]))
    assert await post(pool, server.url) == (200, b"{}")
    assert await post(pool, server.url) == (200, b"[]")
    assert [s.connection for s in server.seen] == [1, 1, 2]


async def test_a_new_connection_that_dies_unanswered_is_an_error_not_a_retry(server: RawServer, pool: Pool) -> None:
    server.answer(Step([], "reset"), Step([json_answer(b"[]")]))
    with pytest.raises(ConnectionClosed):
        await post(pool, server.url)
    assert len(server.seen) == 1


async def test_an_announced_keep_alive_timeout_is_respected(server: RawServer, pool: Pool) -> None:
    server.answer(Step([json_answer(b"{}", "Keep-Alive: timeout=1")]), Step([json_answer(b"{}")]))
    await post(pool, server.url)
    await post(pool, server.url)  # at once: within the server's second, less the margin: a new one
    assert [s.connection for s in server.seen] == [1, 2]


async def test_an_idle_connection_is_closed_after_the_pools_idle_time(server: RawServer) -> None:
    pool = Pool(idle_s=0.2)
    try:
        server.answer(Step([json_answer(b"{}")]), Step([json_answer(b"{}")]), Step([json_answer(b"{}")]))
        await post(pool, server.url)
        await post(pool, server.url)  # within the idle time: reused
        await asyncio.sleep(0.5)  # the sweep closes it
        assert [s.connection for s in server.seen] == [1, 1]
        assert server.closed == 1
        await post(pool, server.url)
        assert [s.connection for s in server.seen] == [1, 1, 2]
    finally:
        await pool.close()


async def test_a_body_cut_short_is_a_body_error(server: RawServer, pool: Pool) -> None:
    server.answer(Step([b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", b'{"partial":'], "reset"))
    response = await pool.request(server.url, {}, b"", **LIMITS)
    assert response.status == 200
    with pytest.raises(BodyError):
        await response.read()


async def test_a_chunked_stream_cut_mid_chunk_gives_what_came_then_the_error(server: RawServer, pool: Pool) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    server.answer(Step([head, b"b\r\ndata: one\n\n\r\n", 0.05, b"20\r\ndata: t"], "close"))
    response = await pool.request(server.url, {}, b"", **LIMITS)
    received = b""
    with pytest.raises(ConnectionClosed):
        while True:
            piece = await response.content.readany()
            assert piece, "the cut must not read as a clean end"
            received += piece
    assert received == b"data: one\n\ndata: t"


@pytest.mark.parametrize(
    "answer",
    [b"SMTP ready\r\n\r\n", b"HTTP/1.1 2x0 OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n"],
    ids=["not-http", "bad-status", "bad-header"],
)
async def test_an_answer_that_is_not_http_is_malformed(server: RawServer, pool: Pool, answer: bytes) -> None:
    server.answer(Step([answer], "hang"))
    with pytest.raises(MalformedAnswer):
        await post(pool, server.url)


@pytest.mark.parametrize(
    "size_line", [b"zz", b"1_0", b"+4", b"-4", b""], ids=["letters", "underscore", "plus", "minus", "empty"]
)
async def test_a_bad_chunk_size_mid_body_is_a_body_error(server: RawServer, pool: Pool, size_line: bytes) -> None:
    server.answer(
        Step(
            [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n" + size_line + b"\r\nabcd\r\n"], "hang"
        )
    )
    response = await pool.request(server.url, {}, b"", **LIMITS)
    with pytest.raises(MalformedAnswer, match="chunk size"):
        await response.read()


async def test_an_encoding_not_asked_for_is_refused(server: RawServer, pool: Pool) -> None:
    server.answer(Step([b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx"]))
    with pytest.raises(MalformedAnswer, match="'br'"):
        await post(pool, server.url)


async def test_no_first_byte_in_time_is_a_read_timeout(server: RawServer, pool: Pool) -> None:
    server.answer(Step([], "hang"))
    began = asyncio.get_running_loop().time()
    with pytest.raises(ReadTimeout):
        await post(pool, server.url, first_byte=0.3, read=30.0)
    assert asyncio.get_running_loop().time() - began < 5


async def test_a_quiet_spell_after_the_head_is_bounded_by_read_not_first_byte(server: RawServer, pool: Pool) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    server.answer(Step([head, b"2\r\nok\r\n", 0.5, b"2\r\nok\r\n", 0.5, b"0\r\n\r\n"]), Step([head], "hang"))
    # first_byte 0.2 s would cut the 0.5 s gaps; read 3 s allows them
    assert await post(pool, server.url, first_byte=0.2, read=3.0) == (200, b"okok")
    response = await pool.request(server.url, {}, b"", connect=2.0, first_byte=30.0, read=0.3)
    with pytest.raises(ReadTimeout):
        await response.read()


async def test_a_refused_connection_names_the_address(pool: Pool) -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    with pytest.raises(ConnectFailed) as failed:
        await post(pool, f"http://127.0.0.1:{port}")
    assert (failed.value.host, failed.value.port) == ("127.0.0.1", port)


async def test_a_host_name_is_resolved_and_reached_on_whichever_address_answers(server: RawServer, pool: Pool) -> None:
    """localhost may resolve to ::1 first, where nothing listens: the IPv4 address answers."""
    server.answer(Step([json_answer(b"{}")]), Step([json_answer(b"[]")]))
    assert await post(pool, f"http://localhost:{server.port}") == (200, b"{}")
    assert await post(pool, f"http://localhost:{server.port}") == (200, b"[]")
    assert server.seen[0].header("Host") == f"localhost:{server.port}"
    assert [s.connection for s in server.seen] == [1, 1]


async def test_a_large_body_read_slowly_arrives_whole(server: RawServer, pool: Pool) -> None:
    payload = bytes(range(256)) * (6 * 4096)  # 6 MiB: reading pauses and resumes several times
    server.answer(Step([b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(payload), payload]))
    response = await pool.request(server.url, {}, b"", **LIMITS)
    received = bytearray()
    while piece := await response.content.readany():
        received += piece
        await asyncio.sleep(0.001)
    response.release()
    assert bytes(received) == payload


def test_urls_other_than_http_are_refused() -> None:
    with pytest.raises(ValueError, match="not an http"):
        target_of("ftp://example.com/x")
    assert target_of("http://[::1]:8080/v1").request_line == "POST /v1 HTTP/1.1\r\nHost: [::1]:8080\r\n"
    assert target_of("https://api.example.com").request_line == "POST / HTTP/1.1\r\nHost: api.example.com\r\n"


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it (openssl, as on any Debian)."""
    ca_key, ca_cert, key, request, cert = (folder / n for n in ("ca.key", "ca.pem", "s.key", "s.csr", "s.pem"))
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca_cert),
        "-days",
        "2",
        "-subj",
        "/CN=test ca",
    )
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(request), "-subj", "/CN=127.0.0.1")
    extensions = folder / "ext.cnf"
    extensions.write_text("subjectAltName=IP:127.0.0.1\n")
    run(
        "x509",
        "-req",
        "-in",
        str(request),
        "-CA",
        str(ca_cert),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        "2",
        "-extfile",
        str(extensions),
    )
    return ca_cert, cert, key


async def test_https_checks_the_certificate_against_the_trusted_authorities(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, cert, key = _certificates(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = RawServer(tls=context)
    await server.start()
    server.answer(Step([json_answer(b'{"tls":true}')]), Step([json_answer(b"{}")]))
    try:
        untrusting = Pool()
        with pytest.raises(ConnectFailed, match=r"certificate verify failed|CERTIFICATE_VERIFY_FAILED"):
            await post(untrusting, server.url)
        await untrusting.close()
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the system store, as an operator would extend it
        trusting = Pool()
        assert await post(trusting, server.url) == (200, b'{"tls":true}')
        await trusting.close()
    finally:
        await server.close()
