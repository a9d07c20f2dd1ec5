"""The HTTP side of OpenAI Responses: calling a channel, reading a relayed stream, ending one.

A request to an `openai_responses` channel is made as to any OpenAI channel (the OpenAI Chat
dialect's URL and headers: the channel's key as a Bearer token, its own headers), to
`{base_url}/responses` (`base_url` being `https://api.openai.com/v1` or any server with OpenAI's
paths). The side reader of a relayed stream decodes only the lifecycle events (`response.created`,
`.completed`, `.incomplete`, `.failed`) and `error`; the many deltas are passed over, only the last
`sequence_number` is picked off them. A stream that is cut or ends before
its terminal event is ended with `response.failed`, numbered after the last event relayed and naming
the same response, so the client's accumulator takes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from axonhub import ir
from axonhub.errors import ErrorKind
from axonhub.formats.openai_chat.dialect import headers, url
from axonhub.formats.openai_responses.errors import error_in_answer, stream_code
from axonhub.formats.openai_responses.models import fit
from axonhub.formats.openai_responses.response import stop_reason as stop_reason_of
from axonhub.formats.openai_responses.response import stop_reason_name, usage_from
from axonhub.formats.spec import Dialect, SSEFrame, StreamReader, Summary
from axonhub.jsonbody import with_model
from axonhub.sse import EventPicker, encode_comment

_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
# A reasoning item sealed by the gateway (another provider's reasoning): OpenAI rejects it as
# encrypted content, so such a request is translated rather than forwarded.
_CARRIER_CONTENT = re.compile(rb'"encrypted_content"\s*:\s*"gw1\.')
_SEQUENCE = re.compile(rb'"sequence_number"\s*:\s*(\d+)')


class ResponsesStreamReader:
    """Reads usage, status, the response id and errors off a Responses stream passing through, and
    keeps the whole final response (the answer a later request may continue)."""

    def __init__(self) -> None:
        self._picker = EventPicker(frozenset({"response.created", "error", *_TERMINAL}))
        self.usage: ir.Usage | None = None
        self.stop_reason: str | None = None
        self.terminated = False
        self.error: tuple[ErrorKind, str] | None = None  # a response.failed the upstream sent
        self.upstream_id: str | None = None
        self.answer: Mapping[str, Any] | None = None  # the response of response.completed / .incomplete
        self.model = ""
        self.created = 0
        self.last_sequence = -1
        self.bare_error: tuple[ErrorKind, str] | None = None  # an `error` event not followed by response.failed

    def feed(self, chunk: bytes) -> None:
        for found in _SEQUENCE.finditer(chunk):
            self.last_sequence = max(self.last_sequence, int(found.group(1)))
        for event in self._picker.feed(chunk):
            self._event(event.event, event.data)

    def finish(self) -> None:
        self.feed(b"\n\n")

    def _event(self, name: str | None, data: str) -> None:
        try:
            payload = json.loads(data)
        except ValueError:
            return
        if not isinstance(payload, dict):
            return
        response = payload.get("response")
        body = response if isinstance(response, dict) else {}
        if name == "response.created":
            self.upstream_id = str(body.get("id") or "") or None
            self.model, self.created = str(body.get("model") or ""), _int(body.get("created_at"))
        elif name == "error":
            self.bare_error = error_in_answer({"error": payload.get("error") or payload}) or (ErrorKind.SERVER, "")
        elif name == "response.failed":
            self.terminated = True
            self.error = error_in_answer(body) or (ErrorKind.SERVER, "the upstream reported a failed response")
        elif name in _TERMINAL:
            self.terminated = True
            self.answer = body
            found = summary(body)
            self.usage, self.stop_reason = found.usage, found.stop_reason


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def summary(body: Mapping[str, Any]) -> Summary:
    """Usage, status and id of a whole response object."""
    finished = body.get("status") in ("completed", "incomplete")
    upstream_id = body.get("id")
    return Summary(
        usage=usage_from(body.get("usage")) if isinstance(body.get("usage"), Mapping) else None,
        stop_reason=stop_reason_name(stop_reason_of(body, [])) if finished else None,
        upstream_id=upstream_id if isinstance(upstream_id, str) else None,
    )


def failed_event(sequence: int, response: Mapping[str, Any], kind: ErrorKind, message: str) -> SSEFrame:
    error = {"code": stream_code(kind), "message": message}
    failed = {**response, "status": "failed", "error": error}
    return ("response.failed", {"type": "response.failed", "sequence_number": sequence, "response": failed})


def error_frame(kind: ErrorKind, message: str) -> SSEFrame:
    """`response.failed` for a stream nothing is known of."""
    response: dict[str, Any] = {"id": "", "object": "response", "status": "failed", "output": [], "usage": None}
    return failed_event(0, response, kind, message)


def continued_error_frame(reader: StreamReader, kind: ErrorKind, message: str) -> SSEFrame:
    """`response.failed` after the last event relayed, naming the relayed response; an `error` the
    upstream sent before it ended is what the client reads."""
    if not isinstance(reader, ResponsesStreamReader):
        return error_frame(kind, message)
    if reader.bare_error is not None and reader.bare_error[1]:
        kind, message = reader.bare_error
    response = {
        "id": reader.upstream_id or "",
        "object": "response",
        "created_at": reader.created,
        "model": reader.model,
        "output": [],
        "usage": None,
    }
    return failed_event(reader.last_sequence + 1, response, kind, message)


def foreign_reasoning(raw: bytes) -> bool:
    """Does the body hold a reasoning item the gateway sealed for another provider's reasoning?"""
    return b'"gw1.' in raw and _CARRIER_CONTENT.search(raw) is not None


DIALECT = Dialect(
    url=url,
    headers=headers,
    with_model=with_model,
    stream_reader=ResponsesStreamReader,
    summary=summary,
    error_frame=error_frame,
    terminator=None,  # the terminal event is the stream's own: nothing is ever added after it
    keepalive=encode_comment("keep-alive"),
    continued_error_frame=continued_error_frame,
    foreign_reasoning=foreign_reasoning,
    fit=fit,
)
