"""Helpers for the tests of CLI edits: a hand-commented config, a runner, a comment extractor."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner, Result

from axonhub.cli import main

REPO = Path(__file__).resolve().parents[2]

# A config as a person writes it: notes everywhere, mixed quoting, flow and block lists.
COMMENTED = """\
# My AxonHub config: hand-written, please keep my notes.
version: 1

server:
  host: 127.0.0.1   # loopback only
  port: 8090

# Providers
channels:
  - name: fake-anthropic      # the test double
    type: anthropic
    base_url: http://127.0.0.1:9
    api_key: ${FAKE_ANTHROPIC_KEY}
    models:
      - regex: "claude-.*"
  - name: deepseek
    type: deepseek
    base_url: http://127.0.0.1:9
    api_key: ${FAKE_DEEPSEEK_KEY}
    models: [deepseek-chat, deepseek-reasoner]   # both models

# Profiles: the first matching rule wins
profiles:
  passthrough:
    rules: []
  deepseek:
    description: 'Claude Code on DeepSeek'
    rules:
      - regex: "claude-(opus|sonnet)-.*"   # the big models
        model: deepseek-reasoner
      - regex: 'claude-.*haiku.*'
        model: deepseek-chat       # the small one

# Keys, managed with `axonhub keys`
keys: []

# Prices
pricing:
  deepseek-chat: {input: 0.27, output: 1.10}
"""

ENV = {"FAKE_ANTHROPIC_KEY": "sk-a", "FAKE_DEEPSEEK_KEY": "sk-d"}


def commented_config(directory: Path, text: str = COMMENTED, mode: int = 0o600) -> Path:
    path = directory / "axonhub.yml"
    path.write_text(text)
    path.chmod(mode)
    return path


def run(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """`axonhub ARGS --config CONFIG`, in process."""
    return CliRunner().invoke(main, [*args, "--config", str(config)], env={**ENV, **(env or {})})


_COMMENT = re.compile(r"(?:^|\s)(#.*)$")


def comments(text: str) -> list[str]:
    """Every comment of a YAML text (full-line and inline), in order, without its indentation."""
    return [found.group(1).rstrip() for line in text.splitlines() if (found := _COMMENT.search(line))]
