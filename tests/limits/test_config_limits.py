"""The config's limits, state and OTLP sections: project defaults under key overrides, errors with
their paths, secrets kept out of the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from axonhub.config import load_config, validate
from axonhub.errors import ConfigError
from axonhub.limits.model import ChannelLimits, KeyLimits
from tests.conftest import base_config, write_config


def config_with(tmp_path: Path, **sections: Any) -> dict[str, Any]:
    data = base_config("http://127.0.0.1:9", tmp_path / "trace.jsonl")
    for name, value in sections.items():
        if name in ("state", "otlp", "shutdown_grace"):
            data["server"][name] = value
        else:
            data[name] = value
    return data


def test_a_keys_limits_are_its_projects_with_its_own_on_top(tmp_path: Path) -> None:
    data = config_with(tmp_path, projects={"demo": {"limits": {"requests_per_minute": 60, "spend_per_day_usd": 5}}})
    data["keys"][0]["limits"] = {"spend_per_day_usd": None, "concurrent_requests": 3}
    data["channels"][0]["limits"] = {"max_concurrent": 2, "queue_timeout": 5}
    data["channels"][0]["timeouts"] = {"first_byte": 20, "read": 300}
    config = load_config(write_config(tmp_path / "axonhub.yml", data), env={})
    alice, bob = config.key_by_name("alice"), config.key_by_name("bob")
    assert alice is not None and bob is not None
    assert alice.limits == KeyLimits(requests_per_minute=60, concurrent_requests=3)
    assert bob.limits == KeyLimits()  # project "default" has no entry
    assert config.channels[0].limits == ChannelLimits(max_concurrent=2, max_queue=100, queue_timeout=5)
    assert (config.channels[0].timeouts.first_byte, config.channels[0].timeouts.read) == (20, 300)


@pytest.mark.parametrize(
    ("sections", "error"),
    [
        ({"state": {"backend": "redis"}}, "server.state.url: required with backend redis"),
        ({"state": "redis"}, "server.state: redis needs a url"),
        (
            {"state": {"backend": "redis", "url": "redis://:hunter2@redis:6379/0"}},
            "server.state.url: holds a password; put the URL in an environment variable: url: ${REDIS_URL}",
        ),
        (
            {"state": {"url": "http://redis"}},
            "server.state.url: 'http://redis' is not a redis://, rediss:// or unix:// URL",
        ),
        ({"projects": {"demo": {"limits": {"requests_per_minute": -1}}}}, "projects.demo.limits.requests_per_minute"),
        (
            {"projects": {"demo": {"limits": {"tokens_per_minute": 5}}}},
            "projects.demo.limits.tokens_per_minute: unknown field (did you mean 'input_tokens_per_minute'?)",
        ),
        ({"otlp": {"headers": {}}}, "server.otlp: 'endpoint' is a required property"),
        ({"shutdown_grace": -1}, "server.shutdown_grace: -1 is less than the minimum of 0"),
    ],
)
def test_invalid_sections_are_refused_with_their_path(tmp_path: Path, sections: dict[str, Any], error: str) -> None:
    errors = validate(config_with(tmp_path, **sections))
    assert any(e.startswith(error) for e in errors), errors


def test_state_and_otlp_take_secrets_from_the_environment(tmp_path: Path) -> None:
    data = config_with(
        tmp_path,
        state={"backend": "redis", "url": "${REDIS_URL}", "on_error": "closed"},
        otlp={"endpoint": "http://collector:4318", "headers": {"Authorization": "Basic ${OTLP_AUTH}"}},
    )
    path = write_config(tmp_path / "axonhub.yml", data)
    config = load_config(path, env={"REDIS_URL": "redis://:pw@redis:6379/1", "OTLP_AUTH": "abc"})
    assert (config.server.state.url, config.server.state.on_error) == ("redis://:pw@redis:6379/1", "closed")
    assert config.server.otlp is not None and config.server.otlp.headers == {"Authorization": "Basic abc"}
    unset = load_config(path, env={})
    assert unset.server.state.url is None and unset.server.otlp is not None
    assert unset.server.otlp.unavailable_reason == (
        "server.otlp: environment variable OTLP_AUTH is not set; spans are not exported"
    )
    assert "server.state: environment variable REDIS_URL is not set; limits follow state.on_error" in unset.warnings


def test_a_credential_written_into_an_otlp_header_is_warned_about(tmp_path: Path) -> None:
    headers = {
        "Authorization": "Bearer abcdefghijklmnop1234",
        "x-api-key": "k-123",
        "x-honeycomb-dataset": "axonhub",  # not a credential
        "X-Auth-Token": "Token ${OTLP_TOKEN}",  # from the environment
    }
    data = config_with(tmp_path, otlp={"endpoint": "http://collector:4318", "headers": headers})
    config = load_config(write_config(tmp_path / "axonhub.yml", data), env={"OTLP_TOKEN": "t"})
    otlp_warnings = [w for w in config.warnings if w.startswith("server.otlp")]
    assert otlp_warnings == [
        "server.otlp.headers.Authorization: a credential written into the config; take it from the environment, "
        "e.g. 'Bearer ${OTLP_TOKEN}'",
        "server.otlp.headers.x-api-key: a credential written into the config; take it from the environment, "
        "e.g. '${OTLP_X_API_KEY}'",
    ]
    assert config.server.otlp is not None and config.server.otlp.unavailable_reason is None  # still exported


def test_a_missing_file_section_is_still_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_config(tmp_path / "nope.yml")
