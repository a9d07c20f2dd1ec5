"""Finding the config file, `config path|init|check`, and config messages a person can act on."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from axonhub.cli import main
from axonhub.schema import CHANNEL_TYPES, SERVED_CHANNEL_TYPES
from tests.cli.editing import COMMENTED, ENV, commented_config

REPO = Path(__file__).resolve().parents[2]

# the channel types this version serves, as the schema lists them
SERVED = ", ".join(t for t in CHANNEL_TYPES if t in SERVED_CHANNEL_TYPES)


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env={**ENV, **(env or {})})


@pytest.fixture
def somewhere(tmp_path: Path) -> Iterator[Path]:
    """A current directory with no axonhub.yml in it."""
    work = tmp_path / "work"
    work.mkdir()
    before = Path.cwd()
    os.chdir(work)
    yield work
    os.chdir(before)


def user_config(home: Path) -> Path:
    return home / ".config" / "axonhub" / "axonhub.yml"


def test_no_config_anywhere_says_where_it_looked_and_what_to_do(somewhere: Path, private_user_dirs: Path) -> None:
    result = run("keys", "list")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: no AxonHub config file found (looked for {somewhere / 'axonhub.yml'} and "
        f"{user_config(private_user_dirs)}); name one with --config PATH or AXONHUB_CONFIG=PATH, or create the "
        "user-level one with `axonhub config init`\n"
    )
    edit = run("keys", "create", "alice")
    assert edit.exit_code == 1
    assert "name one with --config PATH or AXONHUB_CONFIG=PATH" in edit.output
    check = run("config", "check")
    assert check.exit_code == 1 and "name one with --config PATH" in check.output
    where = run("config", "path")
    assert where.exit_code == 1 and "no AxonHub config file found" in where.output


def test_config_init_writes_the_user_level_default_that_every_command_then_finds(
    somewhere: Path, private_user_dirs: Path
) -> None:
    init = run("config", "init")
    assert init.exit_code == 0, init.output
    path = user_config(private_user_dirs)
    assert init.stdout == f"{path}\n"
    assert path.read_text() == (REPO / "axonhub.yml").read_text()  # the shipped default, comments and all
    assert (path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    assert run("config", "path").stdout == f"{path}\n"
    assert "(the user-level default (no ./axonhub.yml here))" in run("config", "path").output
    assert run("keys", "create", "alice").exit_code == 0
    assert "name: alice" in path.read_text()
    again = run("config", "init")
    assert (again.exit_code, again.output) == (
        1,
        f"Error: {path} already exists; `axonhub config check --config {path}` checks it\n",
    )


def test_the_packaged_default_is_the_shipped_axonhub_yml() -> None:
    assert (REPO / "axonhub" / "default_config.yml").read_bytes() == (REPO / "axonhub.yml").read_bytes()


def test_the_current_directory_wins_then_the_environment_then_the_option(
    somewhere: Path, private_user_dirs: Path, tmp_path: Path
) -> None:
    run("config", "init")
    (somewhere / "axonhub.yml").write_text(COMMENTED)
    assert json.loads(run("config", "path", "--json").stdout) == {
        "path": str(somewhere / "axonhub.yml"),
        "source": "cwd",
        "exists": True,
        "looked_in": [],
    }
    other = commented_config(tmp_path)
    by_env = json.loads(run("config", "path", "--json", env={"AXONHUB_CONFIG": str(other)}).stdout)
    assert (by_env["path"], by_env["source"]) == (str(other), "env")
    by_option = json.loads(run("config", "path", "--json", "--config", str(other)).stdout)
    assert (by_option["path"], by_option["source"]) == (str(other), "option")
    missing = run("config", "path", "--config", str(tmp_path / "nope.yml"))
    assert missing.exit_code == 1


HAND_WRITTEN = """\
version: 1
server:
  port: 8090
channels:
  - name: deepseek
    type: deepseak
    base_url: https://api.deepseek.com
    api_key: sk-1234567890abcdef1234567890abcdef
    modles: [deepseek-chat]
profiles:
  cheap:
    rules:
      - regex: "claude-.*"
        modle: deepseek-chat
keys: []
"""


def test_check_points_at_each_mistake_with_its_line_and_never_repeats_a_pasted_key(tmp_path: Path) -> None:
    path = tmp_path / "axonhub.yml"
    path.write_text(HAND_WRITTEN)
    result = run("config", "check", "--config", str(path))
    assert result.exit_code == 1
    assert result.output == (
        f"{path}: invalid\n"
        "  channels[0]: 'models' is a required property (line 5)\n"
        "  channels[0].type: 'deepseak' is not one of " + SERVED + " "
        "(did you mean 'deepseek'?) (line 6)\n"
        "  channels[0].api_key: use an environment reference such as ${DEEPSEEK_API_KEY} and export the key where "
        "`axonhub serve` runs; the key itself never goes in this file (the value given is not shown) (line 8)\n"
        "  channels[0].modles: unknown field (did you mean 'models'?) (line 9)\n"
        "  profiles.cheap rule 1: 'model' is a required property (line 13)\n"
        "  profiles.cheap rule 1.modle: unknown field (did you mean 'model'?) (line 14)\n"
    )
    assert "sk-1234567890" not in result.output
    served = run("serve", "--config", str(path))
    assert served.exit_code == 1
    assert "sk-1234567890" not in served.output
    assert "channels[0].modles: unknown field (did you mean 'models'?) (line 9)" in served.output


ADVICE = """\
version: 1
channels:
  - {name: ds, type: deepseek, base_url: "https://api.deepseek.com", models: [deepseek-chat, deepseek-reasoner]}
  - {name: oa, type: openai, base_url: "https://api.openai.com", models: [gpt-4o]}
  - {name: an, type: anthropic, base_url: "https://api.anthropic.com/v1", models: [{regex: "claude-.*"}]}
profiles:
  cheap:
    rules:
      - {regex: "claude-.*haiku.*", model: deepseek-chat}
      - {regex: "claude-.*", model: deepseek-reasonr}
      - {regex: "gpt-(.*)", model: "my-\\\\1"}
"""


def test_check_warns_about_a_rule_no_channel_serves_and_a_suspicious_base_url(tmp_path: Path) -> None:
    path = tmp_path / "axonhub.yml"
    path.write_text(ADVICE)
    result = run("config", "check", "--config", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["warnings"] == [
        "profiles.cheap rule 2 (regex claude-.* -> deepseek-reasonr): no channel serves 'deepseek-reasonr' "
        "(did you mean 'deepseek-reasoner'?); requests it matches would fail (add the model to a channel's "
        "`models`, or fix the rule's target)",
        "channels[1].base_url (oa): requests go to https://api.openai.com/chat/completions; OpenAI-compatible "
        "APIs usually end in /v1 (did you mean https://api.openai.com/v1?)",
        "channels[2].base_url (an): requests go to https://api.anthropic.com/v1/v1/messages; give the API root "
        "without /v1 (https://api.anthropic.com)",
    ]


def test_add_rule_warns_when_its_target_is_served_by_no_channel(tmp_path: Path) -> None:
    path = commented_config(tmp_path)
    result = run(
        "profiles",
        "add-rule",
        "deepseek",
        "--match",
        "claude-opus-4-8",
        "--to",
        "deepseek-chatt",
        "--config",
        str(path),
    )
    assert result.exit_code == 0
    assert result.stdout == "Profile 'deepseek' rule 3: match claude-opus-4-8 -> deepseek-chatt\n"
    assert result.stderr == (
        "warning: profiles.deepseek rule 3 (match claude-opus-4-8 -> deepseek-chatt): no channel serves "
        "'deepseek-chatt' (did you mean 'deepseek-chat'?); requests it matches would fail (add the model to a "
        "channel's `models`, or fix the rule's target)\n"
    )
