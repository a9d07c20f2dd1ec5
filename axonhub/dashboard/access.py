"""Who may open the dashboard and run replays: the admin token, signed sessions, one-time login links.

The dashboard and its data APIs are never open to whoever can reach the port, and an AxonHub client
key never opens them:

- **The admin token.** 32 random bytes in `server.dashboard.token_file` (created at first start,
  mode 0600, reused afterwards), so whoever can read that file as the server's user is the admin.
  Scripts and `axonhub traces replay` send it as `Authorization: Bearer …`. A config loaded without
  a file behind it (tests, embedding) gets a token that lives in memory only.
- **Sessions.** The browser holds `axonhub_dashboard=<expiry>.<hmac>`: HttpOnly, SameSite=Strict,
  path `/dashboard`, valid for `SESSION_TTL_S`; signed with the token, so a new token ends them all.
- **One-time login links.** `/dashboard/login?code=<expiry>.<nonce>.<hmac>`, valid `LOGIN_TTL_S`
  and redeemable once per server process; `axonhub serve` prints one at start and `axonhub
  dashboard` mints a fresh one from the token file, so the token itself is never printed.
- **Loopback only by default.** A peer that is not on loopback, or a `Host` header that does not
  name a loopback address (DNS rebinding), gets a 403 unless `server.dashboard.allow_remote` is on;
  the credential is required either way.
- **Replays.** A gateway request carrying `X-AxonHub-Replay-Of` must present the admin token; it then
  runs as the key named in `X-AxonHub-Replay-Key` under the profile in `X-AxonHub-Replay-Profile`.
  An ordinary key sending these headers gets a 403: a client key never picks a profile it is not
  allowed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from aiohttp import web

from axonhub.config import Config, DashboardConfig, Key
from axonhub.errors import ErrorKind, GatewayError, InvalidRequest

SESSION_COOKIE: Final = "axonhub_dashboard"
SESSION_TTL_S: Final = 12 * 3600
LOGIN_TTL_S: Final = 15 * 60
REPLAY_OF_HEADER: Final = "X-AxonHub-Replay-Of"
REPLAY_PROFILE_HEADER: Final = "X-AxonHub-Replay-Profile"
REPLAY_KEY_HEADER: Final = "X-AxonHub-Replay-Key"
REPLAY_TRACE_HEADER: Final = "X-AxonHub-Replay-Trace"
_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.", "ip6-localhost"})


def _sign(token: str, message: str) -> str:
    return hmac.new(token.encode(), message.encode(), hashlib.sha256).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def load_or_create_token(path: Path) -> str:
    """The admin token in `path`, created (mode 0600) when the file does not exist yet.

    A file others could read is made private again; an empty or unreadable one is an OSError for
    the caller to report.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(new_token() + "\n")
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)
    token = path.read_text(encoding="utf-8").strip()
    if len(token) < 16:
        raise OSError(f"the admin token file {path} holds no token (delete it and restart to make a new one)")
    return token


def read_token(path: Path) -> str:
    """The admin token for a CLI command; OSError when the file is missing or empty."""
    token = path.read_text(encoding="utf-8").strip()
    if len(token) < 16:
        raise OSError(f"the admin token file {path} holds no token")
    return token


def login_code(token: str, now: float | None = None) -> str:
    """A one-time login code; anyone holding the token can mint one (the CLI does, offline)."""
    expiry = int((now if now is not None else time.time()) + LOGIN_TTL_S)
    nonce = secrets.token_hex(8)
    return f"{expiry}.{nonce}.{_sign(token, f'login|{expiry}|{nonce}')}"


def login_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/dashboard/login?code={login_code(token)}"


class AdminAccess:
    """The admin token of one server process, its sessions and the login codes it redeemed."""

    def __init__(self, token: str) -> None:
        self._token = token
        self._redeemed: dict[str, float] = {}  # nonce -> expiry, pruned as they expire

    @property
    def token(self) -> str:
        return self._token

    def is_token(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(
            hashlib.sha256(str(presented).encode()).digest(), hashlib.sha256(self._token.encode()).digest()
        )

    def session_cookie(self, now: float | None = None) -> str:
        expiry = int((now if now is not None else time.time()) + SESSION_TTL_S)
        return f"{expiry}.{_sign(self._token, f'session|{expiry}')}"

    def valid_session(self, value: str | None, now: float | None = None) -> bool:
        expiry_text, _, signature = (value or "").partition(".")
        if not expiry_text.isdigit() or int(expiry_text) < (now if now is not None else time.time()):
            return False
        return hmac.compare_digest(signature, _sign(self._token, f"session|{expiry_text}"))

    def redeem(self, code: str, now: float | None = None) -> bool:
        """True once for a valid, unexpired login code; False for anything else or a second use."""
        moment = now if now is not None else time.time()
        parts = code.split(".")
        if len(parts) != 3 or not parts[0].isdigit():
            return False
        expiry, nonce, signature = int(parts[0]), parts[1], parts[2]
        if expiry < moment or not hmac.compare_digest(signature, _sign(self._token, f"login|{expiry}|{nonce}")):
            return False
        self._redeemed = {n: e for n, e in self._redeemed.items() if e >= moment}
        if nonce in self._redeemed:
            return False
        self._redeemed[nonce] = expiry
        return True


ADMIN_ACCESS = web.AppKey("admin_access", AdminAccess)


def admin_access_for(config: Config) -> AdminAccess:
    """The token file's token, or an in-memory one for a config that was not loaded from a file."""
    if config.source is None:
        return AdminAccess(new_token())
    return AdminAccess(load_or_create_token(config.server.dashboard.token_file))


def presented_credential(headers: Mapping[str, str]) -> str | None:
    """`Authorization: Bearer …`, else `x-api-key`."""
    scheme, _, value = headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = headers.get("x-api-key", "").strip()
    return key or None


def _is_loopback_host(host: str) -> bool:
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].partition("]")[0]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if name in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    # A dual-stack listener (host "::") sees an IPv4 client as ::ffff:127.0.0.1
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


def peer_refusal(request: web.Request, settings: DashboardConfig) -> str | None:
    """Why this peer may not use the dashboard at all, or None when it may (credential still needed)."""
    if settings.allow_remote:
        return None
    if not _is_loopback_host(request.remote or ""):
        return "the dashboard answers on loopback only (set server.dashboard.allow_remote to serve other hosts)"
    if not _is_loopback_host(request.host):
        return "the dashboard answers only to a loopback Host header (127.0.0.1, localhost, [::1])"
    return None


def is_admin_request(request: web.Request, access: AdminAccess) -> bool:
    """A valid session cookie or the admin token in the Authorization header."""
    return access.valid_session(request.cookies.get(SESSION_COOKIE)) or access.is_token(
        presented_credential(request.headers)
    )


@dataclasses.dataclass(frozen=True, slots=True)
class ReplayIdentity:
    """Who a replayed request runs as: the key, under the forced profile, and what it replays."""

    key: Key
    replay_of: str
    trace_id: str


def replay_identity(request: web.Request, config: Config) -> ReplayIdentity:
    """The identity of a gateway request carrying the replay headers; 403 unless it is the admin's."""
    access = request.config_dict.get(ADMIN_ACCESS)
    if access is None or not config.server.dashboard.enabled:
        raise GatewayError("replays are off: the dashboard is disabled on this server", kind=ErrorKind.PERMISSION)
    refusal = peer_refusal(request, config.server.dashboard)
    if refusal is not None:
        raise GatewayError(f"replays: {refusal}", kind=ErrorKind.PERMISSION)
    if not access.is_token(presented_credential(request.headers)):
        raise GatewayError(
            f"{REPLAY_OF_HEADER} is honoured only with the admin token; an AxonHub key cannot choose a profile",
            kind=ErrorKind.PERMISSION,
        )
    headers = request.headers
    profile = headers.get(REPLAY_PROFILE_HEADER, "")
    if profile not in config.profiles:
        raise InvalidRequest(f"{REPLAY_PROFILE_HEADER}: no profile named '{profile}'")
    key_name = headers.get(REPLAY_KEY_HEADER, "")
    key = config.key_by_name(key_name)
    if key is None:
        raise InvalidRequest(f"{REPLAY_KEY_HEADER}: no key named '{key_name}'")
    if not key.enabled:
        raise InvalidRequest(f"{REPLAY_KEY_HEADER}: key '{key_name}' is disabled")
    replay_of = headers.get(REPLAY_OF_HEADER, "").strip()
    trace_id = headers.get(REPLAY_TRACE_HEADER, "").strip() or f"replay-{secrets.token_hex(6)}"
    for name, value in ((REPLAY_OF_HEADER, replay_of), (REPLAY_TRACE_HEADER, trace_id)):
        if not _ID.match(value):
            raise InvalidRequest(f"{name}: 1-128 letters, digits and . _ : - expected")
    return ReplayIdentity(dataclasses.replace(key, profiles=(profile,), active_profile=profile), replay_of, trace_id)
