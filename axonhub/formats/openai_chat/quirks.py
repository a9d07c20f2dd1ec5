"""What each OpenAI-compatible channel type accepts: a table of declared quirks.

The OpenAI Chat renderer reads one `Quirks` row and never asks which provider it talks to, so a new
compatible provider is one new row. Rows are frozen; `with_overrides` derives a channel's own
variant from its type's row and the `quirks:` object of its config (validated by the schema, which
is generated from `QUIRK_OPTIONS` below).

The `openai` row is the conservative one, for any OpenAI-compatible server (vLLM, LM Studio,
Ollama, LiteLLM, and OpenAI's non-reasoning models): `max_tokens`, no reasoning parameters, no
`file` parts. OpenAI's reasoning models (o-series, gpt-5) need
`quirks: {max_tokens_field: max_completion_tokens, reasoning_param: reasoning_effort}`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal


class ReasoningParam(StrEnum):
    """How the channel takes reasoning controls."""

    NONE = "none"
    REASONING_EFFORT = "reasoning_effort"  # OpenAI o-series / gpt-5
    DEEPSEEK_THINKING = "deepseek_thinking"  # thinking:{type} + reasoning_effort
    OPENROUTER_REASONING = "openrouter_reasoning"  # reasoning:{effort|max_tokens|enabled}


class ReasoningPassback(StrEnum):
    """Whether earlier reasoning goes back upstream on assistant turns."""

    NONE = "none"  # never sent back (the provider has no slot, or rejects it)
    REASONING_CONTENT = "reasoning_content"  # on every assistant turn with tool calls, "" when none


class JsonMode(StrEnum):
    """The strongest structured-output mode the channel supports."""

    JSON_SCHEMA = "json_schema"
    JSON_OBJECT = "json_object"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Quirks:
    name: str
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    supports_stream_usage: bool = True  # accepts stream_options.include_usage
    supports_parallel_tool_calls: bool = True  # accepts the parallel_tool_calls parameter
    system_role: Literal["system", "developer"] = "system"
    reasoning_param: ReasoningParam = ReasoningParam.NONE
    reasoning_passback: ReasoningPassback = ReasoningPassback.NONE
    max_output_tokens_cap: int | None = None
    model_output_caps: tuple[tuple[str, int], ...] = ()  # (model-name prefix, cap), first match wins
    json_mode: JsonMode = JsonMode.JSON_SCHEMA
    supports_top_k: bool = False
    supports_images: bool = True
    supports_image_urls: bool = True  # fetches http(s) image URLs itself
    supports_pdf: bool = False  # accepts `file` parts with PDF data
    max_stop_sequences: int = 4
    user_field: Literal["user", "safety_identifier"] | None = "user"

    def output_cap(self, model: str) -> int | None:
        for prefix, cap in self.model_output_caps:
            if model.startswith(prefix):
                return cap
        return self.max_output_tokens_cap


QUIRKS: dict[str, Quirks] = {
    "openai": Quirks(name="openai"),
    "deepseek": Quirks(
        name="deepseek",
        supports_parallel_tool_calls=False,
        reasoning_param=ReasoningParam.DEEPSEEK_THINKING,
        reasoning_passback=ReasoningPassback.REASONING_CONTENT,
        max_output_tokens_cap=8192,
        model_output_caps=(("deepseek-reasoner", 65536), ("deepseek-chat", 8192)),
        json_mode=JsonMode.JSON_OBJECT,
        supports_images=False,
        supports_image_urls=False,
    ),
    "openrouter": Quirks(
        name="openrouter",
        reasoning_param=ReasoningParam.OPENROUTER_REASONING,
        supports_top_k=True,
        supports_pdf=True,
    ),
    "moonshot": Quirks(
        name="moonshot",
        reasoning_passback=ReasoningPassback.REASONING_CONTENT,
        json_mode=JsonMode.JSON_OBJECT,
        supports_image_urls=False,
    ),
}

GENERIC = Quirks(name="generic")


def quirks_for(channel_type: str) -> Quirks:
    """The row of a channel type; unknown OpenAI-compatible types get conservative defaults."""
    return QUIRKS.get(channel_type, GENERIC)


# The fields a channel's `quirks:` may set, each with the JSON Schema of its value.
QUIRK_OPTIONS: dict[str, dict[str, Any]] = {
    "max_tokens_field": {"enum": ["max_tokens", "max_completion_tokens"]},
    "supports_stream_usage": {"type": "boolean"},
    "supports_parallel_tool_calls": {"type": "boolean"},
    "system_role": {"enum": ["system", "developer"]},
    "reasoning_param": {"enum": [p.value for p in ReasoningParam]},
    "reasoning_passback": {"enum": [p.value for p in ReasoningPassback]},
    "max_output_tokens_cap": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]},
    "model_output_caps": {
        "type": "object",
        "description": "model-name prefix -> output token cap; the first matching prefix wins",
        "additionalProperties": {"type": "integer", "minimum": 1},
    },
    "json_mode": {"enum": [m.value for m in JsonMode]},
    "supports_top_k": {"type": "boolean"},
    "supports_images": {"type": "boolean"},
    "supports_image_urls": {"type": "boolean"},
    "supports_pdf": {"type": "boolean"},
    "max_stop_sequences": {"type": "integer", "minimum": 0},
    "user_field": {"enum": ["user", "safety_identifier", None]},
}
_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "reasoning_param": ReasoningParam,
    "reasoning_passback": ReasoningPassback,
    "json_mode": JsonMode,
    "model_output_caps": lambda caps: tuple((str(prefix), int(cap)) for prefix, cap in caps.items()),
}


def with_overrides(base: Quirks, overrides: Mapping[str, Any] | None) -> Quirks:
    """`base` with a channel's schema-validated `quirks:` values applied; `base` itself when there are none."""
    if not overrides:
        return base
    typed = {name: _CONVERTERS.get(name, _same)(value) for name, value in overrides.items()}
    return dataclasses.replace(base, **typed)


def _same(value: Any) -> Any:
    return value
