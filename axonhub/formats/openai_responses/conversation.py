"""`previous_response_id`: a Responses request that continues an earlier response, served statelessly.

The gateway remembers, per AxonHub key, the conversation behind each response it served (the input
items that led to it and its output items; bounded, in memory, per process: see
`axonhub/conversations.py`) and splices it in front of a request's new input, so every channel
receives the whole conversation. As on OpenAI's API, `instructions` are not carried over, a response
asked for with `store: false` (what Codex sends) is not remembered, and an id the gateway does not
hold is OpenAI's own 400 (`previous_response_not_found`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from axonhub.errors import ErrorKind, GatewayError, UpstreamError
from axonhub.formats.openai_responses.dialect import ResponsesStreamReader
from axonhub.formats.spec import AnswerWitness, Continuation, WireFormat


def previous(body: Mapping[str, Any]) -> str | None:
    found = body.get("previous_response_id")
    return found if isinstance(found, str) and found else None


def input_items(body: Mapping[str, Any]) -> list[Any]:
    value = body.get("input")
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return list(value) if isinstance(value, list) else []


def splice(body: Mapping[str, Any], history: Sequence[Any]) -> dict[str, Any]:
    spliced = {k: v for k, v in body.items() if k != "previous_response_id"}
    spliced["input"] = [*history, *input_items(body)]
    return spliced


def unknown(response_id: str) -> GatewayError:
    """What OpenAI answers for an id it does not hold: a 400 naming the parameter."""
    message = f"Previous response with id '{response_id}' not found."
    error = {
        "message": message,
        "type": "invalid_request_error",
        "param": "previous_response_id",
        "code": "previous_response_not_found",
    }
    return UpstreamError(
        message,
        kind=ErrorKind.INVALID_REQUEST,
        status=400,
        body=json.dumps({"error": error}).encode(),
        body_format=WireFormat.OPENAI_RESPONSES,
    )


def remember(body: Mapping[str, Any], answer: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]] | None:
    """(response id, the input that led to it and its output) for a stored, finished response."""
    response_id, output = answer.get("id"), answer.get("output")
    if body.get("store") is False or answer.get("status") not in ("completed", "incomplete"):
        return None
    if not isinstance(response_id, str) or not response_id or not isinstance(output, list):
        return None
    return response_id, (*input_items(body), *output)


def witness(body: Mapping[str, Any]) -> AnswerWitness | None:
    return None if body.get("store") is False else ResponsesStreamReader()


CONTINUATION = Continuation(previous=previous, splice=splice, unknown=unknown, remember=remember, witness=witness)
