"""Operational logs: one pipeline for structlog and for `logging` (aiohttp, asyncio), secrets hidden by
what they are, token counts shown, free text capped."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp.http_exceptions import BadHttpMessage
from aiohttp.test_utils import TestServer

from axonhub.caps import TEXT_LIMIT
from axonhub.config import load_config
from axonhub.log import RedactFields, UtcTimestamp, configure_logging, log_request
from axonhub.redact import Redactor
from axonhub.server import make_app
from tests.conftest import SECRET, base_config, write_config
from tests.fakes import anthropic as wire
from tests.fakes.upstream import FakeUpstream, Reply

CHANNEL_KEY = "zq9Xv7Lw3Pt8Rk2M-opaque"


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


@pytest.fixture
def log_lines(redactor: Redactor) -> Iterator[io.StringIO]:
    """Logging configured as `axonhub serve` does, into a buffer; the root logger restored after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    configure_logging("json", redactor=redactor, stream=buffer)
    structlog.configure(cache_logger_on_first_use=False)
    yield buffer
    structlog.reset_defaults()
    root.handlers, root.level = handlers, level


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_credential_fields_are_hidden_and_counts_are_not() -> None:
    event = RedactFields(Redactor())(
        None,
        "info",
        {
            "event": "request",
            "key": "alice",
            "input_tokens": 1200,
            "output_tokens": 34,
            "max_tokens": None,
            "x-api-key": SECRET,
            "authorization": "Basic dXNlcjpwYXNz",
            "headers": {"Authorization": "Bearer x", "anthropic-version": "2023-06-01"},
            "error": f"upstream refused {SECRET}",
        },
    )
    assert event == {
        "event": "request",
        "key": "alice",
        "input_tokens": 1200,
        "output_tokens": 34,
        "max_tokens": None,
        "x-api-key": "[redacted]",
        "authorization": "[redacted]",
        "headers": {"Authorization": "[redacted]", "anthropic-version": "2023-06-01"},
        "error": "upstream refused [redacted]",
    }


async def test_the_request_log_line_shows_token_counts_and_no_key(
    upstream: FakeUpstream, tmp_path: Path, redactor: Redactor, log_lines: io.StringIO
) -> None:
    upstream.default = Reply.json(wire.message())
    config = load_config(
        write_config(tmp_path / "axonhub.yml", base_config(upstream.url, tmp_path / "trace.jsonl")),
        env={"FAKE_ANTHROPIC_KEY": CHANNEL_KEY},
    )
    server = TestServer(make_app(config, watch=False, redactor=redactor), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            body = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
            url = str(server.make_url("/v1/messages"))
            async with session.post(url, json=body, headers={"x-api-key": SECRET}) as response:
                assert response.status == 200
    finally:
        await server.close()
    (request,) = [e for e in lines(log_lines) if e["event"] == "request"]
    assert (request["key"], request["input_tokens"], request["output_tokens"], request["status"]) == (
        "alice",
        12,
        7,
        200,
    )
    assert SECRET not in log_lines.getvalue() and CHANNEL_KEY not in log_lines.getvalue()


def test_aiohttp_and_asyncio_logging_goes_through_the_same_redaction(
    tmp_path: Path, redactor: Redactor, log_lines: io.StringIO
) -> None:
    redactor.follow(
        load_config(
            write_config(tmp_path / "axonhub.yml", base_config("http://127.0.0.1:9", tmp_path / "t.jsonl")),
            env={"FAKE_ANTHROPIC_KEY": CHANNEL_KEY},
        )
    )
    raw_line = f"x-api-key {SECRET}"
    try:
        raise BadHttpMessage(f"Invalid header token:\n\n  b'{raw_line}'\n             ^")
    except BadHttpMessage:
        logging.getLogger("aiohttp.server").exception("Error handling request from %s", "127.0.0.1")
    try:
        raise RuntimeError(f"upstream said: bad key {CHANNEL_KEY}")
    except RuntimeError:
        logging.getLogger("asyncio").exception("Task exception was never retrieved")
    logging.getLogger("aiohttp.web").warning("odd header %s", "m" * 100_000)
    parse_error, task_error, long_warning = lines(log_lines)
    assert parse_error == {
        "event": "Error handling request from 127.0.0.1",
        "error": "BadHttpMessage: Invalid header token",
        "logger": "aiohttp.server",
        "level": "error",
        "timestamp": parse_error["timestamp"],
    }
    assert task_error["logger"] == "asyncio" and "upstream said: bad key [redacted]" in task_error["exception"]
    assert long_warning["event"].endswith(f"…[+{100_000 + len('odd header ') - TEXT_LIMIT} chars]")
    text = log_lines.getvalue()
    assert SECRET not in text and CHANNEL_KEY not in text and raw_line not in text


def test_a_huge_field_makes_a_short_log_line(log_lines: io.StringIO) -> None:
    structlog.get_logger("axonhub.request").info("request", model="m" * 300_000, path="/" + "p" * 300_000)
    (line,) = log_lines.getvalue().splitlines()
    assert len(line) < 3 * TEXT_LIMIT
    assert json.loads(line)["model"] == "m" * TEXT_LIMIT + f"…[+{300_000 - TEXT_LIMIT} chars]"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    root.handlers, root.level = handlers, level


def test_lines_to_a_file_are_written_by_the_writer_thread_in_order(tmp_path: Path, restore_logging: None) -> None:
    """structlog and `logging` lines share one sink: same order as logged, all there once it is closed."""
    path = tmp_path / "axonhub.log"
    with path.open("w") as stream:
        sink = configure_logging("json", stream=stream)
        structlog.configure(cache_logger_on_first_use=False)
        for n in range(300):
            structlog.get_logger("axonhub.test").info("structlog line", n=n)
            logging.getLogger("aiohttp.server").warning("stdlib line %d", n)
        sink.close()
    events = [(entry["event"], entry.get("n")) for entry in map(json.loads, path.read_text().splitlines())]
    expected = [pair for n in range(300) for pair in (("structlog line", n), (f"stdlib line {n}", None))]
    assert events == expected


def test_a_stalled_log_reader_never_blocks_the_caller(tmp_path: Path, restore_logging: None) -> None:
    """A pipe nobody reads (a hung log collector) fills up; logging goes on without waiting for it."""
    read_end, write_end = os.pipe()
    stream = os.fdopen(write_end, "w")
    sink = configure_logging("json", stream=stream)
    structlog.configure(cache_logger_on_first_use=False)
    began = time.perf_counter()
    for n in range(5000):  # far more than a pipe buffer holds
        structlog.get_logger("axonhub.test").info("x" * 100, n=n)
    assert time.perf_counter() - began < 5
    os.close(read_end)  # the writer's pending write fails at once; nothing is left to reach a reused descriptor
    sink.close()
    stream.close()


REQUEST_FIELDS: dict[str, Any] = {
    "method": "POST",
    "path": "/v1/messages",
    "kind": "messages",
    "status": 502,
    "key": "alice",
    "model": "claude-sonnet-4-5",
    "resolved": "m" * (TEXT_LIMIT + 10),
    "channel": "deepseek",
    "stream": False,
    "input_tokens": 100,
    "output_tokens": None,
    "counted_tokens": None,
    "ms": 14.23,
    "error": f"upstream said: bad key {CHANNEL_KEY} (and {SECRET})",
}


def test_the_direct_request_line_is_the_line_structlog_writes(
    tmp_path: Path, redactor: Redactor, log_lines: io.StringIO
) -> None:
    """In JSON the request line skips structlog's per-call work: same fields, same order, same
    redaction (the channel's key, the request's own key), same context variables, same timestamp shape."""
    redactor.follow(
        load_config(
            write_config(tmp_path / "axonhub.yml", base_config("http://127.0.0.1:9", tmp_path / "t.jsonl")),
            env={"FAKE_ANTHROPIC_KEY": CHANNEL_KEY},
        )
    )
    assert structlog.get_config()["logger_factory"].direct is not None  # the direct way is taken
    bound = redactor.bind_request((SECRET,))
    structlog.contextvars.bind_contextvars(request_id="req_1", worker=2)
    try:
        log_request(structlog.get_logger("axonhub.request"), dict(REQUEST_FIELDS))
        structlog.get_logger("axonhub.request").info("request", **REQUEST_FIELDS)
    finally:
        structlog.contextvars.unbind_contextvars("request_id", "worker")
        redactor.release(bound)
    direct, through_structlog = log_lines.getvalue().splitlines()
    stamp = re.compile(r'"timestamp":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?Z)"')
    assert stamp.search(direct) and stamp.search(through_structlog)
    assert stamp.sub("", direct) == stamp.sub("", through_structlog)
    names = list(json.loads(direct))
    assert names[:15] == [*REQUEST_FIELDS, "event"] and names[-2:] == ["level", "timestamp"]
    assert set(names[15:-2]) == {"request_id", "worker"}  # in the context's own order, as structlog's
    assert json.loads(direct)["error"] == "upstream said: bad key [redacted] (and [redacted])"
    assert json.loads(direct)["resolved"] == "m" * TEXT_LIMIT + "…[+10 chars]"


def test_the_timestamp_is_structlogs_iso_utc_form() -> None:
    ours = UtcTimestamp()(None, "info", {})["timestamp"]
    theirs = structlog.processors.TimeStamper(fmt="iso", utc=True)(None, "info", {})["timestamp"]
    shape = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z"
    assert re.fullmatch(shape, ours) and re.fullmatch(shape, theirs)
    assert abs(datetime.fromisoformat(ours) - datetime.fromisoformat(theirs)) < timedelta(seconds=1)


@pytest.mark.parametrize(("log_format", "level"), [("console", logging.INFO), ("json", logging.WARNING)])
def test_the_request_line_goes_through_structlog_unless_json_at_info(
    log_format: str, level: int, restore_logging: None
) -> None:
    buffer = io.StringIO()
    configure_logging(log_format, stream=buffer, level=level)
    assert structlog.get_config()["logger_factory"].direct is None
    log_request(structlog.get_logger("axonhub.request"), dict(REQUEST_FIELDS))
    if level > logging.INFO:
        assert buffer.getvalue() == ""  # the request line is info: not written at warning
    else:
        assert re.fullmatch(
            r"\d\d:\d\d:\d\d \[info +\] 502 +14 ms  alice  in 100 out 0  claude-sonnet-4-5 → m+…\n", buffer.getvalue()
        )


def test_a_structlog_configured_elsewhere_gets_the_request_line(restore_logging: None) -> None:
    buffer = io.StringIO()
    configure_logging("json", stream=buffer)
    structlog.configure(processors=[structlog.processors.JSONRenderer()])  # someone else's chain
    log_request(structlog.get_logger("axonhub.request"), {"status": 200})
    assert json.loads(buffer.getvalue()) == {"status": 200, "event": "request"}
