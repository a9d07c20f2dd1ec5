"""Gemini answers: finish reasons, usage, and a whole `GenerateContentResponse` for a Gemini client.

Finish reasons to the IR: `STOP` ends the turn (or is a tool use when function calls came: Gemini
says `STOP` for those), `MAX_TOKENS` is max_tokens, the safety and policy reasons (`SAFETY`,
`RECITATION`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `SPII`, `LANGUAGE`, `IMAGE_*`) are a refusal, and
the rest (`MALFORMED_FUNCTION_CALL`, `UNEXPECTED_TOOL_CALL`, `TOO_MANY_TOOL_CALLS`, `OTHER`, …)
end the turn. An answer that stops for such a reason with nothing in it says why, in a text block,
as does a prompt Gemini blocked outright (`promptFeedback.blockReason`, no candidates): the client
reads a clear refusal, never an empty success.

Usage: `promptTokenCount` includes the cached tokens, `candidatesTokenCount` excludes the thoughts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, assert_never

from axonhub import ir
from axonhub.formats.gemini import thoughts
from axonhub.formats.tool_calls import parse_arguments
from axonhub.ids import random_id

REFUSALS = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "LANGUAGE",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "IMAGE_OTHER",
    }
)
_FINISH_NAMES: dict[ir.StopReason, str] = {
    ir.StopReason.END_TURN: "STOP",
    ir.StopReason.STOP_SEQUENCE: "STOP",
    ir.StopReason.TOOL_USE: "STOP",
    ir.StopReason.PAUSE_TURN: "STOP",
    ir.StopReason.MAX_TOKENS: "MAX_TOKENS",
    ir.StopReason.CONTEXT_EXCEEDED: "MAX_TOKENS",
    ir.StopReason.REFUSAL: "SAFETY",
}


def stop_reason(finish_reason: str | None, tool_calls: int) -> ir.StopReason:
    """The IR stop reason, with the tool override: any function call makes it a tool use."""
    if tool_calls:
        return ir.StopReason.TOOL_USE
    if finish_reason == "MAX_TOKENS":
        return ir.StopReason.MAX_TOKENS
    if finish_reason in REFUSALS:
        return ir.StopReason.REFUSAL
    return ir.StopReason.END_TURN


def empty_answer_note(finish_reason: str | None, blocked: str | None) -> str | None:
    """What a client reads when Gemini stopped with nothing to show; None for an ordinary end."""
    if blocked is not None:
        return f"[Gemini blocked the prompt (block reason {blocked}) and gave no answer]"
    if finish_reason in (None, "STOP", "MAX_TOKENS"):
        return None
    if finish_reason in REFUSALS:
        return f"[Gemini withheld the answer (finish reason {finish_reason})]"
    return f"[Gemini stopped without an answer (finish reason {finish_reason})]"


def finish_reason_name(reason: ir.StopReason) -> str:
    return _FINISH_NAMES[reason]


def usage_from(raw: Any) -> ir.Usage | None:
    """IR usage from `usageMetadata`; None when it has none."""
    if not isinstance(raw, Mapping):
        return None
    prompt, cached = _count(raw.get("promptTokenCount")), _count(raw.get("cachedContentTokenCount"))
    thoughts_count = _count(raw.get("thoughtsTokenCount"))
    return ir.Usage(
        input_uncached=max(prompt - cached, 0) + _count(raw.get("toolUsePromptTokenCount")),
        cache_read=cached,
        output=_count(raw.get("candidatesTokenCount")) + thoughts_count,
        reasoning_output=thoughts_count,
    )


def _count(value: Any) -> int:
    return max(value, 0) if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_dict(usage: ir.Usage) -> dict[str, int]:
    """`usageMetadata` for a Gemini client: prompt counts include the cached tokens, candidates exclude thoughts."""
    prompt = usage.input_total
    out = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": max(usage.output - usage.reasoning_output, 0),
        "totalTokenCount": prompt + usage.output,
    }
    if usage.cache_read:
        out["cachedContentTokenCount"] = usage.cache_read
    if usage.reasoning_output:
        out["thoughtsTokenCount"] = usage.reasoning_output
    return out


def response_id() -> str:
    """A fresh id for every answer the gateway renders, never the upstream's."""
    return random_id("")


# ------------------------------------------------------------------------------------- render


class PartWriter:
    """IR blocks → Gemini parts for a Gemini client, in order.

    A thinking block is shown as a thought part (when the client asked for thoughts) and its
    signature goes, as `thoughtSignature`, on the next part that is not a thought, the way Gemini
    places its own; one left over at the end, or still waiting when another block's comes (a part
    holds one), sits on an empty text part of its own.
    """

    def __init__(self, upstream_model: str, include_thoughts: bool) -> None:
        self.upstream_model = upstream_model
        self.include_thoughts = include_thoughts
        self.signature: str | None = None

    def thinking(self, block: ir.Thinking) -> list[dict[str, Any]]:
        parts = [{"text": block.text, "thought": True}] if self.include_thoughts and block.text else []
        return self.sign(block) + parts

    def sign(self, block: ir.Thinking | ir.RedactedThinking) -> list[dict[str, Any]]:
        """The block's signature goes on the next part; one still waiting goes out first, on its own."""
        signature = thoughts.for_client(block, self.upstream_model)
        if signature is None:
            return []
        waiting = self.leftover()
        self.signature = signature
        return waiting

    def part(self, part: dict[str, Any]) -> dict[str, Any]:
        if self.signature is not None:
            part["thoughtSignature"], self.signature = self.signature, None
        return part

    def text(self, text: str) -> list[dict[str, Any]]:
        return [self.part({"text": text})] if text else []

    def call(self, block: ir.ToolCall) -> dict[str, Any]:
        call = {"id": block.id, "name": block.name, "args": parse_arguments(block.args_json)}
        return self.part({"functionCall": call})

    def leftover(self) -> list[dict[str, Any]]:
        return [self.part({"text": ""})] if self.signature is not None else []

    def block(self, block: ir.Block) -> list[dict[str, Any]]:
        match block:
            case ir.Thinking():
                return self.thinking(block)
            case ir.RedactedThinking():
                return self.sign(block)
            case ir.Text(text=text):
                return self.text(text)
            case ir.ToolCall():
                return [self.call(block)]
            case ir.Opaque() | ir.Image() | ir.Document() | ir.ToolResult():
                return []
            case _:
                assert_never(block)


def render_response(response: ir.Response, request: ir.Request) -> dict[str, Any]:
    """A `GenerateContentResponse` for a Gemini client, named after the model it asked for."""
    writer = PartWriter(response.model, request.reasoning.display == "summarized")
    parts = [part for block in response.content for part in writer.block(block)] + writer.leftover()
    candidate = {
        "content": {"role": "model", "parts": parts},
        "finishReason": finish_reason_name(response.stop_reason),
        "index": 0,
    }
    return {
        "candidates": [candidate],
        "usageMetadata": usage_dict(response.usage),
        "modelVersion": request.model,
        "responseId": response_id(),
    }
