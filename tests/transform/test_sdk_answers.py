"""The official `anthropic` SDK, streaming and not, served by a fake OpenAI-compatible upstream through AxonHub."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from axonhub.formats.carrier import parse_carrier
from tests.fakes import openai as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.ids import MSG_ID, minted

PROMPT = [{"role": "user", "content": "List the files and read the notes."}]
SIGNATURE_OF_REASONER = "gw1.eyJtIjoiZGVlcHNlZWstcmVhc29uZXIiLCJwIjoiY2hhdCJ9"


def message(content: list[dict[str, Any]], stop_reason: str, usage: dict[str, int], model: str) -> dict[str, Any]:
    """An Anthropic message as the SDK hands it over (None fields left out)."""
    return {
        "id": MSG_ID,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "usage": {"cache_creation_input_tokens": 0, **usage},
    }


async def ask(client: anthropic.AsyncAnthropic, stream: bool, **params: Any) -> dict[str, Any]:
    """One request, streamed through the SDK's accumulator or not; the final message as a dict."""
    params = {"model": "claude-sonnet-4-5", "max_tokens": 8000, "messages": PROMPT, **params}
    if stream:
        async with client.messages.stream(**params) as events:
            final = await events.get_final_message()
    else:
        final = await client.messages.create(**params)
    return minted(final.model_dump(exclude_none=True))


def cut(body: list[bytes | float], size: int) -> list[bytes | float]:
    """The same stream written `size` bytes at a time: a boundary inside every UTF-8 character for size 1."""
    raw = b"".join(part for part in body if isinstance(part, bytes))
    return [raw[i : i + size] for i in range(0, len(raw), size)]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
async def test_a_text_answer_reaches_the_sdk_with_the_client_model_and_full_usage(
    client: anthropic.AsyncAnthropic, upstream: FakeUpstream, stream: bool
) -> None:
    usage = wire.usage(1200, 9, cached=1000)
    if stream:
        upstream.enqueue(Reply.sse(wire.text_stream("Hello ", "wörld.", model="deepseek-reasoner", final_usage=usage)))
    else:
        upstream.enqueue(Reply.json(wire.completion("Hello wörld.", model="deepseek-reasoner", body_usage=usage)))
    assert await ask(client, stream) == message(
        [{"type": "text", "text": "Hello wörld."}],
        "end_turn",
        {"input_tokens": 200, "cache_read_input_tokens": 1000, "output_tokens": 9},
        "claude-sonnet-4-5",
    )


PARALLEL_CALLS = [
    {"type": "text", "text": "Let me check both."},
    {"type": "tool_use", "id": "call_a", "name": "Bash", "input": {"command": 'echo "héllo"'}},
    {"type": "tool_use", "id": "call_b", "name": "Read", "input": {"file_path": "/tmp/ü.txt"}},
]


def parallel_calls_stream() -> list[bytes | float]:
    """Two tool calls whose argument fragments interleave, one split between a backslash and its quote."""
    c = wire.chunk
    return wire.sse(
        c({"role": "assistant", "content": ""}),
        c({"content": "Let me check both."}),
        c(wire.tool_delta(0, call_id="call_a", name="Bash")),
        c(wire.tool_delta(0, args='{"command":"echo \\')),
        c(wire.tool_delta(1, call_id="call_b", name="Read", args='{"file_')),
        c(wire.tool_delta(0, args='"héllo\\""}')),
        c(wire.tool_delta(1, args='path":"/tmp/ü.txt"}')),
        c({}, "tool_calls"),
        c(chunk_usage=wire.deepseek_usage(100, 20, 30), choices=False),
    )


@pytest.mark.parametrize("size", [1, 7, 100_000])
async def test_parallel_tool_calls_with_interleaved_split_arguments_arrive_whole(
    client: anthropic.AsyncAnthropic, upstream: FakeUpstream, size: int
) -> None:
    upstream.enqueue(Reply.sse(cut(parallel_calls_stream(), size)))
    usage = {"input_tokens": 20, "cache_read_input_tokens": 100, "output_tokens": 30}
    assert await ask(client, True) == message(PARALLEL_CALLS, "tool_use", usage, "claude-sonnet-4-5")


async def test_parallel_tool_calls_in_a_json_answer_arrive_whole(
    client: anthropic.AsyncAnthropic, upstream: FakeUpstream
) -> None:
    calls = [
        wire.call("call_a", "Bash", {"command": 'echo "héllo"'}),
        wire.call("call_b", "Read", {"file_path": "/tmp/ü.txt"}),
    ]
    reply = wire.completion("Let me check both.", tool_calls=calls, finish_reason="tool_calls")
    upstream.enqueue(Reply.json(reply))
    usage = {"input_tokens": 10, "cache_read_input_tokens": 0, "output_tokens": 5}
    assert await ask(client, False) == message(PARALLEL_CALLS, "tool_use", usage, "claude-sonnet-4-5")


def reasoning_then_call(stream: bool) -> Reply:
    if not stream:
        return Reply.json(
            wire.completion(
                None,
                model="deepseek-reasoner",
                reasoning_content="The user wants a listing.",
                tool_calls=[wire.call("call_0", "Bash", {"command": "ls"})],
                finish_reason="tool_calls",
            )
        )
    c = wire.chunk
    return Reply.sse(
        wire.sse(
            c({"role": "assistant", "content": None, "reasoning_content": ""}, model="deepseek-reasoner"),
            c({"reasoning_content": "The user wants "}, model="deepseek-reasoner"),
            c({"reasoning_content": "a listing."}, model="deepseek-reasoner"),
            c(wire.tool_delta(0, call_id="call_0", name="Bash", args='{"command":"ls"}'), model="deepseek-reasoner"),
            c({}, "tool_calls", model="deepseek-reasoner", chunk_usage=wire.deepseek_usage(0, 10, 5)),
        )
    )


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
async def test_deepseek_reasoning_becomes_a_signed_thinking_block_that_goes_back_as_reasoning_content(
    client: anthropic.AsyncAnthropic, upstream: FakeUpstream, stream: bool
) -> None:
    upstream.enqueue(reasoning_then_call(stream), Reply.sse(wire.text_stream("Two files.")))
    first = await ask(client, stream)
    thinking = {"type": "thinking", "thinking": "The user wants a listing.", "signature": SIGNATURE_OF_REASONER}
    call = {"type": "tool_use", "id": "call_0", "name": "Bash", "input": {"command": "ls"}}
    assert first["content"] == [thinking, call]
    carrier = parse_carrier(thinking["signature"])
    assert carrier is not None and (carrier.provider, carrier.model) == ("chat", "deepseek-reasoner")

    result = {"type": "tool_result", "tool_use_id": "call_0", "content": "a.txt\nb.txt"}
    history = [*PROMPT, {"role": "assistant", "content": first["content"]}, {"role": "user", "content": [result]}]
    thinking_on = {"type": "enabled", "budget_tokens": 31999}
    second = await ask(client, True, messages=history, max_tokens=32000, thinking=thinking_on)
    assert second["content"] == [{"type": "text", "text": "Two files."}]
    assert upstream.requests[1].json()["messages"] == [
        {"role": "user", "content": "List the files and read the notes."},
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "The user wants a listing.",
            "tool_calls": [
                {"id": "call_0", "type": "function", "function": {"name": "Bash", "arguments": '{"command":"ls"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": "a.txt\nb.txt"},
    ]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize(
    ("finish_reason", "stop_reason"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("content_filter", "refusal"), ("tool_calls", "end_turn")],
)
async def test_finish_reasons_become_anthropic_stop_reasons(
    client: anthropic.AsyncAnthropic, upstream: FakeUpstream, stream: bool, finish_reason: str, stop_reason: str
) -> None:
    # `tool_calls` without any call that survived is an ordinary end of turn
    if stream:
        upstream.enqueue(Reply.sse(wire.text_stream("Partial", finish_reason=finish_reason)))
    else:
        upstream.enqueue(Reply.json(wire.completion("Partial", finish_reason=finish_reason)))
    answer = await ask(client, stream)
    assert (answer["stop_reason"], answer["content"]) == (stop_reason, [{"type": "text", "text": "Partial"}])


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
async def test_a_tool_call_reported_with_finish_reason_stop_is_still_tool_use(
    client: anthropic.AsyncAnthropic, upstream: FakeUpstream, stream: bool
) -> None:
    # vLLM and Ollama say `stop` even when the model called a tool
    if stream:
        c = wire.chunk
        upstream.enqueue(
            Reply.sse(wire.sse(c(wire.tool_delta(0, call_id="call_9", name="Bash", args="{}")), c({}, "stop")))
        )
    else:
        upstream.enqueue(Reply.json(wire.completion(None, tool_calls=[wire.call("call_9", "Bash", {})])))
    answer = await ask(client, stream)
    assert (answer["stop_reason"], answer["content"]) == (
        "tool_use",
        [{"type": "tool_use", "id": "call_9", "name": "Bash", "input": {}}],
    )
