"""Secret redaction: what counts as a secret, and hiding it in text, bytes and JSON-like values.

Wherever the gateway writes (error bodies and stream error frames to clients, the trace, the logs)
these are replaced by `[redacted]`:

* the exact values of the configured channel secrets: each channel's `api_key` as resolved from
  the environment, and the values of its credential-named `headers`, whatever they look like;
* AxonHub keys: the credentials presented on the request being served (exact values), and any key
  of the config, found by hashing each key-sized token and looking the hash up (the file keeps
  only hashes, never a key);
* anything that looks like a key: `ah-…`, `sk-…`, `sk-ant-…`, `Bearer …`.

Values shorter than `MIN_SECRET_LENGTH` are not matched by value: hiding every "test" or "local" in
the logs would make them unreadable while protecting nothing.

A field is secret by what its name says it holds, word by word: `authorization`, `x-api-key`,
`access_token`, `client_secret`, `password`, `cookie`. `input_tokens` or `max_tokens` are counts,
not tokens, and stay; numbers, booleans and null are never hidden.

A `Redactor` belongs to one app. `follow(config)` adds a loaded config's secrets, and it keeps
every secret it has seen, so a key rotated out of the file stays hidden in what is still written
about requests that used it. `bind_request` adds the presented credentials for the current request
context only. `snapshot()` freezes all of it into a `Redaction`: an immutable value that a writer
thread can apply later.

Cost: every request's trace record and log line pass each of their short strings (model names, the
path, the user agent, channel and key names) through `Redaction.text`, and most of those strings
repeat from request to request. A `Redaction` therefore remembers what it made of the strings up to
`MEMO_MAX_CHARS` long (a bounded memo, emptied when full), and the `Redactor` hands out the same
`Redaction` for the same presented credentials, so the memo outlives one request. What is new in
every request is the request id: one the gateway minted (not one a client sent) is put in the memo
as it is (`minted`), since searching a text never seen before costs more than the rest of a record.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from axonhub.config import Config

REDACTED: Final = "[redacted]"
MIN_SECRET_LENGTH: Final = 8
MEMO_MAX_CHARS: Final = 512  # strings up to this long have their redacted form remembered
MEMO_ENTRIES: Final = 4096  # per Redaction; the memo starts over when it is full
_EXTENDED_ENTRIES: Final = 1024  # redactions kept for distinct presented credentials

_REDACTED_BYTES: Final = REDACTED.encode()
_KEY_LOOKING_RE = re.compile(r"\b(?:ah-|sk-ant-|sk-)[A-Za-z0-9_\-]{8,}|(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{8,}")
# Tokens that may be an AxonHub key: hashed and looked up among the configured keys' hashes. A
# token is a whole run of these characters; its pieces between `.=~+/` are tried too (`key=<secret>`).
_TOKEN_CHARS = r"A-Za-z0-9._~+/=\-"  # noqa: S105 - a character class, not a password
_MIN_CANDIDATE = 16
_CANDIDATE = re.compile(f"(?<![{_TOKEN_CHARS}])[{_TOKEN_CHARS}]{{{_MIN_CANDIDATE},512}}(?![{_TOKEN_CHARS}])")
_PIECES = re.compile(r"[.=~+/]")

_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_SECRET_WORDS = frozenset(
    {
        "authorization",
        "password",
        "passwd",
        "passphrase",
        "secret",
        "cookie",
        "token",
        "credential",
        "credentials",
        "apikey",
    }
)
_KEY_QUALIFIERS = frozenset({"api", "access", "secret", "private", "auth", "session", "signing", "client"})


@functools.lru_cache(maxsize=4096)
def is_credential_name(name: str) -> bool:
    """Whether a header or field called `name` holds a credential (`x-api-key`, `access_token`, …)."""
    words = [word.lower() for word in _WORDS.findall(name)]
    if any(word in _SECRET_WORDS for word in words):
        return True
    return any(word == "key" and i > 0 and words[i - 1] in _KEY_QUALIFIERS for i, word in enumerate(words))


def _is_plain(value: object) -> bool:
    """Values that are never a secret: numbers, booleans, null."""
    return value is None or isinstance(value, bool | int | float)


def _forms(secret: str) -> set[str]:
    """The secret as written raw and inside a JSON string (the trace writes JSON)."""
    escaped = json.dumps(secret, ensure_ascii=False)[1:-1]
    return {secret, escaped}


def _candidates(token: str) -> set[str]:
    """A token, without trailing punctuation, and its long pieces."""
    found = {token, token.rstrip(".=~+/-")}
    if _PIECES.search(token):
        found.update(piece for piece in _PIECES.split(token) if len(piece) >= _MIN_CANDIDATE)
    return found


def _hash(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Redaction:
    """A frozen set of secrets to hide; safe to use from any thread."""

    secrets: frozenset[str] = frozenset()
    key_hashes: frozenset[str] = frozenset()
    # The secrets longest first (a secret inside another is replaced after it), as text and as bytes:
    # a substring search per secret is many times faster than one regex alternation of them all.
    _ordered: tuple[str, ...] = field(default=(), compare=False, repr=False)
    _ordered_bytes: tuple[bytes, ...] = field(default=(), compare=False, repr=False)
    # text -> its redacted form, for short texts (thread-safe: single dict operations only)
    _memo: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, secrets: Iterable[str] = (), key_hashes: Iterable[str] = ()) -> Redaction:
        kept = frozenset(form for s in secrets if len(s) >= MIN_SECRET_LENGTH for form in _forms(s))
        ordered = tuple(sorted(kept, key=len, reverse=True))
        return cls(kept, frozenset(key_hashes), ordered, tuple(s.encode() for s in ordered))

    def with_secrets(self, secrets: Iterable[str]) -> Redaction:
        added = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        if added <= self.secrets:
            return self
        return Redaction.of(self.secrets | added, self.key_hashes)

    def text(self, text: str) -> str:
        """`text` with every secret replaced by `[redacted]`."""
        if len(text) < MIN_SECRET_LENGTH:
            return text  # too short to hold anything this hides
        if len(text) > MEMO_MAX_CHARS:
            return self._redacted(text)
        done = self._memo.get(text)
        if done is None:
            done = self._redacted(text)
            if len(self._memo) >= MEMO_ENTRIES:
                self._memo.clear()
            self._memo[text] = done
        return done

    def minted(self, text: str) -> None:
        """Remember `text` as it is: a value the gateway made itself out of nothing a client or an
        upstream sent (a fresh request id), so no secret can be in it. Writing it then costs a lookup
        instead of the search a text never seen before gets (key patterns, configured keys' hashes)."""
        if MIN_SECRET_LENGTH <= len(text) <= MEMO_MAX_CHARS:
            if len(self._memo) >= MEMO_ENTRIES:
                self._memo.clear()
            self._memo[text] = text

    def _redacted(self, text: str) -> str:
        for secret in self._ordered:
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = _KEY_LOOKING_RE.sub(REDACTED, text)
        if self.key_hashes and len(text) >= _MIN_CANDIDATE:
            text = self._configured_keys(text)
        return text

    def data(self, data: bytes) -> bytes:
        """`data` (UTF-8, or not) with every secret replaced."""
        return self.text(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")

    def exact(self, data: bytes) -> bytes:
        """Only the exact secret values replaced: cheap enough for every relayed chunk, and it never
        touches text that merely looks like a key (a model writing `sk-test-…` in code is left alone)."""
        for secret in self._ordered_bytes:
            if secret in data:
                data = data.replace(secret, _REDACTED_BYTES)
        return data

    def value(self, obj: Any) -> Any:
        """A copy of a JSON-like value with secrets hidden: credential-named fields whole, strings by value."""
        if isinstance(obj, Mapping):
            return {k: self.field(str(k), v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.value(v) for v in obj]
        if isinstance(obj, str):
            return self.text(obj)
        return obj

    def field(self, name: str, value: Any) -> Any:
        """One named field: hidden whole when its name says it is a credential, else by value."""
        if is_credential_name(name) and not _is_plain(value):
            return REDACTED
        return self.value(value)

    def _configured_keys(self, text: str) -> str:
        found = {
            token
            for match in _CANDIDATE.finditer(text)
            for token in _candidates(match.group())
            if _hash(token) in self.key_hashes
        }
        for token in sorted(found, key=len, reverse=True):
            text = text.replace(token, REDACTED)
        return text


@dataclass(slots=True)
class _Bound:
    """The credentials bound to one request context, and the redaction made from them (built once)."""

    secrets: tuple[str, ...]
    base: Redaction | None = None
    redaction: Redaction | None = None


class Redactor:
    """An app's redaction: the config's secrets (following reloads) plus the current request's."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._base = Redaction.of(secrets)
        self._request: contextvars.ContextVar[_Bound | None] = contextvars.ContextVar(
            f"axonhub_request_secrets_{id(self)}", default=None
        )
        # presented credentials -> (the base it was made from, that base extended with them)
        self._extended: dict[tuple[str, ...], tuple[Redaction, Redaction]] = {}

    def follow(self, config: Config) -> None:
        """Hide `config`'s secrets too (keeping every one seen before); its keys by their hashes."""
        secrets = self._base.secrets | config_secrets(config)
        self._base = Redaction.of(secrets, self._base.key_hashes | frozenset(config.keys_by_hash))

    def hide(self, secrets: Iterable[str]) -> None:
        """Hide `secrets` from now on, in every context (the gateway's own: the dashboard's admin token)."""
        self._base = Redaction.of(self._base.secrets | frozenset(secrets), self._base.key_hashes)

    def bind_request(self, secrets: Iterable[str]) -> contextvars.Token[_Bound | None]:
        """Hide `secrets` in what is written from the current context (one request); pass the token to `release`."""
        return self._request.set(_Bound(tuple(s for s in secrets if len(s) >= MIN_SECRET_LENGTH)))

    def release(self, token: contextvars.Token[_Bound | None]) -> None:
        self._request.reset(token)

    def snapshot(self) -> Redaction:
        """Everything to hide from the current context, frozen."""
        bound = self._request.get()
        if bound is None or not bound.secrets:
            return self._base
        if bound.redaction is None or bound.base is not self._base:
            bound.base, bound.redaction = self._base, self._with(bound.secrets)
        return bound.redaction

    def _with(self, secrets: tuple[str, ...]) -> Redaction:
        """The base redaction and `secrets`: one object per distinct set of presented credentials."""
        base = self._base
        made = self._extended.get(secrets)
        if made is None or made[0] is not base:  # new credentials, or the base changed since (any way)
            if len(self._extended) >= _EXTENDED_ENTRIES:
                self._extended = {}
            made = self._extended[secrets] = (base, base.with_secrets(secrets))
        return made[1]

    def text(self, text: str) -> str:
        return self.snapshot().text(text)

    def minted(self, text: str) -> None:
        """`Redaction.minted` in the current context's redaction (the request's own, once bound)."""
        self.snapshot().minted(text)

    def data(self, data: bytes) -> bytes:
        return self.snapshot().data(data)

    def exact(self, data: bytes) -> bytes:
        return self.snapshot().exact(data)


def config_secrets(config: Config) -> frozenset[str]:
    """The secrets of a config: channel API keys and credential-named header values, the limits'
    Redis password, and the credential headers of the OTLP export."""
    secrets: set[str] = set()
    headers = [channel.headers for channel in config.channels]
    headers.append(config.server.otlp.headers if config.server.otlp else {})
    for channel in config.channels:
        if channel.api_key:
            secrets.add(channel.api_key)
    for group in headers:
        for name, value in group.items():
            if is_credential_name(name):
                secrets.add(value)
                scheme, _, token = value.partition(" ")
                if token and scheme.isalpha():
                    secrets.add(token.strip())
    password = _url_password(config.server.state.url)
    if password:
        secrets.add(password)
    return frozenset(secrets)


def _url_password(url: str | None) -> str | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password if url else None
    except ValueError:
        return None


def presented_credentials(headers: Mapping[str, str]) -> tuple[str, ...]:
    """The credentials a client sent: `x-api-key`, the token of `Authorization`, and similar headers."""
    found: list[str] = []
    for name, value in headers.items():
        if not is_credential_name(name) or not value.strip():
            continue
        value = value.strip()
        found.append(value)
        scheme, _, token = value.partition(" ")
        if token.strip() and scheme.isalpha():
            found.append(token.strip())
    return tuple(found)


PATTERNS_ONLY: Final = Redaction()
