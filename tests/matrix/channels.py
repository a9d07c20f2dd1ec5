"""The channel side of the format matrix: per channel format, how its fake upstream answers, and what
it received, read back into one neutral shape so every pair can be held to the same expectation.

The readers here are written from each wire format's documentation, independently of the gateway's
codecs: a test must not use the code under test to judge it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes import anthropic as a_wire
from tests.fakes import gemini as g_wire
from tests.fakes import openai as o_wire
from tests.fakes import responses as r_wire
from tests.fakes.upstream import Reply

ANTHROPIC, OPENAI, RESPONSES, GEMINI = "anthropic", "openai_chat", "openai_responses", "gemini"
ENCRYPTED = "gAAAAmatrixOpenAIEncryptedReasoning=="  # what the fake Responses API seals its reasoning in
SIGNATURE = "EqQBCkYIBxgCKkDmatrixAnthropicSignature+/=="  # what the fake Anthropic signs its thinking with
INPUT, OUTPUT = 10, 3  # the usage every fake reports for a plain answer


@dataclass(frozen=True)
class Answer:
    """What the fake model says: reasoning, text, and at most one tool call."""

    text: str = ""
    reasoning: str = ""
    call: tuple[str, dict[str, Any]] | None = None


@dataclass
class Seen:
    """A request as the upstream received it, in neutral terms.

    `turns`: ("user", text), ("assistant", text), ("call", name, args), ("result", output, paired) where
    `paired` says the result names the call before it (by id, or by name where the format has no ids).
    `carried`: the provider-specific reasoning the request carried back (signatures, reasoning text).
    """

    system: str = ""
    turns: list[tuple[Any, ...]] = field(default_factory=list)
    max_tokens: int | None = None
    reasoning: bool = False
    tools: tuple[str, ...] = ()
    carried: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass(frozen=True)
class ChannelFormat:
    name: str
    config: Callable[[str], dict[str, Any]]  # fake upstream URL -> the channel's type and base_url
    reply: Callable[[Answer, bool], Reply]
    rate_limited: Callable[[str], Reply]  # a 429 in the format's own error shape, Retry-After: 3
    read: Callable[[dict[str, Any]], Seen]


# ------------------------------------------------------------------------------ Anthropic


def anthropic_reply(answer: Answer, stream: bool) -> Reply:
    content: list[dict[str, Any]] = []
    if answer.reasoning:
        content.append({"type": "thinking", "thinking": answer.reasoning, "signature": SIGNATURE})
    if answer.text:
        content.append({"type": "text", "text": answer.text})
    if answer.call:
        content.append({"type": "tool_use", "id": "toolu_matrix1", "name": answer.call[0], "input": answer.call[1]})
    usage = {
        "input_tokens": INPUT,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": OUTPUT,
    }
    message = a_wire.message(content, model="m", stop_reason="tool_use" if answer.call else "end_turn", usage=usage)
    return Reply.sse(list(a_wire.stream_events(message))) if stream else Reply.json(message)


def read_anthropic(body: dict[str, Any]) -> Seen:
    system = body.get("system") or ""
    seen = Seen(
        system=system if isinstance(system, str) else "\n\n".join(b["text"] for b in system),
        max_tokens=body.get("max_tokens"),
        reasoning=body.get("thinking", {}).get("type") in ("enabled", "adaptive"),
        tools=tuple(t["name"] for t in body.get("tools", ())),
    )
    calls: list[str] = []
    for message in body["messages"]:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks:
            match block["type"]:
                case "text":
                    seen.turns.append((message["role"], block["text"]))
                case "tool_use":
                    seen.turns.append(("call", block["name"], block["input"]))
                    calls.append(block["id"])
                case "tool_result":
                    output = block.get("content")
                    text = output if isinstance(output, str) else "".join(p.get("text", "") for p in output or ())
                    seen.turns.append(("result", text, block["tool_use_id"] in calls))
                case "thinking":
                    seen.carried.append(("thinking", block["thinking"], block["signature"]))
    return seen


def anthropic_429(message: str) -> Reply:
    return Reply.json(a_wire.error("rate_limit_error", message), status=429, headers={"Retry-After": "3"})


# ------------------------------------------------------------------------------ OpenAI Chat (DeepSeek)


def chat_reply(answer: Answer, stream: bool) -> Reply:
    calls = [o_wire.call("call_matrix1", answer.call[0], answer.call[1])] if answer.call else None
    finish = "tool_calls" if calls else "stop"
    usage = o_wire.usage(INPUT, OUTPUT)
    if not stream:
        completion = o_wire.completion(
            answer.text or None,
            model="m",
            reasoning_content=answer.reasoning or None,
            tool_calls=calls,
            finish_reason=finish,
            body_usage=usage,
        )
        return Reply.json(completion)
    chunks = [o_wire.chunk({"role": "assistant", "content": ""}, model="m")]
    chunks += [o_wire.chunk({"reasoning_content": answer.reasoning}, model="m")] if answer.reasoning else []
    chunks += [o_wire.chunk({"content": answer.text}, model="m")] if answer.text else []
    for index, call in enumerate(calls or []):
        delta = o_wire.tool_delta(
            index, call_id=call["id"], name=call["function"]["name"], args=call["function"]["arguments"]
        )
        chunks.append(o_wire.chunk(delta, model="m"))
    chunks += [o_wire.chunk({}, finish, model="m"), o_wire.chunk(model="m", chunk_usage=usage, choices=False)]
    return Reply.sse(o_wire.sse(*chunks))


def read_chat(body: dict[str, Any]) -> Seen:
    seen = Seen(
        max_tokens=body.get("max_tokens") or body.get("max_completion_tokens"),
        reasoning=body.get("thinking", {}).get("type") == "enabled" or "reasoning_effort" in body,
        tools=tuple(t["function"]["name"] for t in body.get("tools", ())),
    )
    calls: list[str] = []
    for message in body["messages"]:
        content = message.get("content")
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or ())
        match message["role"]:
            case "system" | "developer":
                seen.system = "\n\n".join(s for s in (seen.system, text) if s)
            case "user":
                seen.turns.append(("user", text))
            case "assistant":
                if message.get("reasoning_content"):
                    seen.carried.append(("reasoning_content", message["reasoning_content"]))
                if text:
                    seen.turns.append(("assistant", text))
                for call in message.get("tool_calls") or ():
                    seen.turns.append(("call", call["function"]["name"], json.loads(call["function"]["arguments"])))
                    calls.append(call["id"])
            case "tool":
                seen.turns.append(("result", text, message["tool_call_id"] in calls))
    return seen


def chat_429(message: str) -> Reply:
    return Reply.json(
        o_wire.error(message, "rate_limit_error", "rate_limit_exceeded"), status=429, headers={"Retry-After": "3"}
    )


# ------------------------------------------------------------------------------ Gemini


def gemini_reply(answer: Answer, stream: bool) -> Reply:
    parts = [g_wire.thought(answer.reasoning)] if answer.reasoning else []
    parts += [g_wire.text(answer.text)] if answer.text else []
    if answer.call:  # signed, as Gemini 2.5 and 3 sign a step's first call
        parts.append(g_wire.call(answer.call[0], answer.call[1], signature=g_wire.SIGNATURE))
    usage = g_wire.usage(INPUT, OUTPUT)
    if not stream:
        return Reply.json(g_wire.chunk(parts, "STOP", chunk_usage=usage, model="m"))
    chunks = [g_wire.chunk([p], chunk_usage=g_wire.usage(INPUT, 0), model="m") for p in parts[:-1]]
    chunks.append(g_wire.chunk(parts[-1:], "STOP", chunk_usage=usage, model="m"))
    return Reply.sse(g_wire.sse(*chunks))


def read_gemini(body: dict[str, Any]) -> Seen:
    config = body.get("generationConfig", {})
    thinking = config.get("thinkingConfig", {})
    system = body.get("systemInstruction", {}).get("parts", ())
    seen = Seen(
        system="\n\n".join(p["text"] for p in system),
        max_tokens=config.get("maxOutputTokens"),
        reasoning=bool(thinking) and thinking.get("thinkingBudget") != 0,
        tools=tuple(d["name"] for t in body.get("tools", ()) for d in t.get("functionDeclarations", ())),
    )
    calls: list[str] = []
    for content in body["contents"]:
        role = "assistant" if content.get("role") == "model" else "user"
        for part in content["parts"]:
            if "thoughtSignature" in part:
                seen.carried.append(("thoughtSignature", part["thoughtSignature"]))
            if "functionCall" in part:
                seen.turns.append(("call", part["functionCall"]["name"], part["functionCall"].get("args", {})))
                calls.append(part["functionCall"]["name"])
            elif "functionResponse" in part:
                response = part["functionResponse"]
                output = response["response"].get("output", response["response"])
                seen.turns.append(("result", output, response["name"] in calls))
            elif part.get("text") and not part.get("thought"):
                seen.turns.append((role, part["text"]))
    return seen


def gemini_429(message: str) -> Reply:
    return Reply.json(g_wire.error(429, message, "RESOURCE_EXHAUSTED"), status=429, headers={"Retry-After": "3"})


# ------------------------------------------------------------------------------ OpenAI Responses


def responses_reply(answer: Answer, stream: bool) -> Reply:
    output = [r_wire.reasoning(answer.reasoning, ENCRYPTED)] if answer.reasoning else []
    output += [r_wire.message(answer.text)] if answer.text else []
    if answer.call:
        output.append(r_wire.function_call("call_matrix1", answer.call[0], json.dumps(answer.call[1])))
    whole = r_wire.response(output, model="m", body_usage=r_wire.usage(INPUT, OUTPUT))
    return Reply.sse(list(r_wire.stream_events(whole))) if stream else Reply.json(whole)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or () if p.get("type") in ("input_text", "output_text", "text"))


def read_responses(body: dict[str, Any]) -> Seen:
    seen = Seen(
        system=body.get("instructions") or "",
        max_tokens=body.get("max_output_tokens"),
        reasoning="effort" in (body.get("reasoning") or {}) and body["reasoning"]["effort"] != "none",
        tools=tuple(t["name"] for t in body.get("tools", ()) if t.get("type") == "function"),
    )
    calls: list[str] = []
    items = body["input"] if isinstance(body["input"], list) else [{"role": "user", "content": body["input"]}]
    for item in items:
        kind = item.get("type", "message")
        if kind == "message" and item["role"] in ("system", "developer"):
            seen.system = "\n\n".join(s for s in (seen.system, _text(item["content"])) if s)
        elif kind == "message":
            seen.turns.append((item["role"], _text(item["content"])))
        elif kind == "function_call":
            seen.turns.append(("call", item["name"], json.loads(item["arguments"])))
            calls.append(item["call_id"])
        elif kind == "function_call_output":
            seen.turns.append(("result", item["output"], item["call_id"] in calls))
        elif kind == "reasoning" and item.get("encrypted_content"):
            seen.carried.append(("encrypted_content", item["encrypted_content"]))
    return seen


def responses_429(message: str) -> Reply:
    body = r_wire.error(message, "rate_limit_error", "rate_limit_exceeded")
    return Reply.json(body, status=429, headers={"Retry-After": "3"})


CHANNELS: dict[str, ChannelFormat] = {
    ANTHROPIC: ChannelFormat(
        ANTHROPIC, lambda url: {"type": "anthropic", "base_url": url}, anthropic_reply, anthropic_429, read_anthropic
    ),
    OPENAI: ChannelFormat(OPENAI, lambda url: {"type": "deepseek", "base_url": url}, chat_reply, chat_429, read_chat),
    RESPONSES: ChannelFormat(
        RESPONSES,
        lambda url: {"type": "openai_responses", "base_url": url},
        responses_reply,
        responses_429,
        read_responses,
    ),
    GEMINI: ChannelFormat(
        GEMINI, lambda url: {"type": "gemini", "base_url": url}, gemini_reply, gemini_429, read_gemini
    ),
}
