"""`axonhub serve` and `axonhub config check` as a user runs them: real processes, real exit codes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from axonhub.cli import main
from axonhub.config import EMPTY_DOCUMENT
from tests.conftest import base_config, write_config
from tests.gateway_process import GatewayProcess
from tests.processes import axonhub

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_health(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                return dict(json.load(response))
        except OSError:
            time.sleep(0.1)
    raise AssertionError("axonhub serve did not become healthy")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_starts_on_a_config_and_stops_cleanly_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    config = write_config(tmp_path / "axonhub.yml", base_config("http://127.0.0.1:9", tmp_path / "trace.jsonl"))
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "axonhub",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--log-format",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "FAKE_ANTHROPIC_KEY": "sk-x"},
        cwd=REPO,
    )
    health = wait_for_health(port, process)
    assert health["status"] == "ok"
    process.send_signal(sig)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err.decode()
    events = [json.loads(line)["event"] for line in err.decode().splitlines() if line.startswith("{")]
    assert events[0] == "axonhub listening"
    assert events[-1] == "axonhub stopped"


def test_serve_refuses_an_invalid_config_with_every_error_and_its_path(tmp_path: Path) -> None:
    data = base_config("http://127.0.0.1:9", tmp_path / "trace.jsonl")
    data["keys"][0]["active_profile"] = "ghost"
    data["channels"][0]["type"] = "telegraph"
    config = write_config(tmp_path / "axonhub.yml", data)
    result = CliRunner().invoke(main, ["serve", "--config", str(config)])
    assert result.exit_code == 1
    assert (
        "channels[0].type: 'telegraph' is not one of anthropic, openai, deepseek, openrouter, moonshot" in result.output
    )
    assert "Traceback" not in result.output


def test_config_check_reports_a_valid_file_and_its_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAKE_ANTHROPIC_KEY", raising=False)
    config = write_config(tmp_path / "axonhub.yml", base_config("http://127.0.0.1:9", tmp_path / "trace.jsonl"))
    result = CliRunner().invoke(main, ["config", "check", "--config", str(config)])
    assert result.exit_code == 0
    assert f"{config}: valid (1 channels, 1 profiles, 3 keys)" in result.output
    assert "environment variable FAKE_ANTHROPIC_KEY is not set" in result.output


def test_config_check_lists_every_error_and_exits_1(tmp_path: Path) -> None:
    data = base_config("http://127.0.0.1:9", tmp_path / "trace.jsonl")
    data["keys"][1]["active_profile"] = "ghost"
    data["server"]["port"] = 0
    config = write_config(tmp_path / "axonhub.yml", data)
    result = CliRunner().invoke(main, ["config", "check", "--config", str(config), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output) == {
        "valid": False,
        "path": str(config),
        "errors": ["server.port: 0 is less than the minimum of 1 (line 6)"],
        "warnings": [],
    }


def test_config_check_on_the_shipped_file_passes_with_no_variables_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    result = CliRunner().invoke(main, ["config", "check", "--config", str(REPO / "axonhub.yml"), "--json"])
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["valid"] is True
    assert len(report["warnings"]) == 2


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["config", "check", "--help"], ["-h"]])
def test_help_works_even_with_a_broken_config_file(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "axonhub.yml").write_text("{{{ not yaml")
    result = CliRunner().invoke(main, args, env={"AXONHUB_CONFIG": str(tmp_path / "axonhub.yml")})
    assert result.exit_code == 0
    assert "Usage:" in result.output


@pytest.mark.parametrize("content", [b"", b"# all commented out\n# version: 1\n"], ids=["empty", "comments only"])
def test_config_check_and_serve_refuse_an_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "axonhub.yml"
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output) == {"valid": False, "path": str(path), "errors": [EMPTY_DOCUMENT], "warnings": []}
    served = CliRunner().invoke(main, ["serve", "--config", str(path)])
    assert served.exit_code == 1
    assert served.output == f"Error: invalid config {path}:\n  {EMPTY_DOCUMENT}\n"


def test_a_yaml_syntax_error_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "axonhub.yml"
    path.write_text(yaml.safe_dump({"server": {"port": 1}}) + "channels: [\n")
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code == 1
    assert "(yaml) line" in result.output


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_one_clear_error_before_anything_claims_to_listen(tmp_path: Path, workers: str) -> None:
    config = write_config(tmp_path / "axonhub.yml", base_config("http://127.0.0.1:9", tmp_path / "trace.jsonl"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        serve = ["serve", "--config", str(config), "--port", str(port), "--log-format", "json", "--workers", workers]
        result = axonhub(*serve, env={**os.environ, "FAKE_ANTHROPIC_KEY": "sk-x"}, timeout=30)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: port {port} on 127.0.0.1 is already in use (another `axonhub serve`? "
        f"`curl http://127.0.0.1:{port}/health` tells); stop it, or pick another port with --port N\n"
    )
    assert "listening" not in result.stdout + result.stderr
    assert "dashboard" not in result.stdout + result.stderr


async def test_serve_workers_on_a_port_another_serve_workers_holds_is_refused(tmp_path: Path) -> None:
    """Workers share their port with SO_REUSEPORT, which the kernel grants a second `serve --workers`
    of the same user as well: it would silently split the connections with the first one."""
    config = write_config(tmp_path / "axonhub.yml", base_config("http://127.0.0.1:9", tmp_path / "trace.jsonl"))
    first = GatewayProcess(config, workers=2)
    await first.start()
    try:
        serve = ["serve", "--config", str(config), "--port", str(first.port), "--log-format", "json", "--workers", "2"]
        result = await asyncio.to_thread(axonhub, *serve, env={**os.environ, "FAKE_ANTHROPIC_KEY": "sk-x"}, timeout=15)
    finally:
        await first.stop()
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: port {first.port} on 127.0.0.1 is already in use")
    assert "listening" not in result.stdout + result.stderr


def test_serve_on_a_terminal_says_what_to_do_next(tmp_path: Path) -> None:
    import pty

    data = base_config("http://127.0.0.1:9", tmp_path / "trace.jsonl")
    data["keys"] = []
    config = write_config(tmp_path / "axonhub.yml", data)
    port = free_port()
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "axonhub", "serve", "--config", str(config), "--port", str(port)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "FAKE_ANTHROPIC_KEY": "sk-x", "COLUMNS": "200"},
        cwd=REPO,
    )
    os.close(terminal)
    screen = b""
    try:
        deadline = time.monotonic() + 30
        while b"watch the requests go by" not in screen and time.monotonic() < deadline:
            try:
                screen += os.read(controller, 4096)
            except OSError:
                break
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        os.close(controller)
    text = screen.decode().replace("\r\n", "\n")
    exe = f"{sys.executable} -m axonhub"
    assert (
        "Next, in another terminal:\n"
        f"  {exe} keys create --config {config} NAME    first, a key for your agents (there is none yet)\n"
        f"  {exe} run --config {config} --port {port} claude    Claude Code through this gateway\n"
        f'  eval "$({exe} env --config {config} --port {port} claude)"    or set up a shell for it\n'
        f"  {exe} traces tail -f --config {config}    watch the requests go by\n"
    ) in text
    assert text.index("axonhub listening") < text.index("Next, in another terminal")
