"""No OpenAI Chat request body makes the gateway answer 5xx, on either kind of channel.

Every field of a full Chat request (top level, inside a message, a content part, a tool call, a
tool) is replaced in turn by a value of every wrong JSON type. On the Anthropic channel the body
goes through the IR, so the codec must refuse what it cannot map; on the OpenAI-compatible channel
the fast path forwards what the boundary check lets through, and the fake upstream answers it. Each
answer is below 500, and a refusal is a 400 in OpenAI's error shape.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.conftest import Gateway
from tests.fakes import anthropic as anthropic_wire
from tests.fakes import openai as openai_wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.openai_inbound.conftest import bearer

WRONG_VALUES: tuple[Any, ...] = (None, True, 0, -1, 2.5, "", "x", [], [1], {}, {"a": 1})

FULL_REQUEST: dict[str, Any] = {
    "model": "smart",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "What time is it?"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "time", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "noon"},
    ],
    "tools": [{"type": "function", "function": {"name": "time", "parameters": {"type": "object"}}}],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "max_tokens": 100,
    "max_completion_tokens": 100,
    "temperature": 0.5,
    "top_p": 0.9,
    "stop": ["END"],
    "stream": False,
    "stream_options": {"include_usage": True},
    "reasoning_effort": "low",
    "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
    "user": "u1",
    "n": 1,
    "modalities": ["text"],
}


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every position in a JSON document, parents before children."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from paths(child, (*prefix, index))


def replaced(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(document)
    node: Any = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


CASES = [(path, value) for path in paths(FULL_REQUEST) if path[0] != "model" for value in WRONG_VALUES]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["smart", "fast"], ids=["anthropic-channel", "openai-channel"])
async def test_no_wrongly_typed_field_gets_a_5xx(
    gateway: Gateway,
    upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    http: aiohttp.ClientSession,
    model: str,
) -> None:
    upstream.default = Reply.json(anthropic_wire.message())
    openai_upstream.default = Reply.json(openai_wire.completion("ok"))
    failures = []
    for path, value in CASES:
        body = replaced({**FULL_REQUEST, "model": model}, path, value)
        async with http.post(gateway.url + "/v1/chat/completions", json=body, headers=bearer()) as response:
            raw = await response.read()
        if response.status >= 500 or (response.status >= 400 and set(json.loads(raw)) != {"error"}):
            failures.append((path, value, response.status, raw[:300]))
    assert failures == []
