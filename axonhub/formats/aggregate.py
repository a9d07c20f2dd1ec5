"""A whole response as a one-shot stream, and a stream reduced back to a whole response.

With these two a codec needs only one way to talk to a client per direction: a non-streaming
upstream answer can feed a stream encoder (`response_events`), and a stream can answer a
non-streaming client (`aggregate`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import assert_never

from axonhub import ir
from axonhub.errors import ErrorKind, UpstreamError

TRUNCATED = "the upstream stream ended before its answer was complete"


def response_events(response: ir.Response) -> list[ir.StreamEvent]:
    """The events a stream of exactly this response would carry, one delta per block part."""
    events: list[ir.StreamEvent] = [ir.MessageStart(response.id, response.model, response.usage)]
    for index, block in enumerate(response.content):
        events += _block_events(index, block)
    events.append(ir.Finish(response.stop_reason, response.stop_sequence, response.usage))
    return events


def _block_events(index: int, block: ir.Block) -> list[ir.StreamEvent]:
    deltas: list[tuple[ir.DeltaKind, str]] = []
    shell: ir.Block = block
    match block:
        case ir.Text(text=text):
            shell, deltas = replace(block, text=""), [(ir.DeltaKind.TEXT, text)]
        case ir.Thinking(text=text, signature=signature):
            shell = replace(block, text="", signature=None)
            deltas = [(ir.DeltaKind.THINKING, text), (ir.DeltaKind.SIGNATURE, signature or "")]
        case ir.ToolCall(args_json=args):
            shell, deltas = replace(block, args_json=""), [(ir.DeltaKind.ARGS_JSON, args)]
        case ir.Image() | ir.Document() | ir.ToolResult() | ir.RedactedThinking() | ir.Opaque():
            pass
        case _:
            assert_never(block)
    middle: list[ir.StreamEvent] = [ir.BlockDelta(index, kind, value) for kind, value in deltas if value]
    return [ir.BlockStart(index, shell), *middle, ir.BlockStop(index)]


@dataclass(slots=True)
class _Builder:
    shell: ir.Block
    parts: dict[ir.DeltaKind, list[str]] = field(default_factory=dict)

    def add(self, kind: ir.DeltaKind, value: str) -> None:
        self.parts.setdefault(kind, []).append(value)

    def joined(self, kind: ir.DeltaKind) -> str:
        return "".join(self.parts.get(kind, ()))

    def build(self) -> ir.Block:
        block = self.shell
        match block:
            case ir.Text():
                return replace(block, text=block.text + self.joined(ir.DeltaKind.TEXT))
            case ir.Thinking():
                signature = self.joined(ir.DeltaKind.SIGNATURE) or block.signature
                return replace(block, text=block.text + self.joined(ir.DeltaKind.THINKING), signature=signature)
            case ir.ToolCall():
                return replace(block, args_json=block.args_json + self.joined(ir.DeltaKind.ARGS_JSON))
            case ir.Image() | ir.Document() | ir.ToolResult() | ir.RedactedThinking() | ir.Opaque():
                return block
            case _:
                assert_never(block)


def aggregate(events: Iterable[ir.StreamEvent]) -> ir.Response:
    """Reduce a stream to the response it describes; a StreamError or a truncation raises UpstreamError."""
    start: ir.MessageStart | None = None
    builders: dict[int, _Builder] = {}
    order: list[int] = []
    for event in events:
        match event:
            case ir.MessageStart():
                start = event
            case ir.BlockStart(index=index, block=block):
                builders[index] = _Builder(block)
                order.append(index)
            case ir.BlockDelta(index=index, kind=kind, value=value):
                if index in builders:
                    builders[index].add(kind, value)
            case ir.BlockStop():
                pass
            case ir.Finish():
                return ir.Response(
                    id=start.id if start else "",
                    model=start.model if start else "",
                    content=tuple(builders[i].build() for i in order),
                    stop_reason=event.stop_reason,
                    stop_sequence=event.stop_sequence,
                    usage=event.usage,
                )
            case ir.StreamError(kind=kind, message=message):
                raise UpstreamError(message, kind=kind)
            case _:
                assert_never(event)
    raise UpstreamError(TRUNCATED, kind=ErrorKind.SERVER)
