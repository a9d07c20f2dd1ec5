"""`GET /v1/models` and `GET /v1/models/{model}`: the models the caller's key can reach, in
Anthropic or OpenAI shape.

A regex cannot be listed, so the candidates are the names the config spells out (exact profile
rules, exact channel models, aliases) plus the Claude ids Claude Code asks for; a candidate is
listed when `resolve()` finds a usable channel for it under the key's active profile. One model is
found by the same test, so a name a profile's pattern routes can be looked up though it is not listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axonhub.config import Config, Key
from axonhub.errors import GatewayError, InvalidRequest
from axonhub.profiles import active_profile, resolve

# Model ids Claude Code and the SDKs commonly send; listed when they resolve.
KNOWN_CLIENT_MODELS = (
    "claude-opus-4-8",
    "claude-sonnet-5",
    "claude-opus-4-5",
    "claude-sonnet-4-5",
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5",
    "claude-haiku-4-5-20251001",
)

_CREATED_AT = "2025-01-01T00:00:00Z"


def reachable_models(config: Config, key: Key | None) -> list[str]:
    names: dict[str, None] = {}
    profile = active_profile(key, config)
    if profile:
        names.update((r.match, None) for r in profile.rules if r.match)
    names.update((m, None) for m in KNOWN_CLIENT_MODELS)
    for channel in config.channels:
        names.update((m, None) for m in sorted(channel.models.exact))
        names.update((m, None) for m in channel.aliases)
    return [name for name in names if reaches(config, key, name)]


def reaches(config: Config, key: Key | None, name: str) -> bool:
    """Does a request for `name` find a usable channel under the key's active profile?"""
    try:
        resolve(name, key, config)
    except GatewayError:
        return False
    return True


def anthropic_list(models: list[str], query: Mapping[str, str]) -> dict[str, Any]:
    """Anthropic's paginated shape: `limit` (1-1000, default 20), `after_id`, `before_id`."""
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise InvalidRequest("limit: must be an integer between 1 and 1000") from None
    if not 1 <= limit <= 1000:
        raise InvalidRequest("limit: must be an integer between 1 and 1000")
    start, end = 0, len(models)
    if "after_id" in query and query["after_id"] in models:
        start = models.index(query["after_id"]) + 1
    if "before_id" in query and query["before_id"] in models:
        end = models.index(query["before_id"])
        start = max(start, end - limit)
    page = models[start:end][:limit]
    data = [anthropic_model(m) for m in page]
    return {
        "data": data,
        "has_more": start + len(page) < end,
        "first_id": page[0] if page else None,
        "last_id": page[-1] if page else None,
    }


def anthropic_model(model: str) -> dict[str, Any]:
    return {"type": "model", "id": model, "display_name": model, "created_at": _CREATED_AT}


def openai_list(models: list[str]) -> dict[str, Any]:
    return {"object": "list", "data": [openai_model(m) for m in models]}


def openai_model(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 1735689600, "owned_by": "axonhub"}
