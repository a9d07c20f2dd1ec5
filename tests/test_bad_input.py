"""Bad input never crashes the gateway and never yields a 500.

Every malformed body on `POST /anthropic/v1/messages` and `/count_tokens` gets a 400
`invalid_request_error` in Anthropic's error shape whose message names the field, on both paths:
a `deepseek` channel (through the IR: the codec must refuse what it cannot map) and an `anthropic`
channel (the fast path: it refuses what it judges and forwards the rest untouched, and the
upstream's answer is relayed). The server keeps serving afterwards, and every exchange is one
parseable line of the trace.

Two parts: a deterministic mutation fuzzer (a fixed seed, a few hundred mutations of a valid
Claude-Code-shaped request), and a named table of the specific cases with their exact messages.
One gateway per path and one HTTP session serve the whole module.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml
from aiohttp.test_utils import TestServer

from axonhub.config import load_config
from axonhub.server import make_app
from axonhub.trace import TRACE_WRITER, parse_line
from tests.conftest import SECRET, base_config
from tests.fakes import anthropic as anthropic_wire
from tests.fakes import openai as openai_wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.transform import claude_code_requests as cc
from tests.transform.conftest import openai_channel, transform_config

pytestmark = pytest.mark.asyncio(loop_scope="module")

SEED = 20260624
MUTATIONS = 300
MESSAGES = "/anthropic/v1/messages?beta=true"
COUNT_TOKENS = "/anthropic/v1/messages/count_tokens?beta=true"
MODEL = "claude-sonnet-4-5"


# ------------------------------------------------------------------------------------ the gateways


@dataclass
class Path_:
    """One gateway (one channel type) on its fake upstream, and every request id it was sent."""

    name: str
    server: TestServer
    upstream: FakeUpstream
    trace: Path
    sent: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")


@dataclass
class Answer:
    status: int
    body: Any
    request_id: str
    content_type: str


@dataclass
class Bench:
    http: aiohttp.ClientSession
    deepseek: Path_
    anthropic: Path_

    def path(self, name: str) -> Path_:
        return self.deepseek if name == "deepseek" else self.anthropic

    async def post(self, gateway: Path_, raw: bytes, route: str = MESSAGES) -> Answer:
        headers = {**cc.headers(SECRET, stream=False), "Content-Type": "application/json"}
        async with self.http.post(gateway.url + route, data=raw, headers=headers) as response:
            data = await response.read()
            request_id = response.headers.get("request-id", "")
            gateway.sent.append(request_id)
            try:
                body = json.loads(data)
            except ValueError:
                body = data
            return Answer(response.status, body, request_id, response.content_type)


async def _serve(name: str, data: dict[str, Any], tmp: Path, upstream: FakeUpstream) -> Path_:
    path = tmp / f"{name}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    server = TestServer(make_app(load_config(path), watch=False), host="127.0.0.1")
    await server.start_server()
    return Path_(name, server, upstream, Path(data["server"]["trace"]["path"]))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bench(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Bench]:
    tmp = tmp_path_factory.mktemp("bad_input")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FAKE_ANTHROPIC_KEY", "sk-ant-upstream-secret-key-000")
        env.setenv("FAKE_DEEPSEEK_KEY", "sk-deepseek-upstream-secret-000")
        fake_deepseek, fake_anthropic = FakeUpstream(), FakeUpstream()
        fake_deepseek.default = Reply.json(openai_wire.completion("ok", model="deepseek-reasoner"))
        fake_anthropic.default = Reply.json(anthropic_wire.message())
        await fake_deepseek.start()
        await fake_anthropic.start()
        ds_config = transform_config([openai_channel("deepseek", fake_deepseek.url)], tmp / "deepseek.jsonl")
        an_config = base_config(fake_anthropic.url, tmp / "anthropic.jsonl")
        for config in (ds_config, an_config):
            config["server"]["trace"]["bodies"] = "all"  # the writer redacts and serialises every odd body
        deepseek = await _serve("deepseek", ds_config, tmp, fake_deepseek)
        anthropic = await _serve("anthropic", an_config, tmp, fake_anthropic)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
            yield Bench(http, deepseek, anthropic)
        for gateway in (deepseek, anthropic):
            await gateway.server.close()
            await gateway.upstream.close()


# ------------------------------------------------------------------------------------ the request


def valid_body() -> dict[str, Any]:
    """A Claude Code main turn in the middle of a tool loop: every kind of block it sends."""
    messages: list[dict[str, Any]] = [
        *cc.first_turn("Fix the build"),
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "List the files first.", "signature": "EqQBCkgIARABGAIiQLr3"},
                {"type": "text", "text": "Let me look."},
                {
                    "type": "tool_use",
                    "id": "toolu_01A",
                    "name": "Bash",
                    "input": {"command": "ls", "description": "ls"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "Makefile\nsrc"},
                {"type": "text", "text": "go on"},
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_01B", "name": "Read", "input": {"file_path": "/src/a.c"}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01B",
                    "content": [
                        {"type": "text", "text": "int main() {}"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                        },
                    ],
                    "is_error": False,
                    "cache_control": {"type": "ephemeral"},
                }
            ],
        },
    ]
    return cc.main_body(
        MODEL,
        messages,
        stream=False,
        temperature=1,
        top_p=0.9,
        stop_sequences=["\n\nHuman:"],
        tool_choice={"type": "auto"},
    )


def deep(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


JUNK: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    10**400,
    -(10**400),
    1.5,
    1e308,
    float("nan"),
    float("inf"),
    float("-inf"),
    "",
    " ",
    "x",
    "\ud800",
    "a\udfffb",
    "\x00",
    "é\u2028\U0001f600",
    [],
    [None],
    [1, "a", {}],
    {},
    {"type": None},
    {"type": "text"},
    {"type": "text", "text": 5},
    {"type": "no_such_block"},
    {"type": "tool_use", "input": "{}"},
    deep(40),
    deep(300),
]
KEYS = ["type", "text", "content", "input", "source", "role", "name", "x", "", "é", "\ud800", "cache_control"]
TYPES = ["text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking", "nope", "", "TEXT"]


def paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*at, index))


def node(body: Any, at: tuple[Any, ...]) -> Any:
    for step in at:
        body = body[step]
    return body


def dotted(at: tuple[Any, ...]) -> str:
    """A path as the gateway names it: `messages.0.content`, keys that are not valid Unicode escaped."""
    return ".".join(str(step).encode("utf-8", "backslashreplace").decode() for step in at)


@dataclass
class Mutation:
    kind: str
    at: tuple[Any, ...]  # where the body changed; () for a change of the raw bytes
    raw: bytes


def mutate(rng: random.Random, base: dict[str, Any]) -> Mutation:
    """One random mutation of `base`: a wrong-typed value, a missing key, inserted junk, a new
    block type, or damaged bytes."""
    body = copy.deepcopy(base)
    every = list(paths(body))
    kind = rng.choice(["replace", "replace", "replace", "delete", "insert", "retype", "raw"])
    at: tuple[Any, ...] = ()
    if kind == "replace":
        at = rng.choice(every[1:])
        node(body, at[:-1])[at[-1]] = copy.deepcopy(rng.choice(JUNK))
    elif kind == "delete":
        at = rng.choice(every[1:])
        del node(body, at[:-1])[at[-1]]
    elif kind == "insert":
        at = rng.choice([p for p in every if isinstance(node(body, p), dict | list)])
        container = node(body, at)
        junk = copy.deepcopy(rng.choice(JUNK))
        if isinstance(container, dict):
            key = rng.choice(KEYS)
            container[key] = junk
            at = (*at, key)
        else:
            index = rng.randint(0, len(container))
            container.insert(index, junk)
            at = (*at, index)
    elif kind == "retype":
        at = rng.choice([p for p in every if p and p[-1] == "type" and isinstance(node(body, p[:-1]), dict)])
        node(body, at[:-1])["type"] = rng.choice(TYPES)
    raw = json.dumps(body).encode()
    if kind == "raw":
        raw = damage(rng, raw)
    return Mutation(kind, at, raw)


def damage(rng: random.Random, raw: bytes) -> bytes:
    """Damaged bytes: cut short, a stray byte (inside a string some still make JSON), a duplicated
    key, a number JSON does not have."""
    match rng.randrange(4):
        case 0:
            return raw[: rng.randrange(len(raw))]
        case 1:
            at = rng.randrange(len(raw))
            return raw[:at] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"}"]) + raw[at:]
        case 2:
            at = rng.choice([m.start() for m in re.finditer(rb'\{"type": ', raw)]) + 1
            return raw[:at] + b'"type": "text", ' + raw[at:]
        case _:
            return raw.replace(b"0.9", rng.choice([b"NaN", b"Infinity", b"-Infinity", b"1e999"]), 1)


# ------------------------------------------------------------------------------------ assertions

ERROR_TYPES = {400: "invalid_request_error", 404: "not_found_error", 413: "request_too_large"}
FIELD = re.compile(r"^(?P<path>[a-z_]+(?:\.[^:\s]*)*): \S")


def assert_error_shape(answer: Answer) -> str:
    """The exact Anthropic error body; returns the message."""
    assert answer.content_type == "application/json", answer
    body = answer.body
    assert isinstance(body, dict), answer
    assert set(body) == {"type", "error", "request_id"}, body
    assert body["type"] == "error" and body["request_id"] == answer.request_id, body
    assert set(body["error"]) == {"type", "message"}, body
    assert body["error"]["type"] == ERROR_TYPES[answer.status], body
    message = body["error"]["message"]
    assert isinstance(message, str) and message.strip(), body
    return message


def assert_names_the_field(message: str, mutation: Mutation) -> None:
    """A 400 names a field at or around the mutated spot (the raw-byte ones name the body)."""
    if message.startswith("request body"):
        return
    found = FIELD.match(message)
    assert found, f"the message names no field: {message!r} ({mutation.kind} at {dotted(mutation.at)})"
    named, spot, parent = found["path"], dotted(mutation.at), dotted(mutation.at[:-1])
    related = (
        not parent  # a whole top-level field changed: whatever inside it is wrong may be named
        or named == parent
        or named.startswith(parent + ".")  # the spot, a sibling (a block whose type changed), or inside the junk
        or spot.startswith(named + ".")  # junk nested too deep is named by the first steps of its path
    )
    assert related, f"{message!r} does not name the mutated spot {spot} ({mutation.kind})"


async def trace_lines(gateway: Path_) -> list[dict[str, Any]]:
    """Every line of the gateway's trace once the writer caught up with what was sent; each parses."""
    writer = gateway.server.app[TRACE_WRITER]
    for _ in range(500):
        if writer.written + writer.dropped >= len(gateway.sent):
            break
        await asyncio.sleep(0.01)
    assert writer.dropped == 0
    lines = gateway.trace.read_bytes().splitlines()
    records = [parse_line(line) for line in lines]
    assert None not in records, [line for line, record in zip(lines, records, strict=True) if record is None]
    return [r for r in records if r is not None]


# ------------------------------------------------------------------------------------ the fuzzer


@pytest.mark.parametrize("name", ["deepseek", "anthropic"])
async def test_hundreds_of_mutations_never_get_a_5xx_and_every_error_is_anthropics_shape(
    bench: Bench, name: str
) -> None:
    gateway = bench.path(name)
    rng = random.Random(SEED)
    base = valid_body()
    failures: list[str] = []
    statuses: dict[int, int] = {}
    for number in range(MUTATIONS):
        mutation = mutate(rng, base)
        route = COUNT_TOKENS if number % 5 == 4 else MESSAGES
        before = len(gateway.upstream.requests)
        answer = await bench.post(gateway, mutation.raw, route)
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
        where = f"#{number} {mutation.kind} at {dotted(mutation.at)!r} on {route}: {answer.status} {answer.body!r:.300}"
        try:
            assert answer.status < 500, "a 5xx from the gateway itself (the fake upstream never fails)"
            if answer.status >= 400:
                message = assert_error_shape(answer)
                if answer.status == 400:
                    assert_names_the_field(message, mutation)
            elif name == "anthropic" and len(gateway.upstream.requests) > before:
                assert gateway.upstream.requests[-1].body == mutation.raw, "the fast path changed the body"
        except AssertionError as exc:
            failures.append(f"{where}\n    {exc}")
    assert not failures, f"{len(failures)} of {MUTATIONS} mutations failed:\n" + "\n".join(failures[:40])
    assert statuses.get(400, 0) > MUTATIONS // 5, statuses  # the fuzzer does reach the validation

    valid = await bench.post(gateway, json.dumps(valid_body()).encode())
    assert valid.status == 200, valid
    assert valid.body["type"] == "message"

    records = {r["request_id"]: r for r in await trace_lines(gateway)}
    assert set(gateway.sent) <= set(records)
    assert all(records[i]["status"] < 500 for i in gateway.sent)


# ------------------------------------------------------------------------------------ the named cases

FORWARDED = None  # the fast path does not judge this: the upstream gets the bytes and its answer comes back


def tool_loop(**changes: Any) -> dict[str, Any]:
    """A small valid tool loop: two text blocks, a tool call, its result."""
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "List the files."}, {"type": "text", "text": "Please."}],
            },
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {"command": "ls"}}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "a.txt"}]},
        ],
        "tools": copy.deepcopy(cc.TOOLS[:1]),
    }
    return {**body, **changes}


def setting(at: tuple[Any, ...], value: Any) -> dict[str, Any]:
    body = tool_loop()
    node(body, at[:-1])[at[-1]] = value
    return body


def removing(at: tuple[Any, ...]) -> dict[str, Any]:
    body = tool_loop()
    del node(body, at[:-1])[at[-1]]
    return body


def raw_with(placeholder: str, literal: bytes, body: dict[str, Any] | None = None) -> bytes:
    """The JSON of `body` with the string `placeholder` replaced by raw bytes (NaN, 1e999, …)."""
    return json.dumps(body or tool_loop()).replace(json.dumps(placeholder), "@@").encode().replace(b"@@", literal)


def raw_in_text(inserted: bytes) -> bytes:
    return json.dumps(tool_loop()).encode().replace(b"Please.", b"Ple" + inserted + b"ase.")


def not_utf8(inserted: bytes, reason: str) -> str:
    at = raw_in_text(inserted).index(inserted)
    return f"request body is not valid UTF-8: 'utf-8' codec can't decode byte 0x{inserted[0]:02x} in position {at}: {reason}"


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    deepseek: str  # the gateway's 400 message on the transform path
    anthropic: str | None  # its 400 message on the fast path, or FORWARDED
    route: str = MESSAGES


def case(name: str, body: dict[str, Any] | bytes, deepseek: str, anthropic: str | None = FORWARDED, **kw: Any) -> Case:
    return Case(name, body if isinstance(body, bytes) else json.dumps(body).encode(), deepseek, anthropic, **kw)


def both(name: str, body: dict[str, Any] | bytes, message: str, **kw: Any) -> Case:
    """A case the gateway judges on both paths, with the same message."""
    return case(name, body, message, message, **kw)


NAN_CUT_SHORT = raw_with("@t", b"NaN", tool_loop(temperature="@t"))[:-1]  # the closing brace gone

DEEP_STACK = (
    b'{"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": '
    + b"[" * 5000
    + b"]" * 5000
    + b"}]}"
)
DUPLICATE = "(a JSON object may name a field only once)"
RESULT_BLOCKS = "a tool_result holds text, image, document, search_result or tool_reference blocks"
BLOCK_TYPES = "text, image, document, search_result, tool_use, tool_result, thinking, redacted_thinking"

CASES = [
    case(
        "content_a_number",
        setting(("messages", 0, "content"), 5),
        "messages.0.content: must be a string or a list of content blocks, not a number",
    ),
    case(
        "a_block_without_type",
        setting(("messages", 0, "content", 1), {"text": "Please."}),
        "messages.0.content.1.type: field required",
    ),
    case(
        "an_unknown_block_type",
        setting(("messages", 0, "content", 1), {"type": "hologram", "text": "Please."}),
        f"messages.0.content.1.type: unknown content block type 'hologram' (expected {BLOCK_TYPES})",
    ),
    case(
        "a_text_block_whose_text_is_a_number",
        setting(("messages", 0, "content", 1, "text"), 7),
        "messages.0.content.1.text: must be a string, not a number",
    ),
    case(
        "an_image_without_source",
        setting(("messages", 0, "content", 1), {"type": "image"}),
        "messages.0.content.1.source: field required",
    ),
    case(
        "tool_use_input_a_string",
        setting(("messages", 1, "content", 0, "input"), '{"command": "ls"}'),
        "messages.1.content.0.input: must be an object, not a string",
    ),
    case(
        "tool_result_content_a_dict",
        setting(("messages", 2, "content", 0, "content"), {"type": "text", "text": "a.txt"}),
        "messages.2.content.0.content: must be a string or a list of content blocks, not an object",
    ),
    case(
        "a_tool_use_inside_a_tool_result",
        setting(("messages", 2, "content", 0, "content"), [{"type": "tool_use", "id": "t", "name": "n", "input": {}}]),
        f"messages.2.content.0.content.0.type: {RESULT_BLOCKS}, not 'tool_use'",
    ),
    case(
        "a_role_of_tool",
        setting(("messages", 2, "role"), "tool"),
        "messages.2.role: must be user, assistant or system, not 'tool'",
    ),
    case("system_a_number", tool_loop(system=42), "system: must be a string or a list of text blocks, not a number"),
    case("tools_not_a_list", tool_loop(tools=copy.deepcopy(cc.TOOLS[0])), "tools: must be a list, not an object"),
    case("a_tool_without_name", removing(("tools", 0, "name")), "tools.0.name: field required"),
    case("a_tool_without_input_schema", removing(("tools", 0, "input_schema")), "tools.0.input_schema: field required"),
    case(
        "tool_choice_of_an_unknown_type",
        tool_loop(tool_choice={"type": "sometimes"}),
        "tool_choice.type: must be auto, any, tool or none, not 'sometimes'",
    ),
    case(
        "thinking_with_a_string_budget",
        tool_loop(thinking={"type": "enabled", "budget_tokens": "2048"}),
        "thinking.budget_tokens: must be an integer, not a string",
    ),
    case(
        "thinking_of_an_unknown_type",
        tool_loop(thinking={"type": "on"}),
        "thinking.type: must be enabled, adaptive or disabled, not 'on'",
    ),
    case("temperature_a_string", tool_loop(temperature="0.7"), "temperature: must be a number, not a string"),
    case(
        "stop_sequences_a_string",
        tool_loop(stop_sequences="\n\nHuman:"),
        "stop_sequences: must be a list of strings, not a string",
    ),
    case("metadata_a_list", tool_loop(metadata=["user-1"]), "metadata: must be an object, not a list"),
    case(
        "an_integer_beyond_the_float_range",
        tool_loop(temperature=10**400),
        "temperature: must be a finite number",
    ),
    case(
        "count_tokens_with_content_a_number",
        setting(("messages", 0, "content"), 5),
        "messages.0.content: must be a string or a list of content blocks, not a number",
        route=COUNT_TOKENS,
    ),
    both(
        "messages_containing_null",
        tool_loop(messages=[tool_loop()["messages"][0], None]),
        "messages.1: must be an object, not null",
    ),
    both("an_empty_object", b"{}", "model: field required (a non-empty string)"),
    both("stream_a_string", tool_loop(stream="yes"), "stream: must be a boolean"),
    both("max_tokens_a_string", tool_loop(max_tokens="1024"), "max_tokens: field required (a non-negative integer)"),
    both(
        "deeply_nested_junk",
        setting(("messages", 1, "content", 0, "input"), deep(150)),
        "messages.1.content.0.input: nested more than 100 levels deep",
    ),
    both("nesting_past_the_interpreters_stack", DEEP_STACK, "request body is nested more than 100 levels deep"),
    both(
        "a_number_beyond_the_float_range",
        raw_with("@temperature", b"1e999", tool_loop(temperature="@temperature")),
        "temperature: must be a finite number, not 1e999",
    ),
    both(
        "an_integer_of_5000_digits",
        raw_with("@max", b"9" * 5000, tool_loop(max_tokens="@max")),
        "request body holds a number of more than 4300 digits",
    ),
    both(
        "a_nan_literal",
        raw_with("@t", b"NaN", tool_loop(temperature="@t")),
        "temperature: must be a finite number, not NaN",
    ),
    both(
        "an_infinity_literal_deep_inside",
        raw_with("@x", b"-Infinity", setting(("messages", 1, "content", 0, "input", "timeout"), "@x")),
        "messages.1.content.0.input.timeout: must be a finite number, not -Infinity",
    ),
    both(
        "a_nan_before_a_duplicate_key",  # the first fault in the whole body's checks, not in reading order
        raw_with("@t", b"NaN", tool_loop(temperature="@t")).replace(b'"max_tokens"', b'"model": "x", "max_tokens"'),
        f"model: duplicate key {DUPLICATE}",
    ),
    both(
        "a_nan_then_json_cut_short",
        NAN_CUT_SHORT,
        f"request body is not valid JSON: Expecting ',' delimiter: line 1 column {len(NAN_CUT_SHORT) + 1} (char {len(NAN_CUT_SHORT)})",
    ),
    both(
        "a_nan_and_nesting_too_deep",
        raw_with("@t", b"NaN", setting(("messages", 1, "content", 0, "input"), deep(150)) | {"temperature": "@t"}),
        "messages.1.content.0.input: nested more than 100 levels deep",
    ),
    both(
        "invalid_utf8_in_a_string",
        raw_in_text(b"\xff"),
        not_utf8(b"\xff", "invalid start byte"),
    ),
    both(
        "a_surrogate_encoded_as_utf8_bytes",
        raw_in_text(b"\xed\xa0\x80"),
        not_utf8(b"\xed\xa0\x80", "invalid continuation byte"),
    ),
    both(
        "a_lone_surrogate_escape",
        setting(("messages", 0, "content", 1, "text"), "Ple\ud800ase."),
        "messages.0.content.1.text: contains the lone surrogate \\ud800, which is not valid Unicode",
    ),
    both(
        "a_lone_low_surrogate_in_a_key",
        setting(("messages", 1, "content", 0, "input"), {"\udc00": 1}),
        "messages.1.content.0.input.\\udc00: contains the lone surrogate \\udc00, which is not valid Unicode",
    ),
    both(
        "a_duplicate_top_level_key",
        json.dumps(tool_loop()).replace('"max_tokens"', '"model": "claude-opus-4-1", "max_tokens"').encode(),
        f"model: duplicate key {DUPLICATE}",
    ),
    both(
        "a_duplicate_key_in_a_block",
        json.dumps(tool_loop()).replace('"text": "Please."', '"text": "Please.", "text": "Now."').encode(),
        f"messages.0.content.1.text: duplicate key {DUPLICATE}",
    ),
    both(
        "count_tokens_with_a_nan",
        raw_with("@t", b"NaN", tool_loop(temperature="@t")),
        "temperature: must be a finite number, not NaN",
        route=COUNT_TOKENS,
    ),
]


async def traced(gateway: Path_, request_id: str) -> dict[str, Any]:
    records = {r["request_id"]: r for r in await trace_lines(gateway)}
    return records[request_id]


@pytest.mark.parametrize("path", ["deepseek", "anthropic"])
@pytest.mark.parametrize("bad", CASES, ids=[c.name for c in CASES])
async def test_a_malformed_body_gets_a_400_naming_the_field_or_is_forwarded_untouched(
    bench: Bench, bad: Case, path: str
) -> None:
    gateway = bench.path(path)
    expected = bad.deepseek if path == "deepseek" else bad.anthropic
    before = len(gateway.upstream.requests)
    answer = await bench.post(gateway, bad.body, bad.route)
    record = await traced(gateway, answer.request_id)
    assert record["status"] == answer.status
    if expected is FORWARDED:
        assert answer.status == 200, answer
        assert gateway.upstream.requests[-1].body == bad.body
        return
    assert answer.status == 400, answer
    assert assert_error_shape(answer) == expected
    assert len(gateway.upstream.requests) == before
    assert record["error"] == {"type": "invalid_request", "message": expected}


@pytest.mark.parametrize("path", ["deepseek", "anthropic"])
async def test_afterwards_the_gateway_still_serves_and_every_exchange_is_one_trace_line(
    bench: Bench, path: str
) -> None:
    gateway = bench.path(path)
    for route in (MESSAGES, COUNT_TOKENS):
        answer = await bench.post(gateway, json.dumps(tool_loop()).encode(), route)
        assert answer.status == 200, answer
    records = await trace_lines(gateway)
    assert len(records) == len(gateway.sent)
    assert [r["request_id"] for r in records] == gateway.sent
