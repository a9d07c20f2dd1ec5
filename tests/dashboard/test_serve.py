"""`axonhub serve` prints the dashboard's address and a one-time login link; `axonhub dashboard` mints
another; neither ever prints the admin token itself."""

from __future__ import annotations

import json
import os
import select
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from axonhub.cli import main
from tests.cli.test_serve_and_check import REPO, free_port
from tests.conftest import base_config, write_config


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def open_link(url: str) -> tuple[int, str]:
    """(status, Set-Cookie) of a login link, redirects not followed."""
    opener = urllib.request.build_opener(NoRedirect, urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, response.headers.get("Set-Cookie", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Set-Cookie", "")


def read_event(process: subprocess.Popen[bytes], name: str, timeout: float = 20) -> tuple[dict[str, Any], str]:
    """The first JSON log line whose event is `name`, and everything read up to it."""
    assert process.stderr is not None
    fd = process.stderr.fileno()  # read the descriptor itself: log lines arrive several to a write
    seen, pending = "", b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        data = os.read(fd, 65536)
        if not data:
            break
        *lines, pending = (pending + data).split(b"\n")
        for raw in lines:
            line = raw.decode() + "\n"
            seen += line
            if line.startswith("{") and json.loads(line)["event"] == name:
                return json.loads(line), seen
    raise AssertionError(f"no {name!r} log line; got:\n{seen}")


@pytest.mark.slow
def test_serve_prints_the_dashboard_address_and_a_login_link_that_works_once(tmp_path: Path) -> None:
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
    try:
        event, logged = read_event(process, "dashboard")
        base = f"http://127.0.0.1:{port}"
        assert event["url"] == f"{base}/dashboard/"
        assert event["login"].startswith(f"{base}/dashboard/login?code=")
        token_file = tmp_path / "axonhub-admin.token"
        token = token_file.read_text().strip()
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert token not in logged
        deadline = time.monotonic() + 20
        while True:
            try:
                status, cookie = open_link(event["login"])
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert status == 303 and cookie.startswith("axonhub_dashboard=")
        assert open_link(event["login"])[0] == 401  # once only

        result = CliRunner().invoke(main, ["dashboard", "--config", str(config), "--url", base])
        assert result.exit_code == 0, result.output
        link = result.stdout.strip()
        assert link.startswith(f"{base}/dashboard/login?code=") and token not in result.output
        assert open_link(link)[0] == 303
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)
    assert process.returncode == 0


def test_the_dashboard_command_needs_the_token_file(tmp_path: Path) -> None:
    config = write_config(tmp_path / "axonhub.yml", base_config("http://127.0.0.1:9", tmp_path / "trace.jsonl"))
    result = CliRunner().invoke(main, ["dashboard", "--config", str(config)])
    assert result.exit_code == 1
    assert f"no admin token at {tmp_path / 'axonhub-admin.token'}: start `axonhub serve` once" in result.output
