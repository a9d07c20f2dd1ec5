"""One helper per wire format that asserts a whole error response."""

from __future__ import annotations

from typing import Any

import aiohttp


async def assert_anthropic_error(response: aiohttp.ClientResponse, status: int, error_type: str, message: str) -> None:
    """The status, and the whole Anthropic error body (request_id is the gateway's)."""
    body: dict[str, Any] = await response.json()
    assert response.status == status, body
    assert response.content_type == "application/json"
    request_id = body.get("request_id")
    assert isinstance(request_id, str) and request_id
    assert body == {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}
    assert response.headers["request-id"] == request_id


async def assert_openai_error(
    response: aiohttp.ClientResponse, status: int, error_type: str, message: str, code: str | None = None
) -> None:
    """The status, and the whole OpenAI error body; the gateway's request id is in a header."""
    body: dict[str, Any] = await response.json()
    assert response.status == status, body
    assert response.content_type == "application/json"
    assert body == {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    assert response.headers["request-id"]
