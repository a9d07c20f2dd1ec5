"""The CLI loads only what a command needs: `--version` and `--help` load no subcommand, and no
editing or reading command loads the server stack (aiohttp, structlog). Start-up time itself is
measured from outside (whole-process wall time), never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.editing import COMMENTED, ENV

SERVER_STACK = ("aiohttp", "structlog", "axonhub.server", "axonhub.pipeline")
PROBE = """
import json, sys
from axonhub.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
except (SystemExit, Exception):  # a command's own failure is not what this probe looks at
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("aiohttp", "structlog", "jsonschema", "ruamel")
                        or m.startswith("axonhub"))), file=sys.stderr)
"""


def loaded(*args: str, cwd: Path) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**ENV, "PATH": "/usr/bin:/bin"},
    )
    return list(json.loads(result.stderr.strip().splitlines()[-1]))


def test_version_and_help_load_no_subcommand(tmp_path: Path) -> None:
    for args in (["--version"], ["--help"]):
        modules = loaded(*args, cwd=tmp_path)
        assert [m for m in modules if m.startswith("axonhub.")] == ["axonhub.cli"], args
        assert not [m for m in modules if not m.startswith("axonhub")], args


@pytest.mark.parametrize(
    "args",
    [
        ["keys", "list"],
        ["keys", "create", "alice", "--no-save"],
        ["profiles", "show", "deepseek"],
        ["profiles", "test", "claude-sonnet-4-5", "--profile", "deepseek"],
        ["config", "check"],
        ["usage", "--file", "missing.jsonl"],
    ],
)
def test_reading_and_editing_commands_never_load_the_server_stack(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "axonhub.yml").write_text(COMMENTED)
    modules = loaded(*args, cwd=tmp_path)
    assert [m for m in modules if m.startswith(SERVER_STACK)] == []
