"""The local count_tokens estimate: every block type counts, images by their size, no network."""

from __future__ import annotations

import base64
import struct

from axonhub import ir
from axonhub.formats.anthropic.request import parse_request
from axonhub.tokens import (
    IMAGE_MAX_TOKENS,
    PDF_PAGE_TOKENS,
    TOOLS_PREAMBLE,
    estimate_request_tokens,
    image_size,
    image_tokens,
    text_tokens,
)


def png(width: int, height: int) -> str:
    header = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + struct.pack(">II", width, height) + b"\x08\x06\x00\x00\x00"
    return base64.b64encode(header + b"\x00" * 64).decode()


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x00" * 9
    sof = b"\xff\xc0" + struct.pack(">HBHH", 17, 8, height, width) + b"\x03" + b"\x00" * 9
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def request(content: list[dict[str, object]], **extra: object) -> ir.Request:
    return parse_request({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": content}], **extra})


def test_text_counts_ascii_by_characters_and_cjk_by_character() -> None:
    assert text_tokens("") == 0
    assert text_tokens("a" * 35) == 10
    assert text_tokens("日本語のテキスト") == 8
    assert text_tokens("éèê") == 2


def test_an_english_paragraph_lands_near_a_real_tokenizer_count() -> None:
    paragraph = (
        "The gateway converts every request into a neutral representation, sends it to the chosen channel, "
        "and converts the answer back into the format the client spoke, streaming included."
    )  # about 35 tokens on current tokenizers
    assert 30 <= text_tokens(paragraph) <= 60


def test_every_block_type_adds_to_the_count() -> None:
    base = estimate_request_tokens(request([{"type": "text", "text": "hello"}]))
    with_system = estimate_request_tokens(
        request([{"type": "text", "text": "hello"}], system="You are terse and exact.")
    )
    with_tools = estimate_request_tokens(
        request(
            [{"type": "text", "text": "hello"}],
            tools=[{"name": "Bash", "description": "Run", "input_schema": {"type": "object"}}],
        )
    )
    with_image = estimate_request_tokens(
        request(
            [{"type": "text", "text": "hello"}, {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]
        )
    )
    assert with_system > base and with_tools > base + TOOLS_PREAMBLE and with_image >= base + IMAGE_MAX_TOKENS
    conversation = parse_request(
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "x" * 350, "signature": "s"},
                        {"type": "tool_use", "id": "t", "name": "Read", "input": {"file_path": "/a"}},
                    ],
                },
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "y" * 700}]},
            ],
        }
    )
    assert estimate_request_tokens(conversation) >= 100 + 200


def test_image_tokens_follow_the_pixel_count_read_from_the_header() -> None:
    assert image_size(base64.b64decode(png(200, 100))) == (200, 100)
    assert image_size(jpeg(640, 480)) == (640, 480)
    assert image_size(b"GIF89a" + struct.pack("<HH", 30, 20)) == (30, 20)
    assert image_tokens(ir.Image(ir.SourceKind.BASE64, png(200, 100), "image/png")) == 27  # 20000 px / 750
    assert image_tokens(ir.Image(ir.SourceKind.BASE64, png(4000, 3000), "image/png")) == IMAGE_MAX_TOKENS
    assert image_tokens(ir.Image(ir.SourceKind.BASE64, base64.b64encode(jpeg(1000, 1000)).decode())) == 1334
    assert image_tokens(ir.Image(ir.SourceKind.BASE64, "not an image")) == IMAGE_MAX_TOKENS


def test_pdfs_count_per_page_and_text_documents_as_text() -> None:
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Pages /Count 2 >>\n2 0 obj << /Type /Page >>\n3 0 obj <</Type/Page>>\n"
    document = ir.Document(ir.SourceKind.BASE64, base64.b64encode(pdf).decode(), "application/pdf")
    tokens = estimate_request_tokens(ir.Request("m", (ir.Message(ir.Role.USER, (document,)),)))
    assert 2 * PDF_PAGE_TOKENS <= tokens < 2 * PDF_PAGE_TOKENS + 10


def test_the_estimate_is_never_zero() -> None:
    assert estimate_request_tokens(ir.Request("m", ())) == 1
