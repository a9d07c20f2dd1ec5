"""SSE framing: the spec-exact decoder and the fast event picker used beside relayed streams."""

from __future__ import annotations

import pytest

from axonhub.sse import EventPicker, ServerSentEvent, SSEDecoder, encode_event

STREAM = (
    b": keep-alive\n\n"
    b'event: message_start\ndata: {"a":1}\n\n'
    b'event: content_block_delta\ndata: {"text":"h\xc3\xa9"}\n\n'
    b"data: line one\ndata: line two\n\n"
    b"event: message_stop\ndata: {}\n\n"
)
EXPECTED = [
    ServerSentEvent("message_start", '{"a":1}'),
    ServerSentEvent("content_block_delta", '{"text":"hé"}'),
    ServerSentEvent(None, "line one\nline two"),
    ServerSentEvent("message_stop", "{}"),
]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_the_decoder_gives_the_same_events_however_the_bytes_are_cut(size: int) -> None:
    decoder = SSEDecoder()
    events = []
    for i in range(0, len(STREAM), size):
        events += decoder.feed(STREAM[i : i + size])
    assert events + decoder.finish() == EXPECTED


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"])
def test_the_decoder_accepts_crlf_and_cr_even_split_between_reads(newline: bytes) -> None:
    stream = STREAM.replace(b"\n", newline)
    decoder = SSEDecoder()
    events = [e for i in range(len(stream)) for e in decoder.feed(stream[i : i + 1])]
    assert events + decoder.finish() == EXPECTED


def test_a_last_event_without_its_blank_line_is_flushed_at_the_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: [DONE]") == []
    assert decoder.finish() == [ServerSentEvent(None, "[DONE]")]


@pytest.mark.parametrize("size", [1, 5, 64, 1000])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_the_picker_returns_only_the_wanted_events(size: int, newline: bytes) -> None:
    stream = STREAM.replace(b"\n", newline)
    picker = EventPicker(frozenset({"message_start", "message_stop"}))
    events = [e for i in range(0, len(stream), size) for e in picker.feed(stream[i : i + size])]
    assert events == [EXPECTED[0], EXPECTED[3]]


def test_encoded_events_decode_back_and_are_ascii_safe() -> None:
    frame = encode_event("content_block_delta", {"text": "\ud83d"})  # a lone surrogate half
    assert frame.isascii()
    assert SSEDecoder().feed(frame) == [ServerSentEvent("content_block_delta", '{"text":"\\ud83d"}')]
