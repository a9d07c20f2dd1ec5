"""Load and validate `axonhub.yml` into frozen dataclasses.

The one module that knows YAML and jsonschema on the read side. Every error is reported with its
JSON path (`keys[2].active_profile: …`); `${ENV}` secret references are resolved once, here; a
channel whose variable is not set is kept but marked unavailable (with a warning naming the channel
and the variable) so that the shipped file starts on a fresh machine.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from axonhub.config_errors import Problem, did_you_mean, render, schema_problems
from axonhub.errors import ConfigError
from axonhub.formats.openai_chat.quirks import QUIRKS, Quirks, quirks_for, with_overrides
from axonhub.limits import model as limits
from axonhub.limits.model import NO_CHANNEL_LIMITS, NO_KEY_LIMITS, ChannelLimits, KeyLimits
from axonhub.schema import CONFIG_SCHEMA, SERVED_CHANNEL_TYPES

EMPTY_DOCUMENT = (
    "(root): the file is empty or holds only comments; a config needs its sections "
    "(an empty file is never taken as a config with no keys and no channels)"
)
_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_ENV_REF_ANYWHERE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_VALIDATOR = Draft202012Validator(CONFIG_SCHEMA)

# The C loader is several times faster on large files; fall back when libyaml is absent.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 10.0
    read: float = 600.0  # idle: the longest quiet spell between two reads
    first_byte: float | None = None  # until the upstream starts answering; None: `read`


@dataclass(frozen=True, slots=True)
class ClientTimeouts:
    """How long a client may take (seconds); over a limit the connection is closed, after a 400 for the body."""

    headers: float = 10.0  # from the first byte of a request to the end of its headers
    body: float = 60.0  # from the end of the headers to the end of the body
    keepalive: float = 75.0  # idle between two requests on one connection


@dataclass(frozen=True, slots=True)
class TraceConfig:
    enabled: bool = True
    path: Path = Path("axonhub-trace.jsonl")
    claude_code_trace_enabled: bool = False
    bodies: str = "none"
    max_body_bytes: int = 65536
    max_bytes: int = 100 * 1024 * 1024
    keep: int = 5


@dataclass(frozen=True, slots=True)
class StateConfig:
    """Where limit counters live; `url` is None when its environment variable is not set."""

    backend: str = "memory"  # memory | redis
    url: str | None = None
    url_env: str | None = None
    prefix: str = "axonhub:"
    on_error: str = "open"  # open: admit when the state cannot be reached; closed: refuse (503)
    timeout: float = 0.25


@dataclass(frozen=True, slots=True)
class OtlpConfig:
    """OpenTelemetry export; `unavailable_reason` is set when a header's variable is missing."""

    endpoint: str
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    service_name: str = "axonhub"
    timeout: float = 10.0
    max_queue: int = 2048
    unavailable_reason: str | None = None


@dataclass(frozen=True, slots=True)
class DashboardConfig:
    """The local dashboard: on by default, loopback only, opened with the admin token in `token_file`."""

    enabled: bool = True
    allow_remote: bool = False
    token_file: Path = Path("axonhub-admin.token")
    max_records: int = 2_000_000  # records the dashboard's index holds; older ones drop out


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8090
    max_body_bytes: int = 32 * 1024 * 1024
    timeouts: Timeouts = Timeouts()  # the default of every channel without its own `timeouts`
    client_timeouts: ClientTimeouts = ClientTimeouts()
    ping_interval: float = 10.0
    trace: TraceConfig = TraceConfig()
    state: StateConfig = StateConfig()
    otlp: OtlpConfig | None = None
    shutdown_grace: float = 30.0  # seconds in-flight requests may finish after SIGTERM
    dashboard: DashboardConfig = DashboardConfig()
    operator_hints: str = "auto"  # auto | always | never
    # answers remembered per key for requests that continue one by its id (`previous_response_id`)
    conversations_per_key: int = 100
    # and the JSON bytes they may hold per key (0: no bound but the count)
    conversations_max_bytes: int = 64 * 1024 * 1024

    @property
    def operator_hints_enabled(self) -> bool:
        """Whether error messages may carry operator hints (environment variable names, where to look).

        `auto`: only while the gateway listens on loopback, where its clients are its operator.
        """
        if self.operator_hints != "auto":
            return self.operator_hints == "always"
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class ModelMatcher:
    """The models a channel serves: exact names plus anchored regexes."""

    exact: frozenset[str] = frozenset()
    patterns: tuple[re.Pattern[str], ...] = ()

    def matches(self, model: str) -> bool:
        return model in self.exact or any(p.fullmatch(model) for p in self.patterns)

    def describe(self) -> list[str]:
        return sorted(self.exact) + [f"/{p.pattern}/" for p in self.patterns]


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    type: str
    base_url: str
    models: ModelMatcher
    api_key: str | None = None
    api_key_env: str | None = None
    aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    priority: int = 0
    weight: int = 1
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    max_output_tokens: int | None = None
    quirks: Quirks | None = None  # OpenAI-compatible types: the type's row with the config's overrides
    timeouts: Timeouts = Timeouts()
    enabled: bool = True
    limits: ChannelLimits = NO_CHANNEL_LIMITS

    @property
    def unavailability(self) -> tuple[str, str | None] | None:
        """Why the channel cannot serve (words for anyone) and what the operator should do (a hint that
        may name an environment variable); None when it can serve."""
        if not self.enabled:
            return f"channel '{self.name}' is disabled in the config", None
        if self.type not in SERVED_CHANNEL_TYPES:
            return (
                f"channel '{self.name}' is unavailable: this version of AxonHub cannot talk to type '{self.type}' yet",
                None,
            )
        if self.api_key_env and self.api_key is None:
            return (
                f"channel '{self.name}' is unavailable: its API key is not configured",
                f"environment variable {self.api_key_env} is not set; set it and restart AxonHub",
            )
        return None

    @property
    def unavailable_reason(self) -> str | None:
        """The whole reason, hint included: for the operator's eyes (logs, the CLI, /health)."""
        found = self.unavailability
        if found is None:
            return None
        why, hint = found
        return f"channel '{self.name}' is unavailable: {hint}" if hint else why

    def upstream_model(self, model: str) -> str:
        return self.aliases.get(model, model)


@dataclass(frozen=True, slots=True)
class When:
    """A rule's conditions on the request (all must hold); None / empty: not asked about."""

    thinking: bool | None = None
    tokens_above: int | None = None
    images: bool | None = None
    tools: tuple[str, ...] = ()  # any of these offered (names, or server-tool types)
    clients: tuple[str, ...] = ()  # sent by any of these clients
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # lowercased name -> value

    def needs(self) -> frozenset[str]:
        """The request features these conditions read (see `axonhub.features`)."""
        asked = {
            "thinking": self.thinking is not None,
            "tokens": self.tokens_above is not None,
            "images": self.images is not None,
            "tools": bool(self.tools),
            "client": bool(self.clients),
            "headers": bool(self.headers),
        }
        return frozenset(name for name, wanted in asked.items() if wanted)

    def describe(self) -> str:
        parts = []
        if self.thinking is not None:
            parts.append("thinking" if self.thinking else "no thinking")
        if self.tokens_above is not None:
            parts.append(f"tokens > {self.tokens_above}")
        if self.images is not None:
            parts.append("images" if self.images else "no images")
        if self.tools:
            parts.append("tool " + "|".join(self.tools))
        if self.clients:
            parts.append("client " + "|".join(self.clients))
        parts += [f"header {name}={value}" for name, value in self.headers.items()]
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Rule:
    model: str
    match: str | None = None
    regex: re.Pattern[str] | None = None
    when: When | None = None

    def describe(self) -> str:
        if self.match is not None:
            source = f"match {self.match}"
        elif self.regex is not None:
            source = f"regex {self.regex.pattern}"
        else:
            source = "any model"
        condition = f" when {self.when.describe()}" if self.when else ""
        return f"{source}{condition} -> {self.model}"


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    rules: tuple[Rule, ...] = ()
    description: str = ""
    # the request features its rules' `when:` read; empty: routing looks at the model name only
    needs: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Key:
    name: str
    secret_hash: str
    project: str = "default"
    profiles: tuple[str, ...] = ()
    active_profile: str | None = None
    enabled: bool = True
    created_at: str = ""
    limits: KeyLimits = NO_KEY_LIMITS  # the key's own over its project's defaults


@dataclass(frozen=True, slots=True)
class Project:
    name: str
    limits: KeyLimits = NO_KEY_LIMITS
    description: str = ""


@dataclass(frozen=True, slots=True)
class Price:
    input: float = 0.0
    output: float = 0.0
    cache_read: float = 0.0
    cache_write: float = 0.0


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig
    channels: tuple[Channel, ...]
    profiles: Mapping[str, Profile]
    keys: tuple[Key, ...]
    pricing: Mapping[str, Price]
    source: Path | None = None
    digest: str = ""
    loaded_at: float = 0.0
    warnings: tuple[str, ...] = ()
    keys_by_hash: Mapping[str, Key] = field(default_factory=lambda: MappingProxyType({}))
    projects: Mapping[str, Project] = field(default_factory=lambda: MappingProxyType({}))

    def key_by_name(self, name: str) -> Key | None:
        return next((k for k in self.keys if k.name == name), None)


def hash_secret(secret: str) -> str:
    """The stored form of an AxonHub key. Keys are 32 random bytes, so a fast hash is enough."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def read_raw(path: Path) -> bytes:
    """The file's bytes, read once: the text parsed and the digest reported come from the same read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"config file not found: {path}"], str(path)) from None
    except IsADirectoryError:
        raise ConfigError([f"cannot read {path}: it is a directory"], str(path)) from None
    except OSError as exc:
        raise ConfigError([f"cannot read {path}: {exc.strerror or exc}"], str(path)) from None


def parse_yaml(raw: bytes, path: Path) -> Any:
    """The YAML document in `raw`; an undecodable, unparsable, empty or comment-only file is an error."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = len(raw[raw.rfind(b"\n", 0, exc.start) + 1 : exc.start].decode("utf-8", "replace")) + 1
        raise ConfigError(
            [f"(encoding) not valid UTF-8: byte 0x{raw[exc.start]:02x} at line {line}, column {column}"], str(path)
        ) from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"(yaml) {where}{problem}"], str(path)) from None
    if data is None:
        raise ConfigError([EMPTY_DOCUMENT], str(path))
    return data


def validate(data: Any, text: str | None = None) -> list[str]:
    """Every schema and semantic error of a config document, as `path: message (line N)` lines.

    `text` is the YAML the document was read from, for line numbers.
    """
    ordered = sorted(_VALIDATOR.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    problems = _not_numbers(data, ()) + [problem for err in ordered for problem in schema_problems(err)]
    if not problems:
        problems = _semantic_errors(data)
    return render(problems, text)


def _not_numbers(value: Any, path: tuple[str | int, ...]) -> list[Problem]:
    """Every `.nan` in the document: it passes every bound of the schema, as no comparison holds for it."""
    if isinstance(value, float) and math.isnan(value):
        return [Problem(path, ".nan is not a number")]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _not_numbers(v, (*path, str(k)))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _not_numbers(v, (*path, i))]
    return []


def _semantic_errors(data: Mapping[str, Any]) -> list[Problem]:
    errors: list[Problem] = []
    errors += _duplicates(data.get("channels") or [], "channels", "name")
    errors += _duplicates(data.get("keys") or [], "keys", "name")
    errors += _duplicates(data.get("keys") or [], "keys", "secret_hash")
    for i, channel in enumerate(data.get("channels") or []):
        if "quirks" in channel and channel["type"] not in QUIRKS:
            errors.append(
                Problem(
                    ("channels", i, "quirks"),
                    f"only OpenAI-compatible channel types ({', '.join(QUIRKS)}) take quirks, not '{channel['type']}'",
                )
            )
        for j, spec in enumerate(channel["models"]):
            if isinstance(spec, dict):
                errors += _regex_error(spec["regex"], ("channels", i, "models", j, "regex"))
    profiles = data.get("profiles") or {}
    for name, profile in profiles.items():
        for j, rule in enumerate(profile["rules"]):
            if "regex" in rule:
                errors += _regex_error(rule["regex"], ("profiles", name, "rules", j, "regex"))
    for i, key in enumerate(data.get("keys") or []):
        for j, profile_name in enumerate(key.get("profiles") or []):
            if profile_name not in profiles:
                errors.append(
                    Problem(("keys", i, "profiles", j), _no_profile(profile_name, profiles)),
                )
        active = key.get("active_profile")
        if active is not None:
            if active not in profiles:
                errors.append(Problem(("keys", i, "active_profile"), _no_profile(active, profiles)))
            elif key.get("profiles") and active not in key["profiles"]:
                errors.append(Problem(("keys", i, "active_profile"), f"'{active}' is not one of the key's profiles"))
    errors += _state_errors((data.get("server") or {}).get("state"))
    return errors


def _no_profile(name: str, profiles: Mapping[str, Any]) -> str:
    return f"no profile named '{name}'{did_you_mean(name, profiles)}"


def _state_errors(state: Any) -> list[Problem]:
    if not isinstance(state, dict):
        advice = "redis needs a url: write it as `state: {backend: redis, url: …}`"
        return [Problem(("server", "state"), advice)] if state == "redis" else []
    url = state.get("url")
    errors = []
    if state.get("backend") == "redis" and url is None:
        errors.append(
            Problem(("server", "state", "url"), "required with backend redis (redis://host:6379/0 or ${REDIS_URL})")
        )
    if isinstance(url, str) and not _ENV_REF.match(url) and _url_has_password(url):
        errors.append(
            Problem(
                ("server", "state", "url"),
                "holds a password; put the URL in an environment variable: url: ${REDIS_URL}",
            )
        )
    return errors


def _url_has_password(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False


def _duplicates(items: list[dict[str, Any]], where: str, field_name: str) -> list[Problem]:
    seen: set[Any] = set()
    errors = []
    for i, item in enumerate(items):
        value = item.get(field_name)
        if value in seen:
            shown = value if field_name != "secret_hash" else "(the same secret)"
            errors.append(Problem((where, i, field_name), f"duplicate {field_name} {shown!r}"))
        seen.add(value)
    return errors


def _regex_error(pattern: str, where: tuple[str | int, ...]) -> list[Problem]:
    try:
        re.compile(pattern)
    except re.error as exc:
        return [Problem(where, f"invalid regex {pattern!r}: {exc}")]
    return []


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Read, validate and freeze a config file; raises ConfigError listing every problem."""
    path = Path(path)
    return parse_config(read_raw(path), path, env)


def parse_config(raw: bytes, path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Validate and freeze the bytes of a config file read from `path`."""
    data = parse_yaml(raw, path)
    errors = validate(data, raw.decode("utf-8"))  # parse_yaml has checked that it decodes
    if errors:
        raise ConfigError(errors, str(path))
    return build_config(data, source=path, env=os.environ if env is None else env, raw=raw)


def build_config(data: Mapping[str, Any], *, source: Path | None, env: Mapping[str, str], raw: bytes = b"") -> Config:
    """Turn an already validated document into a Config."""
    base_dir = source.parent if source else Path.cwd()
    warnings: list[str] = []
    server = _server(data.get("server") or {}, base_dir, env, warnings)
    channels = tuple(_channel(c, env, warnings, server.timeouts) for c in data.get("channels") or [])
    projects = {name: _project(name, raw) for name, raw in (data.get("projects") or {}).items()}
    keys = tuple(_key(k, projects) for k in data.get("keys") or [])
    return Config(
        server=server,
        channels=channels,
        profiles=MappingProxyType({n: _profile(n, p) for n, p in (data.get("profiles") or {}).items()}),
        keys=keys,
        pricing=MappingProxyType({m: Price(**p) for m, p in (data.get("pricing") or {}).items()}),
        source=source,
        digest=hashlib.sha256(raw).hexdigest()[:12],
        loaded_at=time.time(),
        warnings=tuple(warnings),
        keys_by_hash=MappingProxyType({k.secret_hash: k for k in keys}),
        projects=MappingProxyType(projects),
    )


def _timeouts(raw: Mapping[str, Any] | None, default: Timeouts = Timeouts()) -> Timeouts:
    """Each field from `raw`, else from `default` (a channel's default is `server.timeouts`)."""
    raw = raw or {}
    return Timeouts(
        connect=raw.get("connect", default.connect),
        read=raw.get("read", default.read),
        first_byte=raw.get("first_byte", default.first_byte),
    )


def _state(raw: Any, env: Mapping[str, str], warnings: list[str]) -> StateConfig:
    if raw is None or isinstance(raw, str):
        return StateConfig(backend=raw or "memory")
    url, url_env = raw.get("url"), None
    if isinstance(url, str) and (match := _ENV_REF.match(url)):
        url_env = match.group(1)
        url = env.get(url_env) or None
        if url is None and raw.get("backend", "redis") == "redis":
            warnings.append(f"server.state: environment variable {url_env} is not set; limits follow state.on_error")
    default = StateConfig()
    return StateConfig(
        backend=raw.get("backend", "redis" if "url" in raw else "memory"),
        url=url,
        url_env=url_env,
        prefix=raw.get("prefix", default.prefix),
        on_error=raw.get("on_error", default.on_error),
        timeout=raw.get("timeout", default.timeout),
    )


# Header names that carry a credential: their value belongs in the environment, as upstream keys do.
_CREDENTIAL_HEADER = re.compile(r"authorization|api[-_]?key|token|secret|password", re.IGNORECASE)


def _credential_example(header: str) -> str:
    """An environment reference to write in place of a literal credential header."""
    if header.lower() == "authorization":
        return "Bearer ${OTLP_TOKEN}"
    return "${OTLP_" + re.sub(r"[^A-Za-z0-9]+", "_", header).strip("_").upper() + "}"


def _otlp(raw: Mapping[str, Any] | None, env: Mapping[str, str], warnings: list[str]) -> OtlpConfig | None:
    if raw is None or not raw.get("enabled", True):
        return None
    missing = sorted(
        {name for value in (raw.get("headers") or {}).values() for name in _ENV_REF_ANYWHERE.findall(value)} - set(env)
    )
    headers = {
        name: _ENV_REF_ANYWHERE.sub(lambda m: env.get(m.group(1), ""), value)
        for name, value in (raw.get("headers") or {}).items()
    }
    reason = None
    if missing:
        reason = f"server.otlp: environment variable {', '.join(missing)} is not set; spans are not exported"
        warnings.append(reason)
    warnings += [
        f"server.otlp.headers.{name}: a credential written into the config; take it from the environment, "
        f"e.g. '{_credential_example(name)}'"
        for name, value in (raw.get("headers") or {}).items()
        if _CREDENTIAL_HEADER.search(name) and value.strip() and not _ENV_REF_ANYWHERE.search(value)
    ]
    default = OtlpConfig(endpoint="")
    return OtlpConfig(
        endpoint=raw["endpoint"],
        headers=MappingProxyType(headers),
        service_name=raw.get("service_name", default.service_name),
        timeout=raw.get("timeout", default.timeout),
        max_queue=raw.get("max_queue", default.max_queue),
        unavailable_reason=reason,
    )


def _server(raw: Mapping[str, Any], base_dir: Path, env: Mapping[str, str], warnings: list[str]) -> ServerConfig:
    trace_raw = raw.get("trace") or {}
    default_trace, default = TraceConfig(), ServerConfig()
    trace_path = Path(os.path.expanduser(trace_raw.get("path", default_trace.path)))
    trace = TraceConfig(
        enabled=trace_raw.get("enabled", default_trace.enabled),
        path=trace_path if trace_path.is_absolute() else base_dir / trace_path,
        claude_code_trace_enabled=trace_raw.get("claude_code_trace_enabled", default_trace.claude_code_trace_enabled),
        bodies=trace_raw.get("bodies", default_trace.bodies),
        max_body_bytes=trace_raw.get("max_body_bytes", default_trace.max_body_bytes),
        max_bytes=trace_raw.get("max_bytes", default_trace.max_bytes),
        keep=trace_raw.get("keep", default_trace.keep),
    )
    return ServerConfig(
        host=raw.get("host", default.host),
        port=raw.get("port", default.port),
        max_body_bytes=raw.get("max_body_bytes", default.max_body_bytes),
        timeouts=_timeouts(raw.get("timeouts")),
        client_timeouts=_client_timeouts(raw.get("client_timeouts") or {}),
        ping_interval=raw.get("ping_interval", default.ping_interval),
        trace=trace,
        state=_state(raw.get("state"), env, warnings),
        otlp=_otlp(raw.get("otlp"), env, warnings),
        shutdown_grace=raw.get("shutdown_grace", default.shutdown_grace),
        dashboard=_dashboard(raw.get("dashboard") or {}, base_dir),
        operator_hints=raw.get("operator_hints", default.operator_hints),
        conversations_per_key=(raw.get("conversations") or {}).get("max_per_key", default.conversations_per_key),
        conversations_max_bytes=(raw.get("conversations") or {}).get(
            "max_bytes_per_key", default.conversations_max_bytes
        ),
    )


def _dashboard(raw: Mapping[str, Any], base_dir: Path) -> DashboardConfig:
    default = DashboardConfig()
    token_file = Path(os.path.expanduser(raw.get("token_file", default.token_file)))
    return DashboardConfig(
        enabled=raw.get("enabled", default.enabled),
        allow_remote=raw.get("allow_remote", default.allow_remote),
        token_file=token_file if token_file.is_absolute() else base_dir / token_file,
        max_records=raw.get("max_records", default.max_records),
    )


def _client_timeouts(raw: Mapping[str, Any]) -> ClientTimeouts:
    default = ClientTimeouts()
    return ClientTimeouts(
        headers=raw.get("headers", default.headers),
        body=raw.get("body", default.body),
        keepalive=raw.get("keepalive", default.keepalive),
    )


def _channel(
    raw: Mapping[str, Any], env: Mapping[str, str], warnings: list[str], default_timeouts: Timeouts
) -> Channel:
    exact = frozenset(m for m in raw["models"] if isinstance(m, str))
    patterns = tuple(re.compile(m["regex"]) for m in raw["models"] if isinstance(m, dict))
    api_key_env = None
    api_key = None
    if "api_key" in raw:
        match = _ENV_REF.match(raw["api_key"])
        assert match is not None  # the schema only admits ${VAR}
        api_key_env = match.group(1)
        api_key = env.get(api_key_env) or None
    channel = Channel(
        name=raw["name"],
        type=raw["type"],
        base_url=raw["base_url"].rstrip("/"),
        models=ModelMatcher(exact, patterns),
        api_key=api_key,
        api_key_env=api_key_env,
        aliases=MappingProxyType(dict(raw.get("aliases") or {})),
        priority=raw.get("priority", 0),
        weight=raw.get("weight", 1),
        headers=MappingProxyType(dict(raw.get("headers") or {})),
        max_output_tokens=raw.get("max_output_tokens"),
        quirks=with_overrides(quirks_for(raw["type"]), raw.get("quirks")) if raw["type"] in QUIRKS else None,
        timeouts=_timeouts(raw.get("timeouts"), default_timeouts),
        enabled=raw.get("enabled", True),
        limits=_channel_limits(raw.get("limits")),
    )
    reason = channel.unavailable_reason
    if reason and channel.enabled:
        warnings.append(reason)
    return channel


def _profile(name: str, raw: Mapping[str, Any]) -> Profile:
    rules = tuple(
        Rule(
            model=r["model"],
            match=r.get("match"),
            regex=re.compile(r["regex"]) if "regex" in r else None,
            when=_when(r["when"]) if "when" in r else None,
        )
        for r in raw["rules"]
    )
    needs = frozenset().union(*(r.when.needs() for r in rules if r.when))
    return Profile(name=name, rules=rules, description=raw.get("description", ""), needs=needs)


def _when(raw: Mapping[str, Any]) -> When:
    def names(value: Any) -> tuple[str, ...]:
        return (value,) if isinstance(value, str) else tuple(value or ())

    return When(
        thinking=raw.get("thinking"),
        tokens_above=raw.get("tokens_above"),
        images=raw.get("images"),
        tools=names(raw.get("tool")),
        clients=names(raw.get("client")),
        headers=MappingProxyType({str(k).lower(): str(v) for k, v in (raw.get("header") or {}).items()}),
    )


def _channel_limits(raw: Mapping[str, Any] | None) -> ChannelLimits:
    return ChannelLimits(**raw) if raw else NO_CHANNEL_LIMITS


def _project(name: str, raw: Mapping[str, Any]) -> Project:
    return Project(
        name=name,
        limits=limits.with_overrides(NO_KEY_LIMITS, raw.get("limits")),
        description=raw.get("description", ""),
    )


def _key(raw: Mapping[str, Any], projects: Mapping[str, Project]) -> Key:
    project = raw.get("project", "default")
    defaults = projects[project].limits if project in projects else NO_KEY_LIMITS
    return Key(
        name=raw["name"],
        secret_hash=raw["secret_hash"],
        project=project,
        profiles=tuple(raw.get("profiles") or ()),
        active_profile=raw.get("active_profile"),
        enabled=raw.get("enabled", True),
        created_at=str(raw.get("created_at", "")),
        limits=limits.with_overrides(defaults, raw.get("limits")),
    )
