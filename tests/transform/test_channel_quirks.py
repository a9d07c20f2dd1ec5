"""A channel's `quirks:` override: validated by the schema, loaded frozen into the Channel, applied per channel."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from axonhub.config import load_config, validate
from axonhub.formats.openai_chat.quirks import QUIRK_OPTIONS, QUIRKS, JsonMode, Quirks, ReasoningParam
from tests.transform.conftest import openai_channel, transform_config


def config_with(channel_type: str, quirks: Any) -> dict[str, Any]:
    channel = openai_channel("c", "https://api.example.com/v1", channel_type, quirks=quirks)
    return transform_config([channel], Path("trace.jsonl"))


def test_the_openai_type_is_conservative_for_any_openai_compatible_server() -> None:
    assert QUIRKS["openai"] == Quirks(name="openai")
    assert (QUIRKS["openai"].max_tokens_field, QUIRKS["openai"].reasoning_param, QUIRKS["openai"].supports_pdf) == (
        "max_tokens",
        ReasoningParam.NONE,
        False,
    )


def test_every_quirk_but_the_rows_name_can_be_declared() -> None:
    assert set(QUIRK_OPTIONS) == {f.name for f in dataclasses.fields(Quirks)} - {"name"}


def test_declared_quirks_are_loaded_frozen_into_the_channel_over_its_types_row(tmp_path: Path) -> None:
    quirks = {
        "max_tokens_field": "max_completion_tokens",
        "reasoning_param": "reasoning_effort",
        "json_mode": "json_object",
        "model_output_caps": {"gpt-4.1": 32768, "gpt-": 128000},
        "user_field": None,
    }
    path = tmp_path / "axonhub.yml"
    path.write_text(yaml.safe_dump(config_with("openai", quirks), sort_keys=False))
    channel = load_config(path).channels[0]
    assert channel.quirks == Quirks(
        name="openai",
        max_tokens_field="max_completion_tokens",
        reasoning_param=ReasoningParam.REASONING_EFFORT,
        json_mode=JsonMode.JSON_OBJECT,
        model_output_caps=(("gpt-4.1", 32768), ("gpt-", 128000)),
        user_field=None,
    )
    assert channel.quirks.output_cap("gpt-4.1-mini") == 32768
    with pytest.raises(dataclasses.FrozenInstanceError):
        channel.quirks.max_tokens_field = "max_tokens"  # type: ignore[misc]


def test_a_channel_without_quirks_gets_its_types_row_and_an_anthropic_channel_none(tmp_path: Path) -> None:
    data = transform_config([openai_channel("ds", "https://api.deepseek.com")], Path("t.jsonl"))
    data["channels"].append(
        {"name": "a", "type": "anthropic", "base_url": "https://api.anthropic.com", "models": ["x"]}
    )
    path = tmp_path / "axonhub.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    deepseek, anthropic = load_config(path).channels
    assert (deepseek.quirks, anthropic.quirks) == (QUIRKS["deepseek"], None)


@pytest.mark.parametrize(
    ("quirks", "errors"),
    [
        (
            {"max_tokens_field": "max_output_tokens"},
            [
                "channels[0].quirks.max_tokens_field: 'max_output_tokens' is not one of max_tokens, "
                "max_completion_tokens (did you mean 'max_tokens'?)"
            ],
        ),
        (
            {"reasoning_param": "effort"},
            [
                "channels[0].quirks.reasoning_param: 'effort' is not one of "
                "none, reasoning_effort, deepseek_thinking, openrouter_reasoning"
            ],
        ),
        ({"supports_pdf": "yes"}, ["channels[0].quirks.supports_pdf: 'yes' is not of type 'boolean'"]),
        (
            {"model_output_caps": {"gpt-": 0}},
            ["channels[0].quirks.model_output_caps.gpt-: 0 is less than the minimum of 1"],
        ),
        (
            {"name": "openai", "reasoning": "high"},
            [
                "channels[0].quirks.name: unknown field (expected one of " + ", ".join(QUIRK_OPTIONS) + ")",
                "channels[0].quirks.reasoning: unknown field (did you mean 'reasoning_param'?)",
            ],
        ),
        (["max_tokens"], ["channels[0].quirks: ['max_tokens'] is not of type 'object'"]),
    ],
)
def test_invalid_quirks_are_reported_with_their_path(quirks: Any, errors: list[str]) -> None:
    assert validate(config_with("openai", quirks)) == errors


def test_quirks_on_a_channel_that_does_not_speak_openai_chat_are_refused() -> None:
    assert validate(config_with("anthropic", {"supports_pdf": True})) == [
        "channels[0].quirks: only OpenAI-compatible channel types (openai, deepseek, openrouter, moonshot) "
        "take quirks, not 'anthropic'"
    ]
