"""Builders for Gemini wire-format replies: chunks, SSE streams, whole responses, errors.

Shapes follow what the Gemini API sends: every chunk is a whole `GenerateContentResponse` with the
new parts only; `usageMetadata` on every chunk (`promptTokenCount` includes the cached tokens,
`candidatesTokenCount` excludes the thoughts); `finishReason` on the last chunk; events end in
CRLF pairs; no terminator.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fakes.upstream import FakeUpstream, Reply

MODEL_VERSION = "gemini-2.5-flash"
RESPONSE_ID = "gem-resp-01"
SIGNATURE = "CiQBjz1rX2Zha2Utc2lnbmF0dXJlLW9uZQ=="  # base64, as Gemini's are
SIGNATURE_2 = "CiQBjz1rX2Zha2Utc2lnbmF0dXJlLXR3bw=="


def usage(prompt: int, candidates: int, *, cached: int = 0, thoughts: int = 0) -> dict[str, Any]:
    out = {"promptTokenCount": prompt, "candidatesTokenCount": candidates}
    if cached:
        out["cachedContentTokenCount"] = cached
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    out["totalTokenCount"] = prompt + candidates + thoughts
    return out


def text(value: str, *, signature: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"text": value}
    if signature is not None:
        part["thoughtSignature"] = signature
    return part


def thought(value: str, *, signature: str | None = None) -> dict[str, Any]:
    return {**text(value, signature=signature), "thought": True}


def call(
    name: str, args: dict[str, Any], *, signature: str | None = None, call_id: str | None = None
) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name, "args": args}
    if call_id is not None:
        function["id"] = call_id
    part: dict[str, Any] = {"functionCall": function}
    if signature is not None:
        part["thoughtSignature"] = signature
    return part


def chunk(
    parts: list[dict[str, Any]] | None = None,
    finish: str | None = None,
    *,
    chunk_usage: dict[str, Any] | None = None,
    model: str = MODEL_VERSION,
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts or []}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    body: dict[str, Any] = {"candidates": [candidate]}
    if chunk_usage is not None:
        body["usageMetadata"] = chunk_usage
    body["modelVersion"] = model
    body["responseId"] = RESPONSE_ID
    return body


def blocked(reason: str = "SAFETY") -> dict[str, Any]:
    """A prompt Gemini refuses outright: no candidates, a block reason."""
    return {
        "promptFeedback": {"blockReason": reason},
        "usageMetadata": usage(12, 0),
        "modelVersion": MODEL_VERSION,
        "responseId": RESPONSE_ID,
    }


def data(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\r\n\r\n"


def sse(*chunks: dict[str, Any] | float) -> list[bytes | float]:
    return [c if isinstance(c, float) else data(c) for c in chunks]


def error(code: int, message: str, status: str, reason: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, "status": status}
    if reason is not None:
        body["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
    return {"error": body}


def text_stream(
    *pieces: str, thoughts: tuple[str, ...] = (), final_usage: dict[str, Any] | None = None
) -> list[bytes | float]:
    """Thoughts, then the text in pieces, usage on every chunk, the finish reason on the last."""
    parts = [[thought(t)] for t in thoughts] + [[text(p)] for p in pieces]
    last = final_usage or usage(10, 5)
    chunks = [chunk(p, chunk_usage=usage(10, 0)) for p in parts[:-1]]
    chunks.append(chunk(parts[-1] if parts else [], "STOP", chunk_usage=last))
    return sse(*chunks)


def response(
    parts: list[dict[str, Any]], finish: str = "STOP", body_usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    return chunk(parts, finish, chunk_usage=body_usage or usage(10, 5))


def answer(stream: bool, parts: list[dict[str, Any]], finish: str = "STOP") -> Reply:
    """A reply of `parts`: streamed one part per chunk, or one JSON response."""
    if not stream:
        return Reply.json(response(parts, finish))
    chunks = [chunk([p], chunk_usage=usage(100, 0)) for p in parts[:-1]]
    chunks.append(chunk(parts[-1:], finish, chunk_usage=usage(100, 10)))
    return Reply.sse(sse(*chunks))


class GeminiModel(FakeUpstream):
    """A fake Gemini API that picks each reply by reading the request.

    `respond(stream, body)` returns the Reply for one `:generateContent`/`:streamGenerateContent`
    body; `:countTokens` answers `count`. Every request is still recorded.
    """

    def __init__(self, respond: Callable[[bool, dict[str, Any]], Reply], count: int = 42) -> None:
        super().__init__()
        self.respond = respond
        self.count = count

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        if isinstance(body, dict):
            if request.path.endswith(":countTokens"):
                self.replies.appendleft(Reply.json({"totalTokens": self.count}))
            else:
                self.replies.appendleft(self.respond(request.path.endswith(":streamGenerateContent"), body))
        return await super()._handle(request)


# ------------------------------------------------------------------------------ a strict Gemini

SCHEMA_FIELDS = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "maxItems",
        "minItems",
        "properties",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "example",
        "anyOf",
        "propertyOrdering",
        "default",
        "items",
        "minimum",
        "maximum",
    }
)
TYPES = frozenset({"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT"})


def schema_errors(schema: Any, where: str) -> list[str]:
    """What the Gemini API refuses in a `parameters` schema, worded as it words it."""
    if not isinstance(schema, dict):
        return [f"{where}: not an object"]
    errors = [
        f"Invalid JSON payload received. Unknown name \"{k}\" at '{where}'" for k in schema if k not in SCHEMA_FIELDS
    ]
    if "type" in schema and str(schema["type"]).upper() not in TYPES:
        errors.append(f"{where}.type: invalid value {schema['type']!r}")
    properties = schema.get("properties")
    if properties is not None:
        if not properties:
            errors.append(f"{where}.properties: should be non-empty for OBJECT type")
        for name, sub in properties.items():
            errors += schema_errors(sub, f"{where}.properties[{name}]")
    for name in schema.get("required", ()):
        if name not in (properties or {}):
            errors.append(f"{where}.required[{name}]: property is not defined")
    if "items" in schema:
        errors += schema_errors(schema["items"], f"{where}.items")
    for i, sub in enumerate(schema.get("anyOf", ())):
        errors += schema_errors(sub, f"{where}.anyOf[{i}]")
    if "enum" in schema and not all(isinstance(v, str) for v in schema["enum"]):
        errors.append(f"{where}.enum: only strings")
    return errors


def request_errors(body: dict[str, Any], issued: set[str]) -> list[str]:
    """Schema errors, and Gemini 3's check of the current turn: the first function call of each model
    turn since the last real user turn must carry a signature this model issued."""
    errors: list[str] = []
    for tool in body.get("tools", ()):
        for i, declaration in enumerate(tool.get("functionDeclarations", ())):
            if "parameters" in declaration:
                errors += schema_errors(declaration["parameters"], f"function_declarations[{i}].parameters")
    contents = body.get("contents", [])
    start = 0
    for i, content in enumerate(contents):
        if content.get("role") == "user" and any("functionResponse" not in p for p in content["parts"]):
            start = i + 1
    for content in contents[start:]:
        calls = [p for p in content["parts"] if "functionCall" in p]
        if content.get("role") == "model" and calls and calls[0].get("thoughtSignature") not in issued:
            errors.append("Function call is missing a thought_signature in functionCall parts.")
    return errors


class StrictGemini(GeminiModel):
    """A Gemini 3 that refuses what the real one refuses (schema fields it does not know, a current
    turn whose function calls lost their signatures) with its 400, and signs every function call."""

    def __init__(self, respond: Callable[[bool, dict[str, Any]], Reply]) -> None:
        super().__init__(self._checked)
        self.inner = respond
        self.issued = {SIGNATURE, SIGNATURE_2}
        self.refusals: list[list[str]] = []

    def _checked(self, stream: bool, body: dict[str, Any]) -> Reply:
        errors = request_errors(body, self.issued)
        if errors:
            self.refusals.append(errors)
            return Reply.json(error(400, "; ".join(errors), "INVALID_ARGUMENT"), status=400)
        return self.inner(stream, body)
