"""`serve --workers N`: N gateway processes on one port, kept running by a small supervisor.

Each worker is `axonhub serve` itself, started with `AXONHUB_WORKER=i`: it binds the port with
SO_REUSEPORT (the kernel spreads new connections over the workers) or, where the platform has no
SO_REUSEPORT, serves one listening socket the supervisor opened and passed down
(`AXONHUB_LISTEN_FD`); it appends to the one trace file like the others (whole lines, rotation under
a lock), so `traces`, `usage` and the dashboard see every worker; and it counts its metrics into a
directory shared by all workers (`PROMETHEUS_MULTIPROC_DIR`), so `/metrics` on any worker answers
for all of them.

The supervisor serves nothing. It starts the workers in their own session (a terminal's Ctrl-C
reaches the supervisor only, which passes one SIGTERM on), restarts a worker that dies (waiting
longer each time one dies within `QUICK_DEATH_S` of its start, and giving up when every worker
keeps dying at start), forwards SIGHUP (reload the config) and SIGTERM/SIGINT (graceful stop) to
every worker, and waits for them to drain: `grace` seconds plus a margin, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Final

import structlog

log = structlog.get_logger("axonhub.supervisor")

POLL_S: Final = 0.1
QUICK_DEATH_S: Final = 10.0
GIVE_UP_AFTER: Final = 5  # quick deaths in a row of every worker
STOP_MARGIN_S: Final = 15.0


def can_reuse_port() -> bool:
    return hasattr(socket, "SO_REUSEPORT") and os.uname().sysname == "Linux"


def check_port(host: str, port: int) -> None:
    """Raise OSError now when the port cannot be shared (another program holds it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        probe.bind((host, port))


def listening_socket(host: str, port: int) -> socket.socket:
    """One listening socket for every worker to inherit (platforms without SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


@dataclass(slots=True)
class Worker:
    index: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    quick_deaths: int = 0
    restart_at: float = 0.0


@dataclass(slots=True)
class Supervisor:
    """Starts, watches and stops the workers."""

    command: Sequence[str]  # `axonhub serve …` as a worker runs it
    workers: int
    env: Mapping[str, str]
    grace: float
    listen_fd: int | None = None
    _pool: list[Worker] = field(default_factory=list)
    _signals: list[int] = field(default_factory=list)
    _metrics_dir: str = ""

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit code."""
        self._metrics_dir = tempfile.mkdtemp(prefix="axonhub-metrics-")
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        try:
            self._pool = [Worker(i) for i in range(1, self.workers + 1)]
            for worker in self._pool:
                self._start(worker)
            code = self._watch()
            self._stop()
            return code
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            shutil.rmtree(self._metrics_dir, ignore_errors=True)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals.append(signum)

    def _start(self, worker: Worker) -> None:
        env = {**self.env, "AXONHUB_WORKER": str(worker.index), "PROMETHEUS_MULTIPROC_DIR": self._metrics_dir}
        env.pop("AXONHUB_WORKERS", None)
        pass_fds: tuple[int, ...] = ()
        if self.listen_fd is not None:
            env["AXONHUB_LISTEN_FD"] = str(self.listen_fd)
            pass_fds = (self.listen_fd,)
        worker.process = subprocess.Popen(list(self.command), env=env, pass_fds=pass_fds, start_new_session=True)  # noqa: S603
        worker.started = time.monotonic()
        log.info("worker started", worker=worker.index, pid=worker.process.pid)

    def _watch(self) -> int:
        while True:
            while self._signals:
                signum = self._signals.pop(0)
                if signum == signal.SIGHUP:
                    log.info("reloading every worker's config (SIGHUP)")
                    self._send(signal.SIGHUP)
                else:
                    return 0
            for worker in self._pool:
                if self._reap(worker) and all(w.quick_deaths >= GIVE_UP_AFTER for w in self._pool):
                    log.error("workers keep exiting at start; giving up (see their log lines above)")
                    return 1
            time.sleep(POLL_S)

    def _reap(self, worker: Worker) -> bool:
        """Restart `worker` when it died (after a pause if it keeps dying); True when it just died."""
        process = worker.process
        now = time.monotonic()
        if process is None:
            if now >= worker.restart_at:
                self._start(worker)
            return False
        code = process.poll()
        if code is None:
            if now - worker.started > QUICK_DEATH_S:
                worker.quick_deaths = 0
            return False
        self._forget(process.pid)
        worker.quick_deaths = worker.quick_deaths + 1 if now - worker.started < QUICK_DEATH_S else 0
        pause = min(0.5 * 2 ** max(worker.quick_deaths - 1, 0), 30.0) if worker.quick_deaths else 0.0
        log.error("worker exited; restarting it", worker=worker.index, pid=process.pid, code=code, pause_s=pause)
        worker.process = None
        worker.restart_at = now + pause
        return True

    def _forget(self, pid: int) -> None:
        """Drop a dead worker's live gauges (its counters stay: they only ever add up)."""
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, self._metrics_dir)  # type: ignore[no-untyped-call]

    def _send(self, sig: int) -> None:
        for worker in self._pool:
            if worker.process is not None and worker.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.send_signal(sig)

    def _stop(self) -> None:
        """SIGTERM every worker; wait for them to drain; SIGKILL what is left after the grace and a margin."""
        log.info("stopping the workers", workers=len(self._pool), grace_s=self.grace)
        self._send(signal.SIGTERM)
        deadline = time.monotonic() + self.grace + STOP_MARGIN_S
        for worker in self._pool:
            if worker.process is None:
                continue
            while worker.process.poll() is None and time.monotonic() < deadline:
                if self._signals:  # a second signal: the workers cut what is still open
                    self._signals.clear()
                    self._send(signal.SIGTERM)
                time.sleep(POLL_S)
            if worker.process.poll() is None:
                log.error("worker did not stop in time; killing it", worker=worker.index, pid=worker.process.pid)
                worker.process.kill()
                worker.process.wait()
