"""What a request asks for, as profile rules' `when:` conditions read it; computed once per request.

`request_features(format, body, headers, needs)` reads only what `needs` names (the union of what
the key's active profile's rules ask about, precomputed when the config is loaded), so a profile
without `when:` rules costs nothing, and the costly features (the token estimate, the walk for
images) are computed only for profiles that use them. Pure: no IO.

- `thinking`: Anthropic `thinking.type` enabled or adaptive; OpenAI Chat `reasoning_effort` (other
  than `none`) or a `thinking` object that is not disabled; OpenAI Responses a `reasoning` object
  whose effort is not `none`.
- `tokens`: the estimated input tokens (`axonhub.tokens`, the estimate count_tokens answers with).
- `images`: an image block anywhere in the conversation (tool results included).
- `tools`: the names of the tools offered, and the types of server tools (`web_search_20250305` is
  offered as `web_search`), lowercased.
- `client`: from the User-Agent: claude-code, codex, anthropic-sdk, openai-sdk or other.
- `headers`: the request's headers, for `when: {header: …}`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

IMAGE_TYPES = frozenset({"image", "image_url", "input_image"})
_DATED = re.compile(r"_\d{8}$")
_MAX_WALK = 200_000  # nodes: a pathological body cannot make the walk for images unbounded


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
    wire_format: str, body: Mapping[str, Any], headers: Mapping[str, str], needs: frozenset[str]
) -> RequestFeatures:
    """The features of one parsed request, only those `needs` names (the rest keep their defaults)."""
    if not needs:
        return NO_FEATURES
    return RequestFeatures(
        thinking="thinking" in needs and asks_thinking(wire_format, body),
        input_tokens=estimated_tokens(wire_format, body) if "tokens" in needs else 0,
        images="images" in needs and has_images(body),
        tools=offered_tools(body) if "tools" in needs else frozenset(),
        client=client_of(headers) if "client" in needs else "other",
        headers=headers if "headers" in needs else MappingProxyType({}),
    )


def asks_thinking(wire_format: str, body: Mapping[str, Any]) -> bool:
    thinking = body.get("thinking")
    if isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive"):
        return True
    if wire_format == "openai_chat":
        effort = body.get("reasoning_effort")
        return isinstance(effort, str) and effort != "none"
    if wire_format == "openai_responses":
        reasoning = body.get("reasoning")
        return isinstance(reasoning, Mapping) and reasoning.get("effort") != "none"
    return False


def estimated_tokens(wire_format: str, body: Mapping[str, Any]) -> int:
    """The estimate count_tokens would answer; 0 for a body the format's codec cannot read."""
    from axonhub.errors import GatewayError
    from axonhub.formats.registry import FORMATS
    from axonhub.formats.spec import WireFormat
    from axonhub.tokens import estimate_request_tokens

    try:
        codec = FORMATS[WireFormat(wire_format)].codec
    except (ValueError, KeyError):
        return 0
    try:
        return estimate_request_tokens(codec.parse_request(body))
    except GatewayError:
        return 0  # the request is refused later with its own error; routing need not fail first


def has_images(body: Mapping[str, Any]) -> bool:
    conversation = [body.get(name) for name in ("messages", "input", "system")]
    return any(isinstance(node, Mapping) and node.get("type") in IMAGE_TYPES for node in _walk(conversation, _MAX_WALK))


def offered_tools(body: Mapping[str, Any]) -> frozenset[str]:
    names: set[str] = set()
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, Mapping):
            continue
        function = tool.get("function")
        name = function.get("name") if isinstance(function, Mapping) else tool.get("name")
        if isinstance(name, str):
            names.add(name.lower())
        kind = tool.get("type")
        if isinstance(kind, str) and kind not in ("function", "custom"):
            names.add(_DATED.sub("", kind.lower()))
    return frozenset(names)


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


def _walk(node: Any, budget: int) -> Iterator[Any]:
    """Every dict and list under `node`, depth first, at most `budget` of them."""
    stack = [node]
    while stack and budget > 0:
        current = stack.pop()
        budget -= 1
        yield current
        if isinstance(current, Mapping):
            stack.extend(v for v in current.values() if isinstance(v, Mapping | list))
        elif isinstance(current, list):
            stack.extend(v for v in current if isinstance(v, Mapping | list))
