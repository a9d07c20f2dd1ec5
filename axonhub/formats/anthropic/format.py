"""Anthropic Messages as the gateway serves it: its routes, its codec, its dialect, its channel type.

Claude Code and the `anthropic` SDKs call `POST /v1/messages` and `/v1/messages/count_tokens`
under the base URL they are given: `http://host:port/anthropic` or the bare host. A count_tokens
request goes upstream to an Anthropic channel as it is, to a channel of another format that counts
tokens through that format's counting endpoint; for a model no such channel serves, the gateway
answers it with its own estimate (never 0, which breaks Claude Code's `/context`). An Anthropic
channel counts tokens for clients of other formats through count_tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from axonhub import ir
from axonhub.formats.anthropic.codec import CODEC
from axonhub.formats.anthropic.dialect import DIALECT
from axonhub.formats.anthropic.request import check_count_tokens, check_messages, render_count_request
from axonhub.formats.anthropic.traits import TRAITS
from axonhub.formats.spec import Counting, Endpoint, Format, ModelList, WireFormat, count_in
from axonhub.models import anthropic_list, anthropic_model

if TYPE_CHECKING:
    from axonhub.config import Channel

PREFIXES = ("", "/anthropic")


def _count_request(request: ir.Request, channel: Channel) -> dict[str, Any]:
    return render_count_request(request, channel.max_output_tokens)


def _read_count(answer: Mapping[str, Any]) -> int | None:
    return count_in(answer, "input_tokens")


def _count_answer(tokens: int) -> dict[str, Any]:
    return {"input_tokens": tokens}


FORMAT = Format(
    wire=WireFormat.ANTHROPIC,
    codec=CODEC,
    dialect=DIALECT,
    endpoints=(
        Endpoint("messages", "messages", tuple(f"{p}/v1/messages" for p in PREFIXES), check_messages),
        Endpoint(
            "messages/count_tokens",
            "count_tokens",
            tuple(f"{p}/v1/messages/count_tokens" for p in PREFIXES),
            check_count_tokens,
            counts=True,
            stream=False,
        ),
    ),
    generate="messages",
    traits=TRAITS,
    channel_types=("anthropic",),
    path_prefixes=("/anthropic/", "/v1/messages"),
    claiming_headers=("anthropic-version", "x-api-key"),
    sessions=True,  # Claude Code: X-Claude-Code-Session-Id, or the session in metadata.user_id
    counting=Counting("messages/count_tokens", _count_request, _read_count, _count_answer),
    models=ModelList(tuple(f"{p}/v1/models" for p in PREFIXES), anthropic_list, anthropic_model),
)
