"""What a request asks for, as profile rules' `when:` conditions read it; computed once per request.

`request_features(format, body, headers, needs)` reads only what `needs` names (the union of what
the key's active profile's rules ask about, precomputed when the config is loaded), so a profile
without `when:` rules costs nothing, and the costly features (the token estimate) are computed only
for profiles that use them. Pure: no IO.

- `thinking`, `images`, `tools`: read off the raw body by the request format's own `Traits` (each
  format package says what asking for reasoning, an image or a tool looks like in its body).
- `tokens`: the estimated input tokens (`axonhub.tokens`, the estimate count_tokens answers with),
  from the format codec's parse of the body.
- `client`: from the User-Agent: claude-code, codex, anthropic-sdk, openai-sdk or other.
- `headers`: the request's headers, for `when: {header: …}`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from axonhub.errors import GatewayError
from axonhub.tokens import estimate_request_tokens

if TYPE_CHECKING:
    from axonhub.formats.spec import Format

_DATED = re.compile(r"_\d{8}$")


@dataclass(frozen=True, slots=True)
class RequestFeatures:
    thinking: bool = False
    input_tokens: int = 0
    images: bool = False
    tools: frozenset[str] = frozenset()
    client: str = "other"
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


NO_FEATURES = RequestFeatures()


def request_features(
    fmt: Format | None,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    needs: frozenset[str],
    tokens: Callable[[], int] | None = None,
) -> RequestFeatures:
    """The features of one parsed request of format `fmt`, only those `needs` names (the rest keep their
    defaults); with no format (a request recorded before formats were traced) only the headers count.
    `tokens` gives the token estimate when the caller has the request's IR at hand (else the body is
    parsed here)."""
    if not needs:
        return NO_FEATURES
    traits = fmt.traits if fmt is not None else None
    return RequestFeatures(
        thinking="thinking" in needs and traits is not None and traits.asks_thinking(body),
        input_tokens=estimated_tokens(fmt, body, tokens) if "tokens" in needs and fmt is not None else 0,
        images="images" in needs and traits is not None and traits.has_images(body),
        tools=traits.offered_tools(body) if "tools" in needs and traits is not None else frozenset(),
        client=client_of(headers) if "client" in needs else "other",
        headers=headers if "headers" in needs else MappingProxyType({}),
    )


def estimated_tokens(fmt: Format, body: Mapping[str, Any], tokens: Callable[[], int] | None = None) -> int:
    """The estimate count_tokens would answer (from `tokens` when given, else from the body parsed
    here); 0 for a body the format's codec cannot read."""
    try:
        return tokens() if tokens is not None else estimate_request_tokens(fmt.codec.parse_request(body))
    except GatewayError:
        return 0  # the request is refused later with its own error; routing need not fail first


def server_tool_name(kind: str) -> str:
    """A provider-hosted tool's type as rules name it: `web_search_20250305` -> `web_search`."""
    return _DATED.sub("", kind.lower())


def client_of(headers: Mapping[str, str]) -> str:
    agent = (headers.get("User-Agent") or headers.get("user-agent") or "").lower()
    if agent.startswith("claude-cli/") or agent.startswith("claude-code/"):
        return "claude-code"
    if agent.startswith("codex"):
        return "codex"
    if agent.startswith("anthropic/"):
        return "anthropic-sdk"
    if agent.startswith("openai/"):
        return "openai-sdk"
    return "other"
