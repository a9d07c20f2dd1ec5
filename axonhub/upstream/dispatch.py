"""Channel choice and failover: try the route's candidates in order until one gives an accepted answer.

Candidates of equal priority are shuffled by weight for each request. A channel that failed with a
retryable error (connection refused, timeout, 429, 5xx, a 200 whose body is broken or an error)
cools down for a while and is tried last until then. A non-retryable upstream error (400, 404, …)
goes straight back to the client: another channel would only fail the same way. Everything here
happens before the client is sent a byte, so failing over is always safe.

With a limiter, each attempt first takes a slot of its channel (waiting in the channel's queue when
it has `max_concurrent`); a channel at its limit is passed over without a cool-down. A 429 that is an
exhausted provider quota (daily, monthly) makes the limiter skip the channel until its reset.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from axonhub.errors import RETRYABLE_KINDS, ErrorKind, GatewayError, UpstreamError
from axonhub.exchange import Attempt, Exchange
from axonhub.limits.limiter import ChannelPass, Limiter
from axonhub.profiles import Candidate
from axonhub.upstream.answer import Answer
from axonhub.upstream.client import Transport, UpstreamCall, UpstreamResponse, read_error_body, send

COOLDOWN_BASE = 2.0
# Headers of an upstream error answer that tell the client when to retry; they go back with the error.
RETRY_HEADERS = frozenset({"retry-after", "retry-after-ms"})
COOLDOWN_MAX = 60.0

# (status, raw body, channel name) -> the error a client should see
ErrorParser = Callable[[int, bytes, str], UpstreamError]
# (candidate, its 2xx response) -> the accepted answer, or an UpstreamError for a broken one
Acceptor = Callable[[Candidate, UpstreamResponse], Awaitable[Answer]]


@dataclass(slots=True)
class ChannelHealth:
    """Per-app cooldown state: channel name -> (failures in a row, cooling until)."""

    _state: dict[str, tuple[int, float]] = field(default_factory=dict)

    def cooling(self, channel: str, now: float) -> bool:
        state = self._state.get(channel)
        return state is not None and state[1] > now

    def failed(self, channel: str, now: float) -> None:
        failures = self._state.get(channel, (0, 0.0))[0] + 1
        self._state[channel] = (failures, now + min(COOLDOWN_BASE * 2 ** (failures - 1), COOLDOWN_MAX))

    def succeeded(self, channel: str) -> None:
        self._state.pop(channel, None)

    def cooldown(self, channel: str, now: float) -> tuple[int, float]:
        """(failures in a row, seconds of cool-down left) of a channel; (0, 0.0) when it is healthy."""
        failures, until = self._state.get(channel, (0, 0.0))
        return failures, max(0.0, until - now)


def order_candidates(candidates: tuple[Candidate, ...], health: ChannelHealth) -> list[Candidate]:
    """Priority groups in order; weighted shuffle inside a group; cooling channels last."""
    now = time.monotonic()
    groups: dict[int, list[Candidate]] = {}
    for candidate in candidates:
        groups.setdefault(candidate.channel.priority, []).append(candidate)
    ordered: list[Candidate] = []
    for priority in sorted(groups):
        ordered += _weighted_shuffle(groups[priority])
    return [c for c in ordered if not health.cooling(c.channel.name, now)] + [
        c for c in ordered if health.cooling(c.channel.name, now)
    ]


def _weighted_shuffle(group: list[Candidate]) -> list[Candidate]:
    if len(group) < 2:
        return group
    keyed = [(random.random() ** (1.0 / c.channel.weight), c) for c in group]
    return [c for _, c in sorted(keyed, key=lambda pair: pair[0], reverse=True)]


async def dispatch(
    transport: Transport,
    exchange: Exchange,
    candidates: list[Candidate],
    prepare: Callable[[Candidate], UpstreamCall],
    parse_error: Callable[[Candidate], ErrorParser],
    accept: Acceptor,
    health: ChannelHealth,
    limiter: Limiter | None = None,
) -> tuple[Candidate, Answer]:
    """The first candidate whose answer is accepted, with that answer; else the last error."""
    last: GatewayError | None = None
    for candidate in candidates:
        name = candidate.channel.name
        attempt = Attempt(channel=name, upstream_model=candidate.upstream_model)
        exchange.attempts.append(attempt)
        began = time.perf_counter()
        attempt.started_ms = (began - exchange.started) * 1000
        if exchange.upstream_started is None:
            exchange.upstream_started = began
        try:
            slot = (
                await limiter.enter_channel(candidate.channel, exchange.client_format)
                if limiter is not None and not candidate.channel.limits.empty
                else None
            )
        except GatewayError as refused:  # at its limit (or its limits cannot be checked): the next one, no cool-down
            attempt.error = refused.message
            last = refused
            continue
        finally:
            attempt.queued_ms = (time.perf_counter() - began) * 1000
        try:
            answer = await _attempt(transport, candidate, attempt, prepare, parse_error, accept, limiter)
        except UpstreamError as err:
            _release(slot)
            attempt.error = err.message
            last = err
            if limiter is not None and limiter.exhausted_until(name) is not None:
                continue  # an exhausted quota: skipped until it resets, instead of a cool-down
            if err.kind not in RETRYABLE_KINDS:
                raise
            health.failed(name, time.monotonic())
            continue
        except BaseException:
            _release(slot)
            raise
        finally:
            attempt.latency_ms = (time.perf_counter() - began) * 1000
        health.succeeded(name)
        if limiter is not None:
            limiter.hold(exchange.request_id, exchange.key, slot)  # given back when the exchange ends
        if not answer.is_stream:
            exchange.mark_first_byte()
            exchange.upstream_finished = time.perf_counter()
        return candidate, answer
    assert last is not None, "dispatch needs at least one candidate"
    raise last


async def _attempt(
    transport: Transport,
    candidate: Candidate,
    attempt: Attempt,
    prepare: Callable[[Candidate], UpstreamCall],
    parse_error: Callable[[Candidate], ErrorParser],
    accept: Acceptor,
    limiter: Limiter | None = None,
) -> Answer:
    """One upstream request: its accepted answer, or the UpstreamError it ended in."""
    name = candidate.channel.name
    response = await send(transport, prepare(candidate), candidate.channel.timeouts, name)
    attempt.status = response.status
    if response.status < 400:
        return await accept(candidate, response)
    err = parse_error(candidate)(response.status, await read_error_body(response), name)
    if err.kind in (ErrorKind.AUTH, ErrorKind.PERMISSION):
        err = credentials_rejected(err, candidate)
    err.headers.update({k: v for k, v in response.headers.items() if k.lower() in RETRY_HEADERS})
    if response.status == 429 and limiter is not None and limiter.quota_exhausted(name, err.message, response.headers):
        # Skipped until the quota resets; the client is told when, as every later refusal tells it.
        present = {header.lower() for header in err.headers}
        err.headers.update({k: v for k, v in limiter.quota_headers(name).items() if k not in present})
    raise err


def _release(slot: ChannelPass | None) -> None:
    if slot is not None:
        slot.release()


def credentials_rejected(err: UpstreamError, candidate: Candidate) -> UpstreamError:
    """An upstream 401/403 means the channel's own key is wrong, not the client's AxonHub key.

    Passing it on as a 401 would make Claude Code ask its user to log in again and retry; it is a
    gateway-side fault (502), and another channel may still serve the request. Which variable holds
    the key is an operator hint, shown to clients only where `server.operator_hints` allows.
    """
    channel = candidate.channel
    return UpstreamError(
        f"[{channel.name}] the upstream rejected this channel's credentials with HTTP {err.status}: "
        f"{err.message.removeprefix(f'[{channel.name}] ')}",
        kind=ErrorKind.BAD_GATEWAY,
        channel=channel.name,
        detail=err.detail,
        hint=f"check the key in {channel.api_key_env}" if channel.api_key_env else None,
    )
