"""Replays: recorded requests re-sent through the running gateway under another profile.

A replay is a real gateway request, over loopback to the server's own socket, so it goes through
auth, profiles, dispatch, failover and the trace exactly like client traffic. It carries the admin
token and the replay headers (`access.py`): it runs as the recorded key (or the one asked for)
under the chosen profile, its record gets `replay_of` and a trace id of its own, and it is never
counted as usage. The recorded body is sent as it was recorded (redacted by the trace: a value the
trace masked is sent masked). A session replay sends every model call of the session in order and
waits for each answer before the next; the recorded tool results are in the recorded bodies, so
nothing runs locally.

The answers come back as NDJSON, one line as each pair is done:

    {"type": "start", "trace_id", "profile", "key", "requests": N}
    {"type": "pair", "index": 0, "original": {…}, "replay": {…}, "difference": {…}}
    {"type": "done", "totals": {…}}
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from axonhub import __version__
from axonhub.config import Config, Price
from axonhub.dashboard.access import (
    REPLAY_KEY_HEADER,
    REPLAY_OF_HEADER,
    REPLAY_PROFILE_HEADER,
    REPLAY_TRACE_HEADER,
)
from axonhub.dashboard.answers import answer, difference, totals
from axonhub.dashboard.index import REPLAY, Index
from axonhub.dashboard.live import LiveHub
from axonhub.dashboard.queries import find_request, replayable
from axonhub.stream_answer import StreamAnswer, format_named, model_only
from axonhub.trace_record import MODEL_CALLS, TraceRecord

RECORD_WAIT_S: Final = 30.0
MAX_SESSION_REQUESTS: Final = 2000


class ReplayRefused(Exception):
    """A replay that cannot start: unknown request or session, no body, unknown profile or key."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    originals: tuple[TraceRecord, ...]
    profile: str
    key: str
    trace_id: str


def plan(
    index: Index,
    config: Config,
    *,
    request_id: str | None,
    session: str | None,
    profile: str,
    key: str | None,
) -> ReplayPlan:
    """What to replay, checked against the index and the live config (under the index lock)."""
    if profile not in config.profiles:
        known = ", ".join(sorted(config.profiles)) or "none"
        raise ReplayRefused(f"no profile named '{profile}' (profiles: {known})")
    if session:
        originals = _session_originals(index, session)
    elif request_id:
        originals = [_one_original(index, request_id)]
    else:
        raise ReplayRefused("give a request id or a session (trace) id to replay")
    key_name = key or originals[0].get("key")
    if not key_name:
        raise ReplayRefused("the recorded request has no key; choose the key to replay as")
    found = config.key_by_name(str(key_name))
    if found is None:
        raise ReplayRefused(f"no key named '{key_name}' in the running config; choose the key to replay as")
    if not found.enabled:
        raise ReplayRefused(f"key '{key_name}' is disabled")
    return ReplayPlan(tuple(originals), profile, str(key_name), f"replay-{secrets.token_hex(6)}")


def _one_original(index: Index, request_id: str) -> TraceRecord:
    i = find_request(index, request_id)
    record = index.read(i) if i is not None else None
    if record is None:
        raise ReplayRefused(f"no request '{request_id}' in the trace log", status=404)
    reason = replayable(record)
    if reason is not None:
        raise ReplayRefused(f"request '{request_id}' cannot be replayed: {reason}", status=409)
    return record


def _session_originals(index: Index, trace_id: str) -> list[TraceRecord]:
    s = index.sessions.number.get(trace_id)
    if s is None:
        raise ReplayRefused(f"no session '{trace_id}' in the trace log", status=404)
    records = []
    for i in index.session_records(s):
        if index.flags[i] & REPLAY:  # a replay inside the session: never replayed again
            continue
        record = index.read(i)
        if record is None or record.get("kind") not in MODEL_CALLS:
            continue
        reason = replayable(record)
        if reason is not None:
            raise ReplayRefused(f"request '{record.get('request_id')}' cannot be replayed: {reason}", status=409)
        records.append(record)
    if not records:
        raise ReplayRefused(f"session '{trace_id}' has no model calls to replay", status=409)
    if len(records) > MAX_SESSION_REQUESTS:
        raise ReplayRefused(f"session '{trace_id}' has {len(records)} model calls; at most {MAX_SESSION_REQUESTS}")
    return records


def _headers(original: Mapping[str, Any], replay: ReplayPlan, token: str, request_id: str) -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "User-Agent": f"axonhub-replay/{__version__}",
        "x-request-id": request_id,
        REPLAY_OF_HEADER: str(original.get("request_id")),
        REPLAY_PROFILE_HEADER: replay.profile,
        REPLAY_KEY_HEADER: replay.key,
        REPLAY_TRACE_HEADER: replay.trace_id,
    }
    if original.get("client_format") == "anthropic":
        headers["anthropic-version"] = "2023-06-01"
    return headers


async def _send(
    http: aiohttp.ClientSession, base_url: str, original: Mapping[str, Any], headers: Mapping[str, str]
) -> tuple[int, Any]:
    """POST the recorded body; the answer whole (a stream is read to its end and aggregated)."""
    body = original["request_body"]
    url = base_url + str(original.get("path") or "/v1/messages")
    if url.endswith(":streamGenerateContent"):  # the trace keeps no query: ask Gemini's stream as events
        url += "?alt=sse"
    async with http.post(url, data=json.dumps(body, ensure_ascii=False).encode(), headers=headers) as response:
        if response.content_type == "text/event-stream":
            client = format_named(original.get("client_format"))
            if client is None:
                return response.status, None
            collector = StreamAnswer(client.codec, model_only(str(body.get("model") or "")))
            async for chunk in response.content.iter_any():
                collector.feed_bytes(chunk)
            return response.status, collector.body()
        raw = await response.read()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode("utf-8", "replace")


async def run(
    replay: ReplayPlan,
    *,
    http: aiohttp.ClientSession,
    base_url: str,
    token: str,
    hub: LiveHub,
    pricing: Mapping[str, Price],
) -> AsyncIterator[dict[str, Any]]:
    """Send each original in order and yield the NDJSON lines (module docstring)."""
    yield {
        "type": "start",
        "trace_id": replay.trace_id,
        "profile": replay.profile,
        "key": replay.key,
        "requests": len(replay.originals),
    }
    pairs = []
    for position, original in enumerate(replay.originals):
        request_id = "req_" + secrets.token_hex(12)
        waiter = hub.expect(request_id)
        record: Mapping[str, Any]
        try:
            status, body = await _send(http, base_url, original, _headers(original, replay, token, request_id))
            record = await asyncio.wait_for(waiter, RECORD_WAIT_S)
        except (aiohttp.ClientError, TimeoutError) as exc:
            hub.forget(request_id)
            record = {"request_id": request_id, "status": None, "error": {"type": "replay", "message": str(exc)}}
            status, body = 0, None
        finally:
            hub.forget(request_id)
        replayed = {**record, "client_format": original.get("client_format"), "status": record.get("status") or status}
        pair = {
            "original": answer(original, original.get("response_body"), pricing),
            "replay": answer(replayed, body, pricing),
        }
        pair["difference"] = difference(pair["original"], pair["replay"])
        pairs.append(pair)
        yield {"type": "pair", "index": position, **pair}
    yield {"type": "done", "trace_id": replay.trace_id, "totals": totals(pairs)}
