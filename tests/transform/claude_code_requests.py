"""Requests shaped like Claude Code 2.1.197's (its headers, body keys in its order, its tool schemas).

Written by hand after the traffic Claude Code really sends, so the server tests can send it with
raw HTTP and compare what reaches the upstream field by field.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

SESSION = "5f0c1d2e-3b4a-4c5d-8e6f-708192a3b4c5"
USER_ID = json.dumps({"device_id": "d3" * 32, "account_uuid": "", "session_id": SESSION}, separators=(",", ":"))
USER_HASH = hashlib.sha256(USER_ID.encode()).hexdigest()
BILLING = "x-anthropic-billing-header: cc_version=2.1.197.1c0; cc_entrypoint=sdk-cli;"
AGENT = "You are a Claude agent, built on Anthropic's Claude Agent SDK."
MAIN_PROMPT = "\nYou are an interactive agent that helps users with software engineering tasks."
AGENT_TYPES = "Available agent types for the Agent tool:\n- general-purpose: for anything"
REMINDER = "<system-reminder>\nToday's date is 2026-11-24.\n</system-reminder>"
BETAS = (
    "claude-code-20250219,interleaved-thinking-2025-05-14,thinking-token-count-2026-05-13,"
    "context-management-2025-06-27,prompt-caching-scope-2026-01-05,mid-conversation-system-2026-04-07,"
    "effort-2025-11-24"
)

BASH_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "command": {"description": "The command to execute", "type": "string"},
        "timeout": {"description": "Optional timeout in milliseconds", "type": "number", "exclusiveMinimum": 0},
        "description": {"type": "string"},
        "run_in_background": {"type": "boolean", "const": True},
    },
    "required": ["command"],
    "additionalProperties": False,
}
READ_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "file_path": {"type": "string", "format": "uri-reference", "pattern": "^/"},
        "offset": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]},
        "pages": {
            "type": "object",
            "propertyNames": {"pattern": "^[0-9]+$"},
            "additionalProperties": {"type": "string"},
        },
    },
    "required": ["file_path"],
    "additionalProperties": False,
}
TOOLS = [
    {"name": "Bash", "description": "Executes a bash command.", "input_schema": BASH_SCHEMA},
    {"name": "Read", "description": "Reads a file.", "input_schema": READ_SCHEMA},
]
OPENAI_TOOLS = [
    {
        "type": "function",
        "function": {"name": "Bash", "description": "Executes a bash command.", "parameters": BASH_SCHEMA},
    },
    {"type": "function", "function": {"name": "Read", "description": "Reads a file.", "parameters": READ_SCHEMA}},
]


def headers(secret: str, *, betas: str = BETAS, stream: bool = True) -> dict[str, str]:
    """The headers Claude Code sends on a main request (`ANTHROPIC_API_KEY` auth)."""
    return {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "User-Agent": "claude-cli/2.1.197 (external, sdk-cli)",
        "X-Claude-Code-Session-Id": SESSION,
        "X-Stainless-Timeout": "600" if stream else "300",
        "anthropic-beta": betas,
        "anthropic-dangerous-direct-browser-access": "true",
        "anthropic-version": "2023-06-01",
        "x-api-key": secret,
        "x-app": "cli",
    }


def first_turn(prompt: str = "Run the marker command") -> list[dict[str, Any]]:
    """The first turn of `claude -p`: the reminder, the prompt, then the mid-conversation system message."""
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": REMINDER},
                {"type": "text", "text": prompt, "cache_control": {"type": "ephemeral"}},
            ],
        },
        {"role": "system", "content": AGENT_TYPES},
    ]


def main_body(
    model: str = "claude-opus-4-8", messages: list[dict[str, Any]] | None = None, **changes: Any
) -> dict[str, Any]:
    """A main-turn body, keys in Claude Code's order; `stream=None` drops the key (its non-streaming retry)."""
    body: dict[str, Any] = {
        "model": model,
        "messages": messages if messages is not None else first_turn(),
        "system": [
            {"type": "text", "text": BILLING},
            {"type": "text", "text": AGENT, "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": MAIN_PROMPT, "cache_control": {"type": "ephemeral"}},
        ],
        "tools": TOOLS,
        "metadata": {"user_id": USER_ID},
        "max_tokens": 64000,
        "thinking": {"type": "adaptive"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "high"},
        "stream": True,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def title_body(model: str = "claude-haiku-4-5-20251001") -> dict[str, Any]:
    """Session-title generation on the small model: structured output, thinking off, temperature 1."""
    return {
        "model": model,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "<session>\nfix the build\n</session>"}]}],
        "system": [
            {"type": "text", "text": BILLING.replace("sdk-cli", "cli")},
            {
                "type": "text",
                "text": "Generate a concise title for this coding session.",
                "cache_control": {"type": "ephemeral"},
            },
        ],
        "tools": [],
        "metadata": {"user_id": USER_ID},
        "max_tokens": 32000,
        "thinking": {"type": "disabled"},
        "temperature": 1,
        "output_config": {
            "format": {
                "type": "json_schema",
                "schema": {
                    "type": "object",
                    "properties": {"title": {"type": "string"}},
                    "required": ["title"],
                    "additionalProperties": False,
                },
            }
        },
        "stream": True,
    }


def tool_loop(
    call_id: str, command: str, output: str, *, thinking: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """First turn, the assistant's Bash call (after its thinking, if any), the result plus a trailing reminder."""
    assistant: list[dict[str, Any]] = [thinking] if thinking else []
    assistant += [
        {"type": "text", "text": "Running it."},
        {"type": "tool_use", "id": call_id, "name": "Bash", "input": {"command": command, "description": "Run it"}},
    ]
    return [
        *first_turn(),
        {"role": "assistant", "content": assistant},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": call_id,
                    "content": output,
                    "is_error": False,
                    "cache_control": {"type": "ephemeral"},
                },
                {"type": "text", "text": "<system-reminder>\nThe task list is empty.\n</system-reminder>"},
            ],
        },
    ]
