"""Gemini's HTTP side: channel URLs and headers, the fast path's body, the side reader of a relayed
stream, and the check that sends another provider's reasoning through the IR instead."""

from __future__ import annotations

import base64
import json
from types import MappingProxyType
from typing import Any

import pytest

from axonhub import ir
from axonhub.config import Channel, ModelMatcher
from axonhub.errors import ErrorKind
from axonhub.formats.anthropic.dialect import foreign_reasoning as anthropic_foreign
from axonhub.formats.carrier import make_carrier
from axonhub.formats.gemini.dialect import StreamReader, fit, foreign_reasoning, headers, summary, url, with_model
from tests.fakes import gemini as g_wire


def channel(base_url: str = "https://generativelanguage.googleapis.com") -> Channel:
    return Channel(
        "g", "gemini", base_url, ModelMatcher(), api_key="AIza-key", headers=MappingProxyType({"X-Extra": "1"})
    )


@pytest.mark.parametrize(
    ("base", "endpoint", "stream", "expected"),
    [
        (
            "https://g.example",
            "generateContent",
            False,
            "https://g.example/v1beta/models/gemini-2.5-flash:generateContent",
        ),
        (
            "https://g.example/",
            "generateContent",
            True,
            "https://g.example/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        ),
        ("https://g.example/v1", "countTokens", False, "https://g.example/v1/models/gemini-2.5-flash:countTokens"),
    ],
)
def test_the_url_names_the_model_and_the_action(base: str, endpoint: str, stream: bool, expected: str) -> None:
    assert url(channel(base), endpoint, "gemini-2.5-flash", stream) == expected


def test_the_channels_key_goes_in_a_header_never_the_clients() -> None:
    sent = headers({"x-goog-api-key": "ah-client", "Authorization": "Bearer ah-client"}, channel(), True)
    assert sent == {
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        "User-Agent": sent["User-Agent"],
        "x-goog-api-key": "AIza-key",
        "X-Extra": "1",
    }
    assert sent["User-Agent"].startswith("axonhub/")


def test_the_fast_path_keeps_the_body_but_for_a_count_requests_inner_model() -> None:
    raw = b'{"contents": [{"parts": [{"text": "model"}]}]}'
    assert with_model(raw, json.loads(raw), "gemini-2.5-pro") is raw
    counted = {"generateContentRequest": {"model": "models/gemini-x", "contents": []}}
    rewritten = with_model(json.dumps(counted).encode(), counted, "gemini-2.5-pro")
    assert json.loads(rewritten) == {"generateContentRequest": {"model": "models/gemini-2.5-pro", "contents": []}}


@pytest.mark.parametrize("cut", [1, 7, 100_000])
def test_the_side_reader_takes_the_id_the_last_usage_and_the_finish(cut: int) -> None:
    raw = b"".join(
        g_wire.data(c)
        for c in (
            g_wire.chunk([g_wire.text("a")], chunk_usage=g_wire.usage(10, 1)),
            g_wire.chunk([g_wire.text("b")], chunk_usage=g_wire.usage(10, 2)),
            g_wire.chunk([], "STOP", chunk_usage=g_wire.usage(10, 3, cached=4)),
        )
    )
    reader = StreamReader()
    for at in range(0, len(raw), cut):
        reader.feed(raw[at : at + cut])
    reader.finish()
    assert (reader.upstream_id, reader.stop_reason, reader.usage, reader.error, reader.terminated) == (
        g_wire.RESPONSE_ID,
        "STOP",
        ir.Usage(input_uncached=6, cache_read=4, output=3),
        None,
        False,
    )


def test_the_side_reader_sees_an_error_chunk_and_a_blocked_prompt() -> None:
    reader = StreamReader()
    reader.feed(g_wire.data(g_wire.chunk([g_wire.text("a")])) + g_wire.data(g_wire.error(503, "busy", "UNAVAILABLE")))
    reader.finish()
    assert reader.error == (ErrorKind.OVERLOADED, "busy")
    assert summary(g_wire.blocked("SAFETY")).stop_reason == "SAFETY"


def test_another_providers_reasoning_is_recognised_in_either_format() -> None:
    ours = base64.b64encode(make_carrier("anthropic", "claude", sig="s", text="t").encode()).decode()
    assert foreign_reasoning(json.dumps({"contents": [{"parts": [{"thoughtSignature": ours}]}]}).encode())
    assert foreign_reasoning(json.dumps({"contents": [{"parts": [{"thought_signature": ours}]}]}, indent=1).encode())
    assert not foreign_reasoning(
        json.dumps({"contents": [{"parts": [{"thoughtSignature": g_wire.SIGNATURE}]}]}).encode()
    )
    assert anthropic_foreign(b'{"type":"thinking","thinking":"x","signature": "gw1.eyJwIjoiZ2VtaW5pIn0"}')
    assert not anthropic_foreign(b'{"type":"thinking","thinking":"gw1.","signature":"EqQBreal=="}')


def test_routing_reads_thinking_images_and_tools_off_a_gemini_body() -> None:
    from axonhub.formats.gemini.traits import TRAITS

    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "x"}, {"inlineData": {"mimeType": "image/png", "data": "AA"}}]}
        ],
        "tools": [{"functionDeclarations": [{"name": "Read_File"}]}, {"googleSearch": {}}],
        "generationConfig": {"thinkingConfig": {"thinkingBudget": 1024}},
    }
    assert (TRAITS.asks_thinking(body), TRAITS.has_images(body), TRAITS.offered_tools(body)) == (
        True,
        True,
        frozenset({"read_file", "web_search"}),
    )
    off = {"contents": [{"parts": [{"fileData": {"mimeType": "application/pdf", "fileUri": "gs://x"}}]}]}
    off["generation_config"] = {"thinking_config": {"thinking_budget": 0}}
    assert (TRAITS.asks_thinking(off), TRAITS.has_images(off), TRAITS.offered_tools(off)) == (False, False, frozenset())


@pytest.mark.parametrize(
    ("thinking", "model", "sent"),
    [
        # a level before Gemini 3, which refuses it: the budget it stands for, dynamic for HIGH
        (
            {"thinkingLevel": "LOW", "includeThoughts": True},
            "gemini-2.5-flash",
            {"thinkingBudget": 2048, "includeThoughts": True},
        ),
        ({"thinkingLevel": "MEDIUM"}, "gemini-2.5-pro", {"thinkingBudget": 8192, "includeThoughts": False}),
        (
            {"thinkingLevel": "HIGH", "includeThoughts": True},
            "gemini-2.5-pro",
            {"thinkingBudget": -1, "includeThoughts": True},
        ),
        # Gemini 3 takes levels and budgets alike, 2.5 budgets: as they came
        ({"thinkingLevel": "HIGH"}, "gemini-3-pro-preview", None),
        ({"thinkingBudget": 512}, "gemini-2.5-flash", None),
    ],
)
def test_a_thinking_level_sent_to_a_model_before_gemini_3_becomes_a_budget(
    thinking: dict[str, Any], model: str, sent: dict[str, Any] | None
) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"thinkingConfig": thinking}}
    fitted = fit(body, model, channel())
    if sent is None:
        assert fitted is None
    else:
        assert fitted == {**body, "generationConfig": {"thinkingConfig": sent}}
    counted = {"generateContentRequest": {"model": "models/gemini-3-pro-preview", **body}}
    relayed = fit(counted, model, channel()) or json.loads(with_model(json.dumps(counted).encode(), counted, model))
    inner = relayed["generateContentRequest"]
    assert inner["model"] == f"models/{model}"
    assert inner["generationConfig"]["thinkingConfig"] == (thinking if sent is None else sent)
