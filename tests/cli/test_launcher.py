"""`axonhub run claude|codex` and `axonhub env claude|codex` as a user runs them: real processes, a
running `axonhub serve`, and fake agents on PATH that record exactly the arguments and environment
they were started with. (The real Claude Code through the launcher: tests/test_claude_code_launcher.py.
The real Codex through the launcher waits for the OpenAI Responses API to be served.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from axonhub.config import hash_secret
from tests.conftest import base_config, write_config
from tests.processes import Served, axonhub, base_env, fake_agent, free_port, recorded, serving

pytestmark = pytest.mark.slow  # real processes: a gateway and the CLI per test, a few seconds each

GATEWAY_KEY = "sk-ant-api03-the-gateways-own-upstream-key"  # exported in the user's shell for the channel


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.fixture
def env(home: Path, tmp_path: Path) -> dict[str, str]:
    """The user's shell: the gateway's channel key exported, other tools' settings too."""
    return base_env(
        home,
        PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}",
        FAKE_ANTHROPIC_KEY=GATEWAY_KEY,
        ANTHROPIC_API_KEY=GATEWAY_KEY,
        OPENAI_API_KEY="sk-openai-someone-elses",
        ANTHROPIC_CUSTOM_HEADERS="X-Mine: 1",
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    data = base_config("http://127.0.0.1:9", tmp_path / "trace.jsonl")
    data["channels"][0]["api_key"] = "${ANTHROPIC_API_KEY}"
    return write_config(tmp_path / "axonhub.yml", data)


@pytest.fixture
def gateway(config: Path, env: dict[str, str]) -> Iterator[Served]:
    with serving(config, env) as served:
        yield served


def create_key(config: Path, env: dict[str, str], name: str = "laptop") -> str:
    result = axonhub("keys", "create", name, "--config", str(config), env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def trace_id(header_line: str) -> str:
    name, _, value = header_line.partition(": ")
    assert name == "X-Trace-Id" and value.startswith("launch-")
    return value


def test_run_claude_gives_the_agent_its_settings_and_nothing_of_the_gateways(
    config: Path, env: dict[str, str], gateway: Served, tmp_path: Path
) -> None:
    secret = create_key(config, env)
    record = fake_agent(tmp_path / "bin", "claude")
    result = axonhub(
        "run", "--config", str(config), "--port", str(gateway.port), "claude", "--", "-p", "hi there", "--model", "sonnet",
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith(f"claude through AxonHub at {gateway.url} with key 'laptop'")
    argv, child = recorded(record)
    statusline = f"{sys.executable} -m axonhub statusline --config {config.resolve()}"
    assert argv == [
        "--settings",
        json.dumps({"statusLine": {"type": "command", "command": statusline, "padding": 0}}),
        "-p",
        "hi there",
        "--model",
        "sonnet",
    ]
    assert not any(secret in arg for arg in argv)  # the key is never on the command line
    headers = child["ANTHROPIC_CUSTOM_HEADERS"].split("\n")
    assert headers[0] == "X-Mine: 1"
    launch = trace_id(headers[1])
    expected = {
        **env,
        "ANTHROPIC_BASE_URL": f"{gateway.url}/anthropic",
        "ANTHROPIC_AUTH_TOKEN": secret,
        "ANTHROPIC_CUSTOM_HEADERS": f"X-Mine: 1\nX-Trace-Id: {launch}",
        "AXONHUB_TRACE_ID": launch,
    }
    del expected["ANTHROPIC_API_KEY"]  # the same-shell trap: never inherited by the agent
    assert child == expected


def test_run_keeps_the_users_own_settings_and_can_leave_the_status_line_alone(
    config: Path, env: dict[str, str], gateway: Served, tmp_path: Path
) -> None:
    create_key(config, env)
    record = fake_agent(tmp_path / "bin", "claude")
    where = ["--config", str(config), "--port", str(gateway.port)]
    assert axonhub("run", *where, "claude", "--settings", "mine.json", "-c", env=env).returncode == 0
    assert recorded(record)[0] == ["--settings", "mine.json", "-c"]
    assert axonhub("run", *where, "--no-statusline", "claude", env=env).returncode == 0
    assert recorded(record)[0] == []


def codex_overrides(argv: list[str]) -> dict[str, object]:
    """The `-c key=value` pairs, each value parsed as TOML the way Codex parses it."""
    pairs = [argv[i + 1] for i in range(0, len(argv), 2) if argv[i] == "-c"]
    values: dict[str, object] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        values[key] = tomllib.loads(f"v = {value}")["v"]
    return values


def test_run_codex_configures_a_responses_provider_with_the_key_in_its_env_key(
    config: Path, env: dict[str, str], gateway: Served, tmp_path: Path
) -> None:
    secret = create_key(config, env)
    record = fake_agent(tmp_path / "bin", "codex")
    result = axonhub(
        "run", "--config", str(config), "--port", str(gateway.port), "codex", "--", "exec", "--skip-git-repo-check", "fix it",
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    argv, child = recorded(record)
    assert argv[-3:] == ["exec", "--skip-git-repo-check", "fix it"]
    overrides = codex_overrides(argv[:-3])
    launch = overrides["model_providers.axonhub.http_headers"]["X-Trace-Id"]  # type: ignore[index]
    assert overrides == {
        "model_provider": "axonhub",
        "model_providers.axonhub.name": "AxonHub",
        "model_providers.axonhub.base_url": f"{gateway.url}/v1",
        "model_providers.axonhub.env_key": "AXONHUB_API_KEY",
        "model_providers.axonhub.wire_api": "responses",
        "model_providers.axonhub.http_headers": {"X-Trace-Id": launch},
    }
    assert not any(secret in arg for arg in argv)
    expected = {**env, "AXONHUB_API_KEY": secret, "AXONHUB_TRACE_ID": launch}
    del expected["OPENAI_API_KEY"]
    assert child == expected


def test_env_prints_the_same_settings_for_eval_in_a_shell(
    config: Path, env: dict[str, str], gateway: Served, tmp_path: Path
) -> None:
    secret = create_key(config, env)
    claude, codex = fake_agent(tmp_path / "bin", "claude"), fake_agent(tmp_path / "bin", "codex")
    command = f"{sys.executable} -m axonhub env --config {config} --port {gateway.port}"
    script = f'eval "$({command} claude)" && claude -p hi && eval "$({command} codex)" && codex exec go'
    shell = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, check=False)
    assert shell.returncode == 0, shell.stderr
    argv, child = recorded(claude)
    assert argv == ["-p", "hi"]  # `env` installs no status line
    assert "ANTHROPIC_API_KEY" not in child
    assert (child["ANTHROPIC_BASE_URL"], child["ANTHROPIC_AUTH_TOKEN"]) == (f"{gateway.url}/anthropic", secret)
    assert child["ANTHROPIC_CUSTOM_HEADERS"] == f"X-Mine: 1\nX-Trace-Id: {child['AXONHUB_TRACE_ID']}"
    argv, child = recorded(codex)
    assert argv[-2:] == ["exec", "go"]
    assert codex_overrides(argv[:-2])["model_providers.axonhub.base_url"] == f"{gateway.url}/v1"
    assert (child["AXONHUB_API_KEY"], "OPENAI_API_KEY" in child) == (secret, False)


def test_run_says_how_to_start_the_gateway_when_nothing_answers(config: Path, env: dict[str, str]) -> None:
    create_key(config, env)
    port = free_port()
    result = axonhub("run", "--config", str(config), "--port", str(port), "claude", env=env)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: AxonHub is not answering at http://127.0.0.1:{port} (Connection refused); start it in another "
        f"terminal with `{sys.executable} -m axonhub serve --config {config} --port {port}`\n"
    )


def test_run_without_a_saved_key_says_how_to_get_one(config: Path, env: dict[str, str], gateway: Served) -> None:
    result = axonhub("run", "--config", str(config), "--port", str(gateway.port), "claude", env=env)
    assert result.returncode == 1
    credentials = Path(env["HOME"]) / ".config" / "axonhub" / "credentials"
    assert result.stderr == (
        f"Error: no saved key for {config} in {credentials}; create one with "
        f"`{sys.executable} -m axonhub keys create --config {config} NAME` (its secret is saved for `axonhub run`), "
        "or export AXONHUB_API_KEY\n"
    )


def test_the_key_is_chosen_among_saved_ones_and_a_revoked_one_is_never_sent(
    config: Path, env: dict[str, str], gateway: Served, tmp_path: Path
) -> None:
    first, second = create_key(config, env, "laptop"), create_key(config, env, "desktop")
    record = fake_agent(tmp_path / "bin", "claude")
    where = ["--config", str(config), "--port", str(gateway.port)]
    several = axonhub("run", *where, "claude", env=env)
    assert several.returncode == 1
    assert f"several keys are saved for {config} (desktop, laptop); choose one with --key NAME" in several.stderr
    assert axonhub("run", *where, "--key", "desktop", "claude", env=env).returncode == 0
    assert recorded(record)[1]["ANTHROPIC_AUTH_TOKEN"] == second
    # A saved secret whose key is no longer in the config is never sent, even if the file was edited
    # by hand (a revoke through the CLI removes it from the credentials file as well).
    data = yaml.safe_load(config.read_text())
    data["keys"] = [k for k in data["keys"] if k["name"] != "desktop"]
    config.write_text(yaml.safe_dump(data))
    assert axonhub("run", *where, "claude", env=env).returncode == 0
    assert recorded(record)[1]["ANTHROPIC_AUTH_TOKEN"] == first


def test_an_exported_key_is_used_only_when_it_is_a_key_of_the_config(
    config: Path, env: dict[str, str], gateway: Served, tmp_path: Path
) -> None:
    from tests.conftest import SECRET

    record = fake_agent(tmp_path / "bin", "claude")
    where = ["--config", str(config), "--port", str(gateway.port)]
    assert axonhub("run", *where, "claude", env={**env, "AXONHUB_API_KEY": SECRET}).returncode == 0
    assert recorded(record)[1]["ANTHROPIC_AUTH_TOKEN"] == SECRET
    assert hash_secret(SECRET) in config.read_text()
    wrong = axonhub("run", *where, "claude", env={**env, "AXONHUB_API_KEY": "ah-not-a-key-of-this-config"})
    assert wrong.returncode == 1
    assert f"AXONHUB_API_KEY is set but is not an enabled key of {config}; unset it" in wrong.stderr


def test_an_agent_that_is_not_installed_gets_its_install_command(
    config: Path, env: dict[str, str], gateway: Served
) -> None:
    create_key(config, env)
    bare = {**env, "PATH": "/usr/bin:/bin"}
    for agent, install in (("claude", "@anthropic-ai/claude-code"), ("codex", "@openai/codex")):
        result = axonhub("run", "--config", str(config), "--port", str(gateway.port), agent, env=bare)
        assert result.returncode == 1
        assert result.stderr == f"Error: `{agent}` is not on PATH; install it: npm install -g {install}\n"
