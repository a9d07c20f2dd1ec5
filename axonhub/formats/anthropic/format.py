"""Anthropic Messages as the gateway serves it: its routes, its codec, its dialect, its channel type.

Claude Code and the `anthropic` SDKs call `POST /v1/messages` and `/v1/messages/count_tokens`
under the base URL they are given: `http://host:port/anthropic` or the bare host. A count_tokens
request goes upstream only to an Anthropic channel; for a model served by other channels the
gateway answers it with its own estimate.
"""

from __future__ import annotations

from typing import Any

from axonhub import ir
from axonhub.formats.anthropic.codec import CODEC
from axonhub.formats.anthropic.dialect import DIALECT
from axonhub.formats.anthropic.request import check_count_tokens, check_messages
from axonhub.formats.spec import Endpoint, Format, WireFormat
from axonhub.tokens import estimate_request_tokens

PREFIXES = ("", "/anthropic")


def count_locally(request: ir.Request) -> dict[str, Any]:
    """count_tokens answered by the gateway: its estimate (never 0, which breaks `/context`)."""
    return {"input_tokens": estimate_request_tokens(request)}


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
            local_answer=count_locally,
        ),
    ),
    generate="messages",
    channel_types=("anthropic",),
    path_prefixes=("/anthropic/", "/v1/messages"),
    claiming_headers=("anthropic-version", "x-api-key"),
    sessions=True,  # Claude Code: X-Claude-Code-Session-Id, or the session in metadata.user_id
)
