"""The neutral internal representation: requests, responses and stream events every codec speaks.

Shaped after Anthropic Messages (typed blocks, signed reasoning, per-block streaming) with a few
fields on top. Wire formats convert to and from these types; nothing
here knows JSON or HTTP. Every block and tool carries `provider_metadata`, a small read-only mapping
for opaque data that must survive a round trip (cache_control, a tool's `strict` flag, raw server
tool specs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from axonhub.errors import ErrorKind

Metadata = Mapping[str, Any]
NO_METADATA: Metadata = MappingProxyType({})


def _no_metadata() -> Metadata:
    return NO_METADATA


# ---------------------------------------------------------------------------------------- blocks


class SourceKind(StrEnum):
    """Where the bytes of an image or document are: inline base64, a URL, or plain text."""

    BASE64 = "base64"
    URL = "url"
    TEXT = "text"


class ToolKind(StrEnum):
    FUNCTION = "function"
    CUSTOM = "custom"  # freeform input string (Codex apply_patch)
    SERVER = "server"  # a provider-hosted tool (Anthropic web_search_…): opaque, cannot cross providers


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    provider_metadata: Metadata = field(default_factory=_no_metadata)


@dataclass(frozen=True, slots=True)
class Image:
    source: SourceKind  # BASE64 or URL
    data: str  # base64 payload or URL
    media_type: str = ""
    provider_metadata: Metadata = field(default_factory=_no_metadata)


@dataclass(frozen=True, slots=True)
class Document:
    source: SourceKind
    data: str  # base64 payload, URL or the text itself
    media_type: str = ""
    title: str | None = None
    context: str | None = None
    provider_metadata: Metadata = field(default_factory=_no_metadata)


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    args_json: str  # the arguments as a JSON text (an object once complete)
    kind: ToolKind = ToolKind.FUNCTION
    provider_metadata: Metadata = field(default_factory=_no_metadata)


@dataclass(frozen=True, slots=True)
class ToolResult:
    call_id: str
    content: tuple[Text | Image | Document, ...] = ()
    is_error: bool = False
    provider_metadata: Metadata = field(default_factory=_no_metadata)


@dataclass(frozen=True, slots=True)
class Thinking:
    """Reasoning text with its signature: a real provider signature or a gateway `gw1.` carrier."""

    text: str
    signature: str | None = None
    provider_metadata: Metadata = field(default_factory=_no_metadata)


@dataclass(frozen=True, slots=True)
class RedactedThinking:
    data: str
    provider_metadata: Metadata = field(default_factory=_no_metadata)


@dataclass(frozen=True, slots=True)
class Opaque:
    """A block only its own provider understands (server tool calls and results), kept raw."""

    provider: str
    raw: Mapping[str, Any]
    provider_metadata: Metadata = field(default_factory=_no_metadata)


Block = Text | Image | Document | ToolCall | ToolResult | Thinking | RedactedThinking | Opaque


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: tuple[Block, ...]


# ---------------------------------------------------------------------------------------- request


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str = ""
    json_schema: Mapping[str, Any] = field(default_factory=_no_metadata)
    kind: ToolKind = ToolKind.FUNCTION
    provider_metadata: Metadata = field(default_factory=_no_metadata)


class ToolChoiceMode(StrEnum):
    AUTO = "auto"
    ANY = "any"  # must call some tool
    TOOL = "tool"  # must call the named tool
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ToolChoice:
    mode: ToolChoiceMode = ToolChoiceMode.AUTO
    name: str | None = None
    parallel: bool = True


class ReasoningMode(StrEnum):
    DEFAULT = "default"  # the client said nothing: the model's own default
    OFF = "off"
    ON = "on"  # a token budget
    ADAPTIVE = "adaptive"  # the model decides, steered by `effort`


@dataclass(frozen=True, slots=True)
class Reasoning:
    mode: ReasoningMode = ReasoningMode.DEFAULT
    budget_tokens: int | None = None
    effort: str | None = None  # low | medium | high | xhigh | max (also minimal from OpenAI clients)
    display: str | None = None  # Anthropic `summarized` | `omitted`


# A thinking budget for each effort level, where a provider takes a budget and the client gave a level.
_EFFORT_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576, "xhigh": 32768, "max": 65536}


def effort_budget(effort: str | None) -> int:
    """The thinking budget that stands for an effort level (`high`'s for a level this table does not know)."""
    return _EFFORT_BUDGETS.get(effort or "high", _EFFORT_BUDGETS["high"])


def budget_effort(budget: int | None) -> str:
    """The effort level a thinking budget stands for: the highest whose budget it reaches (`high` for none)."""
    if budget is None:
        return "high"
    reached = [e for e in ("low", "medium", "high", "xhigh", "max") if budget >= _EFFORT_BUDGETS[e]]
    return reached[-1] if reached else "low"


class ResponseFormatKind(StrEnum):
    TEXT = "text"
    JSON_OBJECT = "json_object"
    JSON_SCHEMA = "json_schema"


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    kind: ResponseFormatKind
    schema: Mapping[str, Any] | None = None
    name: str = "output"
    strict: bool = True


@dataclass(frozen=True, slots=True)
class Request:
    model: str
    messages: tuple[Message, ...]
    system: tuple[Text, ...] = ()
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] = ()
    stream: bool = False
    stream_usage: bool = False  # a streaming OpenAI client asked for a final usage chunk
    reasoning: Reasoning = Reasoning()
    response_format: ResponseFormat | None = None
    user_id: str | None = None
    provider_metadata: Metadata = field(default_factory=_no_metadata)
    notes: tuple[str, ...] = ()  # what the client asked for that this request leaves out, for the trace


# ---------------------------------------------------------------------------------------- response


class StopReason(StrEnum):
    END_TURN = "end_turn"
    MAX_TOKENS = "max_tokens"
    STOP_SEQUENCE = "stop_sequence"
    TOOL_USE = "tool_use"
    REFUSAL = "refusal"
    PAUSE_TURN = "pause_turn"
    CONTEXT_EXCEEDED = "context_exceeded"


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts: the three input buckets are disjoint (cached reads and writes are not in `input_uncached`)."""

    input_uncached: int = 0
    cache_read: int = 0
    cache_write: int = 0
    output: int = 0  # includes reasoning
    reasoning_output: int = 0

    @property
    def input_total(self) -> int:
        return self.input_uncached + self.cache_read + self.cache_write


@dataclass(frozen=True, slots=True)
class Response:
    id: str
    model: str
    content: tuple[Block, ...]
    stop_reason: StopReason = StopReason.END_TURN
    stop_sequence: str | None = None
    usage: Usage = Usage()


# ---------------------------------------------------------------------------------------- stream


class DeltaKind(StrEnum):
    TEXT = "text"
    THINKING = "thinking"
    ARGS_JSON = "args_json"
    SIGNATURE = "signature"


@dataclass(frozen=True, slots=True)
class MessageStart:
    id: str
    model: str
    usage: Usage = Usage()


@dataclass(frozen=True, slots=True)
class BlockStart:
    """A block opens; `block` is its empty shell (Text(""), Thinking(""), ToolCall(id, name, "")…)."""

    index: int
    block: Block


@dataclass(frozen=True, slots=True)
class BlockDelta:
    index: int
    kind: DeltaKind
    value: str


@dataclass(frozen=True, slots=True)
class BlockStop:
    index: int


@dataclass(frozen=True, slots=True)
class Finish:
    stop_reason: StopReason
    stop_sequence: str | None = None
    usage: Usage = Usage()


@dataclass(frozen=True, slots=True)
class StreamError:
    kind: ErrorKind
    message: str  # what the client reads
    detail: str | None = field(default=None, compare=False)  # for the log and the trace only


StreamEvent = MessageStart | BlockStart | BlockDelta | BlockStop | Finish | StreamError
