"""Every upstream fault, on every client/channel pair served, streamed and not, with and without a backup.

One table: each fault is scripted on the primary channel's fake upstream in that channel's own wire
format; a row states what the client receives (status and whole error body before the first byte;
the list of SSE events and the error event after it), whether the request failed over to the
backup channel, and the trace line. Faults a client could act on before anything was sent fail
over when a backup exists; faults after the stream began never do (the client already holds part
of the answer) and end the stream with an error event in the client's format, the block that was
open left open.

The status table applied here (the same for every pair; a Responses client gets the OpenAI column
before its stream began, and `response.failed` with a code after):

    fault                          Anthropic client        OpenAI client                  Responses stream code  Gemini client
    429 (Retry-After kept)         429 rate_limit_error    429 rate_limit_error           rate_limit_exceeded    429 RESOURCE_EXHAUSTED
    500                            500 api_error           500 server_error               server_error           500 INTERNAL
    503, 529, an overload          529 overloaded_error    503 server_error (overloaded)  server_error           503 UNAVAILABLE
    refused / reset / broken 200   502 api_error           502 server_error               server_error           502 UNAVAILABLE
    no answer in time              504 timeout_error       504 server_error               server_error           504 DEADLINE_EXCEEDED

A Gemini stream has no terminator: one that ends after its finish reason is complete as it is.

Raw bytes are read here so nothing is hidden; tests/test_fault_sdks.py runs the official SDKs on the
post-commit rows, where an SDK could swallow a fault.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import SECRET, GatewayFactory, base_config
from tests.fakes import anthropic as a_wire
from tests.fakes import gemini as g_wire
from tests.fakes import openai as o_wire
from tests.fakes import responses as r_wire
from tests.fakes.upstream import FakeUpstream, Reply

READ_TIMEOUT = 0.3
ANTHROPIC, OPENAI, RESPONSES, GEMINI = "anthropic", "openai_chat", "openai_responses", "gemini"
PAIRS = [
    (ANTHROPIC, ANTHROPIC),
    (ANTHROPIC, OPENAI),
    (OPENAI, OPENAI),
    (OPENAI, ANTHROPIC),
    (RESPONSES, RESPONSES),
    (RESPONSES, OPENAI),
    (RESPONSES, ANTHROPIC),
    (ANTHROPIC, RESPONSES),
    (OPENAI, RESPONSES),
]
PAIRS += [(GEMINI, channel) for channel in (GEMINI, ANTHROPIC, OPENAI, RESPONSES)]
PAIRS += [(client, GEMINI) for client in (ANTHROPIC, OPENAI, RESPONSES)]
# Google's status for each Anthropic error type the scripts name.
GEMINI_STATUS = {"rate_limit_error": "RESOURCE_EXHAUSTED", "overloaded_error": "UNAVAILABLE", "api_error": "INTERNAL"}

# ------------------------------------------------------------------------------ upstream scripts


def a_event(name: str, payload: dict[str, Any]) -> bytes:
    return a_wire.event(name, payload)


def a_text_stream(text: str) -> list[bytes]:
    return a_wire.stream_events(a_wire.message([{"type": "text", "text": text}]))


def a_partial() -> list[bytes]:
    """message_start, a text block's start and its first delta ("Hel")."""
    head = a_wire.stream_events(a_wire.message([{"type": "text", "text": "Hel"}]))
    return [head[0], *head[2:4]]  # without the ping


def o_partial() -> list[bytes]:
    """The role chunk and the first text delta ("Hel")."""
    return [
        o_wire.data(o_wire.chunk({"role": "assistant", "content": ""})),
        o_wire.data(o_wire.chunk({"content": "Hel"})),
    ]


def r_partial() -> list[bytes]:
    """response.created, in_progress, a message item's start and its first text delta ("Hel")."""
    event = r_wire.Events()
    item = {"id": "msg_up1", "type": "message", "role": "assistant", "status": "in_progress", "content": []}
    at = {"item_id": "msg_up1", "output_index": 0, "content_index": 0}
    opening = r_wire.response([], status="in_progress")
    return [
        event("response.created", response=opening),
        event("response.in_progress", response=opening),
        event("response.output_item.added", output_index=0, item=item),
        event("response.content_part.added", **at, part={"type": "output_text", "text": "", "annotations": []}),
        event("response.output_text.delta", **at, delta="Hel", logprobs=[]),
    ]


def g_partial() -> list[bytes]:
    """The first chunk, with the first text ("Hel") and no finish reason."""
    return [g_wire.data(g_wire.chunk([g_wire.text("Hel")], chunk_usage=g_wire.usage(10, 1)))]


def error_body(channel: str, message: str, kind: str, status: int = 500) -> dict[str, Any]:
    """An error body in the channel's own format; `kind` is Anthropic's error type."""
    if channel == ANTHROPIC:
        return a_wire.error(kind, message)
    if channel == GEMINI:
        return g_wire.error(status, message, "UNAVAILABLE" if status == 503 else GEMINI_STATUS.get(kind, "INTERNAL"))
    openai_type = {"rate_limit_error": "rate_limit_error", "overloaded_error": "overloaded_error"}.get(
        kind, "server_error"
    )
    code = "rate_limit_exceeded" if kind == "rate_limit_error" else None
    return o_wire.error(message, openai_type, code)


def sse(chunks: list[bytes | float], reset: bool = False) -> Reply:
    return Reply.sse(chunks, reset=reset)


def stream_part(channel: str) -> list[bytes | float]:
    return list({ANTHROPIC: a_partial, OPENAI: o_partial, RESPONSES: r_partial, GEMINI: g_partial}[channel]())


def whole(channel: str, stream: bool, text: str) -> Reply:
    """A normal answer of `text` in the channel's format."""
    if channel == ANTHROPIC:
        message = a_wire.message([{"type": "text", "text": text}])
        return sse(list(a_wire.stream_events(message))) if stream else Reply.json(message)
    if channel == RESPONSES:
        response = r_wire.response([r_wire.message(text)])
        return sse(list(r_wire.stream_events(response))) if stream else Reply.json(response)
    if channel == GEMINI:
        return sse(g_wire.text_stream(text)) if stream else Reply.json(g_wire.response([g_wire.text(text)]))
    return sse(o_wire.text_stream(text)) if stream else Reply.json(o_wire.completion(text))


# ------------------------------------------------------------------------------ expectations


@dataclass(frozen=True)
class Refused:
    """The client gets an HTTP error before any byte of an answer: (kind, message)."""

    kind: str
    message: str
    verbatim: bool = False  # a same-format pair relays the upstream's own error body
    retry_after: str | None = None


@dataclass(frozen=True)
class Broken:
    """The stream began ("Hel") and ends with an error event: (kind, message)."""

    kind: str
    message: str
    upstream_event: dict[str, Any] | None = None  # a same-format relay passes the upstream's own error event on


@dataclass(frozen=True)
class Completed:
    """The whole answer arrives, properly terminated."""

    text: str = "Hello"


# client format -> kind -> (status, error type, OpenAI code)
STATUS_TABLE: dict[str, dict[str, tuple[int, str, str | None]]] = {
    GEMINI: {
        "rate_limit": (429, "RESOURCE_EXHAUSTED", None),
        "server": (500, "INTERNAL", None),
        "overloaded": (503, "UNAVAILABLE", None),
        "bad_gateway": (502, "UNAVAILABLE", None),
        "timeout": (504, "DEADLINE_EXCEEDED", None),
    },
    RESPONSES: {
        "rate_limit": (429, "rate_limit_error", "rate_limit_exceeded"),
        "server": (500, "server_error", None),
        "overloaded": (503, "server_error", "overloaded"),
        "bad_gateway": (502, "server_error", None),
        "timeout": (504, "server_error", None),
    },
    ANTHROPIC: {
        "rate_limit": (429, "rate_limit_error", None),
        "server": (500, "api_error", None),
        "overloaded": (529, "overloaded_error", None),
        "bad_gateway": (502, "api_error", None),
        "timeout": (504, "timeout_error", None),
    },
    OPENAI: {
        "rate_limit": (429, "rate_limit_error", "rate_limit_exceeded"),
        "server": (500, "server_error", None),
        "overloaded": (503, "server_error", "overloaded"),
        "bad_gateway": (502, "server_error", None),
        "timeout": (504, "server_error", None),
    },
}
RETRYABLE = {"rate_limit", "server", "overloaded", "bad_gateway", "timeout"}
# kind -> the `error.code` of a Responses client's response.failed
STREAM_CODES = {"rate_limit": "rate_limit_exceeded"}


@dataclass(frozen=True)
class Fault:
    name: str
    modes: tuple[bool, ...]  # stream: True, JSON: False
    # (channel format, stream) -> the primary's reply, or None for a dead port
    script: Callable[[str, bool], Reply | None]
    # (channel format, stream, same-format pair) -> what the client gets
    expect: Callable[[str, bool, bool], Refused | Broken | Completed]


def status_fault(status: int, kind: str, error_type: str, message: str, retry_after: str | None = None) -> Fault:
    def script(channel: str, stream: bool) -> Reply:
        headers = {"Retry-After": retry_after} if retry_after else {}
        return Reply.json(error_body(channel, message, error_type, status), status=status, headers=headers)

    return Fault(
        f"{status}" + (" with Retry-After" if retry_after else ""),
        (True, False),
        script,
        lambda channel, stream, same: Refused(kind, f"[primary] {message}", verbatim=same, retry_after=retry_after),
    )


def cut_mid_event(channel: str, pause: float = 0.0) -> list[bytes | float]:
    following = a_event(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}},
    )
    if channel == OPENAI:
        following = o_wire.data(o_wire.chunk({"content": "lo"}))
    if channel == GEMINI:
        following = g_wire.data(g_wire.chunk([g_wire.text("lo")]))
    if channel == RESPONSES:
        at = {"item_id": "msg_up1", "output_index": 0, "content_index": 0, "delta": "lo", "logprobs": []}
        following = r_wire.Events()("response.output_text.delta", **at).replace(
            b'"sequence_number": 0', b'"sequence_number": 5'
        )
    # A pause lets the half event reach the gateway in a read of its own, with no blank line in it.
    return [*stream_part(channel), *([pause] if pause else []), following[: len(following) // 2]]


def cut_last_event(channel: str) -> list[bytes | float]:
    """A clean end in the middle of the stream's last event, read on its own: after the finish for
    Anthropic (in `message_stop`) and OpenAI (in `[DONE]`); in the event that would carry the finish
    for Responses and Gemini."""
    if channel in (RESPONSES, GEMINI):
        return cut_mid_event(channel, pause=0.05)
    whole_stream = list(a_text_stream("Hello") if channel == ANTHROPIC else o_wire.text_stream("Hello"))
    last = whole_stream.pop()
    assert isinstance(last, bytes)
    return [*whole_stream, 0.05, last[:-6]]  # `data: {"type": "message_s`, `data: [D`


def upstream_error_event(channel: str) -> dict[str, Any]:
    if channel == ANTHROPIC:
        return a_wire.error("overloaded_error", "busy")
    if channel == GEMINI:
        return g_wire.error(503, "busy", "UNAVAILABLE")
    if channel == RESPONSES:
        failed = r_wire.response([], status="failed", error={"code": "server_error", "message": "busy"})
        return {"type": "response.failed", "sequence_number": 5, "response": failed}
    return {"error": {"message": "busy", "code": 503}}


def mid_stream_kind(channel: str) -> str:
    """The class of upstream_error_event: OpenAI's Responses API reports a failure as server_error."""
    return "server" if channel == RESPONSES else "overloaded"


def error_mid_stream(channel: str) -> list[bytes | float]:
    if channel == ANTHROPIC:
        return [*stream_part(channel), a_event("error", upstream_error_event(channel))]
    if channel == RESPONSES:
        return [*stream_part(channel), a_event("response.failed", upstream_error_event(channel))]
    if channel == GEMINI:
        return [*stream_part(channel), g_wire.data(upstream_error_event(channel))]
    return [*stream_part(channel), o_wire.data(upstream_error_event(channel))]


def error_first(channel: str) -> list[bytes | float]:
    """A 200 stream whose first event is the error: nothing of an answer came before it."""
    return error_mid_stream(channel)[len(stream_part(channel)) :]


def no_finish(channel: str) -> list[bytes | float]:
    """The start of an answer, then a clean end of the stream: no stop reason, no terminator."""
    return stream_part(channel)


def no_terminator(channel: str) -> list[bytes | float]:
    """Anthropic without message_stop, OpenAI without [DONE]; a Responses stream's finish is its terminator."""
    if channel == ANTHROPIC:
        return list(a_text_stream("Hello")[:-1])  # no message_stop
    if channel == RESPONSES:
        return stream_part(channel)  # its finish would be response.completed: the same as no finish
    if channel == GEMINI:
        return g_wire.text_stream("Hello")  # Gemini has none: the finish reason is the end
    return list(o_wire.text_stream("Hello")[:-1])  # no [DONE]


def json_head(channel: str) -> bytes:
    bodies = {
        ANTHROPIC: a_wire.message(),
        OPENAI: o_wire.completion("Hello"),
        RESPONSES: r_wire.response([]),
        GEMINI: g_wire.response([g_wire.text("Hello")]),
    }
    body = bodies[channel]
    text = json.dumps(body).encode()
    return text[: len(text) // 2]


CUT = "[primary] the upstream connection closed before the answer was complete"
CUT_JSON = "[primary] the upstream connection closed before its answer was complete"
SILENT = "[primary] the upstream went silent mid-answer (read timeout)"
SILENT_JSON = "[primary] the upstream went silent while sending its answer (read timeout)"

FAULTS = [
    status_fault(429, "rate_limit", "rate_limit_error", "slow down", retry_after="7"),
    status_fault(500, "server", "api_error", "boom"),
    status_fault(503, "overloaded", "api_error", "busy"),
    status_fault(529, "overloaded", "overloaded_error", "Overloaded"),
    Fault(
        "connection refused",
        (True, False),
        lambda channel, stream: None,
        lambda channel, stream, same: Refused("bad_gateway", "[primary] cannot connect to the upstream at {dead}"),
    ),
    Fault(
        "no headers before the timeout",
        (True, False),
        lambda channel, stream: Reply(delay=READ_TIMEOUT * 4, body=[b"{}"]),
        lambda channel, stream, same: Refused(
            "timeout", f"[primary] the upstream did not answer within {READ_TIMEOUT:g}s"
        ),
    ),
    Fault(
        "idle mid-body",
        (True, False),
        lambda channel, stream: (
            sse([*stream_part(channel), READ_TIMEOUT * 4])
            if stream
            else Reply(body=[json_head(channel), READ_TIMEOUT * 4], headers={"Content-Type": "application/json"})
        ),
        lambda channel, stream, same: Broken("timeout", SILENT) if stream else Refused("timeout", SILENT_JSON),
    ),
    Fault(
        "reset mid-body",
        (True, False),
        lambda channel, stream: (
            sse(stream_part(channel), reset=True)
            if stream
            else Reply(body=[json_head(channel)], headers={"Content-Type": "application/json"}, reset=True)
        ),
        lambda channel, stream, same: Broken("bad_gateway", CUT) if stream else Refused("bad_gateway", CUT_JSON),
    ),
    Fault(
        "reset in the middle of an SSE event",
        (True,),
        lambda channel, stream: sse(cut_mid_event(channel), reset=True),
        lambda channel, stream, same: Broken("bad_gateway", CUT),
    ),
    Fault(
        "reset in the middle of an SSE event read on its own",
        (True,),
        lambda channel, stream: sse(cut_mid_event(channel, pause=0.05), reset=True),
        lambda channel, stream, same: Broken("bad_gateway", CUT),
    ),
    Fault(
        "a clean end in the middle of the last event",
        (True,),
        lambda channel, stream: sse(cut_last_event(channel)),
        lambda channel, stream, same: (
            Broken("server", "[primary] the upstream stream ended before its answer was complete")
            if channel in (RESPONSES, GEMINI)
            else Completed()
        ),
    ),
    Fault(
        "truncated JSON",
        (True, False),
        lambda channel, stream: Reply(body=[json_head(channel)], headers={"Content-Type": "application/json"}),
        lambda channel, stream, same: Refused(
            "bad_gateway",
            "[primary] the upstream answered HTTP 200 with JSON that is cut short or not an object "
            "instead of an API response",
        ),
    ),
    Fault(
        "HTML 200",
        (True, False),
        lambda channel, stream: Reply(body=[b"<html>maintenance</html>"], headers={"Content-Type": "text/html"}),
        lambda channel, stream, same: Refused(
            "bad_gateway", "[primary] the upstream answered HTTP 200 with an HTML page instead of an API response"
        ),
    ),
    Fault(
        "a 200 carrying an error object",
        (True, False),
        lambda channel, stream: Reply.json(
            upstream_error_event(channel)
            if channel in (ANTHROPIC, GEMINI)
            else {"error": {"message": "busy", "code": 503}}
        ),
        lambda channel, stream, same: Refused("overloaded", "[primary] busy", verbatim=same),
    ),
    Fault(
        "a stream with no finish reason",
        (True,),
        lambda channel, stream: sse(no_finish(channel)),
        lambda channel, stream, same: Broken(
            "server", "[primary] the upstream stream ended before its answer was complete"
        ),
    ),
    Fault(
        "a stream with a finish but no terminator",
        (True,),
        lambda channel, stream: sse(no_terminator(channel)),
        lambda channel, stream, same: (
            Broken("server", "[primary] the upstream stream ended before its answer was complete")
            if channel == RESPONSES
            else Completed()
        ),
    ),
    Fault(
        "an error as a stream's first event",
        (True,),
        lambda channel, stream: sse(error_first(channel)),
        # Before the client has seen a byte: refused in its own format, or served by the backup.
        lambda channel, stream, same: Refused(mid_stream_kind(channel), "[primary] busy"),
    ),
    Fault(
        "an error chunk mid-stream",
        (True,),
        lambda channel, stream: sse(error_mid_stream(channel)),
        # A same-format relay passes the upstream's own error event on as it came.
        lambda channel, stream, same: Broken(
            mid_stream_kind(channel), "[primary] busy", upstream_error_event(channel) if same else None
        ),
    ),
]

ROWS = [
    pytest.param(
        fault,
        client,
        channel,
        stream,
        backup,
        id=f"{fault.name}-{client}-on-{channel}-{'stream' if stream else 'json'}-{'backup' if backup else 'alone'}",
    )
    for fault in FAULTS
    for client, channel in PAIRS
    for stream in fault.modes
    for backup in (False, True)
]

# ------------------------------------------------------------------------------ the gateway


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def channel_config(name: str, channel: str, url: str, priority: int) -> dict[str, Any]:
    return {
        "name": name,
        "type": {ANTHROPIC: "anthropic", OPENAI: "openai", RESPONSES: "openai_responses", GEMINI: "gemini"}[channel],
        "base_url": url if channel in (ANTHROPIC, GEMINI) else url + "/v1",
        "api_key": "${FAKE_ANTHROPIC_KEY}",
        "models": ["m"],
        "priority": priority,
        "timeouts": {"connect": 2, "read": READ_TIMEOUT},
    }


@dataclass
class Bench:
    url: str
    trace: Path
    primary: FakeUpstream
    backup: FakeUpstream
    dead: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
async def backup_upstream() -> AsyncIterator[FakeUpstream]:
    fake = FakeUpstream()
    await fake.start()
    yield fake
    await fake.close()


async def bench(
    start_gateway: GatewayFactory,
    tmp_path: Path,
    primary: FakeUpstream,
    backup: FakeUpstream,
    channel: str,
    fault: Fault,
    with_backup: bool,
) -> Bench:
    dead = f"127.0.0.1:{free_port()}"
    url = f"http://{dead}" if fault.script(channel, True) is None else primary.url
    config = base_config(url, tmp_path / "trace.jsonl")
    config["channels"] = [channel_config("primary", channel, url, 0)]
    if with_backup:
        config["channels"].append(channel_config("backup", channel, backup.url, 1))
    gateway = await start_gateway(config)
    return Bench(gateway.url, gateway.config.server.trace.path, primary, backup, dead)


def request(client: str, stream: bool) -> tuple[str, dict[str, Any], dict[str, str]]:
    messages = [{"role": "user", "content": "hi"}]
    if client == ANTHROPIC:
        body = {"model": "m", "max_tokens": 100, "messages": messages, "stream": stream}
        return "/anthropic/v1/messages", body, {"x-api-key": SECRET, "anthropic-version": "2023-06-01"}
    if client == RESPONSES:
        return "/v1/responses", {"model": "m", "input": "hi", "stream": stream}, {"Authorization": f"Bearer {SECRET}"}
    if client == GEMINI:
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        return f"/gemini/v1beta/models/m:{action}", body, {"x-goog-api-key": SECRET}
    return (
        "/v1/chat/completions",
        {"model": "m", "messages": messages, "stream": stream},
        {"Authorization": f"Bearer {SECRET}"},
    )


def events(client: str, raw: bytes) -> list[Any]:
    """The SSE events, summarised: Anthropic (name, text delta or error); OpenAI (what each chunk carries);
    Responses (`responses_summary`)."""
    out: list[Any] = []
    for block in raw.decode().replace("\r\n", "\n").split("\n\n"):  # Gemini ends events in CRLF pairs
        lines = block.strip().splitlines()
        data = "\n".join(line[6:] for line in lines if line.startswith("data: "))
        name = next((line[7:] for line in lines if line.startswith("event: ")), None)
        if not data:
            continue
        if data == "[DONE]":
            out.append("[DONE]")
            continue
        payload = json.loads(data)
        if client == GEMINI:
            out += gemini_summary(payload)
        elif client == RESPONSES:
            out += responses_summary(name, payload)
        elif client == ANTHROPIC:
            if name == "ping":
                continue
            delta = payload.get("delta", {})
            detail = payload.get("error") or delta.get("text") or delta.get("stop_reason")
            out.append((name, detail))
        elif "error" in payload:
            out.append(("error", payload["error"]))
        else:
            choice = (payload.get("choices") or [{}])[0]
            delta = choice.get("delta", {})
            out.append(
                delta.get("content")
                if delta.get("content")
                else choice.get("finish_reason") or ("usage" if payload.get("usage") else "role")
            )
    return out


def responses_summary(name: str | None, payload: dict[str, Any]) -> list[Any]:
    """A Responses event, summarised: its text delta, its error, its terminal status (the rest left out)."""
    if name == "response.created":
        return ["created"]
    if name == "response.output_text.delta":
        return [payload["delta"]]
    if name == "error":
        return [("error", {"code": payload["code"], "message": payload["message"]})]
    if name == "response.failed":
        return [("response.failed", payload["response"]["error"])]
    if name in ("response.completed", "response.incomplete"):
        return [name]
    return []


def gemini_summary(chunk: dict[str, Any]) -> list[Any]:
    """A Gemini chunk, summarised: its error, its texts, its finish reason."""
    if "error" in chunk:
        return [("error", chunk["error"])]
    candidate = chunk["candidates"][0]
    texts = [p["text"] for p in candidate["content"]["parts"] if p.get("text")]
    return texts + ([candidate["finishReason"]] if candidate.get("finishReason") else [])


def client_error(client: str, kind: str, message: str) -> dict[str, Any]:
    status, error_type, code = STATUS_TABLE[client][kind]
    if client == GEMINI:
        return {"code": status, "message": message, "status": error_type}
    if client == ANTHROPIC:
        return {"type": error_type, "message": message}
    return {"message": message, "type": error_type, "param": None, "code": code}


def broken_events(client: str, kind: str, message: str, same: bool = False) -> list[Any]:
    if client == RESPONSES:  # the transform ends with `error` and response.failed; a relay with response.failed
        error = {"code": STREAM_CODES.get(kind, "server_error"), "message": message}
        return ["created", "Hel", *([] if same else [("error", error)]), ("response.failed", error)]
    error = client_error(client, kind, message)
    if client == GEMINI:
        return ["Hel", ("error", error)]
    if client == ANTHROPIC:
        return [
            ("message_start", None),
            ("content_block_start", None),
            ("content_block_delta", "Hel"),
            ("error", error),
        ]
    return ["role", "Hel", ("error", error)]


def completed_text(client: str, summary: list[Any]) -> tuple[str, Any]:
    if client == GEMINI:
        return "".join(s for s in summary if isinstance(s, str) and s != "STOP"), summary[-1]
    if client == RESPONSES:
        return "".join(
            s for s in summary if isinstance(s, str) and s not in ("created", "response.completed")
        ), summary[-1]
    if client == ANTHROPIC:
        text = "".join(d for name, d in summary if name == "content_block_delta" and isinstance(d, str))
        return text, summary[-1]
    text = "".join(s for s in summary if isinstance(s, str) and s not in ("role", "stop", "usage", "[DONE]"))
    return text, summary[-1]


LAST_EVENT = {ANTHROPIC: ("message_stop", None), OPENAI: "[DONE]", RESPONSES: "response.completed", GEMINI: "STOP"}


def answer_text(client: str, answer: dict[str, Any]) -> str:
    if client == ANTHROPIC:
        return str(answer["content"][0]["text"])
    if client == RESPONSES:
        return str(answer["output"][0]["content"][0]["text"])
    if client == GEMINI:
        return "".join(p.get("text", "") for p in answer["candidates"][0]["content"]["parts"])
    return str(answer["choices"][0]["message"]["content"])


async def read_trace(path: Path) -> dict[str, Any]:
    for _ in range(100):
        if path.exists() and path.read_text().strip():
            return json.loads(path.read_text().splitlines()[-1])
        await asyncio.sleep(0.02)
    raise AssertionError("no trace line was written")


# ------------------------------------------------------------------------------ the table


@pytest.mark.slow
@pytest.mark.parametrize(("fault", "client", "channel", "stream", "with_backup"), ROWS)
async def test_fault(
    start_gateway: GatewayFactory,
    tmp_path: Path,
    upstream: FakeUpstream,
    backup_upstream: FakeUpstream,
    fault: Fault,
    client: str,
    channel: str,
    stream: bool,
    with_backup: bool,
) -> None:
    same = client == channel
    env = await bench(start_gateway, tmp_path, upstream, backup_upstream, channel, fault, with_backup)
    reply = fault.script(channel, stream)
    if reply is not None:
        upstream.enqueue(reply)
    backup_upstream.default = whole(channel, stream, "From backup")
    expected = fault.expect(channel, stream, same)
    path, body, headers = request(client, stream)
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        http.post(env.url + path, json=body, headers=headers) as response,
    ):
        raw = await response.read()
        status, response_headers = response.status, response.headers
    record = await read_trace(env.trace)
    failed_over = isinstance(expected, Refused) and expected.kind in RETRYABLE and with_backup

    if failed_over:  # the client never learns of the primary's fault
        assert status == 200, raw
        text = "From backup"
        if stream:
            got, last = completed_text(client, events(client, raw))
            assert (got, last) == (text, LAST_EVENT[client])
        else:
            assert answer_text(client, json.loads(raw)) == text
        assert (record["status"], record["channel"], record["error"]) == (200, "backup", None)
        assert [a["channel"] for a in record["attempts"]] == ["primary", "backup"]
        assert record["attempts"][0]["error"] == expected.message.replace("{dead}", env.dead)
        assert len(backup_upstream.requests) == 1
        return

    assert backup_upstream.requests == []  # no failover
    if isinstance(expected, Refused):
        message = expected.message.replace("{dead}", env.dead)
        expected_status = STATUS_TABLE[client][expected.kind][0]
        assert status == expected_status, raw
        answer = json.loads(raw)
        if expected.verbatim:  # the upstream's own error body, in the client's own format
            assert answer == json.loads(upstream_error_body(fault, channel))
        elif client == ANTHROPIC:
            assert answer == {
                "type": "error",
                "error": client_error(client, expected.kind, message),
                "request_id": record["request_id"],
            }
        else:
            assert answer == {"error": client_error(client, expected.kind, message)}
        assert response_headers.get("Retry-After") == expected.retry_after
        assert response_headers["x-request-id"] == record["request_id"]
        assert (record["status"], record["error"]["type"]) == (expected_status, expected.kind)
    elif isinstance(expected, Broken):
        assert status == 200
        summary = events(client, raw)
        if expected.upstream_event is not None:
            assert summary[:-1] == broken_events(client, expected.kind, expected.message, same)[:-1]
            relayed = expected.upstream_event["response"] if client == RESPONSES else expected.upstream_event
            assert summary[-1] == ("response.failed" if client == RESPONSES else "error", relayed["error"])
        else:
            assert summary == broken_events(client, expected.kind, expected.message, same)
        assert (record["status"], record["channel"], record["error"]["type"]) == (200, "primary", expected.kind)
    else:
        assert status == 200
        got, last = completed_text(client, events(client, raw))
        assert (got, last) == (expected.text, LAST_EVENT[client])
        assert (record["status"], record["channel"], record["error"]) == (200, "primary", None)
    assert [a["channel"] for a in record["attempts"]] == ["primary"]


def upstream_error_body(fault: Fault, channel: str) -> bytes:
    reply = fault.script(channel, False)
    assert reply is not None and isinstance(reply.body[0], bytes)
    return reply.body[0]
