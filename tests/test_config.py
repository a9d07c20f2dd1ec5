"""Loading and validating axonhub.yml: every error with its path, env references, the shipped file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from axonhub.config import EMPTY_DOCUMENT, ClientTimeouts, Timeouts, hash_secret, load_config, validate
from axonhub.errors import ConfigError
from axonhub.schema import CHANNEL_TYPES, CONFIG_SCHEMA, SERVED_CHANNEL_TYPES

REPO = Path(__file__).resolve().parent.parent

# the channel types this version serves, as the schema lists them
SERVED = ", ".join(t for t in CHANNEL_TYPES if t in SERVED_CHANNEL_TYPES)


def valid() -> dict[str, Any]:
    return {
        "version": 1,
        "channels": [
            {
                "name": "ds",
                "type": "deepseek",
                "base_url": "https://api.deepseek.com",
                "api_key": "${DS_KEY}",
                "models": ["deepseek-chat", {"regex": "deepseek-r.*"}],
            },
        ],
        "profiles": {"p": {"rules": [{"match": "claude-haiku-4-5", "model": "deepseek-chat"}]}},
        "keys": [{"name": "k", "secret_hash": hash_secret("ah-x"), "profiles": ["p"], "active_profile": "p"}],
    }


def test_the_schema_itself_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(CONFIG_SCHEMA)


def test_the_shipped_config_is_valid_and_starts_with_no_variables_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    config = load_config(REPO / "axonhub.yml", env={})
    assert {c.name for c in config.channels} == {"anthropic", "deepseek"}
    assert config.warnings == (
        "channel 'anthropic' is unavailable: environment variable ANTHROPIC_API_KEY is not set; "
        "set it and restart AxonHub",
        "channel 'deepseek' is unavailable: environment variable DEEPSEEK_API_KEY is not set; "
        "set it and restart AxonHub",
    )


def test_a_valid_config_loads_into_frozen_dataclasses(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump(valid()))
    config = load_config(path, env={"DS_KEY": "sk-ds"})
    channel = config.channels[0]
    assert channel.api_key == "sk-ds"
    assert channel.models.matches("deepseek-reasoner") and not channel.models.matches("xdeepseek-r1")
    assert config.keys[0].active_profile == "p"
    assert config.warnings == ()
    assert config.server.trace.path == tmp_path / "axonhub-trace.jsonl"
    with pytest.raises(AttributeError):
        config.keys[0].name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("mutate", "errors"),
    [
        (
            lambda c: c["channels"][0].update(type="carrier-pigeon"),
            # types this version cannot serve yet (gemini, openai_responses) are not offered
            ["channels[0].type: 'carrier-pigeon' is not one of " + SERVED],
        ),
        (
            lambda c: c["channels"][0].update(type="opnai"),
            ["channels[0].type: 'opnai' is not one of " + SERVED + " (did you mean 'openai'?)"],
        ),
        (
            lambda c: c["channels"][0].update(api_key="sk-literal-key"),
            # the pasted value is never repeated
            [
                "channels[0].api_key: use an environment reference such as ${DEEPSEEK_API_KEY} and export the key "
                "where `axonhub serve` runs; the key itself never goes in this file (the value given is not shown)"
            ],
        ),
        (lambda c: c["channels"][0].pop("models"), ["channels[0]: 'models' is a required property"]),
        (lambda c: c["keys"][0].update(active_profile="nope"), ["keys[0].active_profile: no profile named 'nope'"]),
        (
            lambda c: c["keys"][0].update(active_profile="pp"),
            ["keys[0].active_profile: no profile named 'pp' (did you mean 'p'?)"],
        ),
        (
            lambda c: c["keys"][0].update(profiles=["ghost"]),
            [
                "keys[0].profiles[0]: no profile named 'ghost'",
                "keys[0].active_profile: 'p' is not one of the key's profiles",
            ],
        ),
        (
            lambda c: c["keys"].append(dict(c["keys"][0])),
            ["keys[1].name: duplicate name 'k'", "keys[1].secret_hash: duplicate secret_hash '(the same secret)'"],
        ),
        (
            lambda c: c["profiles"]["p"]["rules"].append({"regex": "claude-(", "model": "x"}),
            # rules are numbered from 1, as in `profiles show` and the trace
            ["profiles.p rule 2.regex: invalid regex 'claude-(': missing ), unterminated subpattern at position 7"],
        ),
        (
            lambda c: c["profiles"]["p"]["rules"].append({"model": "x"}),
            ["profiles.p rule 2: a rule needs `match` (a model name), `regex` or `when` (conditions)"],
        ),
        (
            lambda c: c["profiles"]["p"]["rules"].append({"match": "a", "regex": "b", "model": "x"}),
            ["profiles.p rule 2: give `match` or `regex`, not both"],
        ),
        (
            lambda c: c["profiles"]["p"]["rules"].append({"match": "a", "model": "x", "when": {"thinkng": True}}),
            ["profiles.p rule 2.when.thinkng: unknown field (did you mean 'thinking'?)"],
        ),
        # a value of either shape (a name or a mapping, one or a list): the message is about the shape it has
        (
            lambda c: c.update(server={"state": {"backend": "redis", "urll": "redis://r:6379/0"}}),
            ["server.state.urll: unknown field (did you mean 'url'?)"],
        ),
        (
            lambda c: c.update(server={"state": {"backend": "redis", "url": "redis://r:6379/0", "on_error": "maybe"}}),
            ["server.state.on_error: 'maybe' is not one of open, closed"],
        ),
        (
            lambda c: c["channels"][0].update(models=[{"regx": "deepseek-.*"}]),
            [
                "channels[0].models[0]: 'regex' is a required property",
                "channels[0].models[0].regx: unknown field (did you mean 'regex'?)",
            ],
        ),
        (
            lambda c: c["profiles"]["p"]["rules"].append({"when": {"client": ["codex", "codx"]}, "model": "x"}),
            [
                "profiles.p rule 2.when.client[1]: 'codx' is not one of "
                "claude-code, codex, anthropic-sdk, openai-sdk, other (did you mean 'codex'?)"
            ],
        ),
        (
            lambda c: c.update(server={"state": ["redis"]}),
            ["server.state: list is not one of memory, redis"],
        ),
        # YAML's .nan passes every bound (no comparison holds for it), then fails every request
        (
            lambda c: c.update(server={"timeouts": {"read": float("nan")}}),
            ["server.timeouts.read: .nan is not a number"],
        ),
        (
            lambda c: c.update(pricing={"deepseek-chat": {"input": 1.0, "output": float("nan")}}),
            ["pricing.deepseek-chat.output: .nan is not a number"],
        ),
        (
            lambda c: c.update(server={"port": 70000, "colour": "blue"}),
            [
                "server.colour: unknown field (expected one of "
                + ", ".join(CONFIG_SCHEMA["properties"]["server"]["properties"])
                + ")",
                "server.port: 70000 is greater than the maximum of 65535",
            ],
        ),
    ],
)
def test_every_error_is_reported_with_its_path(mutate: Any, errors: list[str]) -> None:
    config = valid()
    mutate(config)
    assert validate(config) == errors


def test_an_invalid_file_raises_with_every_error(tmp_path: Path) -> None:
    config = valid()
    config["keys"][0]["active_profile"] = "nope"
    config["channels"][0]["base_url"] = "ftp://x"
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.errors == ["channels[0].base_url: 'ftp://x' is not an http:// or https:// URL (line 3)"]


def test_broken_yaml_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("server:\n  port: [8090\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.errors[0].startswith("(yaml) line 3, column 1: ")


def test_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "absent.yml")
    assert info.value.errors == [f"config file not found: {tmp_path / 'absent.yml'}"]


@pytest.mark.parametrize(
    "content",
    [b"", b"\n\n", b"# nothing here yet\n", b"# version: 1\n# keys: []\n   \n", b"---\n"],
    ids=["empty", "blank lines", "one comment", "commented out", "empty document"],
)
def test_an_empty_or_comment_only_file_is_invalid_not_an_empty_config(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "c.yml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.errors == [EMPTY_DOCUMENT]


def test_a_file_that_is_not_utf8_is_one_clear_error_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_bytes(b"version: 1\nchannels: []  # caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.errors == ["(encoding) not valid UTF-8: byte 0xe9 at line 2, column 20"]


def test_server_timeouts_are_the_default_of_every_channel_field_by_field(tmp_path: Path) -> None:
    data = valid()
    data["server"] = {"timeouts": {"connect": 3, "read": 45}}
    second = dict(data["channels"][0], name="ds2", timeouts={"read": 900})
    third = dict(data["channels"][0], name="ds3", timeouts={"connect": 1, "read": 5})
    data["channels"] += [second, third]
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump(data))
    config = load_config(path, env={})
    assert config.server.timeouts == Timeouts(connect=3, read=45)
    assert [c.timeouts for c in config.channels] == [
        Timeouts(connect=3, read=45),
        Timeouts(connect=3, read=900),
        Timeouts(connect=1, read=5),
    ]


def test_client_timeouts_have_defaults_and_can_be_set(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump(valid()))
    assert load_config(path, env={}).server.client_timeouts == ClientTimeouts(headers=10, body=60, keepalive=75)
    path.write_text(yaml.safe_dump({**valid(), "server": {"client_timeouts": {"headers": 2.5, "keepalive": 5}}}))
    assert load_config(path, env={}).server.client_timeouts == ClientTimeouts(headers=2.5, body=60, keepalive=5)
    assert validate({"server": {"client_timeouts": {"headers": 0, "idle": 3}}}) == [
        "server.client_timeouts.idle: unknown field (expected one of headers, body, keepalive)",
        "server.client_timeouts.headers: 0 is less than or equal to the minimum of 0",
    ]


def test_every_channel_type_is_served_by_a_codec() -> None:
    from axonhub.formats.registry import CHANNEL_FORMATS

    assert set(CHANNEL_FORMATS) == SERVED_CHANNEL_TYPES == set(CHANNEL_TYPES)
