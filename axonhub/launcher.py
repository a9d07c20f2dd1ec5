"""What an agent needs to talk to AxonHub, for one child process: its arguments and environment.

`axonhub run claude|codex` starts the agent with these settings and `axonhub env claude|codex`
prints them as shell commands; both come from here, so they never differ. Pure: no IO.

Claude Code
    ANTHROPIC_BASE_URL    http://HOST:PORT/anthropic
    ANTHROPIC_AUTH_TOKEN  the AxonHub key (sent as `Authorization: Bearer`)
    ANTHROPIC_CUSTOM_HEADERS  + `X-Trace-Id: <launch id>`: the launch is one trace even where the
                          gateway does not group by Claude Code's own session id
    unset                 ANTHROPIC_API_KEY (in the gateway's shell it is the gateway's upstream
                          key: Claude Code would send it too), and the Bedrock/Vertex/Foundry
                          switches that would send Claude Code elsewhere
    --settings            `{"statusLine": …}` running `axonhub statusline` (`run` only, and only
                          when the arguments carry no --settings of their own)

Codex (reads `-c key=value` overrides on top of `~/.codex/config.toml`)
    -c model_provider="axonhub" and [model_providers.axonhub]: name, base_url http://HOST:PORT/v1,
       env_key "AXONHUB_API_KEY", wire_api "responses", http_headers {X-Trace-Id = <launch id>}
    AXONHUB_API_KEY       the AxonHub key (the variable `env_key` names)
    unset                 OPENAI_API_KEY, OPENAI_BASE_URL, CODEX_API_KEY

The key is never on the command line: only in the child's environment.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

AGENTS = ("claude", "codex")
TRACE_ENV = "AXONHUB_TRACE_ID"  # the launch's trace id, for `axonhub statusline` run by the agent
KEY_ENV = "AXONHUB_API_KEY"
CODEX_PROVIDER = "axonhub"

CLAUDE_UNSET = (
    "ANTHROPIC_API_KEY",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
    "ANTHROPIC_BEDROCK_BASE_URL",
    "ANTHROPIC_VERTEX_BASE_URL",
)
CODEX_UNSET = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CODEX_API_KEY")
INSTALL_HINTS = {
    "claude": "npm install -g @anthropic-ai/claude-code",
    "codex": "npm install -g @openai/codex",
}


@dataclass(frozen=True, slots=True)
class Launch:
    """One agent's settings: the program, the arguments before the user's, the environment."""

    program: str
    args: tuple[str, ...] = ()
    set_env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    unset_env: tuple[str, ...] = ()

    def argv(self, user_args: Sequence[str]) -> list[str]:
        return [self.program, *self.args, *user_args]

    def child_env(self, parent: Mapping[str, str]) -> dict[str, str]:
        env = {name: value for name, value in parent.items() if name not in self.unset_env}
        env.update(self.set_env)
        return env

    def shell(self) -> str:
        """POSIX shell commands (sh, bash, zsh) that set the same up in the current shell, for `eval`."""
        lines = [f"export {name}={shlex.quote(value)}" for name, value in self.set_env.items()]
        if self.unset_env:
            lines.append("unset " + " ".join(self.unset_env))
        if self.args:
            arguments = " ".join(shlex.quote(a) for a in self.args)
            lines.append(f'{self.program}() {{ command {self.program} {arguments} "$@"; }}')
        return "\n".join(lines) + "\n"


def base_url(host: str, port: int) -> str:
    """The gateway's root URL as a local client reaches it (a wildcard address means this machine)."""
    if host in ("0.0.0.0", ""):  # noqa: S104 - reading the setting, not binding
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def claude(
    root: str,
    secret: str,
    trace_id: str,
    parent: Mapping[str, str],
    statusline: str | None = None,
    user_args: Sequence[str] = (),
) -> Launch:
    """Claude Code through the gateway at `root`; `statusline` is the command for its status line."""
    headers = parent.get("ANTHROPIC_CUSTOM_HEADERS", "").strip()
    ours = f"X-Trace-Id: {trace_id}"
    args: tuple[str, ...] = ()
    if statusline is not None and not _has_option(user_args, "--settings"):
        args = ("--settings", json.dumps({"statusLine": {"type": "command", "command": statusline, "padding": 0}}))
    return Launch(
        program="claude",
        args=args,
        set_env=MappingProxyType(
            {
                "ANTHROPIC_BASE_URL": f"{root}/anthropic",
                "ANTHROPIC_AUTH_TOKEN": secret,
                "ANTHROPIC_CUSTOM_HEADERS": f"{headers}\n{ours}" if headers else ours,
                TRACE_ENV: trace_id,
            }
        ),
        unset_env=CLAUDE_UNSET,
    )


def codex(root: str, secret: str, trace_id: str) -> Launch:
    """Codex through the gateway's OpenAI Responses API at `root`/v1."""
    provider = f"model_providers.{CODEX_PROVIDER}"
    overrides = {
        "model_provider": _toml(CODEX_PROVIDER),
        f"{provider}.name": _toml("AxonHub"),
        f"{provider}.base_url": _toml(f"{root}/v1"),
        f"{provider}.env_key": _toml(KEY_ENV),
        f"{provider}.wire_api": _toml("responses"),
        f"{provider}.http_headers": "{" + f"{_toml('X-Trace-Id')} = {_toml(trace_id)}" + "}",
    }
    args = tuple(arg for name, value in overrides.items() for arg in ("-c", f"{name}={value}"))
    return Launch(
        program="codex",
        args=args,
        set_env=MappingProxyType({KEY_ENV: secret, TRACE_ENV: trace_id}),
        unset_env=CODEX_UNSET,
    )


def _toml(text: str) -> str:
    """A TOML basic string (JSON's escaping is valid TOML for these characters)."""
    return json.dumps(text)


def _has_option(args: Sequence[str], name: str) -> bool:
    return any(arg == name or arg.startswith(name + "=") for arg in args)
