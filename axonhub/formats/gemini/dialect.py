"""The HTTP side of Gemini: calling a channel, reading a relayed stream, ending one.

A request to a Gemini channel goes to `{base_url}/v1beta/models/{model}:{action}` (a base URL that
already ends in an API version is used as it is): `:generateContent`, `:streamGenerateContent?alt=sse`
for a stream (a channel's stream is always read as SSE, whatever framing the client asked for), or
`:countTokens`. It carries the channel's key as `x-goog-api-key`, never in the URL. The model is in
the URL, so the fast path leaves the client's body as it came (but for the model a `countTokens`
request may name inside `generateContentRequest`).

Gemini streams have no terminator: a stream is complete when a chunk brought its finish reason (or
the prompt was blocked). The side reader decodes only the chunks that can carry what the trace
needs: the first (its id), those with a finish reason, a block reason or an error, and the last one
that had usage.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from axonhub import __version__, ir
from axonhub.errors import ErrorKind
from axonhub.formats.gemini.errors import error_in_object, error_payload
from axonhub.formats.gemini.parse import reasoning_of
from axonhub.formats.gemini.request import thinking_config, thinks_in_levels
from axonhub.formats.gemini.response import usage_from
from axonhub.formats.spec import Dialect, SSEFrame, Summary

if TYPE_CHECKING:
    from axonhub.config import Channel

API_VERSION = "v1beta"
# A thought signature that is a gateway carrier (base64 of "gw1.…": reasoning another provider produced,
# carried through a Gemini client): Gemini rejects it, so such a request is translated rather than forwarded.
_CARRIER_SIGNATURE = re.compile(rb'"thought_?[Ss]ignature"\s*:\s*"Z3cxL')
_VERSIONED = ("/v1beta", "/v1", "/v1alpha")


def url(channel: Channel, endpoint: str, model: str, stream: bool) -> str:
    base = channel.base_url.rstrip("/")
    if not base.endswith(_VERSIONED):
        base = f"{base}/{API_VERSION}"
    if endpoint == "generateContent" and stream:
        return f"{base}/models/{quote(model, safe='')}:streamGenerateContent?alt=sse"
    return f"{base}/models/{quote(model, safe='')}:{endpoint}"


def headers(client_headers: Mapping[str, str], channel: Channel, stream: bool) -> dict[str, str]:
    """The channel's key as `x-goog-api-key` and its own headers; nothing of the client's."""
    out = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream" if stream else "application/json",
        "User-Agent": f"axonhub/{__version__}",
    }
    if channel.api_key:
        out["x-goog-api-key"] = channel.api_key
    out.update(channel.headers)
    return out


def with_model(raw: bytes, body: dict[str, Any], model: str) -> bytes:
    """The body as it came: its model is in the URL. A `countTokens` request's inner
    `generateContentRequest.model`, if it names one, is made the channel's."""
    renamed = _with_inner_model(body, model)
    return raw if renamed is None else json.dumps(renamed, ensure_ascii=False, separators=(",", ":")).encode()


def fit(body: Mapping[str, Any], model: str, channel: Channel) -> dict[str, Any] | None:
    """A `thinkingLevel` that a profile sends to a model before Gemini 3 (which refuses it) becomes the
    budget it stands for; None when the body goes as it came."""
    fitted = _fit_thinking(dict(body), model)
    return None if fitted is None else (_with_inner_model(fitted, model) or fitted)


def _with_inner_model(body: dict[str, Any], model: str) -> dict[str, Any] | None:
    inner = body.get("generateContentRequest")
    if not isinstance(inner, dict) or not isinstance(inner.get("model"), str) or inner["model"] == f"models/{model}":
        return None
    return {**body, "generateContentRequest": {**inner, "model": f"models/{model}"}}


def _fit_thinking(body: dict[str, Any], model: str) -> dict[str, Any] | None:
    """`body` (or the request a count wraps) with its thinking config as `model` takes it, or None."""
    inner = body.get("generateContentRequest")
    if isinstance(inner, dict):
        fitted = _fit_thinking(inner, model)
        return None if fitted is None else {**body, "generateContentRequest": fitted}
    config = body.get("generationConfig")
    thinking = config.get("thinkingConfig") if isinstance(config, dict) else None
    if not isinstance(thinking, dict) or "thinkingLevel" not in thinking or thinks_in_levels(model):
        return None
    assert isinstance(config, dict)
    budgeted = thinking_config(reasoning_of(thinking), model) or {"thinkingBudget": -1}
    rest = {k: v for k, v in thinking.items() if k not in ("thinkingLevel", "thinkingBudget", "includeThoughts")}
    return {**body, "generationConfig": {**config, "thinkingConfig": {**rest, **budgeted}}}


class StreamReader:
    """Reads the finish reason, usage, the upstream's id and errors off a Gemini stream passing through."""

    def __init__(self) -> None:
        self._buffer = b""
        self._first = True
        self._last_usage: bytes | None = None  # the latest chunk with usage, decoded at the end
        self.usage: ir.Usage | None = None
        self.stop_reason: str | None = None
        self.terminated = False  # Gemini streams have no terminator
        self.error: tuple[ErrorKind, str] | None = None
        self.upstream_id: str | None = None

    def feed(self, chunk: bytes) -> None:
        *lines, self._buffer = (self._buffer + chunk).split(b"\n")
        for line in lines:
            if line.startswith(b"data:"):
                self._data(line[5:].strip())

    def finish(self) -> None:
        self.feed(b"\n")
        if self._last_usage is not None:
            self._read(self._last_usage)
            self._last_usage = None

    def _data(self, payload: bytes) -> None:
        first, self._first = self._first, False
        if first or payload.startswith(b'{"error"') or b'"finishReason"' in payload or b'"blockReason"' in payload:
            self._read(payload)
            self._last_usage = None
        elif b'"usageMetadata"' in payload:
            self._last_usage = payload

    def _read(self, payload: bytes) -> None:
        try:
            chunk = json.loads(payload)
        except ValueError:
            return
        if not isinstance(chunk, dict):
            return
        found = error_in_object(chunk)
        if found is not None:
            self.error = found
            return
        seen = summary(chunk)
        self.usage = seen.usage or self.usage
        self.stop_reason = seen.stop_reason or self.stop_reason
        self.upstream_id = self.upstream_id or seen.upstream_id


def summary(body: Mapping[str, Any]) -> Summary:
    """Usage, finish reason (or the prompt's block reason) and id of a response or of one chunk."""
    candidates = body.get("candidates")
    first = candidates[0] if isinstance(candidates, list) and candidates and isinstance(candidates[0], Mapping) else {}
    finish = first.get("finishReason")
    feedback = body.get("promptFeedback")
    blocked = feedback.get("blockReason") if isinstance(feedback, Mapping) else None
    stop = finish if isinstance(finish, str) and finish else blocked if isinstance(blocked, str) else None
    upstream_id = body.get("responseId")
    return Summary(
        usage=usage_from(body.get("usageMetadata")),
        stop_reason=stop,
        upstream_id=upstream_id if isinstance(upstream_id, str) else None,
    )


def foreign_reasoning(raw: bytes) -> bool:
    """Does the body hold a thought signature the gateway made for another provider's reasoning?"""
    return b'"Z3cxL' in raw and _CARRIER_SIGNATURE.search(raw) is not None


def error_frame(kind: ErrorKind, message: str) -> SSEFrame:
    """An `{"error": …}` chunk: the google-genai SDKs raise it as an APIError."""
    return (None, error_payload(kind, message))


DIALECT = Dialect(
    url=url,
    headers=headers,
    with_model=with_model,
    stream_reader=StreamReader,
    summary=summary,
    error_frame=error_frame,
    terminator=None,
    # SDK stream readers skip blank lines between events, and choke on SSE comments.
    keepalive=b"\n",
    foreign_reasoning=foreign_reasoning,
    fit=fit,
)
