"""Typed keys for what the app and each request carry (aiohttp `AppKey`s and request keys)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from axonhub.conversations import ConversationStore
from axonhub.exchange import Exchange
from axonhub.redact import Redactor
from axonhub.reload import ConfigHolder
from axonhub.trace_record import TraceRecord
from axonhub.upstream.dispatch import ChannelHealth

CONFIG_HOLDER = web.AppKey("config_holder", ConfigHolder)
CHANNEL_HEALTH = web.AppKey("channel_health", ChannelHealth)
# The conversations behind recent answers, for requests that continue one by its id.
CONVERSATIONS = web.AppKey("conversations", ConversationStore)
# Hides the config's secrets and the request's own key in everything the app writes.
REDACTOR = web.AppKey("redactor", Redactor)
# Routes that need no AxonHub key (health, metrics, Claude Code's probes), by canonical path.
PUBLIC_PATHS = web.AppKey("public_paths", frozenset)
# Called with each finished exchange's trace record: the trace writer, the metrics.
ON_EXCHANGE_DONE = web.AppKey("on_exchange_done", list[Callable[[TraceRecord], None]])

# The request ids of the exchanges in flight: a client's own `x-request-id` is used only while no
# other request in flight has it (the limits give back each exchange's slots by its id).
REQUEST_IDS = web.AppKey("request_ids", set[str])

EXCHANGE = web.RequestKey("exchange", Exchange)
