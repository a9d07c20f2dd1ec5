"""A token count served through another format's counting endpoint (Claude Code's count_tokens on a
Gemini channel: Gemini's `:countTokens`).

The client's count request, already in the IR, is rendered by the channel format's `Counting` as its
own count request; the channel's answer is read for its input tokens, which the client's format
renders as the answer its clients read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from axonhub import fastjson, ir
from axonhub.errors import ErrorKind, UpstreamError, describe_body
from axonhub.exchange import Exchange
from axonhub.formats.spec import Counting, Format
from axonhub.profiles import Candidate
from axonhub.upstream.answer import Answer, accept_in
from axonhub.upstream.client import UpstreamCall, UpstreamResponse, forwarded_headers
from axonhub.upstream.dispatch import ErrorParser


@dataclass(frozen=True, slots=True)
class CountPlan:
    """Count the tokens of `request` (a client of format `client`) on a channel of format `upstream`."""

    client: Format
    upstream: Format
    request: ir.Request
    headers: Mapping[str, str]

    @property
    def _counting(self) -> Counting:
        assert self.upstream.counting is not None, "a CountPlan needs a channel format that counts"
        return self.upstream.counting

    def call(self, candidate: Candidate) -> UpstreamCall:
        channel, model = candidate.channel, candidate.upstream_model
        counting, dialect = self._counting, self.upstream.dialect
        body = counting.render_request(dataclasses.replace(self.request, model=model, stream=False), channel)
        return UpstreamCall(
            url=dialect.url(channel, counting.endpoint, model, False),
            headers=dialect.headers(self.headers, channel, False),
            body=fastjson.dumps(body),
        )

    def error_parser(self, candidate: Candidate) -> ErrorParser:
        return self.upstream.codec.parse_error

    async def accept(self, candidate: Candidate, response: UpstreamResponse) -> Answer:
        return await accept_in(self.upstream, candidate.channel.name, response)

    async def respond(
        self, request: web.Request, exchange: Exchange, candidate: Candidate, answer: Answer
    ) -> web.StreamResponse:
        name = candidate.channel.name
        tokens = self._counting.read_answer(answer.payload) if answer.payload is not None else None
        if tokens is None:
            raise UpstreamError(
                f"[{name}] the upstream's token count answer holds no count",
                kind=ErrorKind.BAD_GATEWAY,
                channel=name,
                detail=describe_body(answer.body or b""),
            )
        assert self.client.counting is not None, "a counting endpoint's format renders its answer"
        exchange.counted_tokens = tokens
        exchange.status = 200
        return web.json_response(
            self.client.counting.render_answer(tokens),
            headers={**forwarded_headers(answer.response), **exchange.id_headers()},
        )
