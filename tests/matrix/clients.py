"""The client side of the format matrix: the official SDK of each client format, driven through one
small interface, keeping its conversation in its own native form (what it sends back on the next
turn is exactly what it received, signatures and all).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import anthropic
import openai
from google import genai
from google.genai import types

from tests.conftest import SECRET

ANTHROPIC, OPENAI, RESPONSES, GEMINI = "anthropic", "openai_chat", "openai_responses", "gemini"
MODEL = "m"
SYSTEM = "Be brief."
WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
BUDGET = 2048


@dataclass
class Got:
    """What a client got, in neutral terms."""

    text: str = ""
    reasoning: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    stop: str = ""
    usage: tuple[int, int] = (0, 0)  # input, output as the client reads them


class Client(Protocol):
    name: str
    rate_limited: type[Exception]  # the SDK's exception for a 429
    normal_stop: str
    tool_stop: str

    def user(self, text: str) -> None: ...

    async def ask(self, stream: bool, *, tools: bool = False, reasoning: bool = False, max_tokens: int = 50) -> Got:
        """Send the conversation; the answer joins it as the SDK returned it."""
        ...

    def results(self, output: str) -> None:
        """Answer every call of the last answer with `output`."""
        ...

    def status(self, exc: Exception) -> int: ...

    async def close(self) -> None: ...


# ------------------------------------------------------------------------------ anthropic


class AnthropicClient:
    name = ANTHROPIC
    rate_limited = anthropic.RateLimitError
    normal_stop, tool_stop = "end_turn", "tool_use"

    def __init__(self, url: str) -> None:
        self.sdk = anthropic.AsyncAnthropic(base_url=url + "/anthropic", api_key=SECRET, max_retries=0)
        self.messages: list[dict[str, Any]] = []

    def user(self, text: str) -> None:
        self.messages.append({"role": "user", "content": text})

    async def ask(self, stream: bool, *, tools: bool = False, reasoning: bool = False, max_tokens: int = 50) -> Got:
        params: dict[str, Any] = {"model": MODEL, "max_tokens": max_tokens, "system": SYSTEM, "messages": self.messages}
        if tools:
            params["tools"] = [
                {"name": "get_weather", "description": "Weather of a city", "input_schema": WEATHER_SCHEMA}
            ]
        if reasoning:
            params["thinking"] = {"type": "enabled", "budget_tokens": BUDGET}
        if stream:
            async with self.sdk.messages.stream(**params) as events:
                message = await events.get_final_message()
        else:
            message = await self.sdk.messages.create(**params)
        self.messages.append(
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]}
        )
        return Got(
            text="".join(b.text for b in message.content if b.type == "text"),
            reasoning="".join(b.thinking for b in message.content if b.type == "thinking"),
            calls=[(b.name, dict(b.input)) for b in message.content if b.type == "tool_use"],  # type: ignore[arg-type]
            stop=str(message.stop_reason),
            usage=(message.usage.input_tokens, message.usage.output_tokens),
        )

    def results(self, output: str) -> None:
        calls = [b for b in self.messages[-1]["content"] if b["type"] == "tool_use"]
        self.messages.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": b["id"], "content": output} for b in calls],
            }
        )

    def status(self, exc: Exception) -> int:
        assert isinstance(exc, anthropic.APIStatusError)
        return exc.status_code

    async def close(self) -> None:
        await self.sdk.close()


# ------------------------------------------------------------------------------ openai (Chat)


class ChatClient:
    name = OPENAI
    rate_limited = openai.RateLimitError
    normal_stop, tool_stop = "stop", "tool_calls"

    def __init__(self, url: str) -> None:
        self.sdk = openai.AsyncOpenAI(base_url=url + "/v1", api_key=SECRET, max_retries=0)
        self.messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]

    def user(self, text: str) -> None:
        self.messages.append({"role": "user", "content": text})

    async def ask(self, stream: bool, *, tools: bool = False, reasoning: bool = False, max_tokens: int = 50) -> Got:
        params: dict[str, Any] = {"model": MODEL, "messages": self.messages, "max_tokens": max_tokens}
        if tools:
            function = {"name": "get_weather", "description": "Weather of a city", "parameters": WEATHER_SCHEMA}
            params["tools"] = [{"type": "function", "function": function}]
        if reasoning:
            params["reasoning_effort"] = "low"
        got = await (self._stream(params) if stream else self._whole(params))
        message: dict[str, Any] = {"role": "assistant", "content": got.text or None}
        if got.calls:
            message["tool_calls"] = self._calls
        self.messages.append(message)
        return got

    async def _whole(self, params: dict[str, Any]) -> Got:
        completion = await self.sdk.chat.completions.create(**params)
        choice = completion.choices[0]
        self._calls = [c.model_dump() for c in choice.message.tool_calls or []]
        usage = completion.usage
        return Got(
            text=choice.message.content or "",
            reasoning=str(getattr(choice.message, "reasoning_content", None) or ""),
            calls=[(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in self._calls],
            stop=str(choice.finish_reason),
            usage=(usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0),
        )

    async def _stream(self, params: dict[str, Any]) -> Got:
        chunks = await self.sdk.chat.completions.create(**params, stream=True, stream_options={"include_usage": True})
        got = Got()
        calls: dict[int, dict[str, Any]] = {}
        async for chunk in chunks:
            if chunk.usage:
                got.usage = (chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
            for choice in chunk.choices:
                got.text += choice.delta.content or ""
                got.reasoning += str(getattr(choice.delta, "reasoning_content", None) or "")
                for call in choice.delta.tool_calls or []:
                    entry = calls.setdefault(
                        call.index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
                    )
                    entry["id"] = call.id or entry["id"]
                    if call.function is not None:
                        entry["function"]["name"] += call.function.name or ""
                        entry["function"]["arguments"] += call.function.arguments or ""
                got.stop = choice.finish_reason or got.stop
        self._calls = [calls[i] for i in sorted(calls)]
        got.calls = [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in self._calls]
        return got

    def results(self, output: str) -> None:
        for call in self.messages[-1].get("tool_calls", ()):
            self.messages.append({"role": "tool", "tool_call_id": call["id"], "content": output})

    def status(self, exc: Exception) -> int:
        assert isinstance(exc, openai.APIStatusError)
        return exc.status_code

    async def close(self) -> None:
        await self.sdk.close()


# ------------------------------------------------------------------------------ openai (Responses)


class ResponsesClient:
    name = RESPONSES
    rate_limited = openai.RateLimitError
    normal_stop = tool_stop = "completed"

    def __init__(self, url: str) -> None:
        self.sdk = openai.AsyncOpenAI(base_url=url + "/v1", api_key=SECRET, max_retries=0)
        self.input: list[dict[str, Any]] = []

    def user(self, text: str) -> None:
        self.input.append({"role": "user", "content": text})

    async def ask(self, stream: bool, *, tools: bool = False, reasoning: bool = False, max_tokens: int = 50) -> Got:
        params: dict[str, Any] = {
            "model": MODEL,
            "instructions": SYSTEM,
            "input": self.input,
            "max_output_tokens": max_tokens,
            "store": False,
            "include": ["reasoning.encrypted_content"],
        }
        if tools:
            params["tools"] = [
                {
                    "type": "function",
                    "name": "get_weather",
                    "description": "Weather of a city",
                    "parameters": WEATHER_SCHEMA,
                }
            ]
        if reasoning:
            params["reasoning"] = {"effort": "low", "summary": "auto"}
        if stream:
            async with self.sdk.responses.stream(**params) as events:
                response = await events.get_final_response()
        else:
            response = await self.sdk.responses.create(**params)
        items = [item.model_dump(exclude_none=True) for item in response.output]
        self.input += items
        usage = response.usage
        return Got(
            text=response.output_text,
            reasoning="".join(p["text"] for i in items if i["type"] == "reasoning" for p in i.get("summary", ())),
            calls=[(i["name"], json.loads(i["arguments"])) for i in items if i["type"] == "function_call"],
            stop=str(response.status),
            usage=(usage.input_tokens, usage.output_tokens) if usage else (0, 0),
        )

    def results(self, output: str) -> None:
        calls = [i for i in self.input if i.get("type") == "function_call"][-1:]
        for call in calls:
            self.input.append({"type": "function_call_output", "call_id": call["call_id"], "output": output})

    def status(self, exc: Exception) -> int:
        assert isinstance(exc, openai.APIStatusError)
        return exc.status_code

    async def close(self) -> None:
        await self.sdk.close()


# ------------------------------------------------------------------------------ google-genai


class GeminiClient:
    name = GEMINI
    rate_limited = genai.errors.ClientError
    normal_stop = tool_stop = "STOP"

    def __init__(self, url: str) -> None:
        options = types.HttpOptions(base_url=url + "/gemini", retry_options=types.HttpRetryOptions(attempts=1))
        self.sdk = genai.Client(api_key=SECRET, http_options=options)
        self.contents: list[types.Content] = []

    def user(self, text: str) -> None:
        self.contents.append(types.Content(role="user", parts=[types.Part(text=text)]))

    async def ask(self, stream: bool, *, tools: bool = False, reasoning: bool = False, max_tokens: int = 50) -> Got:
        config = types.GenerateContentConfig(
            system_instruction=SYSTEM,
            max_output_tokens=max_tokens,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )
        if tools:
            weather = types.FunctionDeclaration(
                name="get_weather", description="Weather of a city", parameters_json_schema=WEATHER_SCHEMA
            )
            config.tools = [types.Tool(function_declarations=[weather])]
        if reasoning:
            config.thinking_config = types.ThinkingConfig(include_thoughts=True, thinking_budget=BUDGET)
        if stream:
            answers = [
                c
                async for c in await self.sdk.aio.models.generate_content_stream(
                    model=MODEL, contents=self.contents, config=config
                )
            ]
        else:
            answers = [await self.sdk.aio.models.generate_content(model=MODEL, contents=self.contents, config=config)]
        parts = [
            p for a in answers if a.candidates and a.candidates[0].content for p in a.candidates[0].content.parts or ()
        ]
        self.contents.append(types.Content(role="model", parts=parts))
        last = answers[-1]
        usage = last.usage_metadata
        return Got(
            text="".join(p.text or "" for p in parts if not p.thought),
            reasoning="".join(p.text or "" for p in parts if p.thought),
            calls=[(p.function_call.name or "", dict(p.function_call.args or {})) for p in parts if p.function_call],
            stop=str(last.candidates[0].finish_reason.value)
            if last.candidates and last.candidates[0].finish_reason
            else "",
            usage=(
                (usage.prompt_token_count or 0),
                (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0),
            )
            if usage
            else (0, 0),
        )

    def results(self, output: str) -> None:
        calls = [p.function_call for p in self.contents[-1].parts or () if p.function_call]
        parts = [
            types.Part(function_response=types.FunctionResponse(id=c.id, name=c.name, response={"output": output}))
            for c in calls
        ]
        self.contents.append(types.Content(role="user", parts=parts))

    def status(self, exc: Exception) -> int:
        assert isinstance(exc, genai.errors.APIError)
        return int(exc.code)

    async def close(self) -> None:
        await self.sdk.aio.aclose()
        self.sdk.close()


CLIENTS: dict[str, type[AnthropicClient] | type[ChatClient] | type[ResponsesClient] | type[GeminiClient]] = {
    ANTHROPIC: AnthropicClient,
    OPENAI: ChatClient,
    RESPONSES: ResponsesClient,
    GEMINI: GeminiClient,
}
