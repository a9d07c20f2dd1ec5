"""IR requests as Gemini `generateContent` bodies, for a Gemini channel.

Built from an allow-list, never from an inbound dict; the model goes in the URL, not the body.

- `contents`: roles `user` and `model`, consecutive turns of one role merged, a `user` turn first;
  each model turn's function calls answered in the next user turn by as many `functionResponse`
  parts, in the calls' order and before any other part (a missing result is synthesised as an
  error, an orphan result becomes text), each response naming its function (found from the call);
  images in results follow as `inlineData` parts.
- Thought signatures: a thinking block whose carrier was made by this very model puts its signature
  back on the part it came with; any other provider's (or model's) reasoning is not sent. On Gemini 3
  the current turn's function calls that have none get Gemini's documented stand-in, so history
  written by another provider does not fail its signature check.
- `systemInstruction` (Claude Code's billing-header line removed), `tools[].functionDeclarations`
  with `parameters` rewritten to the schema subset Gemini takes (`schema.py`; a name Gemini would
  refuse is rewritten, and read back by the stream decoder), `toolConfig` from tool_choice,
  `generationConfig` (maxOutputTokens clamped, sampling, stop sequences, JSON output, thinking).
- Images and documents inline; Gemini does not fetch URLs, so a URL that is not a Gemini file
  becomes a placeholder saying so. Provider-hosted tools of other providers are dropped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, assert_never

from axonhub import ir
from axonhub.errors import InvalidRequest
from axonhub.formats.gemini import thoughts
from axonhub.formats.gemini.schema import to_gemini, tool_parameters
from axonhub.formats.tool_calls import base62, document_text, parse_arguments, result_text

BILLING_HEADER = "x-anthropic-billing-header:"
NOT_EXECUTED = "[tool call was not executed]"
MAX_STOP_SEQUENCES = 5
# Output token limits by model id prefix; the first match wins, 65536 otherwise (2.5 and 3 models).
OUTPUT_LIMITS: tuple[tuple[str, int], ...] = (("gemini-1.", 8192), ("gemini-2.0", 8192))
DEFAULT_OUTPUT_LIMIT = 65536
# Gemini 2.5 thinking budgets (Pro cannot switch thinking off; 128 is its least).
FLASH_MAX_BUDGET, PRO_MAX_BUDGET, PRO_MIN_BUDGET = 24576, 32768, 128
_LEVELS = {"minimal": "LOW", "low": "LOW", "medium": "MEDIUM", "high": "HIGH", "xhigh": "HIGH", "max": "HIGH"}
# Efforts below high, which a 2.5 model gets as their budget rather than its own dynamic thinking.
_LOW_EFFORTS = frozenset({"minimal", "low", "medium"})
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$")
_LEVEL_MODELS = re.compile(r"^gemini-(?:[3-9]|[1-9][0-9])")
_GEMINI_FILES = ("gs://", "https://generativelanguage.googleapis.com/")


def render_request(request: ir.Request, max_output_tokens: int | None = None) -> dict[str, Any]:
    """The Gemini body for `request`; `max_output_tokens` is the channel's cap."""
    body: dict[str, Any] = {"contents": _Contents(request.model).render(request.messages)}
    system = [t.text for t in request.system if not t.text.lstrip().startswith(BILLING_HEADER)]
    if system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    body.update(_tools(request))
    config = _generation_config(request, max_output_tokens)
    if config:
        body["generationConfig"] = config
    return body


def render_count_request(request: ir.Request, max_output_tokens: int | None = None) -> dict[str, Any]:
    """A `:countTokens` body: the whole request (system prompt and tools count too), under its model."""
    rendered = render_request(request, max_output_tokens)
    kept = {k: rendered[k] for k in ("contents", "systemInstruction", "tools") if k in rendered}
    return {"generateContentRequest": {"model": f"models/{request.model}", **kept}}


def function_name(name: str) -> str:
    """A tool name as Gemini accepts it (`^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$`): kept when it fits."""
    if _NAME.match(name):
        return name
    cleaned = re.sub(r"[^A-Za-z0-9_.:-]", "_", name)
    digest = base62(hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest())[:8]
    return f"_{cleaned[:110]}_{digest}"


def output_limit(model: str) -> int:
    return next((limit for prefix, limit in OUTPUT_LIMITS if model.startswith(prefix)), DEFAULT_OUTPUT_LIMIT)


def checks_signatures(model: str) -> bool:
    """Whether the model checks the current turn's thought signatures (Gemini 3 and later; a name we
    cannot place counts as one, since the stand-in signature is harmless where nothing is checked)."""
    return not model.startswith(("gemini-1.", "gemini-2."))


def thinks_in_levels(model: str) -> bool:
    """Gemini 3 and later take `thinkingLevel`; 2.5 only a budget, which 3 also still accepts, so a
    name we cannot place gets a budget."""
    return _LEVEL_MODELS.match(model) is not None


# ------------------------------------------------------------------------------------- contents


@dataclass(slots=True)
class _Call:
    id: str
    name: str


@dataclass(slots=True)
class _Contents:
    """Walks the IR conversation once, emitting Gemini contents in the order Gemini requires."""

    model: str
    out: list[dict[str, Any]] = field(default_factory=list)
    pending: list[_Call] = field(default_factory=list)  # the last model turn's calls, not yet answered

    def render(self, messages: Sequence[ir.Message]) -> list[dict[str, Any]]:
        for message in messages:
            match message.role:
                case ir.Role.USER:
                    self._user(message.content)
                case ir.Role.ASSISTANT:
                    self._answer_pending()
                    self._model(message.content)
                case _:
                    assert_never(message.role)
        self._answer_pending()
        if not self.out or self.out[0]["role"] != "user":
            self.out.insert(0, {"role": "user", "parts": [{"text": "(continue)"}]})
        if checks_signatures(self.model):
            _stand_in_signatures(self.out)
        return self.out

    def _append(self, role: str, parts: list[dict[str, Any]]) -> None:
        if not parts:
            return
        if self.out and self.out[-1]["role"] == role:
            self.out[-1]["parts"].extend(parts)
        else:
            self.out.append({"role": role, "parts": parts})

    def _answer_pending(self) -> None:
        if self.pending:
            self._append("user", [_response(call, NOT_EXECUTED, error=True) for call in self.pending])
            self.pending = []

    def _user(self, content: Sequence[ir.Block]) -> None:
        results = {b.call_id: b for b in content if isinstance(b, ir.ToolResult)}
        responses: list[dict[str, Any]] = []
        extra: list[dict[str, Any]] = []
        for call in self.pending:
            result = results.pop(call.id, None)
            if result is None:
                responses.append(_response(call, NOT_EXECUTED, error=True))
                continue
            responses.append(_response(call, result_text(result), error=result.is_error))
            for image in (part for part in result.content if isinstance(part, ir.Image)):
                extra += _user_part(image)
        self.pending = []
        for block in content:
            if isinstance(block, ir.ToolResult):
                if block.call_id in results:  # answers no call of the turn before
                    extra.append({"text": f"[result of earlier tool call {block.call_id}]: {result_text(block)}"})
            else:
                extra += _user_part(block)
        self._append("user", responses + extra)

    def _model(self, content: Sequence[ir.Block]) -> None:
        parts: list[dict[str, Any]] = []
        signature: str | None = None  # waiting for the function call it belongs to
        calls: list[_Call] = []
        for block in content:
            match block:
                case ir.Thinking():
                    signature = self._thinking(block, parts) or signature
                case ir.Text(text=text) if text:
                    parts.append({"text": text})
                case ir.ToolCall(id=call_id, name=name, args_json=args):
                    call = {"id": call_id, "name": function_name(name), "args": parse_arguments(args)}
                    part: dict[str, Any] = {"functionCall": call}
                    if signature is not None:
                        part["thoughtSignature"], signature = signature, None
                    parts.append(part)
                    calls.append(_Call(call_id, function_name(name)))
                case _:
                    pass  # redacted thinking, other providers' server blocks: nothing Gemini reads
        self._append("model", parts)
        self.pending = calls

    def _thinking(self, block: ir.Thinking, parts: list[dict[str, Any]]) -> str | None:
        """Put this model's own signature back where it came from; returns one that waits for a call."""
        own = thoughts.unwrap(block.signature, self.model)
        if own is None:
            return None  # another provider's or another model's reasoning: never sent to Gemini
        match own.position:
            case thoughts.Position.THOUGHT:
                parts.append({"text": block.text, "thought": True, "thoughtSignature": own.value})
            case thoughts.Position.TEXT if parts and "text" in parts[-1] and not parts[-1].get("thought"):
                parts[-1]["thoughtSignature"] = own.value
            case thoughts.Position.TEXT:
                parts.append({"text": "", "thoughtSignature": own.value})
            case _:
                return own.value
        return None


def _stand_in_signatures(contents: list[dict[str, Any]]) -> None:
    """Gemini 3 checks the signatures of the current turn's calls (every model turn since the last
    user turn that is not only function responses); a first call without one gets the stand-in."""
    start = 0
    for i, content in enumerate(contents):
        if content["role"] == "user" and any("functionResponse" not in p for p in content["parts"]):
            start = i + 1
    for content in contents[start:]:
        if content["role"] != "model":
            continue
        first = next((p for p in content["parts"] if "functionCall" in p), None)
        if first is not None and "thoughtSignature" not in first:
            first["thoughtSignature"] = thoughts.SKIP_SIGNATURE


def _response(call: _Call, text: str, *, error: bool) -> dict[str, Any]:
    response = {"error" if error else "output": text}
    return {"functionResponse": {"id": call.id, "name": call.name, "response": response}}


def _user_part(block: ir.Block) -> list[dict[str, Any]]:
    match block:
        case ir.Text(text=text):
            return [{"text": text}] if text else []
        case ir.Image():
            return [_media(block.source, block.data, block.media_type or "image/png", "image")]
        case ir.Document():
            if block.source is ir.SourceKind.TEXT:
                return [{"text": document_text(block)}]
            return [_media(block.source, block.data, block.media_type or "application/pdf", "document")]
        case ir.ToolCall() | ir.ToolResult() | ir.Thinking() | ir.RedactedThinking() | ir.Opaque():
            return []
        case _:
            assert_never(block)


def _media(source: ir.SourceKind, data: str, mime: str, what: str) -> dict[str, Any]:
    if source is ir.SourceKind.BASE64:
        return {"inlineData": {"mimeType": mime, "data": data}}
    if data.startswith(_GEMINI_FILES):
        return {"fileData": {"mimeType": mime, "fileUri": data}}
    return {"text": f"[{what} omitted: Gemini does not fetch URLs: {data}]"}


# ------------------------------------------------------------------------------------- tools


def _tools(request: ir.Request) -> dict[str, Any]:
    declarations = [_declaration(t) for t in request.tools if t.kind is not ir.ToolKind.SERVER]
    choice = request.tool_choice
    server = {t.name for t in request.tools if t.kind is ir.ToolKind.SERVER}
    if (
        choice is not None
        and server
        and (
            (choice.mode is ir.ToolChoiceMode.TOOL and choice.name in server)
            or (choice.mode is ir.ToolChoiceMode.ANY and not declarations)
        )
    ):
        raise InvalidRequest(
            f"tools: the server tool(s) {', '.join(sorted(server))} run only on their own provider's API; "
            "a Gemini channel cannot run them, so a request that requires them cannot be served here"
        )
    if not declarations:
        return {}
    body: dict[str, Any] = {"tools": [{"functionDeclarations": declarations}]}
    if choice is not None:
        body["toolConfig"] = {"functionCallingConfig": _calling_config(choice)}
    return body


def _declaration(tool: ir.Tool) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": function_name(tool.name)}
    if tool.description:
        declaration["description"] = tool.description
    parameters = tool_parameters(tool.json_schema)
    if parameters is not None:
        declaration["parameters"] = parameters
    return declaration


def _calling_config(choice: ir.ToolChoice) -> dict[str, Any]:
    """The mode for tool_choice; Gemini has no switch for parallel calls, so `parallel` is not sent."""
    match choice.mode:
        case ir.ToolChoiceMode.AUTO:
            return {"mode": "AUTO"}
        case ir.ToolChoiceMode.ANY:
            return {"mode": "ANY"}
        case ir.ToolChoiceMode.TOOL:
            return {"mode": "ANY", "allowedFunctionNames": [function_name(choice.name or "")]}
        case ir.ToolChoiceMode.NONE:
            return {"mode": "NONE"}
        case _:
            assert_never(choice.mode)


# ------------------------------------------------------------------------------------- generation


def _generation_config(request: ir.Request, cap: int | None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if request.max_output_tokens is not None:
        limits = [c for c in (cap, output_limit(request.model)) if c]
        config["maxOutputTokens"] = max(1, min([request.max_output_tokens, *limits]))
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.top_k is not None:
        config["topK"] = request.top_k
    stops = [s for s in request.stop if s][:MAX_STOP_SEQUENCES]
    if stops:
        config["stopSequences"] = stops
    config.update(_response_format(request.response_format))
    thinking = thinking_config(request.reasoning, request.model)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _response_format(fmt: ir.ResponseFormat | None) -> dict[str, Any]:
    if fmt is None or fmt.kind is ir.ResponseFormatKind.TEXT:
        return {}
    out: dict[str, Any] = {"responseMimeType": "application/json"}
    if fmt.kind is ir.ResponseFormatKind.JSON_SCHEMA and fmt.schema:
        out["responseSchema"] = to_gemini(fmt.schema)
    return out


def thinking_config(reasoning: ir.Reasoning, model: str) -> dict[str, Any]:
    """Thinking as the model takes it: a level on Gemini 3, a token budget on 2.5 (never both)."""
    levels = thinks_in_levels(model)
    pro = "pro" in model
    include = reasoning.display != "omitted"
    match reasoning.mode:
        case ir.ReasoningMode.DEFAULT:
            return {}
        case ir.ReasoningMode.OFF:
            if levels:
                return {"thinkingLevel": "LOW", "includeThoughts": False}
            return {"thinkingBudget": PRO_MIN_BUDGET if pro else 0, "includeThoughts": False}
        case ir.ReasoningMode.ON:
            budget = reasoning.budget_tokens or 8192
            if levels:
                return {"thinkingLevel": "LOW" if budget < 8192 else "HIGH", "includeThoughts": include}
            budget = min(max(budget, PRO_MIN_BUDGET if pro else 0), PRO_MAX_BUDGET if pro else FLASH_MAX_BUDGET)
            return {"thinkingBudget": budget, "includeThoughts": include}
        case ir.ReasoningMode.ADAPTIVE:
            if not levels and reasoning.effort in _LOW_EFFORTS:  # the budget the effort stands for
                budget = min(max(ir.effort_budget(reasoning.effort), PRO_MIN_BUDGET if pro else 0), FLASH_MAX_BUDGET)
                return {"thinkingBudget": budget, "includeThoughts": include}
            if not levels:
                return {"thinkingBudget": -1, "includeThoughts": include}
            level = _LEVELS.get(reasoning.effort or "")
            return {"thinkingLevel": level, "includeThoughts": include} if level else {"includeThoughts": include}
        case _:
            assert_never(reasoning.mode)
