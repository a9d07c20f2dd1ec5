"""`axonhub keys …` on a temp copy of a commented config."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from axonhub.cli import main
from axonhub.config import Config, hash_secret, load_config
from tests.cli.editing import COMMENTED, ENV, commented_config, comments, run

SECRET = re.compile(r"^ah-[A-Za-z0-9_-]{43}$")


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return commented_config(tmp_path)


def loaded(path: Path) -> Config:
    return load_config(path, env=ENV)


def create(path: Path, *args: str) -> str:
    result = run(path, "keys", "create", *args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_create_prints_the_secret_once_and_stores_only_its_hash(config_path: Path) -> None:
    result = run(config_path, "keys", "create", "alice", "--project", "web", "--profile", "deepseek")
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert SECRET.match(secret)
    assert "shown only this once" in result.stderr
    text = config_path.read_text()
    assert secret not in text
    key = loaded(config_path).keys[0]
    assert (key.name, key.project, key.profiles, key.active_profile, key.enabled) == (
        "alice",
        "web",
        ("deepseek",),
        "deepseek",
        True,
    )
    assert key.secret_hash == hash_secret(secret)
    created = datetime.fromisoformat(key.created_at)
    assert created.tzinfo is not None and created.utcoffset() == UTC.utcoffset(None)
    assert abs((datetime.now(UTC) - created).total_seconds()) < 60


def test_two_keys_never_share_a_secret(config_path: Path) -> None:
    assert create(config_path, "a") != create(config_path, "b")


def test_create_json_gives_the_secret_and_the_key(config_path: Path, private_user_dirs: Path) -> None:
    result = run(config_path, "keys", "create", "alice", "--profile", "passthrough", "--profile", "deepseek", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert SECRET.match(data.pop("secret"))
    assert data.pop("created_at").endswith("Z")
    assert data == {
        "name": "alice",
        "project": "default",
        "active_profile": "passthrough",
        "profiles": ["passthrough", "deepseek"],
        "saved_to": str(private_user_dirs / ".config" / "axonhub" / "credentials"),
    }


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["alice"],
            1,
            "Error: a key named 'alice' already exists: `axonhub keys rotate alice` gives it a new secret "
            "(`axonhub keys show alice` shows it), or create one with another name",
        ),
        (["bob", "--profile", "ghost"], 1, "Error: no profile named 'ghost' (profiles: passthrough, deepseek)"),
        (["bad name"], 2, "Invalid value for 'NAME': 'bad name': use up to 64 letters"),
    ],
)
def test_create_refuses_with_one_clear_line(config_path: Path, args: list[str], code: int, message: str) -> None:
    create(config_path, "alice")
    before = config_path.read_bytes()
    result = run(config_path, "keys", "create", *args)
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output
    assert config_path.read_bytes() == before


def test_list_never_shows_a_secret_or_a_hash(config_path: Path) -> None:
    secret = create(config_path, "alice", "--profile", "deepseek")
    create(config_path, "bob", "--project", "batch")
    digest = hash_secret(secret)
    table = run(config_path, "keys", "list")
    as_json = run(config_path, "keys", "list", "--json")
    for result in (table, as_json):
        assert result.exit_code == 0
        assert secret not in result.output and digest.split(":")[1] not in result.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["NAME", "PROJECT", "STATE", "ACTIVE", "PROFILE", "PROFILES", "CREATED"]
    assert lines[1].split()[:5] == ["alice", "default", "enabled", "deepseek", "deepseek"]
    assert lines[2].split()[:5] == ["bob", "batch", "enabled", "-", "-"]
    assert [{k: v for k, v in row.items() if k != "created_at"} for row in json.loads(as_json.stdout)] == [
        {
            "name": "alice",
            "project": "default",
            "enabled": True,
            "active_profile": "deepseek",
            "profiles": ["deepseek"],
        },
        {"name": "bob", "project": "batch", "enabled": True, "active_profile": None, "profiles": []},
    ]


def test_list_on_an_empty_file_says_how_to_create_a_key(config_path: Path) -> None:
    result = run(config_path, "keys", "list")
    assert result.exit_code == 0
    assert "axonhub keys create NAME" in result.stderr


def test_show_one_key(config_path: Path) -> None:
    create(config_path, "alice", "--profile", "deepseek")
    data = json.loads(run(config_path, "keys", "show", "alice", "--json").stdout)
    assert (data["name"], data["active_profile"], data["enabled"]) == ("alice", "deepseek", True)
    text = run(config_path, "keys", "show", "alice").stdout
    assert re.search(r"^active profile\s+deepseek$", text, re.MULTILINE)
    missing = run(config_path, "keys", "show", "zed")
    assert missing.exit_code == 1
    assert "Error: no key named 'zed' (keys: alice)" in missing.output


def test_disable_and_enable(config_path: Path) -> None:
    create(config_path, "alice")
    assert run(config_path, "keys", "disable", "alice").stdout == "Key 'alice' is now disabled.\n"
    assert loaded(config_path).keys[0].enabled is False
    before = config_path.read_bytes()
    assert run(config_path, "keys", "disable", "alice").stdout == "Key 'alice' was already disabled.\n"
    assert config_path.read_bytes() == before
    assert run(config_path, "keys", "enable", "alice").stdout == "Key 'alice' is now enabled.\n"
    assert loaded(config_path).keys[0].enabled is True
    assert run(config_path, "keys", "enable", "zed").exit_code == 1


def test_revoke_removes_the_key(config_path: Path) -> None:
    create(config_path, "alice")
    secret = create(config_path, "bob")
    result = run(config_path, "keys", "revoke", "alice")
    assert result.exit_code == 0 and "revoked" in result.stdout
    config = loaded(config_path)
    assert [k.name for k in config.keys] == ["bob"]
    assert hash_secret(secret) in config.keys_by_hash
    assert run(config_path, "keys", "revoke", "alice").exit_code == 1


def test_rotate_gives_a_new_secret_and_the_old_one_stops_working(config_path: Path) -> None:
    old = create(config_path, "alice", "--profile", "deepseek")
    result = run(config_path, "keys", "rotate", "alice")
    assert result.exit_code == 0
    new = result.stdout.strip()
    assert SECRET.match(new) and new != old
    config = loaded(config_path)
    assert hash_secret(old) not in config.keys_by_hash
    assert config.keys_by_hash[hash_secret(new)].name == "alice"
    assert config.keys[0].active_profile == "deepseek"
    rotated = json.loads(run(config_path, "keys", "rotate", "alice", "--json").stdout)
    assert rotated["name"] == "alice" and hash_secret(rotated["secret"]) == loaded(config_path).keys[0].secret_hash


def test_use_profile_switches_the_active_profile(config_path: Path) -> None:
    create(config_path, "bob")
    result = run(config_path, "keys", "use-profile", "bob", "deepseek")
    assert result.stdout == "Key 'bob' now uses profile 'deepseek'.\n"
    key = loaded(config_path).keys[0]
    assert (key.active_profile, key.profiles) == ("deepseek", ())


def test_use_profile_adds_a_profile_missing_from_a_keys_list(config_path: Path) -> None:
    create(config_path, "alice", "--profile", "deepseek")
    result = run(config_path, "keys", "use-profile", "alice", "passthrough")
    assert result.stdout == "Key 'alice' now uses profile 'passthrough' (added to its profiles).\n"
    key = loaded(config_path).keys[0]
    assert (key.active_profile, key.profiles) == ("passthrough", ("deepseek", "passthrough"))
    assert run(config_path, "keys", "use-profile", "alice", "deepseek").stdout.endswith("'deepseek'.\n")


def test_use_profile_refuses_an_unknown_profile_or_key(config_path: Path) -> None:
    create(config_path, "alice")
    ghost = run(config_path, "keys", "use-profile", "alice", "ghost")
    assert ghost.exit_code == 1
    assert "Error: no profile named 'ghost' (profiles: passthrough, deepseek)" in ghost.output
    assert run(config_path, "keys", "use-profile", "zed", "deepseek").exit_code == 1


def test_every_write_keeps_the_comments(config_path: Path) -> None:
    create(config_path, "alice", "--profile", "deepseek")
    for args in (["disable", "alice"], ["rotate", "alice"], ["use-profile", "alice", "passthrough"]):
        assert run(config_path, "keys", *args).exit_code == 0
    assert comments(config_path.read_text()) == comments(COMMENTED)


COMMANDS = [
    "create",
    "list",
    "show",
    "disable",
    "enable",
    "revoke",
    "rotate",
    "use-profile",
    "add-profile",
    "remove-profile",
    "clear-profile",
]


@pytest.mark.parametrize("command", [[], *[[c] for c in COMMANDS]])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_works_everywhere_even_with_a_broken_config(tmp_path: Path, command: list[str], flag: str) -> None:
    (tmp_path / "axonhub.yml").write_text("keys: [\n")
    result = CliRunner().invoke(main, ["keys", *command, flag], env={"AXONHUB_CONFIG": str(tmp_path / "axonhub.yml")})
    assert result.exit_code == 0
    assert "Usage: " in result.output


@pytest.mark.parametrize("args", [["list"], ["create", "alice"], ["disable", "alice"]])
def test_a_broken_config_is_a_short_error(tmp_path: Path, args: list[str]) -> None:
    path = commented_config(tmp_path, "keys: [\n")
    result = run(path, "keys", *args)
    assert result.exit_code == 1
    assert "(yaml) line" in result.output
    assert "Traceback" not in result.output
    assert path.read_text() == "keys: [\n"


def saved(home: Path) -> list[dict[str, str]]:
    return list(json.loads((home / ".config" / "axonhub" / "credentials").read_text())["keys"])


def test_create_saves_the_secret_for_the_launcher_in_a_user_only_file(
    config_path: Path, private_user_dirs: Path
) -> None:
    result = run(config_path, "keys", "create", "alice")
    secret = result.stdout.strip()
    credentials = private_user_dirs / ".config" / "axonhub" / "credentials"
    assert result.stderr == (
        "Created key 'alice'. Its secret is shown only this once:\n"
        f"Saved for `axonhub run claude|codex` in {credentials} (readable only by you).\n"
        "Other clients send it as `x-api-key` or `Authorization: Bearer`.\n"
    )
    assert (credentials.stat().st_mode & 0o777, credentials.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    assert [(k["name"], k["secret"], k["config"]) for k in saved(private_user_dirs)] == [
        ("alice", secret, str(config_path.resolve()))
    ]
    assert secret not in config_path.read_text()
    unsaved = run(config_path, "keys", "create", "bob", "--no-save")
    assert "Store it now." in unsaved.stderr
    assert [k["name"] for k in saved(private_user_dirs)] == ["alice"]


def test_rotate_replaces_the_saved_secret_and_revoke_removes_it(config_path: Path, private_user_dirs: Path) -> None:
    create(config_path, "alice")
    create(config_path, "bob")
    new = run(config_path, "keys", "rotate", "alice").stdout.strip()
    assert [(k["name"], k["secret"]) for k in saved(private_user_dirs)][1] == ("alice", new)
    revoked = run(config_path, "keys", "revoke", "alice")
    assert revoked.stdout == "Key 'alice' revoked (and its saved secret removed).\n"
    assert [k["name"] for k in saved(private_user_dirs)] == ["bob"]


def test_a_credentials_file_others_can_read_is_refused(config_path: Path, private_user_dirs: Path) -> None:
    create(config_path, "alice")
    credentials = private_user_dirs / ".config" / "axonhub" / "credentials"
    credentials.chmod(0o644)
    before = config_path.read_bytes()
    result = run(config_path, "keys", "rotate", "alice")
    assert result.exit_code == 1
    assert result.output.endswith(
        f"Error: {credentials} can be read by other users; run `chmod 600 {credentials}` (it holds secrets)\n"
    )
    assert config_path.read_bytes() != before  # the rotation itself happened; only saving was refused


def test_a_keys_profiles_can_be_added_removed_and_cleared(config_path: Path) -> None:
    create(config_path, "alice")
    added = run(config_path, "keys", "add-profile", "alice", "deepseek", "passthrough")
    assert added.stdout == (
        "Key 'alice': added deepseek, passthrough; its profiles are now deepseek (active), passthrough.\n"
    )
    refused = run(config_path, "keys", "remove-profile", "alice", "deepseek")
    assert refused.exit_code == 1
    assert refused.output == (
        "Error: 'deepseek' is key 'alice''s active profile; switch it first with "
        "`axonhub keys use-profile alice passthrough`\n"
    )
    assert run(config_path, "keys", "use-profile", "alice", "passthrough").exit_code == 0
    removed = run(config_path, "keys", "remove-profile", "alice", "deepseek")
    assert removed.stdout == "Key 'alice': removed 'deepseek'; its profiles are now passthrough (active).\n"
    assert run(config_path, "keys", "remove-profile", "alice", "deepseek").output == (
        "Error: key 'alice' does not list profile 'deepseek' (its profiles: passthrough)\n"
    )
    cleared = run(config_path, "keys", "clear-profile", "alice")
    assert cleared.stdout == "Key 'alice' has no active profile now: model names pass through unchanged.\n"
    key = loaded(config_path).keys[0]
    assert (key.profiles, key.active_profile) == (("passthrough",), None)
    assert run(config_path, "keys", "remove-profile", "alice", "passthrough").exit_code == 0
    assert loaded(config_path).keys[0].profiles == ()
    assert comments(config_path.read_text()) == comments(COMMENTED)
