"""Every ready config in examples/ loads without errors and routes its client's model ids somewhere.

The `codex-*` configs serve Codex (OpenAI model names); the others serve Claude Code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from axonhub.config import Key, load_config
from axonhub.profiles import resolve

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yml"))
CLAUDE_CODE_IDS = ("claude-opus-4-8[1m]", "claude-sonnet-4-5-20250929", "claude-sonnet-5", "claude-haiku-4-5-20251001")
CODEX_IDS = ("gpt-6.1-sol", "gpt-5-codex", "gpt-5.1-codex-max", "o4-mini", "codex-mini-latest")


def test_the_examples_folder_holds_the_deepseek_and_openrouter_configs() -> None:
    assert {
        "claude-code-deepseek.yml",
        "claude-code-openrouter.yml",
        "codex-deepseek.yml",
        "claude-code-gemini.yml",
        "mixed-fleet.yml",
    } <= {p.name for p in EXAMPLES}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_an_example_loads_and_every_profile_serves_its_clients_models(path: Path) -> None:
    variables = set(re.findall(r"\$\{([A-Z_]+)\}", path.read_text()))
    config = load_config(path, env={name: "sk-test" for name in variables})
    assert config.warnings == ()
    assert config.profiles, "an example without a profile leaves its client's ids unmapped"
    codex = path.name.startswith("codex-")
    for profile in config.profiles:
        key = Key(name="k", secret_hash="sha256:" + "0" * 64, active_profile=profile)
        for model in CODEX_IDS if codex else CLAUDE_CODE_IDS:
            route = resolve(model, key, config)
            assert route.candidates, f"{path.name}: profile {profile} cannot serve {model}"
            on_claude = model.startswith("claude") and all(c.channel.type == "anthropic" for c in route.candidates)
            assert on_claude or route.resolved_model != model, f"{path.name}: {model} left unmapped"


def routes(path: str, profile: str, *models: str) -> list[tuple[str, str, str]]:
    """(model, resolved model, first channel) of each model under `profile` of examples/`path`."""
    example = next(p for p in EXAMPLES if p.name == path)
    variables = set(re.findall(r"\$\{([A-Z_]+)\}", example.read_text()))
    config = load_config(example, env={name: "sk-test" for name in variables})
    key = Key(name="k", secret_hash="sha256:" + "0" * 64, active_profile=profile)
    out = []
    for model in models:
        route = resolve(model, key, config)
        out.append((model, route.resolved_model, route.candidates[0].channel.name))
    return out


def test_the_gemini_example_serves_claude_code_and_gemini_cli_on_one_gemini_channel() -> None:
    assert routes(
        "claude-code-gemini.yml", "gemini", "claude-sonnet-5", "claude-haiku-4-5-20251001", "gemini-3-pro-preview"
    ) == [
        ("claude-sonnet-5", "gemini-2.5-pro", "gemini"),
        ("claude-haiku-4-5-20251001", "gemini-2.5-flash", "gemini"),
        ("gemini-3-pro-preview", "gemini-3-pro-preview", "gemini"),
    ]


def test_the_mixed_fleet_puts_sonnet_on_claude_haiku_on_gemini_flash_and_codex_on_deepseek() -> None:
    assert routes(
        "mixed-fleet.yml",
        "fleet",
        "claude-sonnet-4-5-20250929",
        "claude-haiku-4-5-20251001",
        "gpt-5-codex",
        "gemini-2.5-pro",
    ) == [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929", "claude"),
        ("claude-haiku-4-5-20251001", "gemini-2.5-flash", "gemini"),
        ("gpt-5-codex", "deepseek-reasoner", "deepseek"),
        ("gemini-2.5-pro", "gemini-2.5-pro", "gemini"),
    ]
