"""The JSON Schema (draft 2020-12) of `axonhub.yml`.

One schema, used by `config check`, by `serve` at start and on every reload, and by every CLI
edit before it is written. Semantic checks a schema cannot express (a key's active profile must
exist, regexes must compile, names must be unique) live in `config.py`.
"""

from __future__ import annotations

from typing import Any

from axonhub.formats.openai_chat.quirks import QUIRK_OPTIONS

CHANNEL_TYPES = ("anthropic", "openai", "deepseek", "openrouter", "moonshot", "gemini", "openai_responses")
# The types this version can talk to (formats/registry.py has a codec for each); the others validate,
# so a config written for a later version still loads, but their channels stay unavailable.
SERVED_CHANNEL_TYPES = frozenset(
    {"anthropic", "openai", "deepseek", "openrouter", "moonshot", "openai_responses", "gemini"}
)

_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}
_POSITIVE_NUMBER = {"type": "number", "exclusiveMinimum": 0}

_MODEL_PATTERN = {
    "description": "an exact model name, or {regex: …} matching the whole name",
    "oneOf": [
        {"type": "string", "minLength": 1},
        {
            "type": "object",
            "properties": {"regex": {"type": "string", "minLength": 1}},
            "required": ["regex"],
            "additionalProperties": False,
        },
    ],
}

CLIENTS = ("claude-code", "codex", "anthropic-sdk", "openai-sdk", "other")
_ONE_OR_MORE_NAMES = {
    "oneOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
    ]
}

_WHEN = {
    "type": "object",
    "description": "conditions on the request, all of which must hold for the rule to apply",
    "properties": {
        "thinking": {"type": "boolean", "description": "the request asks for thinking / reasoning"},
        "tokens_above": {"type": "integer", "minimum": 0, "description": "estimated input tokens above N"},
        "images": {"type": "boolean", "description": "the request carries images"},
        "tool": {**_ONE_OR_MORE_NAMES, "description": "a tool offered, by name or type (any of a list)"},
        "client": {
            "oneOf": [
                {"enum": list(CLIENTS)},
                {"type": "array", "items": {"enum": list(CLIENTS)}, "minItems": 1},
            ],
            "description": "which client sent the request (any of a list)",
        },
        "header": {
            "type": "object",
            "description": "request header name -> the exact value it must have",
            "additionalProperties": {"type": "string"},
            "minProperties": 1,
        },
    },
    "additionalProperties": False,
    "minProperties": 1,
}

_RULE = {
    "type": "object",
    "properties": {
        "match": {"type": "string", "minLength": 1, "description": "exact model name"},
        "regex": {"type": "string", "minLength": 1, "description": "anchored regex on the model name"},
        "when": _WHEN,
        "model": {"type": "string", "minLength": 1, "description": "the model to use; may use \\1 groups"},
    },
    "required": ["model"],
    # a rule names the model(s) it is for, or the conditions it applies under, or both
    "anyOf": [{"required": ["match"]}, {"required": ["regex"]}, {"required": ["when"]}],
    "not": {"required": ["match", "regex"]},
    "additionalProperties": False,
}

_TIMEOUTS = {
    "type": "object",
    "properties": {
        "connect": _POSITIVE_NUMBER,
        "read": _POSITIVE_NUMBER,
        "first_byte": {**_POSITIVE_NUMBER, "description": "seconds for the upstream to start answering"},
    },
    "additionalProperties": False,
}

_COUNT_LIMIT = {"type": ["integer", "null"], "minimum": 0}
_USD_LIMIT = {"type": ["number", "null"], "minimum": 0}
_KEY_LIMITS = {
    "type": "object",
    "description": "per-key limits; null lifts a limit the project sets",
    "properties": {
        "requests_per_minute": _COUNT_LIMIT,
        "input_tokens_per_minute": _COUNT_LIMIT,
        "output_tokens_per_minute": _COUNT_LIMIT,
        "input_tokens_per_day": _COUNT_LIMIT,
        "output_tokens_per_day": _COUNT_LIMIT,
        "spend_per_day_usd": _USD_LIMIT,
        "spend_per_month_usd": _USD_LIMIT,
        "concurrent_requests": {"type": ["integer", "null"], "minimum": 1},
    },
    "additionalProperties": False,
}
_CHANNEL_LIMITS = {
    "type": "object",
    "properties": {
        "max_concurrent": {"type": "integer", "minimum": 1},
        "max_queue": {"type": "integer", "minimum": 0},
        "queue_timeout": _POSITIVE_NUMBER,
        "requests_per_minute": {"type": "integer", "minimum": 1},
    },
    "additionalProperties": False,
}
_ENV_REF = r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$"
_STATE = {
    "description": "where limit counters live: memory (one process) or redis (shared by every instance)",
    "oneOf": [
        {"enum": ["memory", "redis"]},
        {
            "type": "object",
            "properties": {
                "backend": {"enum": ["memory", "redis"]},
                "url": {
                    "type": "string",
                    "pattern": r"^(rediss?|unix)://|" + _ENV_REF,
                    "description": "redis://host:6379/0, or ${REDIS_URL} when it holds a password",
                },
                "prefix": {"type": "string"},
                "on_error": {"enum": ["open", "closed"]},
                "timeout": _POSITIVE_NUMBER,
            },
            "additionalProperties": False,
        },
    ],
}
_OTLP = {
    "type": "object",
    "description": "export every exchange as OpenTelemetry spans over OTLP/HTTP (pip install 'axonhub[otel]')",
    "properties": {
        "enabled": {"type": "boolean"},
        "endpoint": {"type": "string", "pattern": r"^https?://[^\s]+$"},
        "headers": {
            "type": "object",
            "description": "values may use ${ENV} references, e.g. 'Basic ${LANGFUSE_AUTH}'",
            "additionalProperties": {"type": "string"},
        },
        "service_name": {"type": "string", "minLength": 1},
        "timeout": _POSITIVE_NUMBER,
        "max_queue": {"type": "integer", "minimum": 1},
    },
    "required": ["endpoint"],
    "additionalProperties": False,
}
_CLIENT_TIMEOUTS = {
    "type": "object",
    "description": "seconds a client may take: to send its headers, to send its body, to sit idle between requests",
    "properties": {
        "headers": _POSITIVE_NUMBER,
        "body": _POSITIVE_NUMBER,
        "keepalive": _POSITIVE_NUMBER,
    },
    "additionalProperties": False,
}

_QUIRKS = {
    "type": "object",
    "description": "what this OpenAI-compatible upstream accepts, over the defaults of the channel's type",
    "properties": QUIRK_OPTIONS,
    "additionalProperties": False,
}

_PRICE = {
    "type": "object",
    "description": "USD per million tokens",
    "properties": {
        "input": {"type": "number", "minimum": 0},
        "output": {"type": "number", "minimum": 0},
        "cache_read": {"type": "number", "minimum": 0},
        "cache_write": {"type": "number", "minimum": 0},
    },
    "additionalProperties": False,
}

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "AxonHub configuration",
    "type": "object",
    "properties": {
        "version": {"type": "integer", "const": 1},
        "server": {
            "type": "object",
            "properties": {
                "host": {"type": "string", "minLength": 1},
                "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "max_body_bytes": {"type": "integer", "minimum": 1024},
                "timeouts": _TIMEOUTS,
                "client_timeouts": _CLIENT_TIMEOUTS,
                "ping_interval": _POSITIVE_NUMBER,
                "conversations": {
                    "type": "object",
                    "description": "answers remembered in memory for requests that continue one by its id "
                    "(the Responses API's previous_response_id); per process, lost on restart",
                    "properties": {
                        "max_per_key": {"type": "integer", "minimum": 0},
                        "max_bytes_per_key": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "bytes of JSON the remembered conversations of one key may hold "
                            "(0: only max_per_key bounds them)",
                        },
                    },
                    "additionalProperties": False,
                },
                "shutdown_grace": {
                    "type": "number",
                    "minimum": 0,
                    "description": "seconds in-flight requests may finish after SIGTERM",
                },
                "state": _STATE,
                "otlp": _OTLP,
                "operator_hints": {
                    "enum": ["auto", "always", "never"],
                    "description": "whether error messages name environment variables and where to look; "
                    "auto: only when listening on loopback",
                },
                "trace": {
                    "type": "object",
                    "properties": {
                        "enabled": {"type": "boolean"},
                        "path": {"type": "string", "minLength": 1},
                        "claude_code_trace_enabled": {"type": "boolean"},
                        "bodies": {"enum": ["none", "errors", "all"]},
                        "max_body_bytes": {"type": "integer", "minimum": 0},
                        "max_bytes": {"type": "integer", "minimum": 0},
                        "keep": {"type": "integer", "minimum": 0},
                    },
                    "additionalProperties": False,
                },
                "dashboard": {
                    "type": "object",
                    "description": "the local dashboard at /dashboard/ (admin only; see docs/dashboard.md)",
                    "properties": {
                        "enabled": {"type": "boolean"},
                        "allow_remote": {
                            "type": "boolean",
                            "description": "serve the dashboard to non-loopback peers too (default false)",
                        },
                        "token_file": {"type": "string", "minLength": 1},
                        "max_records": {"type": "integer", "minimum": 1000},
                    },
                    "additionalProperties": False,
                },
            },
            "additionalProperties": False,
        },
        "channels": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": _NAME,
                    "type": {"enum": list(CHANNEL_TYPES)},
                    "base_url": {"type": "string", "pattern": r"^https?://[^\s]+$"},
                    "api_key": {
                        "type": "string",
                        "pattern": r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$",
                        "description": "an environment reference such as ${DEEPSEEK_API_KEY}; never the key itself",
                    },
                    "models": {"type": "array", "items": _MODEL_PATTERN, "minItems": 1},
                    "aliases": {
                        "type": "object",
                        "description": "model name -> the name this upstream knows it by",
                        "additionalProperties": {"type": "string", "minLength": 1},
                    },
                    "priority": {"type": "integer", "description": "lower is tried first"},
                    "weight": {"type": "integer", "minimum": 1},
                    "headers": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                    },
                    "max_output_tokens": {"type": "integer", "minimum": 1},
                    "quirks": _QUIRKS,
                    "timeouts": _TIMEOUTS,
                    "limits": _CHANNEL_LIMITS,
                    "enabled": {"type": "boolean"},
                },
                "required": ["name", "type", "base_url", "models"],
                "additionalProperties": False,
            },
        },
        "profiles": {
            "type": "object",
            "propertyNames": _NAME,
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "description": {"type": "string"},
                    "rules": {"type": "array", "items": _RULE},
                },
                "required": ["rules"],
                "additionalProperties": False,
            },
        },
        "keys": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": _NAME,
                    "secret_hash": {"type": "string", "pattern": r"^sha256:[0-9a-f]{64}$"},
                    "project": {"type": "string"},
                    "profiles": {"type": "array", "items": _NAME, "uniqueItems": True},
                    "active_profile": {"anyOf": [_NAME, {"type": "null"}]},
                    "enabled": {"type": "boolean"},
                    "created_at": {"type": "string"},
                    "limits": _KEY_LIMITS,
                },
                "required": ["name", "secret_hash"],
                "additionalProperties": False,
            },
        },
        "projects": {
            "type": "object",
            "description": "project name -> defaults for the keys of that project",
            "propertyNames": {"type": "string", "minLength": 1},
            "additionalProperties": {
                "type": "object",
                "properties": {"description": {"type": "string"}, "limits": _KEY_LIMITS},
                "additionalProperties": False,
            },
        },
        "pricing": {
            "type": "object",
            "description": "model name -> price per million tokens, for `axonhub usage`",
            "additionalProperties": _PRICE,
        },
    },
    "additionalProperties": False,
}
