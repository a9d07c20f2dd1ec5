"""CLI writes of axonhub.yml: comments survive, concurrent writers never lose a change, a refused edit
writes nothing, the file keeps its permissions."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ruamel.yaml.comments import CommentedMap

from axonhub.config import hash_secret, load_config
from axonhub.config_edit import (
    LOCK_TIMEOUT,
    EditError,
    InvalidEdit,
    edit_config,
    guess_indent,
    lock_timeout,
    locked,
    write_atomic,
)
from tests.cli.editing import COMMENTED, ENV, REPO, commented_config, comments, run


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_no_op_edit_leaves_the_file_byte_identical(tmp_path: Path) -> None:
    for text in (COMMENTED, (REPO / "axonhub.yml").read_text()):
        path = commented_config(tmp_path, text)
        edit_config(path, lambda document: None)
        assert path.read_text() == text


def test_comments_order_and_quoting_survive_every_kind_of_cli_edit(tmp_path: Path) -> None:
    path = commented_config(tmp_path)
    steps = [
        ("keys", "create", "alice", "--profile", "deepseek"),
        ("keys", "create", "bob"),
        ("profiles", "create", "cheap", "--from", "deepseek", "--description", "copy"),
        ("profiles", "add-rule", "cheap", "--match", "claude-opus-4-8", "--to", "deepseek-chat", "--at", "1"),
        ("profiles", "move-rule", "cheap", "1", "--to", "3"),
        ("profiles", "remove-rule", "cheap", "2"),
        ("keys", "use-profile", "bob", "cheap"),
        ("keys", "disable", "alice"),
        ("keys", "rotate", "alice"),
    ]
    for step in steps:
        result = run(path, *step)
        assert result.exit_code == 0, (step, result.output)
    text = path.read_text()
    assert comments(text) == comments(COMMENTED)
    assert "description: 'Claude Code on DeepSeek'" in text
    assert '- regex: "claude-(opus|sonnet)-.*"   # the big models' in text
    assert "models: [deepseek-chat, deepseek-reasoner]   # both models" in text
    assert [line for line in text.splitlines() if line and not line[0].isspace()] == [
        "# My AxonHub config: hand-written, please keep my notes.",
        "version: 1",
        "server:",
        "# Providers",
        "channels:",
        "# Profiles: the first matching rule wins",
        "profiles:",
        "# Keys, managed with `axonhub keys`",
        "keys:",
        "# Prices",
        "pricing:",
    ]
    config = load_config(path, env=ENV)
    assert [r.describe() for r in config.profiles["cheap"].rules] == [
        "regex claude-(opus|sonnet)-.* -> deepseek-reasoner",
        "match claude-opus-4-8 -> deepseek-chat",
    ]
    assert [(k.name, k.active_profile, k.enabled) for k in config.keys] == [
        ("alice", "deepseek", False),
        ("bob", "cheap", True),
    ]


def test_undoing_every_edit_gives_back_the_original_bytes(tmp_path: Path) -> None:
    for text in (COMMENTED, (REPO / "axonhub.yml").read_text()):
        path = commented_config(tmp_path, text)
        for step in [
            ("keys", "create", "alice"),
            ("keys", "create", "bob"),
            ("profiles", "create", "extra"),
            ("keys", "revoke", "alice"),
            ("profiles", "delete", "extra"),
            ("keys", "revoke", "bob"),
        ]:
            assert run(path, *step).exit_code == 0, step
        assert path.read_text() == text


def test_a_refused_invalid_edit_leaves_the_file_byte_identical(tmp_path: Path) -> None:
    path = commented_config(tmp_path)
    before = path.read_bytes()
    stamp = path.stat().st_mtime_ns
    result = run(path, "profiles", "add-rule", "deepseek", "--match", "claude-x", "--to", "")
    assert result.exit_code == 1
    assert "refused: the change would make" in result.output
    assert "profiles.deepseek rule 3.model: '' should be non-empty" in result.output
    assert path.read_bytes() == before and path.stat().st_mtime_ns == stamp


def test_an_edit_of_an_already_invalid_file_is_refused_with_its_errors(tmp_path: Path) -> None:
    path = commented_config(tmp_path, COMMENTED.replace("port: 8090", "port: 0"))
    before = path.read_bytes()
    result = run(path, "keys", "create", "alice")
    assert result.exit_code == 1
    assert "server.port: 0 is less than the minimum of 1" in result.output
    assert path.read_bytes() == before


def test_an_edit_that_does_not_apply_is_refused_before_validation(tmp_path: Path) -> None:
    path = commented_config(tmp_path)

    def change(document: CommentedMap) -> None:
        document["server"]["port"] = 1
        raise EditError("no such thing")

    with pytest.raises(EditError, match="no such thing"):
        edit_config(path, change)
    assert path.read_text() == COMMENTED


def test_the_server_reader_decides_validity_not_ruamel(tmp_path: Path) -> None:
    """ruamel writes `on` bare (YAML 1.2); PyYAML, the server's reader, would see a boolean."""
    path = commented_config(tmp_path)

    def change(document: CommentedMap) -> None:
        document["server"]["host"] = "on"

    with pytest.raises(InvalidEdit, match=r"server\.host: True is not of type 'string'"):
        edit_config(path, change)
    assert path.read_text() == COMMENTED


def test_names_yaml_1_1_would_misread_are_quoted(tmp_path: Path) -> None:
    path = commented_config(tmp_path)
    assert run(path, "profiles", "create", "on", "--description", "yes").exit_code == 0
    assert run(path, "keys", "create", "no", "--profile", "on").exit_code == 0
    config = load_config(path, env=ENV)
    assert config.profiles["on"].description == "yes"
    assert (config.keys[0].name, config.keys[0].active_profile) == ("no", "on")


@pytest.mark.parametrize("file_mode", [0o600, 0o640, 0o644])
def test_an_edit_keeps_the_files_permissions(tmp_path: Path, file_mode: int) -> None:
    path = commented_config(tmp_path, mode=file_mode)
    assert run(path, "keys", "create", "alice").exit_code == 0
    assert mode(path) == file_mode
    assert mode(tmp_path / "axonhub.yml.lock") == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["axonhub.yml", "axonhub.yml.lock"]  # no temp files left


def test_a_new_file_is_written_0600(tmp_path: Path) -> None:
    os.umask(0o022)
    write_atomic(tmp_path / "new.yml", b"version: 1\n")
    assert mode(tmp_path / "new.yml") == 0o600


def test_an_edit_through_a_symlink_replaces_the_target_not_the_link(tmp_path: Path) -> None:
    real = commented_config(tmp_path)
    link = tmp_path / "link.yml"
    link.symlink_to(real)
    assert run(link, "keys", "create", "alice").exit_code == 0
    assert link.is_symlink()
    assert load_config(real, env=ENV).keys[0].name == "alice"


def test_a_missing_file_is_an_error_not_a_new_config(tmp_path: Path) -> None:
    result = run(tmp_path / "typo.yml", "keys", "create", "alice")
    assert result.exit_code == 1
    assert "config file not found" in result.output
    assert not (tmp_path / "typo.yml").exists()


def axonhub(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "axonhub", *args, "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, **ENV},
    )


@pytest.mark.slow
def test_twenty_concurrent_keys_create_processes_all_land(tmp_path: Path) -> None:
    """All twenty start while the lock is held, so they queue at once behind each other."""
    path = commented_config(tmp_path)
    with locked(path):
        processes = {f"key-{i:02d}": axonhub(path, "keys", "create", f"key-{i:02d}") for i in range(20)}
        time.sleep(3)
    secrets = {}
    for name, process in processes.items():
        out, err = process.communicate(timeout=LOCK_TIMEOUT)
        assert process.returncode == 0, err
        secrets[name] = out.strip()
    config = load_config(path, env=ENV)
    assert sorted(k.name for k in config.keys) == sorted(processes)
    assert {k.name: k.secret_hash for k in config.keys} == {n: hash_secret(s) for n, s in secrets.items()}
    assert comments(path.read_text()) == comments(COMMENTED)


def test_a_writer_waits_for_the_lock(tmp_path: Path) -> None:
    path = commented_config(tmp_path)
    with locked(path):
        process = axonhub(path, "keys", "create", "patient")
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=1.5)
        assert path.read_text() == COMMENTED
    process.communicate(timeout=30)
    assert process.returncode == 0
    assert [k.name for k in load_config(path, env=ENV).keys] == ["patient"]


def test_the_wait_is_generous_and_can_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert lock_timeout() == LOCK_TIMEOUT == 120
    monkeypatch.setenv("AXONHUB_LOCK_TIMEOUT", "600")
    assert lock_timeout() == 600
    monkeypatch.setenv("AXONHUB_LOCK_TIMEOUT", "soon")
    assert lock_timeout() == LOCK_TIMEOUT


def test_a_writer_that_waited_too_long_says_who_holds_the_lock_and_writes_nothing(tmp_path: Path) -> None:
    path = commented_config(tmp_path)
    with locked(path):
        result = run(path, "keys", "create", "impatient", env={"AXONHUB_LOCK_TIMEOUT": "0.5"})
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path} is still being edited by another process (pid {os.getpid()}) after 0.5s "
        f"(lock {path}.lock); try again, or wait longer with AXONHUB_LOCK_TIMEOUT=SECONDS\n"
    )
    assert path.read_text() == COMMENTED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (COMMENTED, (2, 4, 2)),
        ("a:\n    b: 1\nc:\n-   x\n", (4, 4, 0)),
        ("a:\n- x\n", (2, 2, 0)),
        ("a:\n    b:\n      - x\n", (4, 4, 2)),
        ("version: 1\n", (2, 4, 2)),
    ],
)
def test_guess_indent_reads_the_files_own_style(text: str, expected: tuple[int, int, int]) -> None:
    assert guess_indent(text) == expected


FOUR_SPACES = """\
version: 1
channels:
-   name: fake-anthropic    # four spaces, dashes in the parent's column
    type: anthropic
    base_url: http://127.0.0.1:9
    models:
    -   regex: "claude-.*"
profiles:
    deepseek:
        rules:
        -   regex: "claude-.*"
            model: claude-haiku-4-5
keys: []
"""


def test_a_four_space_file_stays_four_space(tmp_path: Path) -> None:
    path = commented_config(tmp_path, FOUR_SPACES)
    assert run(path, "keys", "create", "alice", "--profile", "deepseek").exit_code == 0
    new = path.read_text()
    assert new.startswith(FOUR_SPACES.removesuffix("keys: []\n"))
    assert new[len(FOUR_SPACES) - len("keys: []\n") :].startswith("keys:\n-   name: alice\n    secret_hash: sha256:")


WITHOUT_SECTIONS = """\
# minimal
version: 1
channels:
  - name: a
    type: anthropic
    base_url: http://127.0.0.1:9
    models: [claude-x]   # only one

# pricing below
pricing:
  claude-x: {input: 1}
# the end
"""


def test_missing_sections_are_created_in_schema_order_under_their_comments(tmp_path: Path) -> None:
    path = commented_config(tmp_path, WITHOUT_SECTIONS)
    assert run(path, "profiles", "create", "p").exit_code == 0
    assert run(path, "keys", "create", "k", "--profile", "p").exit_code == 0
    text = path.read_text()
    assert comments(text) == comments(WITHOUT_SECTIONS)
    assert [line for line in text.splitlines() if line and not line[0].isspace()] == [
        "# minimal",
        "version: 1",
        "channels:",
        "profiles:",
        "keys:",
        "# pricing below",
        "pricing:",
        "# the end",
    ]
    assert load_config(path).keys[0].active_profile == "p"
