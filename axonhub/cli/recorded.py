"""A request recorded in the trace, as `profiles test --request ID` routes it again.

Its model, key and client come from the record; thinking, images, tools and the token estimate from
its body, which the trace holds only with `server.trace.bodies: all` (or `errors` for a failed
one). Request headers other than the User-Agent are never recorded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axonhub.cli.common import fail
from axonhub.config import Config
from axonhub.features import RequestFeatures, request_features
from axonhub.formats.spec import Format, WireFormat
from axonhub.trace_reader import iter_records

ALL_FEATURES = frozenset({"thinking", "tokens", "images", "tools", "client", "headers"})


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    model: str | None
    key: str | None
    features: RequestFeatures
    has_body: bool
    notes: list[str] = field(default_factory=list)

    def merged(self, given: RequestFeatures, *, tokens_given: bool, client_given: bool) -> RequestFeatures:
        """The recorded features, with what the options say on top (flags add, values replace)."""
        mine = self.features
        return dataclasses.replace(
            mine,
            thinking=mine.thinking or given.thinking,
            input_tokens=given.input_tokens if tokens_given else mine.input_tokens,
            images=mine.images or given.images,
            tools=mine.tools | given.tools,
            client=given.client if client_given else mine.client,
            headers={**mine.headers, **given.headers},
        )


def recorded_request(config: Config, request_id: str, trace_file: Path | None) -> RecordedRequest:
    path = trace_file or config.server.trace.path
    record = next((r for r in iter_records(path) if r.get("request_id") == request_id), None)
    if record is None:
        raise fail(f"no request with id '{request_id}' in the trace log {path}")
    body = record.get("request_body")
    agent = {"User-Agent": str(record.get("user_agent") or "")}
    notes = ["request headers are not recorded: give --header NAME:VALUE for `when: {header: …}` rules"]
    if not isinstance(body, dict) or body.get("truncated") is True:
        notes.insert(0, _no_body(body))
        features = request_features(None, {}, agent, frozenset({"client"}))
        return RecordedRequest(record.get("requested_model"), record.get("key"), features, False, notes)
    features = request_features(_format(record.get("client_format")), body, agent, ALL_FEATURES)
    model = body.get("model") if isinstance(body.get("model"), str) else record.get("requested_model")
    return RecordedRequest(model, record.get("key"), dataclasses.replace(features, headers={}), True, notes)


def _format(name: Any) -> Format:
    """The recorded request's format (records from before formats were traced were Anthropic's)."""
    from axonhub.formats.registry import FORMATS

    try:
        return FORMATS[WireFormat(name or WireFormat.ANTHROPIC)]
    except ValueError:
        raise fail(f"the recorded request is in a format this version does not know: {name!r}") from None


def _no_body(body: Any) -> str:
    if isinstance(body, dict):
        return "the recorded body was cut at `server.trace.max_body_bytes`: only its model and client are known"
    return (
        "the request's body was not recorded (`server.trace.bodies: all` records it): only its model, "
        "key and client are known"
    )
