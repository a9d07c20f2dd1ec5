"""The README's quickstart works as written, pasted into one shell after its install command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import REPO, base_env, fake_agent, free_port, recorded

README = (REPO / "README.md").read_text()
INSTALL = "python3 -m venv .venv && .venv/bin/pip install -q -e ."


def blocks(section: str) -> list[list[str]]:
    """The indented code blocks of a README section, as lists of lines."""
    body = README.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    found: list[list[str]] = []
    current: list[str] = []
    for line in body.splitlines():
        if line.startswith("    "):
            current.append(line[4:])
        elif current and line.strip():
            found.append(current)
            current = []
    return found + ([current] if current else [])


def command_lines() -> list[str]:
    """Every command line of the README's indented code blocks (what a reader pastes)."""
    lines = [line[4:] for line in README.splitlines() if line.startswith("    ") and not line.startswith("     ")]
    return [line for line in lines if re.match(r"^(\.venv/bin/|axonhub |eval |export |python3 )", line)]


def test_the_quickstart_is_install_and_serve_then_keys_create_serve_run_claude() -> None:
    install, steps = blocks("Quickstart")[:2]
    assert install == [f"{INSTALL} && .venv/bin/axonhub serve"]
    commands = [line.split("  #")[0].strip() for line in steps]
    assert commands == [
        "export ANTHROPIC_API_KEY=sk-ant-…",
        ".venv/bin/axonhub keys create laptop",
        ".venv/bin/axonhub serve >>axonhub.log 2>&1 &",
        ".venv/bin/axonhub run claude",
    ]


def test_no_readme_command_needs_axonhub_on_path_or_creates_a_key_twice() -> None:
    lines = command_lines()
    assert [line for line in lines if line.startswith("axonhub ")] == []
    created = [line.split("keys create ")[1].split()[0] for line in lines if "keys create " in line]
    assert created and len(created) == len(set(created)), created  # each key name created once


@pytest.mark.slow
def test_the_quickstart_runs_as_pasted_in_one_shell(tmp_path: Path) -> None:
    """The steps after the install, verbatim, in bash: a checkout with its .venv, a fake `claude`."""
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    (tmp_path / "axonhub.yml").write_text((REPO / "axonhub.yml").read_text())
    record = fake_agent(tmp_path / "bin", "claude")
    port = free_port()
    env = base_env(tmp_path / "home", PATH=f"{tmp_path / 'bin'}:/usr/bin:/bin", AXONHUB_PORT=str(port))
    (tmp_path / "home").mkdir()
    steps = "\n".join(blocks("Quickstart")[1])
    script = f"set -e\n{steps}\nkill $! && wait $! || true\n"  # the test's own cleanup: stop the gateway
    shell = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert shell.returncode == 0, shell.stderr + (tmp_path / "axonhub.log").read_text()
    secret = shell.stdout.strip().splitlines()[0]
    assert secret.startswith("ah-")
    argv, child = recorded(record)
    assert (child["ANTHROPIC_BASE_URL"], child["ANTHROPIC_AUTH_TOKEN"]) == (
        f"http://127.0.0.1:{port}/anthropic",
        secret,
    )
    assert "ANTHROPIC_API_KEY" not in child
    assert argv[0] == "--settings"
    assert "axonhub listening" in (tmp_path / "axonhub.log").read_text()
