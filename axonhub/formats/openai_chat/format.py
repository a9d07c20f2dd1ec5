"""OpenAI Chat Completions as the gateway serves it: its route, its codec, its dialect, its channel types.

The `openai` SDKs (and the tools built on them) call `POST /chat/completions` under a base URL of
`http://host:port/v1` or `http://host:port/openai/v1`. Channel types `openai` (any OpenAI-compatible
server), `deepseek`, `openrouter` and `moonshot` speak it, each with its row of quirks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axonhub.formats.openai_chat.codec import CODEC
from axonhub.formats.openai_chat.dialect import DIALECT
from axonhub.formats.openai_chat.quirks import QUIRKS
from axonhub.formats.openai_chat.request import check_request
from axonhub.formats.openai_chat.traits import TRAITS
from axonhub.formats.spec import Endpoint, Format, ModelList, WireFormat
from axonhub.models import openai_list, openai_model


def _model_list(models: list[str], query: Mapping[str, str]) -> dict[str, Any]:
    return openai_list(models)


FORMAT = Format(
    wire=WireFormat.OPENAI_CHAT,
    codec=CODEC,
    dialect=DIALECT,
    endpoints=(
        Endpoint(
            "chat/completions",
            "chat_completions",
            ("/v1/chat/completions", "/openai/v1/chat/completions"),
            check_request,
        ),
    ),
    generate="chat/completions",
    traits=TRAITS,
    channel_types=tuple(QUIRKS),
    path_prefixes=("/openai/", "/v1/chat/", "/v1/completions", "/v1/embeddings"),
    models=ModelList(("/v1/models", "/openai/v1/models"), _model_list, openai_model),
)
