"""Every ready config in examples/ loads without errors and routes Claude Code's model ids somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from axonhub.config import Key, load_config
from axonhub.profiles import resolve

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yml"))
CLAUDE_CODE_IDS = ("claude-opus-4-8[1m]", "claude-sonnet-4-5-20250929", "claude-sonnet-5", "claude-haiku-4-5-20251001")


def test_the_examples_folder_holds_the_deepseek_and_openrouter_configs() -> None:
    assert {"claude-code-deepseek.yml", "claude-code-openrouter.yml"} <= {p.name for p in EXAMPLES}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_an_example_loads_and_every_profile_serves_claude_codes_models(path: Path) -> None:
    variables = set(re.findall(r"\$\{([A-Z_]+)\}", path.read_text()))
    config = load_config(path, env={name: "sk-test" for name in variables})
    assert config.warnings == ()
    assert config.profiles, "an example without a profile leaves Claude Code's ids unmapped"
    for profile in config.profiles:
        key = Key(name="k", secret_hash="sha256:" + "0" * 64, active_profile=profile)
        for model in CLAUDE_CODE_IDS:
            route = resolve(model, key, config)
            assert route.candidates, f"{path.name}: profile {profile} cannot serve {model}"
            assert not route.resolved_model.startswith("claude"), f"{path.name}: {model} left unmapped"
