"""Live config reload: the running server follows edits of its YAML file without a restart.

`ConfigHolder` holds the current `Config`. A request reads `holder.current` once, at its start, and
keeps that reference to the end, so a swap never changes the config under a request in flight; a
swap is one attribute assignment, atomic for every reader.

`watch_config` (an aiohttp cleanup_ctx) polls the file's (mtime_ns, size, inode) about every half
second and reloads at once on SIGHUP. A new file is read and validated off the event loop with
`config.load_config`; a valid one is swapped in whole, an invalid one is rejected with one log line
per error and the old config keeps serving.

What is fixed when the server starts stays as it was: the listen address (the socket is bound) and
`server.trace` (the trace writer is open on its file with its policy). A reload that changes a trace
setting says which one and that it takes a restart; the rest of the new file applies at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from aiohttp import web

from axonhub.config import Config, load_config
from axonhub.errors import ConfigError

POLL_INTERVAL = 0.5

log = structlog.get_logger("axonhub.reload")

# (st_mtime_ns, st_size, st_ino) of the file, or None while it cannot be read
Signature = tuple[int, int, int] | None


class ConfigHolder:
    """The live config. Take `current` once per request; `swap` replaces it for later requests."""

    def __init__(self, config: Config) -> None:
        self.current = config

    def swap(self, new: Config) -> Config:
        """Make `new` the current config; returns the one it replaced."""
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

    def __init__(self, holder: ConfigHolder, path: Path, interval: float) -> None:
        self.holder = holder
        self.path = path
        self.interval = interval
        self._signature = file_signature(path)
        self._wake = asyncio.Event()

    def request_reload(self) -> None:
        """Reload now, even if the file looks unchanged (SIGHUP)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            forced = self._wake.is_set()
            self._wake.clear()
            await self.check(forced=forced)

    async def check(self, *, forced: bool = False) -> bool:
        """Reload if the file changed (or `forced`); True when a new config was swapped in."""
        signature = file_signature(self.path)
        if not forced and signature == self._signature:
            return False
        self._signature = signature  # taken before reading: a write during the read shows up next time
        try:
            config = await asyncio.to_thread(load_config, self.path)
        except ConfigError as exc:
            self._reject(exc)
            return False
        return self._accept(config, forced=forced)

    def _reject(self, exc: ConfigError) -> None:
        for line in exc.errors:
            log.error("config reload rejected", path=str(self.path), error=line)
        log.warning("keeping the previous config", path=str(self.path), digest=self.holder.current.digest)

    def _accept(self, config: Config, *, forced: bool) -> bool:
        current = self.holder.current
        if config.digest == current.digest and not forced:
            return False  # touched, not changed
        for setting in _needs_restart(config, current):
            log.warning("setting changed; it takes effect after a restart of axonhub serve", setting=setting)
        config = _keep_startup_settings(config, current)
        self.holder.swap(config)
        log.info("config reloaded", path=str(self.path), digest=config.digest, previous=current.digest)
        for warning in config.warnings:
            log.warning("channel unavailable", detail=warning)
        return True


def _needs_restart(new: Config, current: Config) -> list[str]:
    """The trace settings `new` changes, as paths (`server.trace.bodies`). (The listen address is not
    compared: `serve --host/--port` may override the file's.)"""
    old_trace, new_trace = current.server.trace, new.server.trace
    return [
        f"server.trace.{f.name}"
        for f in dataclasses.fields(new_trace)
        if getattr(new_trace, f.name) != getattr(old_trace, f.name)
    ]


def _keep_startup_settings(new: Config, current: Config) -> Config:
    """The socket is bound and the trace writer open: a reload cannot change them, so the live
    config keeps describing what really runs."""
    server = dataclasses.replace(
        new.server, host=current.server.host, port=current.server.port, trace=current.server.trace
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
