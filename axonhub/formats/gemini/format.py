"""Gemini as the gateway serves it: its routes, its codec, its dialect, its channel type.

Gemini CLI (`GOOGLE_GEMINI_BASE_URL=http://host:port/gemini`) and the google-genai SDKs
(`http_options={"base_url": …}`) call `POST {base}/v1beta/models/{model}:generateContent`,
`:streamGenerateContent` (SSE with `?alt=sse`, else one streamed JSON array) and `:countTokens`, and
`GET {base}/v1beta/models`; `v1` works the same. The model is in the path and streaming is the
route's choice. The AxonHub key comes as `x-goog-api-key`, `?key=` or `Authorization: Bearer`.
Channel type `gemini` is Google AI Studio's Gemini API; its `:countTokens` counts tokens for clients
of other formats (Claude Code's count_tokens).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from axonhub import ir
from axonhub.formats.gemini.codec import CODEC
from axonhub.formats.gemini.dialect import DIALECT
from axonhub.formats.gemini.parse import check_count_request, check_request
from axonhub.formats.gemini.request import output_limit, render_count_request
from axonhub.formats.gemini.traits import TRAITS
from axonhub.formats.spec import Counting, Endpoint, Format, Framing, ModelList, WireFormat, count_in

if TYPE_CHECKING:
    from axonhub.config import Channel

PREFIXES = ("/gemini", "")
VERSIONS = ("v1beta", "v1")


def _paths(action: str) -> tuple[str, ...]:
    return tuple(f"{p}/{v}/models/{{model}}:{action}" for p in PREFIXES for v in VERSIONS if p or v == "v1beta")


def _framing(query: Mapping[str, str]) -> Framing:
    """`alt=sse` asks for server-sent events; without it Gemini streams one JSON array."""
    return Framing.SSE if query.get("alt") == "sse" else Framing.JSON_ARRAY


def _count_request(req: ir.Request, channel: Channel) -> dict[str, Any]:
    return render_count_request(req, channel.max_output_tokens)


def _read_count(answer: Mapping[str, Any]) -> int | None:
    return count_in(answer, "totalTokens")


def _count_answer(tokens: int) -> dict[str, Any]:
    return {"totalTokens": tokens}


def _model_list(models: list[str], query: Mapping[str, str]) -> dict[str, Any]:
    return {"models": [_model(m) for m in models]}


def _model(model: str) -> dict[str, Any]:
    return {
        "name": f"models/{model}",
        "baseModelId": model,
        "version": "axonhub",
        "displayName": model,
        "outputTokenLimit": output_limit(model),
        "supportedGenerationMethods": ["generateContent", "countTokens"],
    }


FORMAT = Format(
    wire=WireFormat.GEMINI,
    codec=CODEC,
    dialect=DIALECT,
    endpoints=(
        Endpoint(
            "generateContent",
            "generate_content",
            _paths("generateContent"),
            check_request,
            model_param="model",
            stream=False,
        ),
        Endpoint(
            "generateContent",
            "generate_content",
            _paths("streamGenerateContent"),
            check_request,
            model_param="model",
            stream=True,
            framing=_framing,
        ),
        Endpoint(
            "countTokens",
            "count_tokens",
            _paths("countTokens"),
            check_count_request,
            counts=True,
            model_param="model",
            stream=False,
        ),
    ),
    generate="generateContent",
    traits=TRAITS,
    channel_types=("gemini",),
    path_prefixes=("/gemini/", "/v1beta/"),
    claiming_headers=("x-goog-api-key", "x-goog-api-client"),
    key_headers=("x-goog-api-key",),
    key_params=("key",),
    counting=Counting("countTokens", _count_request, _read_count, _count_answer),
    models=ModelList(
        tuple(f"{p}/{v}/models" for p in PREFIXES for v in VERSIONS if p or v == "v1beta"), _model_list, _model
    ),
)
