"""OpenAI Responses as the gateway serves it: its route, its codec, its dialect, its channel type.

Codex and the openai SDK's `client.responses` call `POST /responses` under a base URL of
`http://host:port/v1` or `http://host:port/openai/v1`. A channel of type `openai_responses` is
OpenAI's own Responses API (or a server with its paths): Responses clients reach it on the fast path,
Anthropic and Chat clients through the IR. Codex names its session in the `session-id` header on
every request, which the trace groups by.
"""

from __future__ import annotations

from axonhub.formats.openai_responses.codec import CODEC
from axonhub.formats.openai_responses.conversation import CONTINUATION
from axonhub.formats.openai_responses.dialect import DIALECT
from axonhub.formats.openai_responses.request import check_request
from axonhub.formats.openai_responses.traits import TRAITS
from axonhub.formats.spec import Endpoint, Format, WireFormat

PATHS = ("/v1/responses", "/openai/v1/responses")

FORMAT = Format(
    wire=WireFormat.OPENAI_RESPONSES,
    codec=CODEC,
    dialect=DIALECT,
    endpoints=(Endpoint("responses", "responses", PATHS, check_request, continuation=CONTINUATION),),
    generate="responses",
    traits=TRAITS,
    channel_types=("openai_responses",),
    path_prefixes=PATHS,
    sessions=True,  # Codex: the session-id header
)
