"""A Gemini client's `generateContent` / `countTokens` body, read into the IR, and the checks at the boundary.

The model and the stream mode are not in the body (the route names them; the pipeline sets both).
Fields are read in camelCase or snake_case, as Gemini itself accepts them.

- `contents`: roles `user`/`model` (`function`, the old role of responses, reads as `user`); text,
  thoughts, inline images and PDFs, `fileData` URIs, function calls and responses, executable code
  and its results as text. Gemini ids are optional, so a call without one gets a stable id from its
  position (the same on every turn, so the upstream's prompt cache holds), and a response finds its
  call by id, else by name in order among the previous turn's calls.
- Thought signatures that carry another provider's reasoning (`thoughts.py`) become that reasoning
  again, in front of the part they sat on; Gemini's own are kept for a Gemini channel (another
  channel drops them).
- `systemInstruction`, `tools[].functionDeclarations` (`parametersJsonSchema` as it is, `parameters`
  turned back into JSON Schema), `toolConfig`, `generationConfig` with `thinkingConfig` and JSON
  output. Google-hosted tools (search, code execution, URL context) have no equivalent elsewhere
  and are left out, as are safety settings, penalties and the seed; each is a note in the trace.
- What cannot be served elsewhere without changing the answer is a 400 naming the field: several
  candidates, log probabilities, audio or image output, a Gemini cache (`cachedContent`), media other
  than images and PDFs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from axonhub import ir
from axonhub.errors import InvalidRequest
from axonhub.formats.gemini import thoughts
from axonhub.formats.gemini.schema import from_gemini
from axonhub.formats.tool_calls import base62, stable_json
from axonhub.jsonbody import json_type

_EFFORTS = {"MINIMAL": "minimal", "LOW": "low", "MEDIUM": "medium", "HIGH": "high"}
_TEXT_MEDIA = ("text/", "application/json")


def get(raw: Mapping[str, Any], camel: str) -> Any:
    """A field by its camelCase name, or its snake_case spelling."""
    if camel in raw:
        return raw[camel]
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return raw.get(snake)


# ------------------------------------------------------------------------------------- checks


def check_request(body: Mapping[str, Any]) -> None:
    """A generateContent body: `contents`, a list of objects whose `parts` are lists of objects."""
    contents = get(body, "contents")
    if not isinstance(contents, list) or not contents:
        raise InvalidRequest("contents: field required (a non-empty list of contents)")
    for i, content in enumerate(contents):
        if not isinstance(content, Mapping):
            raise InvalidRequest(f"contents[{i}]: must be an object, not {json_type(content)}")
        parts = content.get("parts")
        if not isinstance(parts, list):
            raise InvalidRequest(f"contents[{i}].parts: field required (a list of parts)")
        for j, part in enumerate(parts):
            if not isinstance(part, Mapping):
                raise InvalidRequest(f"contents[{i}].parts[{j}]: must be an object, not {json_type(part)}")
    for name in ("generationConfig", "systemInstruction", "toolConfig"):
        value = get(body, name)
        if value is not None and not isinstance(value, Mapping):
            raise InvalidRequest(f"{name}: must be an object, not {json_type(value)}")
    tools = get(body, "tools")
    if tools is not None and (not isinstance(tools, list) or not all(isinstance(t, Mapping) for t in tools)):
        raise InvalidRequest("tools: must be a list of objects")


def check_count_request(body: Mapping[str, Any]) -> None:
    """A countTokens body: `contents`, or a whole request in `generateContentRequest`."""
    inner = get(body, "generateContentRequest")
    if inner is not None:
        if not isinstance(inner, Mapping):
            raise InvalidRequest(f"generateContentRequest: must be an object, not {json_type(inner)}")
        check_request(inner)
        return
    check_request(body)


# ------------------------------------------------------------------------------------- parse


def parse_request(body: Mapping[str, Any]) -> ir.Request:
    inner = get(body, "generateContentRequest")
    if isinstance(inner, Mapping):  # countTokens with a whole request
        body = inner
    check_request(body)
    if get(body, "cachedContent"):
        raise InvalidRequest(
            "cachedContent: a Gemini context cache lives on Google's servers; "
            "a channel of another provider cannot read it, so this request cannot be served there"
        )
    config = get(body, "generationConfig") or {}
    _refuse_unsupported(config)
    tools = get(body, "tools") or ()
    return ir.Request(
        model="",
        messages=_Conversation().read(get(body, "contents")),
        system=_system(get(body, "systemInstruction")),
        tools=tuple(t for i, raw in enumerate(tools) for t in _tools(raw, i)),
        tool_choice=_tool_choice(get(body, "toolConfig")),
        max_output_tokens=_int(get(config, "maxOutputTokens")),
        temperature=_float(get(config, "temperature")),
        top_p=_float(get(config, "topP")),
        top_k=_int(get(config, "topK")),
        stop=tuple(
            s for s in _list(get(config, "stopSequences"), "generationConfig.stopSequences") if isinstance(s, str) and s
        ),
        reasoning=reasoning_of(get(config, "thinkingConfig")),
        response_format=_response_format(config),
        notes=_notes(body, config, tools),
    )


_UNCARRIED = ("presencePenalty", "frequencyPenalty", "seed")


def _notes(body: Mapping[str, Any], config: Mapping[str, Any], tools: Any) -> tuple[str, ...]:
    """What a channel of another provider gets none of, for the trace."""
    notes = [
        f"tools[{i}].{name} left out: only Google's API runs its hosted tools"
        for i, tool in enumerate(tools)
        for name in tool
        if name not in ("functionDeclarations", "function_declarations")
    ]
    if get(body, "safetySettings"):
        notes.append("safetySettings left out: other providers have no such setting")
    notes += [
        f"generationConfig.{name} left out: not carried to other providers"
        for name in _UNCARRIED
        if get(config, name) is not None
    ]
    return tuple(notes)


def _refuse_unsupported(config: Mapping[str, Any]) -> None:
    count = get(config, "candidateCount")
    if count is not None and count != 1:
        raise InvalidRequest("generationConfig.candidateCount: only one candidate per request is supported")
    if get(config, "responseLogprobs") or get(config, "logprobs") is not None:
        raise InvalidRequest("generationConfig.responseLogprobs: log probabilities are not supported by this gateway")
    modalities = _list(get(config, "responseModalities"), "generationConfig.responseModalities")
    other = [m for m in modalities if isinstance(m, str) and m.upper() != "TEXT"]
    if other:
        raise InvalidRequest(f"generationConfig.responseModalities: only TEXT output is supported, not {other[0]}")


def _list(value: Any, where: str) -> list[Any]:
    """A repeated field: absent is empty, anything else but a list is refused, naming the field."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequest(f"{where}: must be a list, not {json_type(value)}")
    return value


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _system(value: Any) -> tuple[ir.Text, ...]:
    if isinstance(value, str):
        return (ir.Text(value),) if value.strip() else ()
    parts = value.get("parts") if isinstance(value, Mapping) else None
    texts = [p.get("text") for p in _list(parts, "systemInstruction.parts") if isinstance(p, Mapping)]
    return tuple(ir.Text(t) for t in texts if isinstance(t, str) and t.strip())


def _tools(raw: Mapping[str, Any], i: int) -> list[ir.Tool]:
    declarations = get(raw, "functionDeclarations")
    if declarations is None:
        return []  # a Google-hosted tool (search, code execution, URL context): nothing elsewhere runs it
    if not isinstance(declarations, list):
        raise InvalidRequest(f"tools[{i}].functionDeclarations: must be a list")
    tools = []
    for j, declaration in enumerate(declarations):
        name = declaration.get("name") if isinstance(declaration, Mapping) else None
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"tools[{i}].functionDeclarations[{j}].name: field required")
        schema = get(declaration, "parametersJsonSchema")
        if not isinstance(schema, Mapping):
            parameters = get(declaration, "parameters")
            schema = from_gemini(parameters) if isinstance(parameters, Mapping) else None
        description = declaration.get("description")
        tools.append(
            ir.Tool(
                name=name,
                description=description if isinstance(description, str) else "",
                json_schema=schema or {"type": "object", "properties": {}},
            )
        )
    return tools


def _tool_choice(raw: Any) -> ir.ToolChoice | None:
    config = get(raw, "functionCallingConfig") if isinstance(raw, Mapping) else None
    if not isinstance(config, Mapping):
        return None
    mode = str(config.get("mode") or "AUTO").upper()
    names = _list(get(config, "allowedFunctionNames"), "toolConfig.functionCallingConfig.allowedFunctionNames")
    allowed = [n for n in names if isinstance(n, str)]
    if mode == "NONE":
        return ir.ToolChoice(ir.ToolChoiceMode.NONE)
    if mode == "ANY":
        if len(allowed) == 1:
            return ir.ToolChoice(ir.ToolChoiceMode.TOOL, allowed[0])
        return ir.ToolChoice(ir.ToolChoiceMode.ANY)
    return ir.ToolChoice(ir.ToolChoiceMode.AUTO)  # AUTO, VALIDATED (calls checked against their schema)


def reasoning_of(raw: Any) -> ir.Reasoning:
    """A `thinkingConfig` as the IR's reasoning."""
    if not isinstance(raw, Mapping):
        return ir.Reasoning()
    display = "summarized" if get(raw, "includeThoughts") is True else "omitted"
    level = get(raw, "thinkingLevel")
    if isinstance(level, str) and level.upper() in _EFFORTS:
        return ir.Reasoning(ir.ReasoningMode.ADAPTIVE, effort=_EFFORTS[level.upper()], display=display)
    budget = _int(get(raw, "thinkingBudget"))
    if budget == 0:
        return ir.Reasoning(ir.ReasoningMode.OFF)
    if budget is None or budget < 0:
        return ir.Reasoning(ir.ReasoningMode.ADAPTIVE, display=display) if budget else ir.Reasoning(display=display)
    return ir.Reasoning(ir.ReasoningMode.ON, budget, display=display)


def _response_format(config: Mapping[str, Any]) -> ir.ResponseFormat | None:
    if get(config, "responseMimeType") != "application/json":
        return None
    schema = get(config, "responseJsonSchema")
    if not isinstance(schema, Mapping):
        legacy = get(config, "responseSchema")
        schema = from_gemini(legacy) if isinstance(legacy, Mapping) else None
    if schema:
        return ir.ResponseFormat(ir.ResponseFormatKind.JSON_SCHEMA, schema)
    return ir.ResponseFormat(ir.ResponseFormatKind.JSON_OBJECT)


# ------------------------------------------------------------------------------------- contents


def call_id(turn: int, part: int, name: str) -> str:
    """The id of a function call that came without one: the same on every turn that replays it."""
    digest = hashlib.sha256(f"{turn}:{part}:{name}".encode("utf-8", "surrogatepass")).digest()
    return "call_" + base62(digest)[:24]


@dataclass(slots=True)
class _Conversation:
    """Reads contents in order, matching each function response to its call."""

    pending: list[tuple[str, str]] = field(default_factory=list)  # (id, name) of the last model turn's calls

    def read(self, contents: list[Any]) -> tuple[ir.Message, ...]:
        messages: list[ir.Message] = []
        for i, content in enumerate(contents):
            role = ir.Role.ASSISTANT if content.get("role") == "model" else ir.Role.USER
            blocks = tuple(b for j, part in enumerate(content["parts"]) for b in self._part(part, role, i, j))
            if role is ir.Role.ASSISTANT:
                self.pending = [(b.id, b.name) for b in blocks if isinstance(b, ir.ToolCall)]
            if not blocks:
                continue
            if messages and messages[-1].role is role:
                merged = messages[-1].content + blocks
                if role is ir.Role.USER:
                    merged = tuple(sorted(merged, key=lambda b: not isinstance(b, ir.ToolResult)))
                messages[-1] = ir.Message(role, merged)
            else:
                messages.append(ir.Message(role, blocks))
        return tuple(messages)

    def _part(self, part: Mapping[str, Any], role: ir.Role, i: int, j: int) -> list[ir.Block]:
        where = f"contents[{i}].parts[{j}]"
        signature = get(part, "thoughtSignature")
        text = part.get("text")
        call = get(part, "functionCall")
        response = get(part, "functionResponse")
        if isinstance(text, str) and part.get("thought") is True:
            # A thought: shown to the user; its signature, if any, is the block's own.
            signed = thoughts.from_client(signature, thoughts.Position.THOUGHT, text)
            return [signed] if signed is not None else [ir.Thinking(text)] if text else []
        if isinstance(call, Mapping):  # a signature sits on the first call of its step
            return [*self._signed(signature, thoughts.Position.CALL), self._call(call, i, j, where)]
        if isinstance(text, str):
            # Gemini's own signature on a text part follows its text; one of ours stands for reasoning
            # that came before it (a Gemini client is given it on the part after the thinking)
            shown: list[ir.Block] = [ir.Text(text)] * bool(text.strip())
            carried = self._signed(signature, thoughts.Position.TEXT)
            return carried + shown if thoughts.ours(signature) else shown + carried
        blocks: list[ir.Block] = self._signed(signature, thoughts.Position.TEXT)
        if isinstance(response, Mapping):
            blocks.append(self._response(response, i, j, where))
        elif (media := get(part, "inlineData")) is not None:
            blocks.append(_inline(media, f"{where}.inlineData"))
        elif (file := get(part, "fileData")) is not None:
            blocks.append(_file(file, f"{where}.fileData"))
        elif isinstance(code := get(part, "executableCode"), Mapping):
            language = str(code.get("language") or "").lower().replace("language_unspecified", "")
            blocks.append(ir.Text(f"```{language}\n{code.get('code', '')}\n```"))
        elif isinstance(result := get(part, "codeExecutionResult"), Mapping):
            blocks.append(ir.Text(f"Code execution result ({result.get('outcome', '')}):\n{result.get('output', '')}"))
        return blocks

    @staticmethod
    def _signed(signature: Any, position: thoughts.Position) -> list[ir.Block]:
        signed = thoughts.from_client(signature, position)
        return [signed] if signed is not None else []

    def _call(self, call: Mapping[str, Any], i: int, j: int, where: str) -> ir.ToolCall:
        name = call.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"{where}.functionCall.name: field required")
        args = call.get("args")
        given = call.get("id")
        return ir.ToolCall(
            id=given if isinstance(given, str) and given else call_id(i, j, name),
            name=name,
            args_json=stable_json(args if isinstance(args, Mapping) else {}),
        )

    def _response(self, response: Mapping[str, Any], i: int, j: int, where: str) -> ir.ToolResult:
        name = response.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"{where}.functionResponse.name: field required")
        given = response.get("id")
        match = next((c for c in self.pending if c[0] == given), None)
        match = match or next((c for c in self.pending if c[1] == name), None)
        if match is not None:
            self.pending.remove(match)
        orphan = given if isinstance(given, str) and given else call_id(i, j, name)
        result_id = match[0] if match is not None else orphan
        payload = response.get("response")
        payload = payload if isinstance(payload, Mapping) else {}
        error = "error" in payload and "output" not in payload
        value = payload.get("error") if error else payload.get("output", payload if payload else None)
        content: list[ir.Text | ir.Image | ir.Document] = []
        if value is not None:
            content.append(ir.Text(value if isinstance(value, str) else stable_json(value)))
        for k, extra in enumerate(_list(response.get("parts"), f"{where}.functionResponse.parts")):
            media = get(extra, "inlineData") if isinstance(extra, Mapping) else None
            if media is not None:
                block = _inline(media, f"{where}.functionResponse.parts[{k}].inlineData")
                if isinstance(block, ir.Image | ir.Document):
                    content.append(block)
        return ir.ToolResult(result_id, tuple(content), is_error=error)


def _inline(media: Any, where: str) -> ir.Image | ir.Document | ir.Text:
    if not isinstance(media, Mapping) or not isinstance(media.get("data"), str):
        raise InvalidRequest(f"{where}.data: field required (base64 data)")
    mime = str(get(media, "mimeType") or "")
    data = media["data"]
    if mime.startswith("image/"):
        return ir.Image(ir.SourceKind.BASE64, data, mime)
    if mime == "application/pdf":
        return ir.Document(ir.SourceKind.BASE64, data, mime)
    if mime.startswith(_TEXT_MEDIA):
        try:
            return ir.Document(ir.SourceKind.TEXT, base64.b64decode(data, validate=True).decode("utf-8"), mime)
        except (binascii.Error, ValueError):
            raise InvalidRequest(f"{where}.data: must be base64-encoded UTF-8 text for {mime}") from None
    raise InvalidRequest(f"{where}.mimeType: {mime or 'no type'} cannot be sent to a channel of another provider")


def _file(file: Any, where: str) -> ir.Image | ir.Document:
    uri = get(file, "fileUri") if isinstance(file, Mapping) else None
    if not isinstance(uri, str) or not uri:
        raise InvalidRequest(f"{where}.fileUri: field required")
    mime = str(get(file, "mimeType") or "")
    if mime.startswith("image/"):
        return ir.Image(ir.SourceKind.URL, uri, mime)
    if mime == "application/pdf":
        return ir.Document(ir.SourceKind.URL, uri, mime)
    raise InvalidRequest(f"{where}.mimeType: {mime or 'no type'} cannot be sent to a channel of another provider")
