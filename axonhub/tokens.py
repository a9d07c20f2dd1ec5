"""A local token estimate for count_tokens on channels that have no counting endpoint.

No network, no tokenizer download: the estimate is computed from the request itself.

How it is computed
- Text (system, messages, thinking, tool calls and results, tool names, descriptions and JSON
  schemas serialised compactly): ASCII characters count 1/3.5 token each (English prose and code
  average 3.5 to 4 characters per token on current tokenizers; 3.5 errs towards counting more),
  CJK and other wide characters 1 token each, any other non-ASCII character 1/2 token.
- Structure: 3 tokens per message, 2 per content block, 8 per tool definition, and 350 once when
  tools are present (the tool-use instructions providers add to the prompt).
- Images: the size read from the PNG, GIF or JPEG header, scaled to fit a 1568-pixel long edge,
  at 750 pixels per token (Anthropic's published rule), at most 1600; 1600 when the size is unknown
  (a URL, or a format whose header is not read).
- PDFs: 2000 tokens per page, the pages counted in the file; text documents as text.

How far off it can be
- Prose and code in English: typically within ±15 % of a real tokenizer; unusual text (long digit
  runs, base64 or hex blobs pasted into the prompt, emoji, rare scripts) can be off by up to 2x.
- Images of unknown size count the maximum, so they are overestimated, up to about 20x for a tiny
  image given by URL; PDFs vary by about ±50 % with how much text a page holds.
- The result is a count of the prompt as this gateway sends it to a model, not of any provider's
  hidden system prompt, so a real count may be a few hundred tokens higher.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from collections.abc import Iterable, Mapping
from typing import Any, assert_never

from axonhub import fastjson, ir

ASCII_CHARS_PER_TOKEN = 3.5
PER_MESSAGE = 3
PER_BLOCK = 2
PER_TOOL = 8
TOOLS_PREAMBLE = 350
IMAGE_MAX_TOKENS = 1600
IMAGE_PIXELS_PER_TOKEN = 750
IMAGE_MAX_EDGE = 1568
PDF_PAGE_TOKENS = 2000
_HEADER_BYTES = 64 * 1024  # enough of an image to find its size
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![s\w])")


def estimate_request_tokens(request: ir.Request) -> int:
    """The estimated input tokens of `request`: system, messages, tools, everything."""
    total = sum(text_tokens(t.text) for t in request.system)
    for message in request.messages:
        total += PER_MESSAGE + sum(PER_BLOCK + block_tokens(b) for b in message.content)
    total += tools_tokens(request.tools)
    return max(total, 1)


# CJK ideographs, kana, hangul, fullwidth forms and emoji: about one token per character.
_WIDE = re.compile("[\u2e80-\ua4cf\uac00-\ud7af\uf900-\uffef\U0001f000-\U0010ffff]")


def text_tokens(text: str) -> int:
    """Counted with C-speed string operations: this runs on every request of a transformed channel."""
    if text.isascii():
        return math.ceil(len(text) / ASCII_CHARS_PER_TOKEN)
    ascii_chars = len(text.encode("ascii", "ignore"))
    wide = len(_WIDE.findall(text))
    other = len(text) - ascii_chars - wide
    return math.ceil(ascii_chars / ASCII_CHARS_PER_TOKEN + wide + other / 2)


def tools_tokens(tools: Iterable[ir.Tool]) -> int:
    total = 0
    for tool in tools:
        schema = _compact_json(tool.json_schema)
        total += PER_TOOL + text_tokens(tool.name) + text_tokens(tool.description) + text_tokens(schema)
    return total + TOOLS_PREAMBLE if total else 0


def _compact_json(value: Mapping[str, Any]) -> str:
    """The JSON text of a schema or raw block; read-only mappings (a server tool's empty schema) included."""
    return fastjson.dumps_text(value, default=_plain)


def _plain(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else str(value)


def block_tokens(block: ir.Block) -> int:
    match block:
        case ir.Text(text=text):
            return text_tokens(text)
        case ir.Image():
            return image_tokens(block)
        case ir.Document():
            return document_tokens(block)
        case ir.ToolCall(name=name, args_json=args):
            return text_tokens(name) + text_tokens(args)
        case ir.ToolResult(content=content):
            return sum(PER_BLOCK + block_tokens(part) for part in content)
        case ir.Thinking(text=text):
            return text_tokens(text)
        case ir.RedactedThinking(data=data):
            return math.ceil(len(data) / 4)
        case ir.Opaque(raw=raw):
            return text_tokens(_compact_json(raw))
        case _:
            assert_never(block)


def image_tokens(image: ir.Image) -> int:
    if image.source is not ir.SourceKind.BASE64:
        return IMAGE_MAX_TOKENS
    size = image_size(_decode_prefix(image.data, _HEADER_BYTES))
    if size is None:
        return IMAGE_MAX_TOKENS
    width, height = size
    scale = min(1.0, IMAGE_MAX_EDGE / max(width, height, 1))
    pixels = (width * scale) * (height * scale)
    return max(1, min(IMAGE_MAX_TOKENS, math.ceil(pixels / IMAGE_PIXELS_PER_TOKEN)))


def document_tokens(document: ir.Document) -> int:
    if document.source is ir.SourceKind.TEXT:
        return text_tokens(document.data) + text_tokens(document.title or "")
    if document.source is ir.SourceKind.URL:
        return PDF_PAGE_TOKENS
    pages = len(_PDF_PAGE.findall(_decode_prefix(document.data, None)))
    return PDF_PAGE_TOKENS * max(pages, 1)


def _decode_prefix(data: str, limit: int | None) -> bytes:
    """The first `limit` decoded bytes of base64 `data` (all of it when `limit` is None)."""
    chunk = data if limit is None else data[: (limit // 3 + 1) * 4]
    try:
        return base64.b64decode(chunk + "=" * (-len(chunk) % 4))
    except (binascii.Error, ValueError):
        return b""


def image_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of a PNG, GIF or JPEG file; None for anything else."""
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return int(width), int(height)
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        width, height = struct.unpack("<HH", head[6:10])
        return int(width), int(height)
    if head[:2] == b"\xff\xd8":
        return _jpeg_size(head)
    return None


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    """Walk the JPEG segments to the first start-of-frame marker, which holds the size."""
    at = 2
    while at + 9 <= len(head):
        if head[at] != 0xFF:
            return None
        marker = head[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        length = int.from_bytes(head[at + 2 : at + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", head[at + 5 : at + 9])
            return int(width), int(height)
        at += 2 + length
    return None
