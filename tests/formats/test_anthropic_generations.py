"""An Anthropic body's thinking and effort fitted to the Claude generation a profile serves it on."""

from __future__ import annotations

from typing import Any

import pytest

from axonhub.formats.anthropic.generations import fit_thinking

SCHEMA = {"type": "json_schema", "schema": {"type": "object"}}


@pytest.mark.parametrize(
    ("body", "model", "fitted"),
    [
        # adaptive on a budget-only model: the effort's budget, kept below max_tokens, or off where none fits
        (
            {"max_tokens": 4000, "thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}},
            "claude-haiku-4-5",
            {"max_tokens": 4000, "thinking": {"type": "enabled", "budget_tokens": 3999}},
        ),
        (
            {"max_tokens": 1000, "thinking": {"type": "adaptive"}},
            "claude-sonnet-4-5-20250929",
            {"max_tokens": 1000, "thinking": {"type": "disabled"}},
        ),
        # effort alone goes, the structured output beside it stays
        (
            {"max_tokens": 100, "output_config": {"effort": "low", "format": SCHEMA}},
            "claude-3-7-sonnet-20250219",
            {"max_tokens": 100, "output_config": {"format": SCHEMA}},
        ),
        # display goes from a budgeted request too
        (
            {"max_tokens": 9000, "thinking": {"type": "enabled", "budget_tokens": 2048, "display": "omitted"}},
            "claude-opus-4-1-20250805",
            {"max_tokens": 9000, "thinking": {"type": "enabled", "budget_tokens": 2048}},
        ),
        # a budget on an adaptive-only model: its effort kept where the client gave one, display kept
        (
            {"max_tokens": 9000, "thinking": {"type": "enabled", "budget_tokens": 2048, "display": "omitted"}},
            "claude-opus-4-8",
            {
                "max_tokens": 9000,
                "thinking": {"type": "adaptive", "display": "omitted"},
                "output_config": {"effort": "low"},
            },
        ),
        (
            {
                "max_tokens": 9000,
                "thinking": {"type": "enabled", "budget_tokens": 2048},
                "output_config": {"effort": "max"},
            },
            "claude-sonnet-5",
            {"max_tokens": 9000, "thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}},
        ),
        # 4.6 takes both kinds of thinking, but not xhigh
        (
            {"max_tokens": 9000, "thinking": {"type": "adaptive"}, "output_config": {"effort": "xhigh"}},
            "claude-opus-4-6",
            {"max_tokens": 9000, "thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}},
        ),
    ],
)
def test_a_body_is_fitted_to_the_generation_of_the_model_it_is_sent_to(
    body: dict[str, Any], model: str, fitted: dict[str, Any]
) -> None:
    assert fit_thinking(body, model) == fitted


@pytest.mark.parametrize(
    ("body", "model"),
    [
        (
            {"max_tokens": 9000, "thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}},
            "claude-opus-4-8",
        ),
        ({"max_tokens": 9000, "thinking": {"type": "enabled", "budget_tokens": 2048}}, "claude-sonnet-4-5"),
        ({"max_tokens": 9000, "thinking": {"type": "disabled"}}, "claude-opus-4-8"),
        ({"max_tokens": 9000, "thinking": {"type": "adaptive"}, "output_config": {"effort": "xhigh"}}, "kimi-k2"),
        ({"max_tokens": 9000}, "claude-haiku-4-5"),
    ],
)
def test_a_body_already_in_the_models_shape_is_left_alone(body: dict[str, Any], model: str) -> None:
    assert fit_thinking(body, model) is None
