"""Thinking and effort as each Claude generation takes them, by model id prefix.

- Before adaptive thinking and the effort parameter (Claude 3, the 4.0, 4.1 and 4.5 generation):
  thinking on a budget only; `output_config.effort` and `thinking.display` are refused. This is how
  Claude Code itself talks to claude-sonnet-4-5.
- The newest (Opus 4.7 and later, Sonnet 5): adaptive thinking only, a budget is refused.
- 4.6 takes both, and every effort level but `xhigh`.
- An id these tables do not know (a later model, another provider's Anthropic-compatible API) gets
  what the client asked for.

The IR renderer applies this to requests of other formats; `fit_thinking` applies it to an
Anthropic client's own body when a profile sends it to a model of another generation than the one
the client shaped it for (Claude Code asks claude-opus-4-8 for adaptive thinking at an effort; a
profile that serves that on claude-sonnet-4-5 must turn it into a budget).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axonhub import ir

_BEFORE_ADAPTIVE = (
    "claude-3",
    "claude-opus-4-0",
    "claude-opus-4-1",
    "claude-opus-4-2025",
    "claude-opus-4-5",
    "claude-sonnet-4-0",
    "claude-sonnet-4-2025",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
)
_ADAPTIVE_ONLY = ("claude-opus-4-7", "claude-opus-4-8", "claude-opus-5", "claude-sonnet-5")
_EFFORTS = frozenset({"low", "medium", "high", "xhigh", "max"})
# The families that take only some of the levels; a level a model does not take is sent as `high`.
_SOME_EFFORTS = (
    ("claude-opus-4-6", frozenset({"low", "medium", "high", "max"})),
    ("claude-sonnet-4-6", frozenset({"low", "medium", "high", "max"})),
)
MIN_THINKING_BUDGET = 1024


def before_adaptive(model: str) -> bool:
    return model.startswith(_BEFORE_ADAPTIVE)


def adaptive_only(model: str) -> bool:
    return model.startswith(_ADAPTIVE_ONLY)


def effort_for(model: str, effort: str | None) -> str | None:
    """The effort level to send `model`: none before adaptive thinking, else the level asked for where
    the model takes it, `high` where it does not."""
    if effort not in _EFFORTS or before_adaptive(model):
        return None
    levels = next((levels for prefix, levels in _SOME_EFFORTS if model.startswith(prefix)), _EFFORTS)
    return effort if effort in levels else "high"


def fit_thinking(body: Mapping[str, Any], model: str) -> dict[str, Any] | None:
    """`body` with its thinking and effort in the shape `model` takes, or None when they already are."""
    thinking, config = body.get("thinking"), body.get("output_config")
    thinking = thinking if isinstance(thinking, Mapping) else None
    config = config if isinstance(config, Mapping) else None
    effort = config.get("effort") if config is not None else None
    new_thinking, new_effort = thinking, effort_for(model, effort) if isinstance(effort, str) else effort
    kind = thinking.get("type") if thinking is not None else None
    if before_adaptive(model) and thinking is not None:
        new_thinking = {k: v for k, v in thinking.items() if k != "display"}
        if kind == "adaptive":
            new_thinking = _budgeted(body.get("max_tokens"), effort if isinstance(effort, str) else None)
    elif adaptive_only(model) and kind == "enabled" and thinking is not None:
        budget = thinking.get("budget_tokens")
        new_thinking = {"type": "adaptive", **{k: v for k, v in thinking.items() if k == "display"}}
        new_effort = effort_for(model, effort if isinstance(effort, str) else ir.budget_effort(_int(budget)))
    if new_thinking == thinking and new_effort == effort:
        return None
    fitted = dict(body)
    if new_thinking is not None:
        fitted["thinking"] = new_thinking
    rest = {k: v for k, v in (config or {}).items() if k != "effort"}
    if new_effort is not None:
        rest["effort"] = new_effort
    if rest:
        fitted["output_config"] = rest
    else:
        fitted.pop("output_config", None)
    return fitted


def _budgeted(max_tokens: Any, effort: str | None) -> dict[str, Any]:
    """Thinking on the budget an effort level stands for, within max_tokens (off where no budget fits)."""
    budget = ir.effort_budget(effort)
    if isinstance(max_tokens, int) and budget >= max_tokens:
        budget = max_tokens - 1
    if budget < MIN_THINKING_BUDGET:
        return {"type": "disabled"}
    return {"type": "enabled", "budget_tokens": budget}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
