"""`axonhub profiles …` on a temp copy of a commented config; rule numbers are 1-based."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from axonhub.cli import main
from axonhub.config import load_config
from tests.cli.editing import COMMENTED, ENV, commented_config, comments, run


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return commented_config(tmp_path)


def ok(path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = run(path, "profiles", *args, env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def fails(path: Path, *args: str, code: int = 1) -> str:
    before = path.read_bytes()
    result = run(path, "profiles", *args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert path.read_bytes() == before
    return result.output


def rules(path: Path, profile: str) -> list[str]:
    return [r.describe() for r in load_config(path, env=ENV).profiles[profile].rules]


def test_list_shows_rule_counts_and_users(config_path: Path) -> None:
    assert run(config_path, "keys", "create", "alice", "--profile", "deepseek").exit_code == 0
    lines = ok(config_path, "list").splitlines()
    assert lines[0].split() == ["NAME", "RULES", "KEYS", "DESCRIPTION"]
    assert lines[1].split() == ["passthrough", "0", "-"]
    assert lines[2].split() == ["deepseek", "2", "alice", "Claude", "Code", "on", "DeepSeek"]
    data = json.loads(ok(config_path, "list", "--json"))
    assert [(p["name"], len(p["rules"]), p["keys"]) for p in data] == [
        ("passthrough", 0, []),
        ("deepseek", 2, [{"name": "alice", "active": True}]),
    ]


def test_show_numbers_rules_from_1(config_path: Path) -> None:
    assert ok(config_path, "show", "deepseek") == (
        "profile deepseek: Claude Code on DeepSeek\n"
        "  1. regex claude-(opus|sonnet)-.* -> deepseek-reasoner\n"
        "  2. regex claude-.*haiku.* -> deepseek-chat\n"
        "keys: none\n"
    )
    assert json.loads(ok(config_path, "show", "deepseek", "--json")) == {
        "name": "deepseek",
        "description": "Claude Code on DeepSeek",
        "rules": [
            {"number": 1, "regex": "claude-(opus|sonnet)-.*", "model": "deepseek-reasoner"},
            {"number": 2, "regex": "claude-.*haiku.*", "model": "deepseek-chat"},
        ],
        "keys": [],
    }
    assert "no profile named 'ghost'" in fails(config_path, "show", "ghost")


def test_create_an_empty_profile_and_a_copy(config_path: Path) -> None:
    assert ok(config_path, "create", "empty", "--description", "nothing yet") == "Profile 'empty' created.\n"
    assert ok(config_path, "create", "copy", "--from", "deepseek") == "Profile 'copy' created from 'deepseek'.\n"
    config = load_config(config_path, env=ENV)
    assert (config.profiles["empty"].rules, config.profiles["empty"].description) == ((), "nothing yet")
    assert config.profiles["copy"].rules == config.profiles["deepseek"].rules
    assert config.profiles["copy"].description == "Claude Code on DeepSeek"
    ok(config_path, "add-rule", "copy", "--match", "x", "--to", "y")
    assert len(rules(config_path, "deepseek")) == 2  # a copy, not a shared list
    assert "already exists" in fails(config_path, "create", "copy")
    assert "no profile named 'ghost'" in fails(config_path, "create", "other", "--from", "ghost")


def test_delete_is_refused_while_a_key_uses_the_profile_and_the_steps_it_gives_free_it(config_path: Path) -> None:
    assert run(config_path, "keys", "create", "alice", "--profile", "deepseek").exit_code == 0
    assert run(config_path, "keys", "create", "bob", "--profile", "passthrough", "--profile", "deepseek").exit_code == 0
    assert (
        run(config_path, "keys", "create", "carol", "--profile", "deepseek", "--profile", "passthrough").exit_code == 0
    )
    message = fails(config_path, "delete", "deepseek")
    assert message == (
        "Error: profile 'deepseek' is still used; free it first:\n"
        "  axonhub keys clear-profile alice    (key 'alice' uses it now)\n"
        "  axonhub keys remove-profile alice deepseek    (key 'alice' may switch to it)\n"
        "  axonhub keys remove-profile bob deepseek    (key 'bob' may switch to it)\n"
        "  axonhub keys use-profile carol passthrough    (key 'carol' uses it now)\n"
        "  axonhub keys remove-profile carol deepseek    (key 'carol' may switch to it)\n"
    )
    # The message tells the truth: its commands, run as written, free the profile.
    for line in message.splitlines()[1:]:
        command = line.split("    (")[0].split()
        assert command[:2] == ["axonhub", "keys"]
        result = run(config_path, *command[1:])
        assert result.exit_code == 0, result.output
    assert ok(config_path, "delete", "deepseek") == "Profile 'deepseek' deleted.\n"
    config = load_config(config_path, env=ENV)
    assert list(config.profiles) == ["passthrough"]
    assert [(k.name, k.profiles, k.active_profile) for k in config.keys] == [
        ("alice", (), None),
        ("bob", ("passthrough",), "passthrough"),
        ("carol", ("passthrough",), "passthrough"),
    ]
    assert "no profile named 'deepseek'" in fails(config_path, "delete", "deepseek")


def test_add_rule_appends_or_inserts_at_a_1_based_position(config_path: Path) -> None:
    ok(config_path, "add-rule", "deepseek", "--match", "claude-opus-4-8", "--to", "deepseek-chat")
    ok(config_path, "add-rule", "deepseek", "--regex", r"gpt-(.*)", "--to", r"deepseek-\1", "--at", "1")
    assert rules(config_path, "deepseek") == [
        r"regex gpt-(.*) -> deepseek-\1",
        "regex claude-(opus|sonnet)-.* -> deepseek-reasoner",
        "regex claude-.*haiku.* -> deepseek-chat",
        "match claude-opus-4-8 -> deepseek-chat",
    ]
    ok(config_path, "add-rule", "passthrough", "--match", "a", "--to", "b", "--at", "1")
    assert rules(config_path, "passthrough") == ["match a -> b"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--match", "a", "--to", "b", "--at", "4"], 1, "position 4 is out of range (1..3)"),
        (["--match", "a", "--to", "b", "--at", "0"], 1, "position 0 is out of range (1..3)"),
        (["--match", "a", "--regex", "b", "--to", "c"], 2, "give --match or --regex, not both"),
        (["--to", "c"], 2, "give --match MODEL, --regex PATTERN or --when COND (or several)"),
        (["--when", "tokens_above=many", "--to", "c"], 2, "'tokens_above=many': A condition on the request"),
        (["--when", "client=emacs", "--to", "c"], 2, "client=emacs: one of claude-code, codex, anthropic-sdk"),
        (["--regex", "claude-(", "--to", "c"], 1, "invalid regex 'claude-('"),
        (["--match", "a"], 2, "Missing option '--to'"),
    ],
)
def test_add_rule_refuses_bad_input(config_path: Path, args: list[str], code: int, message: str) -> None:
    assert message in fails(config_path, "add-rule", "deepseek", *args, code=code)


def test_remove_rule_by_its_number(config_path: Path) -> None:
    ok(config_path, "remove-rule", "deepseek", "1")
    assert rules(config_path, "deepseek") == ["regex claude-.*haiku.* -> deepseek-chat"]
    assert "rule 2 is out of range (1..1)" in fails(config_path, "remove-rule", "deepseek", "2")
    ok(config_path, "remove-rule", "deepseek", "1")
    assert "out of range (none: the profile has no rules)" in fails(config_path, "remove-rule", "deepseek", "1")


def test_move_rule_to_a_new_number(config_path: Path) -> None:
    ok(config_path, "add-rule", "deepseek", "--match", "third", "--to", "x")
    assert ok(config_path, "move-rule", "deepseek", "3", "--to", "1") == "Profile 'deepseek': rule 3 is now rule 1.\n"
    assert rules(config_path, "deepseek") == [
        "match third -> x",
        "regex claude-(opus|sonnet)-.* -> deepseek-reasoner",
        "regex claude-.*haiku.* -> deepseek-chat",
    ]
    ok(config_path, "move-rule", "deepseek", "1", "--to", "2")
    assert rules(config_path, "deepseek")[:2] == [
        "regex claude-(opus|sonnet)-.* -> deepseek-reasoner",
        "match third -> x",
    ]
    assert "position 4 is out of range (1..3)" in fails(config_path, "move-rule", "deepseek", "1", "--to", "4")
    assert "rule 9 is out of range" in fails(config_path, "move-rule", "deepseek", "9", "--to", "1")


def test_rule_edits_keep_the_comments(config_path: Path) -> None:
    ok(config_path, "add-rule", "deepseek", "--match", "a", "--to", "b")
    ok(config_path, "move-rule", "deepseek", "3", "--to", "1")
    ok(config_path, "move-rule", "deepseek", "1", "--to", "3")
    ok(config_path, "remove-rule", "deepseek", "3")
    assert config_path.read_text() == COMMENTED
    ok(config_path, "move-rule", "deepseek", "2", "--to", "1")
    text = config_path.read_text()
    assert sorted(comments(text)) == sorted(comments(COMMENTED))
    assert "      - regex: 'claude-.*haiku.*'\n        model: deepseek-chat       # the small one\n" in text
    assert "        model: deepseek-reasoner\n\n# Keys, managed with `axonhub keys`\nkeys: []\n" in text


def test_test_prints_what_the_server_would_do(config_path: Path) -> None:
    out = ok(config_path, "test", "claude-sonnet-4-5-20250929[1m]", "--profile", "deepseek")
    assert out == (
        "model     claude-sonnet-4-5-20250929[1m]\n"
        "profile   deepseek\n"
        "rule      1. regex claude-(opus|sonnet)-.* -> deepseek-reasoner\n"
        "resolved  deepseek-reasoner\n"
        "channel   deepseek (deepseek, priority 0, weight 1) -> upstream model deepseek-reasoner\n"
    )


def test_test_with_a_key_uses_its_active_profile_and_says_which_form_matched(config_path: Path) -> None:
    assert run(config_path, "keys", "create", "alice", "--profile", "deepseek").exit_code == 0
    ok(config_path, "add-rule", "deepseek", "--match", "claude-haiku-4-5", "--to", "deepseek-reasoner", "--at", "1")
    data = json.loads(ok(config_path, "test", "claude-haiku-4-5-20251001", "--key", "alice", "--json"))
    assert data == {
        "model": "claude-haiku-4-5-20251001",
        "key": "alice",
        "request": {
            "thinking": False,
            "input_tokens": 0,
            "images": False,
            "tools": [],
            "client": "other",
            "headers": {},
        },
        "profile": "deepseek",
        "rule": {"number": 3, "regex": "claude-.*haiku.*", "model": "deepseek-chat", "because": None},
        "checked": [],
        "matched_as": None,
        "resolved_model": "deepseek-chat",
        "channels": [
            {
                "name": "deepseek",
                "type": "deepseek",
                "base_url": "http://127.0.0.1:9",
                "priority": 0,
                "weight": 1,
                "upstream_model": "deepseek-chat",
            }
        ],
        "skipped": [],
    }
    ok(config_path, "remove-rule", "deepseek", "3")
    text = ok(config_path, "test", "claude-haiku-4-5-20251001", "--key", "alice")
    assert "rule      1. match claude-haiku-4-5 -> deepseek-reasoner  (matched as claude-haiku-4-5)\n" in text


def test_test_without_a_profile_passes_the_name_through(config_path: Path) -> None:
    out = ok(config_path, "test", "claude-opus-4-8")
    assert out.splitlines()[1:] == [
        "profile   none (model names pass through unchanged)",
        "resolved  claude-opus-4-8",
        "channel   fake-anthropic (anthropic, priority 0, weight 1) -> upstream model claude-opus-4-8",
    ]


def test_test_reports_nothing_serving_the_model_with_exit_1(config_path: Path) -> None:
    message = fails(config_path, "test", "gemini-2.5-pro", "--profile", "deepseek")
    assert message == (
        "Error: model 'gemini-2.5-pro' is not served by any channel (no rule of profile 'deepseek' matched it)\n"
    )
    result = run(config_path, "profiles", "test", "gemini-2.5-pro", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == {
        "type": "not_found",
        "message": "model 'gemini-2.5-pro' is not served by any channel (no profile is active)",
    }


def test_test_reports_an_unavailable_channel_with_its_variable(config_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["profiles", "test", "claude-haiku-4-5", "--profile", "deepseek", "--config", str(config_path)],
        env={"FAKE_ANTHROPIC_KEY": "x", "FAKE_DEEPSEEK_KEY": ""},
    )
    assert result.exit_code == 1
    assert "environment variable FAKE_DEEPSEEK_KEY is not set" in result.output


def test_test_with_a_disabled_key_reports_the_401(config_path: Path) -> None:
    assert run(config_path, "keys", "create", "alice").exit_code == 0
    assert run(config_path, "keys", "disable", "alice").exit_code == 0
    assert "API key 'alice' is disabled" in fails(config_path, "test", "claude-opus-4-8", "--key", "alice")


def test_test_refuses_key_and_profile_together_and_unknown_names(config_path: Path) -> None:
    assert "give --key or --profile, not both" in fails(
        config_path, "test", "m", "--key", "a", "--profile", "b", code=2
    )
    assert "no key named 'zed'" in fails(config_path, "test", "m", "--key", "zed")
    assert "no profile named 'zed'" in fails(config_path, "test", "m", "--profile", "zed")


COMMANDS = ["list", "show", "create", "delete", "add-rule", "remove-rule", "move-rule", "test"]


@pytest.mark.parametrize("command", [[], *[[c] for c in COMMANDS]])
def test_help_works_everywhere_even_with_a_broken_config(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "axonhub.yml").write_text("profiles: {\n")
    for flag in ("-h", "--help"):
        result = CliRunner().invoke(
            main, ["profiles", *command, flag], env={"AXONHUB_CONFIG": str(tmp_path / "axonhub.yml")}
        )
        assert result.exit_code == 0
        assert "Usage: " in result.output


def test_a_regex_is_written_verbatim_in_single_quotes(config_path: Path) -> None:
    pattern = r"gpt-(\d+)'s-(mini|max)\.v[0-9]"
    ok(config_path, "add-rule", "passthrough", "--regex", pattern, "--to", r"deepseek-\1")
    assert (
        "      - regex: 'gpt-(\\d+)''s-(mini|max)\\.v[0-9]'\n        model: deepseek-\\1\n" in config_path.read_text()
    )
    assert rules(config_path, "passthrough") == [rf"regex {pattern} -> deepseek-\1"]


def test_add_rule_with_when_writes_the_conditions_and_test_shows_which_rule_decides_and_why(config_path: Path) -> None:
    added = ok(
        config_path, "add-rule", "deepseek", "--regex", "claude-.*", "--when", "thinking", "--when", "tokens_above=60000",
        "--to", "deepseek-reasoner", "--at", "1",
    )  # fmt: skip
    assert added == "Profile 'deepseek' rule 1: regex claude-.* when thinking, tokens > 60000 -> deepseek-reasoner\n"
    ok(
        config_path,
        "add-rule",
        "deepseek",
        "--when",
        "images",
        "--when",
        "client=claude-code",
        "--to",
        "deepseek-chat",
        "--at",
        "1",
    )
    ok(
        config_path,
        "add-rule",
        "deepseek",
        "--when",
        "header=X-Team:red",
        "--when",
        "tool=web_search",
        "--to",
        "deepseek-chat",
    )
    text = config_path.read_text()
    assert (
        "      - regex: 'claude-.*'\n        when: {thinking: true, tokens_above: 60000}\n        model: deepseek-reasoner\n"
        in text
    )
    assert "      - when: {images: true, client: claude-code}\n        model: deepseek-chat\n" in text
    assert "      - when: {header: {x-team: red}, tool: web_search}\n        model: deepseek-chat\n" in text
    assert comments(text) == comments(COMMENTED)

    long_thinking = ok(
        config_path, "test", "claude-sonnet-4-5", "--profile", "deepseek", "--thinking", "--tokens", "81234"
    )
    assert long_thinking == (
        "model     claude-sonnet-4-5\n"
        "request   thinking, ~81234 input tokens, no images, client other\n"
        "profile   deepseek\n"
        "checked   1. any model when images, client claude-code -> deepseek-chat  (does not apply: no images; client other)\n"
        "rule      2. regex claude-.* when thinking, tokens > 60000 -> deepseek-reasoner  "
        "(because: thinking requested, estimated input tokens 81234 > 60000)\n"
        "resolved  deepseek-reasoner\n"
        "channel   deepseek (deepseek, priority 0, weight 1) -> upstream model deepseek-reasoner\n"
    )
    short = json.loads(ok(config_path, "test", "claude-sonnet-4-5", "--profile", "deepseek", "--thinking", "--json"))
    assert (short["rule"]["number"], short["rule"]["because"], short["resolved_model"]) == (
        3,
        None,
        "deepseek-reasoner",
    )
    assert short["checked"] == [
        {"number": 1, "when": "images, client claude-code", "model": "deepseek-chat", "applies": False,
         "reason": "no images; client other"},
        {"number": 2, "regex": "claude-.*", "when": "thinking, tokens > 60000", "model": "deepseek-reasoner",
         "applies": False, "reason": "estimated input tokens 0 <= 60000"},
    ]  # fmt: skip
    screenshot = json.loads(
        ok(config_path, "test", "gpt-4o", "--profile", "deepseek", "--images", "--client", "claude-code", "--json")
    )
    assert (screenshot["rule"]["number"], screenshot["rule"]["because"]) == (1, "images present, client claude-code")
    team = json.loads(
        ok(
            config_path,
            "test",
            "x",
            "--profile",
            "deepseek",
            "--header",
            "X-Team: red",
            "--tool",
            "web_search",
            "--json",
        )
    )
    assert (team["rule"]["number"], team["rule"]["because"]) == (5, "tool web_search offered, header x-team: red")


def test_test_routes_a_recorded_request_from_the_trace(config_path: Path, tmp_path: Path) -> None:
    ok(
        config_path,
        "add-rule",
        "deepseek",
        "--regex",
        "claude-.*",
        "--when",
        "images",
        "--to",
        "deepseek-chat",
        "--at",
        "1",
    )
    assert run(config_path, "keys", "create", "alice", "--profile", "deepseek").exit_code == 0
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}
    body = {"model": "claude-opus-4-8", "max_tokens": 10, "messages": [{"role": "user", "content": [image]}]}
    records = [
        {"v": 2, "request_id": "req_img", "kind": "messages", "key": "alice", "client_format": "anthropic",
         "requested_model": "claude-opus-4-8", "user_agent": "claude-cli/2.1.197", "request_body": body},
        {"v": 2, "request_id": "req_bare", "kind": "messages", "key": "alice", "client_format": "anthropic",
         "requested_model": "claude-opus-4-8", "user_agent": "claude-cli/2.1.197"},
    ]  # fmt: skip
    log = tmp_path / "trace.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    routed = run(config_path, "profiles", "test", "--request", "req_img", "--file", str(log), "--json")
    assert routed.exit_code == 0, routed.output
    data = json.loads(routed.stdout)
    assert (data["model"], data["key"], data["request"]["images"], data["request"]["client"]) == (
        "claude-opus-4-8",
        "alice",
        True,
        "claude-code",
    )
    assert (data["rule"]["number"], data["rule"]["because"], data["resolved_model"]) == (
        1,
        "images present",
        "deepseek-chat",
    )
    assert "request headers are not recorded" in routed.stderr
    bare = run(config_path, "profiles", "test", "--request", "req_bare", "--file", str(log))
    assert bare.exit_code == 0
    assert "rule      2. regex claude-(opus|sonnet)-.* -> deepseek-reasoner" in bare.stdout
    assert "the request's body was not recorded (`server.trace.bodies: all` records it)" in bare.stderr
    missing = run(config_path, "profiles", "test", "--request", "req_nope", "--file", str(log))
    assert (missing.exit_code, missing.output) == (1, f"Error: no request with id 'req_nope' in the trace log {log}\n")
