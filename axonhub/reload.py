"""Live config reload: the running server follows edits of its YAML file without a restart.

`ConfigHolder` holds the current `Config`. A request reads `holder.current` once, at its start, and
keeps that reference to the end, so a swap never changes the config under a request in flight; a
swap is one attribute assignment, atomic for every reader. Listeners (the redactor) hear of each swap.

`watch_config` (an aiohttp cleanup_ctx) polls the file's (mtime_ns, size, inode) about every half
second and reloads at once on SIGHUP. It never acts on a file that is still being written: a new
signature must hold still for a settle interval before the file is read, and the file is read once
(the text parsed and the digest reported come from the same bytes) and must still have that
signature after the read, else the watcher waits for the next poll. A config that would drop every
key (a prefix of an in-place save, before its `keys` section is written) must hold still for
longer, two seconds, or it is not taken; SIGHUP takes it at once. The bytes are validated off the
event loop; a valid config is swapped in whole. Anything else (unreadable, not UTF-8, broken YAML,
an empty or comment-only file, a schema error) is logged with its reason, the old config keeps
serving, and the watcher keeps watching: no failure ends it.

What is fixed when the server starts stays as it was: the listen address and the client timeouts
(the socket is bound) and `server.trace` (the trace writer is open on its file with its policy). A
reload that changes one of them says which and that it takes a restart; the rest of the new file
applies at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import structlog
from aiohttp import web

from axonhub.config import Config, parse_config, read_raw
from axonhub.errors import ConfigError

POLL_INTERVAL = 0.5
# A new signature must hold this long before the file is read (an editor's save in several writes).
SETTLE_INTERVAL = 0.25
# A config that would drop every key the running one has must hold still this long before it is
# taken: an editor saving in place writes prefixes that are valid configs without their `keys`
# section, and a slow save (a loaded machine) can pause past SETTLE_INTERVAL between two writes.
KEYLESS_SETTLE_INTERVAL = 2.0

log = structlog.get_logger("axonhub.reload")

# (st_mtime_ns, st_size, st_ino) of the file, or None while it cannot be read
Signature = tuple[int, int, int] | None


class ConfigHolder:
    """The live config. Take `current` once per request; `swap` replaces it for later requests."""

    def __init__(self, config: Config) -> None:
        self.current = config
        self.listeners: list[Callable[[Config], None]] = []

    def swap(self, new: Config) -> Config:
        """Make `new` the current config; returns the one it replaced."""
        for listener in self.listeners:
            listener(new)  # before the swap: no request sees the new config before its secrets are known
        old, self.current = self.current, new
        return old


def file_signature(path: Path) -> Signature:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class ConfigWatcher:
    """Reloads `path` into `holder` when its signature changes or when `request_reload()` is called."""

    def __init__(
        self,
        holder: ConfigHolder,
        path: Path,
        interval: float,
        settle: float = SETTLE_INTERVAL,
        keyless_settle: float = KEYLESS_SETTLE_INTERVAL,
    ) -> None:
        self.holder = holder
        self.path = path
        self.interval = interval
        self.settle = settle
        self.keyless_settle = keyless_settle
        self._signature = file_signature(path)
        self._forced = False
        self._wake = asyncio.Event()

    def request_reload(self) -> None:
        """Reload now, even if the file looks unchanged (SIGHUP)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._forced = self._forced or self._wake.is_set()
            self._wake.clear()
            try:
                await self.check(forced=self._forced)
            except Exception as exc:  # a bug here must not end live reload for good
                log.exception("config reload failed; keeping the previous config", path=str(self.path), error=repr(exc))
                self._forced = False

    async def check(self, *, forced: bool = False) -> bool:
        """Reload if the file changed (or `forced`); True when a new config was swapped in.

        A file still being written is left for the next call (nothing is logged, nothing changes).
        """
        if not forced and file_signature(self.path) == self._signature:
            return False
        read = await self._read_settled()
        if read is None:
            return False  # still being written: look again at the next poll
        self._signature, content = read
        self._forced = False
        try:
            if isinstance(content, ConfigError):
                raise content
            config = await asyncio.to_thread(parse_config, content, self.path)
        except ConfigError as exc:
            self._reject(exc)
            return False
        if not forced and self.holder.current.keys and not config.keys and not await self._held_still():
            return False  # changed again while held: the next poll reads it anew
        return self._accept(config, forced=forced)

    async def _held_still(self) -> bool:
        """Whether the file keeps the signature it was read with for `keyless_settle` seconds."""
        log.info(
            "the edited config has no keys and would lock every client out; taking it only if the file holds still",
            path=str(self.path),
            seconds=self.keyless_settle,
        )
        await asyncio.sleep(self.keyless_settle)
        if file_signature(self.path) == self._signature:
            return True
        self._signature = None  # not taken: whatever the file holds now is looked at, even if it is back
        return False

    async def _read_settled(self) -> tuple[Signature, bytes | ConfigError] | None:
        """The file's signature and bytes (or why they cannot be read), once it held still for the
        settle interval and during the read; None while it is still changing."""
        before = file_signature(self.path)
        await asyncio.sleep(self.settle)
        if file_signature(self.path) != before:
            return None
        content: bytes | ConfigError
        try:
            content = await asyncio.to_thread(read_raw, self.path)
        except ConfigError as exc:
            content = exc
        if file_signature(self.path) != before:
            return None
        return before, content

    def _reject(self, exc: ConfigError) -> None:
        for line in exc.errors:
            log.error("config reload rejected", path=str(self.path), error=line)
        log.warning("keeping the previous config", path=str(self.path), digest=self.holder.current.digest)

    def _accept(self, config: Config, *, forced: bool) -> bool:
        current = self.holder.current
        if config.digest == current.digest and not forced:
            return False  # touched, not changed
        if config.server.client_timeouts != current.server.client_timeouts:
            log.warning("server.client_timeouts changed; they apply from the next restart", path=str(self.path))
        for setting in _trace_changes(config, current):
            log.warning("setting changed; it takes effect after a restart of axonhub serve", setting=setting)
        config = _keep_startup_settings(config, current)
        self.holder.swap(config)
        log.info("config reloaded", path=str(self.path), digest=config.digest, previous=current.digest)
        for warning in config.warnings:
            log.warning("channel unavailable", detail=warning)
        return True


def _trace_changes(new: Config, current: Config) -> list[str]:
    """The trace settings `new` changes, as paths (`server.trace.bodies`)."""
    old_trace, new_trace = current.server.trace, new.server.trace
    return [
        f"server.trace.{f.name}"
        for f in dataclasses.fields(new_trace)
        if getattr(new_trace, f.name) != getattr(old_trace, f.name)
    ]


def _keep_startup_settings(new: Config, current: Config) -> Config:
    """The socket is bound with its client timeouts and the trace writer is open: a reload cannot
    change them, so the live config keeps describing what really runs."""
    server = dataclasses.replace(
        new.server,
        host=current.server.host,
        port=current.server.port,
        client_timeouts=current.server.client_timeouts,
        trace=current.server.trace,
    )
    return dataclasses.replace(new, server=server)


async def watch_config(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: run a ConfigWatcher on the app's config file while the app runs."""
    from axonhub.appkeys import CONFIG_HOLDER  # appkeys imports ConfigHolder from here

    holder = app[CONFIG_HOLDER]
    path = holder.current.source
    if path is None:
        yield
        return
    watcher = ConfigWatcher(holder, path, POLL_INTERVAL)
    task = asyncio.create_task(watcher.run(), name="axonhub-config-watcher")
    hup = _install_sighup(watcher)
    try:
        yield
    finally:
        if hup:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _install_sighup(watcher: ConfigWatcher) -> bool:
    """SIGHUP reloads at once; skipped where signals cannot be handled (not the main thread, Windows)."""
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, watcher.request_reload)
    except (ValueError, RuntimeError, NotImplementedError, AttributeError):
        return False
    return True
