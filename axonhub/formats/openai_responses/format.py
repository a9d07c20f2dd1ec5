"""OpenAI Responses as the gateway serves it: its route, its codec, its dialect, its channel type.

Codex and the openai SDK's `client.responses` call `POST /responses` under a base URL of
`http://host:port/v1` or `http://host:port/openai/v1`. A channel of type `openai_responses` is
OpenAI's own Responses API (or a server with its paths): Responses clients reach it on the fast path,
Anthropic and Chat clients through the IR. Codex names its session in the `session-id` header on
every request, which the trace groups by.

`POST /responses/input_tokens` (`client.responses.input_tokens.count`) counts a request's tokens as
the other formats' count endpoints do: on a Responses channel as it came, on another format's channel
through its counting endpoint, else the gateway's estimate. A Responses channel counts tokens for
clients of other formats (Claude Code's count_tokens) through `input_tokens`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from axonhub import ir
from axonhub.formats.openai_responses.codec import CODEC
from axonhub.formats.openai_responses.conversation import CONTINUATION
from axonhub.formats.openai_responses.dialect import DIALECT
from axonhub.formats.openai_responses.render import render_count_request
from axonhub.formats.openai_responses.request import check_request
from axonhub.formats.openai_responses.traits import TRAITS
from axonhub.formats.spec import Counting, Endpoint, Format, WireFormat, count_in

if TYPE_CHECKING:
    from axonhub.config import Channel

PATHS = ("/v1/responses", "/openai/v1/responses")


def _count_request(request: ir.Request, channel: Channel) -> dict[str, Any]:
    return render_count_request(request)


def _read_count(answer: Mapping[str, Any]) -> int | None:
    return count_in(answer, "input_tokens")


def _count_answer(tokens: int) -> dict[str, Any]:
    return {"object": "response.input_tokens", "input_tokens": tokens}


FORMAT = Format(
    wire=WireFormat.OPENAI_RESPONSES,
    codec=CODEC,
    dialect=DIALECT,
    endpoints=(
        Endpoint("responses", "responses", PATHS, check_request, continuation=CONTINUATION),
        Endpoint(
            "responses/input_tokens",
            "count_tokens",
            tuple(f"{path}/input_tokens" for path in PATHS),
            check_request,
            counts=True,
            stream=False,
            continuation=CONTINUATION,  # previous_response_id: the conversation it continues is counted too
        ),
    ),
    generate="responses",
    traits=TRAITS,
    channel_types=("openai_responses",),
    path_prefixes=PATHS,
    sessions=True,  # Codex: the session-id header
    counting=Counting("responses/input_tokens", _count_request, _read_count, _count_answer),
)
