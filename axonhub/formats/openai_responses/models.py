"""Which OpenAI models reason, for the Responses API's reasoning fields.

OpenAI's models from before the reasoning generation (the gpt-4 family, gpt-4o, gpt-4.1, gpt-3.5)
refuse `reasoning`, `include: ["reasoning.encrypted_content"]` and reasoning input items with a 400.
A request of another format gets none of them there; a Responses client's own body (Codex asks for
reasoning on every turn) loses them when a profile serves its model on one of these (`fit`). Every
other id (the o-series, gpt-5 and later, codex models, ids this table does not know) takes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from axonhub.config import Channel

_WITHOUT_REASONING = ("gpt-4", "gpt-3.5", "chatgpt-4o")
ENCRYPTED_REASONING = "reasoning.encrypted_content"


def reasons(model: str) -> bool:
    """Does the model take the Responses API's reasoning fields?"""
    return not model.startswith(_WITHOUT_REASONING)


def fit(body: Mapping[str, Any], model: str, channel: Channel) -> dict[str, Any] | None:
    """The client's body without reasoning fields for a model that refuses them; None when it takes
    the body as it came."""
    if reasons(model):
        return None
    include: list[Any] = body["include"] if isinstance(body.get("include"), list) else []
    items: list[Any] = body["input"] if isinstance(body.get("input"), list) else []
    has_items = any(_is_reasoning(i) for i in items)
    asks = ENCRYPTED_REASONING in include
    if "reasoning" not in body and not asks and not has_items:
        return None
    fitted = {k: v for k, v in body.items() if k != "reasoning"}
    fitted["model"] = model
    if asks:
        kept = [i for i in include if i != ENCRYPTED_REASONING]
        if kept:
            fitted["include"] = kept
        else:
            del fitted["include"]
    if has_items:
        fitted["input"] = [i for i in items if not _is_reasoning(i)]
    return fitted


def _is_reasoning(item: Any) -> bool:
    return isinstance(item, Mapping) and item.get("type") == "reasoning"
