"""The trace log indexed for the dashboard, built and kept current by one background thread.

The index never holds a record: it holds where each line is (file, offset, size) and the few
numbers the pages filter and add up, in typed `array`s (one slot per record, file order):

    t                 float64  request start, epoch seconds
    sess, nxt         int32    the record's session; the session's next record (-1 at its end)
    file, off, size   where the line is, to read it back for a timeline or a request's detail
    key, model, channel, profile   uint16, names interned per dimension (`Names`)
    flags             uint8    ERROR | REPLAY | USAGE (a model call whose tokens are usage)
    tin, tout, tcr, tcw   int32   usage tokens (0 unless USAGE)
    rid               int64    a hash of the request id, to find a request by its id

about 64 bytes a record. Per session (columns too): its id, first and last time, first and last
record, requests, errors, tokens, key and client, about 200 bytes with the id string. Rollups, per
five minutes for the newest 48 hours of the log and per hour for all of it: request and token sums
per (key, model, channel, profile) in use (about 250 bytes each), latency histograms per (channel,
model) (512 bytes each) and upstream tries per channel.
At most `server.dashboard.max_records` records are indexed: the oldest lines beyond that are left
out (they stay in the files), so memory is bounded whatever the size of the log.

The first build is published as it grows (the pages fill while it runs); a rebuild is swapped in
whole. Records then arrive by following the file like `tail -F`: the trace writer of this process
wakes the thread after each write (`Indexer.written`), and a half-second poll catches the rest.
The writer also hands over each record with the place its line landed, so that the thread does not
parse again what this process has just serialised: following still reads every new byte of the
file in order, and a line is taken from the hand-over only when the bytes at its offset are the
very line handed over; any other line (another process of `serve --workers`, a hand-over that came
too late or was never made) is parsed. So every line is indexed once, in file order, whoever wrote
it. Rotation is followed (the rest of the old file first); when the oldest file disappears, the
file shrinks in place, or the index outgrows its bound, a new index is built from the files on disk
and swapped in whole. A damaged line (torn write, hand edit) is skipped and counted. Readers take
`Indexer.lock` and read `Indexer.current`; the thread takes the lock only to append a batch or to
swap.
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import itertools
import os
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Final

import structlog

from axonhub.trace import Written, is_error, parse_line, trace_files
from axonhub.trace_reader import upgrade
from axonhub.trace_record import MODEL_CALLS, TraceRecord

log = structlog.get_logger("axonhub.dashboard")

ERROR: Final = 1
REPLAY: Final = 2
USAGE: Final = 4
FINE_S: Final = 300  # rollups every five minutes for the newest FINE_KEEP_S of the log…
FINE_KEEP_S: Final = 48 * 3600
COARSE_S: Final = 3600  # …and every hour for all of it
MAX_TOKENS: Final = 1 << 40  # per count of one record: a million-fold any real request, far from overflow
NO_NAME: Final = 0  # interned id of "no value"
MAX_NAMES: Final = 65_535  # per dimension; later newcomers share the id of "(other)"
POLL_S: Final = 0.5
_SERIALS: Final = itertools.count(1)
READ_CHUNK: Final = 1 << 20  # a published build holds the lock for one chunk at a time
BUILD_TRIES: Final = 5  # builds started again when the log rotated under them, at most
HANDED_WRITES: Final = 256  # writes handed over and not yet looked at, at most (the oldest are dropped)
HANDED_LINES: Final = 8192  # handed-over lines kept per file, at most (the oldest are dropped)
# Records indexed in one go while following. The thread holds the interpreter lock while it indexes;
# the event loop, wanting it back, would otherwise wait for the whole batch (up to the interpreter's
# 5 ms switch interval), longer still when the core is shared and the thread is descheduled meanwhile.
ADD_CHUNK: Final = 16

# Latency histograms: bin 0 holds everything under 10 ms, bin k covers 10 ms x 1.2^(k-1) … x 1.2^k,
# the last bin everything from about 19 minutes on. A percentile is read as its bin's geometric middle,
# so it is within about 10 % of the exact value.
LAT_BINS: Final = 64
LAT_BASE_MS: Final = 10.0
LAT_FACTOR: Final = 1.2
_LAT_EDGES: Final = [LAT_BASE_MS * LAT_FACTOR**k for k in range(LAT_BINS - 1)]  # bin k starts at edge k-1


def latency_bin(ms: float) -> int:
    return min(LAT_BINS - 1, bisect.bisect_right(_LAT_EDGES, ms))


def bin_value(k: int) -> float:
    """The geometric middle of bin k, in milliseconds."""
    if k == 0:
        return LAT_BASE_MS / 2
    return float(LAT_BASE_MS * LAT_FACTOR ** (k - 0.5))


def request_hash(request_id: str) -> int:
    """A 64-bit signed hash of a request id (the process's own hash: the index lives in memory only)."""
    value = hash(request_id) & 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value >= 1 << 63 else value


def parse_time(value: object) -> float:
    try:
        return float(datetime.fromisoformat(str(value)).timestamp())
    except ValueError:
        return 0.0


def client_name(user_agent: object) -> str:
    """`claude-cli/2.1.197 (external, sdk-cli)` -> `claude-cli/2.1.197`."""
    text = str(user_agent or "").strip()
    return text.split(" ", 1)[0][:60] if text else ""


class Names:
    """Interned names of one dimension: id 0 is "none", at most MAX_NAMES ids."""

    OTHER: Final = "(other)"

    def __init__(self) -> None:
        self.names: list[str] = [""]
        self.ids: dict[str, int] = {"": NO_NAME}

    def id(self, name: object) -> int:
        text = "" if name is None else str(name)
        found = self.ids.get(text)
        if found is not None:
            return found
        if len(self.names) >= MAX_NAMES:
            return self.id(self.OTHER) if text != self.OTHER else len(self.names) - 1
        self.ids[text] = len(self.names)
        self.names.append(text)
        return len(self.names) - 1

    def find(self, name: str) -> int | None:
        return self.ids.get(name)


@dataclass(slots=True)
class FileRef:
    """One file of the log, open for reading back lines by offset."""

    number: int
    path: Path
    handle: BinaryIO
    inode: tuple[int, int]
    read_to: int = 0  # bytes indexed (complete lines)

    def read_at(self, offset: int, size: int) -> bytes:
        return os.pread(self.handle.fileno(), size, offset)


USAGE_FIELDS: Final = ("requests", "errors", "input", "output", "cache_read", "cache_write", "reasoning")


def pack_dims(key: int, model: int, channel: int, profile: int) -> int:
    return key << 48 | model << 32 | channel << 16 | profile


def unpack_dims(packed: int) -> tuple[int, int, int, int]:
    """(key, model, channel, profile)"""
    return packed >> 48 & 0xFFFF, packed >> 32 & 0xFFFF, packed >> 16 & 0xFFFF, packed & 0xFFFF


class Level:
    """Rollups at one resolution. Per bucket (epoch seconds // `seconds`): a usage row (requests,
    errors, tokens) per packed (key, model, channel, profile); latency histograms (whole exchange,
    then time to first byte) per (channel, model); upstream tries and failures per channel."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self.usage: dict[int, dict[int, list[int]]] = {}
        self.latency: dict[int, dict[int, array[int]]] = {}
        self.attempts: dict[int, dict[int, list[int]]] = {}

    def add_usage(self, bucket: int, dims: int, values: tuple[int, ...]) -> None:
        rows = self.usage.get(bucket)
        if rows is None:
            rows = self.usage[bucket] = {}
        row = rows.get(dims)
        if row is None:
            rows[dims] = list(values)
            return
        row[0] += values[0]
        row[1] += values[1]
        row[2] += values[2]
        row[3] += values[3]
        row[4] += values[4]
        row[5] += values[5]
        row[6] += values[6]

    def add_latency(self, bucket: int, channel_model: int, total_bin: int | None, ttfb_bin: int | None) -> None:
        cells = self.latency.get(bucket)
        if cells is None:
            cells = self.latency[bucket] = {}
        hist = cells.get(channel_model)
        if hist is None:
            hist = cells[channel_model] = array("I", bytes(8 * LAT_BINS))
        if total_bin is not None:
            hist[total_bin] += 1
        if ttfb_bin is not None:
            hist[LAT_BINS + ttfb_bin] += 1

    def add_attempt(self, bucket: int, channel: int, failed: bool) -> None:
        cells = self.attempts.get(bucket)
        if cells is None:
            cells = self.attempts[bucket] = {}
        tries = cells.get(channel)
        if tries is None:
            cells[channel] = [1, 1 if failed else 0]
        else:
            tries[0] += 1
            if failed:
                tries[1] += 1

    def prune(self, before: int) -> None:
        """Forget the buckets before `before`."""
        for table in (self.usage, self.latency, self.attempts):
            for bucket in [b for b in table if b < before]:
                del table[bucket]

    def usage_rows(self, bucket: int) -> Iterator[tuple[int, list[int]]]:
        """(packed dims, row) of one bucket; a row holds USAGE_FIELDS in order."""
        rows = self.usage.get(bucket)
        if rows is not None:
            yield from rows.items()


@dataclass(slots=True)
class Rollups:
    """Five-minute rollups of the newest FINE_KEEP_S of the log, hourly ones of all of it."""

    fine: Level = field(default_factory=lambda: Level(FINE_S))
    coarse: Level = field(default_factory=lambda: Level(COARSE_S))
    newest: float = 0.0  # the newest record time seen
    last_seen: dict[int, float] = field(default_factory=dict)  # channel -> time of its latest attempt

    @property
    def fine_from(self) -> float:
        """Five-minute rollups exist from here on."""
        return self.newest - FINE_KEEP_S


@dataclass(slots=True)
class Sessions:
    """Per-session columns; a session is numbered in order of its first record."""

    ids: list[str] = field(default_factory=list)
    number: dict[str, int] = field(default_factory=dict)
    first: array[float] = field(default_factory=lambda: array("d"))
    last: array[float] = field(default_factory=lambda: array("d"))
    head: array[int] = field(default_factory=lambda: array("l"))
    tail: array[int] = field(default_factory=lambda: array("l"))
    requests: array[int] = field(default_factory=lambda: array("l"))
    errors: array[int] = field(default_factory=lambda: array("l"))
    tin: array[int] = field(default_factory=lambda: array("q"))
    tout: array[int] = field(default_factory=lambda: array("q"))
    tcr: array[int] = field(default_factory=lambda: array("q"))
    tcw: array[int] = field(default_factory=lambda: array("q"))
    key: array[int] = field(default_factory=lambda: array("H"))
    client: array[int] = field(default_factory=lambda: array("H"))
    replay: array[int] = field(default_factory=lambda: array("b"))

    def __len__(self) -> int:
        return len(self.ids)


class Index:
    """The columns, sessions and rollups of the records indexed so far (see the module docstring)."""

    def __init__(self) -> None:
        self.t: array[float] = array("d")
        self.sess: array[int] = array("l")
        self.nxt: array[int] = array("l")
        self.file: array[int] = array("H")
        self.off: array[int] = array("q")
        self.size: array[int] = array("l")
        self.key: array[int] = array("H")
        self.model: array[int] = array("H")
        self.channel: array[int] = array("H")
        self.profile: array[int] = array("H")
        self.flags: array[int] = array("B")
        self.tin: array[int] = array("l")
        self.tout: array[int] = array("l")
        self.tcr: array[int] = array("l")
        self.tcw: array[int] = array("l")
        self.rid: array[int] = array("q")
        self.keys, self.models, self.channels, self.profiles, self.clients = Names(), Names(), Names(), Names(), Names()
        self.sessions = Sessions()
        self.rollups = Rollups()
        self.replays: dict[int, list[int]] = {}  # hash of the replayed request id -> replay records
        self.files: list[FileRef] = []
        self.damaged = 0
        self.skipped = 0  # lines left out to stay within max_records
        self.handed = 0  # records taken as the trace writer handed them over, not parsed
        self.generation = 0  # bumped with every batch: a cache key for query results
        self.serial = next(_SERIALS)  # tells this index from the one it replaced, for caches

    def __len__(self) -> int:
        return len(self.t)

    def close(self) -> None:
        for ref in self.files:
            with contextlib.suppress(OSError):
                ref.handle.close()

    def read(self, i: int) -> TraceRecord | None:
        """Record i read back from its file; None when the file is gone or the line changed."""
        ref = self.files[self.file[i]]
        try:
            line = ref.read_at(self.off[i], self.size[i])
        except (OSError, ValueError):
            return None
        return parse_line(line)

    def read_head(self, i: int) -> tuple[TraceRecord, bool, bool] | None:
        """Record i without its bodies (cheap even with large ones), and whether it has each body."""
        ref = self.files[self.file[i]]
        try:
            line = ref.read_at(self.off[i], self.size[i])
        except (OSError, ValueError):
            return None
        record = parse_head(line)
        if record is None:
            return None
        return record, _BODY_KEYS[0] in line, _BODY_KEYS[1] in line

    def session_records(self, s: int) -> Iterator[int]:
        i = self.sessions.head[s]
        while i >= 0:
            yield i
            i = self.nxt[i]

    # -- ingest -------------------------------------------------------------------------------

    def add(self, record: TraceRecord, file_no: int, offset: int, size: int) -> None:
        """Index one parsed record found at (file_no, offset, size)."""
        i = len(self.t)
        t = parse_time(record.get("time"))
        kind = record.get("kind")
        replay_of = record.get("replay_of")
        flags = (ERROR if is_error(record) else 0) | (REPLAY if replay_of else 0)
        if kind in MODEL_CALLS and not replay_of:
            flags |= USAGE
        usage = record.get("usage") if flags & USAGE else None
        tokens = _tokens(usage) if isinstance(usage, dict) else (0, 0, 0, 0, 0)
        key = self.keys.id(record.get("key"))
        model = self.models.id(record.get("resolved_model") or record.get("requested_model"))
        channel = self.channels.id(record.get("channel"))
        profile = self.profiles.id(record.get("profile"))
        s = self._session(str(record.get("trace_id") or record.get("request_id") or ""), t, i, key, record)
        self.t.append(t)
        self.sess.append(s)
        self.nxt.append(-1)
        self.file.append(file_no)
        self.off.append(offset)
        self.size.append(size)
        self.key.append(key)
        self.model.append(model)
        self.channel.append(channel)
        self.profile.append(profile)
        self.flags.append(flags)
        self.tin.append(tokens[0])
        self.tout.append(tokens[1])
        self.tcr.append(tokens[2])
        self.tcw.append(tokens[3])
        self.rid.append(request_hash(str(record.get("request_id") or "")))
        self._count(s, t, flags, tokens)
        if replay_of:
            self.replays.setdefault(request_hash(str(replay_of)), []).append(i)
        self._roll(record, t, flags, tokens, (key, model, channel, profile))

    def _session(self, trace_id: str, t: float, i: int, key: int, record: TraceRecord) -> int:
        sessions = self.sessions
        s = sessions.number.get(trace_id)
        if s is None:
            s = len(sessions.ids)
            sessions.number[trace_id] = s
            sessions.ids.append(trace_id)
            sessions.first.append(t)
            sessions.last.append(t)
            sessions.head.append(i)
            sessions.tail.append(i)
            for column in (sessions.requests, sessions.errors, sessions.tin, sessions.tout, sessions.tcr, sessions.tcw):
                column.append(0)
            sessions.key.append(key)
            sessions.client.append(self.clients.id(client_name(record.get("user_agent"))))
            sessions.replay.append(1 if record.get("replay_of") else 0)
            return s
        self.nxt[sessions.tail[s]] = i
        sessions.tail[s] = i
        if t < sessions.first[s]:
            sessions.first[s] = t
        if t > sessions.last[s]:
            sessions.last[s] = t
        return s

    def _count(self, s: int, t: float, flags: int, tokens: tuple[int, int, int, int, int]) -> None:
        sessions = self.sessions
        sessions.requests[s] += 1
        if flags & ERROR:
            sessions.errors[s] += 1
        if flags & USAGE:
            sessions.tin[s] += tokens[0]
            sessions.tout[s] += tokens[1]
            sessions.tcr[s] += tokens[2]
            sessions.tcw[s] += tokens[3]

    def _roll(
        self,
        record: TraceRecord,
        t: float,
        flags: int,
        tokens: tuple[int, int, int, int, int],
        dims: tuple[int, int, int, int],
    ) -> None:
        rollups = self.rollups
        fine, coarse = rollups.fine, rollups.coarse
        if t > rollups.newest:
            rollups.newest = t
            if len(fine.usage) > FINE_KEEP_S // FINE_S + 12:  # an hour past the horizon: prune
                fine.prune(int((t - FINE_KEEP_S) // FINE_S))
        fine_bucket, coarse_bucket = int(t // FINE_S), int(t // COARSE_S)
        attempts = record.get("attempts")
        if isinstance(attempts, list):
            for attempt in attempts:
                if not isinstance(attempt, dict):
                    continue
                channel = self.channels.id(attempt.get("channel"))
                status = attempt.get("status")
                failed = bool(attempt.get("error")) or (isinstance(status, int) and status >= 400)
                fine.add_attempt(fine_bucket, channel, failed)
                coarse.add_attempt(coarse_bucket, channel, failed)
                if t > rollups.last_seen.get(channel, 0.0):
                    rollups.last_seen[channel] = t
        if not flags & USAGE:
            return
        packed = pack_dims(*dims)
        values = (1, 1 if flags & ERROR else 0, *tokens)
        fine.add_usage(fine_bucket, packed, values)
        coarse.add_usage(coarse_bucket, packed, values)
        timings = record.get("timings")
        if not flags & ERROR and isinstance(timings, dict):
            total, ttfb = timings.get("total_ms"), timings.get("ttfb_ms")
            bins = (
                latency_bin(float(total)) if isinstance(total, int | float) else None,
                latency_bin(float(ttfb)) if isinstance(ttfb, int | float) else None,
            )
            fine.add_latency(fine_bucket, dims[2] << 16 | dims[1], *bins)
            coarse.add_latency(coarse_bucket, dims[2] << 16 | dims[1], *bins)


def _tokens(usage: Mapping[str, Any]) -> tuple[int, int, int, int, int]:
    """The token counts of a usage record; a count that is not a number, not positive or beyond
    MAX_TOKENS (infinity, a hand edit) is 0, so the index's fixed-width columns never overflow."""
    out = []
    for name in ("input", "output", "cache_read", "cache_write", "reasoning"):
        value = usage.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_TOKENS:
            value = 0
        out.append(int(value))
    return out[0], out[1], out[2], out[3], out[4]


# ---------------------------------------------------------------------------------------------
# Building and following
# ---------------------------------------------------------------------------------------------


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_dev)


LISTING_TRIES: Final = 5  # listings of the log's files made at most to get two in a row that agree


def _listing(path: Path) -> list[tuple[Path, tuple[int, int]]]:
    """The log's files, oldest first, with their (inode, device). Names are listed, then looked at one
    by one: a rotation between two looks shifts every name, so one listing may miss a file (seen under
    neither its old name nor its new one) or see one twice. Listings are made until two in a row agree
    (a rotation in between would have given the log's own name a new file)."""
    with _rotations_held(path):  # AxonHub's own writers rotate under an exclusive lock on the directory
        last: list[tuple[Path, tuple[int, int]]] | None = None
        for _ in range(LISTING_TRIES):
            listed = [(p, inode) for p in trace_files(path) if (inode := _inode(p)) is not None]
            if listed == last:
                break
            last = listed
    return listed


@contextlib.contextmanager
def _rotations_held(path: Path) -> Iterator[None]:
    """A shared lock on the log's directory, which the trace writers take exclusively to rotate: no
    writer of ours rotates while it is held (an outside rotator is caught by the repeated listing)."""
    try:
        fd = os.open(path.parent, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


_BODY_KEYS: Final = (b',"request_body":', b',"response_body":')


def parse_head(line: bytes) -> TraceRecord | None:
    """A whole line's record without its bodies, which the writer always puts last: indexing a line
    with 64 KB bodies then parses a few hundred bytes. A line that is not whole is parsed in full (and
    found damaged)."""
    if line.rstrip().endswith(b"}"):
        cut = min((p for p in (line.find(key) for key in _BODY_KEYS) if p > 0), default=-1)
        if cut > 0:
            record = parse_line(line[:cut] + b"}")
            if record is not None:
                return record
    return parse_line(line)


def count_lines(path: Path) -> int:
    count = 0
    with contextlib.suppress(OSError), path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            count += chunk.count(b"\n")
    return count


RecordsCallback = Callable[[list[TraceRecord]], None]


@dataclass(slots=True)
class Progress:
    """How far the current build is, for the pages' status line."""

    state: str = "building"  # building | ready | unavailable
    bytes_done: int = 0
    bytes_total: int = 0
    started: float = 0.0
    seconds: float = 0.0  # how long the last build took
    error: str | None = None


class Indexer:
    """Owns the index of one trace log and the thread that builds it and follows the log."""

    def __init__(
        self,
        path: Path,
        max_records: int,
        on_records: RecordsCallback | None = None,
        on_built: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self.max_records = max_records
        self.on_records = on_records  # called from the thread with each batch of new records
        self.on_built = on_built  # called from the thread when a new index was swapped in
        self.lock = threading.Lock()
        self.current = Index()
        self.progress = Progress()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._checked_files = 0.0
        self._inbox: deque[Written] = deque(maxlen=HANDED_WRITES)  # from the writer thread
        # The thread's own: per file (inode, device), handed-over (offset, line, record) in file order.
        self._handed: dict[tuple[int, int], deque[tuple[int, bytes, TraceRecord]]] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="axonhub-dashboard-index", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Something was written: look at the file now."""
        if not self._wake.is_set():  # setting a set event still takes its lock
            self._wake.set()

    def written(self, written: Written) -> None:
        """`TraceWriter.on_written` listener (on the writer's thread): these lines of ours are in the
        file; take their records from here when the follow reaches them."""
        self._inbox.append(written)
        self.wake()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self.lock:
            self.current.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._build()
                while not self._stop.is_set() and not self._follow():
                    self._wake.wait(POLL_S)
                    self._wake.clear()
            except Exception as exc:  # the dashboard must never take the gateway down
                log.exception("dashboard index failed; rebuilding", error=repr(exc))
                self.progress.error = repr(exc)
                self._stop.wait(5.0)

    # -- build ----------------------------------------------------------------------------------

    def _build(self) -> None:
        for _ in range(BUILD_TRIES - 1):
            if self._build_once(last_try=False):
                return
            log.info("the trace log rotated while the index was built; building again")
        self._build_once(last_try=True)

    def _build_once(self, *, last_try: bool) -> bool:
        """Build the index from the files on disk; False when the log rotated under the build (a name
        listed at the start named another file by the time it was opened: a file would be missed or
        read twice), to be started again, unless this is the `last_try` (a log rotating faster than
        it can be read: the build goes on as it can)."""
        started = time.monotonic()
        files = trace_files(self.path)
        listed = {path: _inode(path) for path in files}
        sizes = [p.stat().st_size if p.exists() else 0 for p in files]
        self.progress = Progress("building", 0, sum(sizes), time.time())
        index = Index()
        skip = max(0, sum(count_lines(p) for p in files) - self.max_records)
        index.skipped = skip
        # The first build is shown as it grows; a rebuild is swapped in when it is whole.
        progressive = len(self.current) == 0
        if progressive:
            self._swap(index)
        for path in files:
            if self._stop.is_set():
                if not progressive:
                    index.close()
                return True
            try:
                handle = path.open("rb")
            except OSError:
                continue
            inode = os.fstat(handle.fileno())
            if (inode.st_ino, inode.st_dev) != listed[path] and not last_try:
                handle.close()
                if not progressive:
                    index.close()
                return False
            ref = FileRef(len(index.files), path, handle, (inode.st_ino, inode.st_dev))
            with self.lock:
                index.files.append(ref)
            skip = self._read_file(index, ref, skip, progressive)
        if not progressive:
            self._swap(index)
        seconds = time.monotonic() - started
        self.progress = Progress("ready", self.progress.bytes_total, self.progress.bytes_total, 0.0, seconds)
        log.info(
            "dashboard index built",
            records=len(index),
            sessions=len(index.sessions),
            damaged=index.damaged,
            skipped=index.skipped,
            seconds=round(seconds, 2),
        )
        self._checked_files = time.monotonic()
        if self.on_built is not None:
            self.on_built()
        return True

    def _swap(self, index: Index) -> None:
        with self.lock:
            old, self.current = self.current, index
            index.generation = old.generation + 1
        old.close()

    def _read_file(self, index: Index, ref: FileRef, skip: int, published: bool) -> int:
        """Index the complete lines of one file during a build; returns the lines still to skip.

        Lines are parsed outside the lock; a published index takes them under it, a chunk at a time.
        """
        offset = 0
        pending = b""
        ref.handle.seek(0)
        while chunk := ref.handle.read(READ_CHUNK):
            data = pending + chunk
            end = data.rfind(b"\n") + 1
            pending = data[end:]
            start = offset
            parsed: list[tuple[TraceRecord | None, int, int]] = []
            for line in data[:end].split(b"\n")[:-1]:
                size = len(line) + 1
                if skip:
                    skip -= 1
                elif line.strip():
                    parsed.append((parse_head(line), start, size))
                start += size
            with self.lock if published else contextlib.nullcontext():
                for record, line_offset, size in parsed:
                    if record is None:
                        index.damaged += 1
                    else:
                        index.add(record, ref.number, line_offset, size)
                index.generation += 1
            offset += end
            self.progress.bytes_done += len(chunk)
        ref.read_to = offset
        return skip

    # -- follow ---------------------------------------------------------------------------------

    def _follow(self) -> bool:
        """Index what was appended since the last look; True when a rebuild is needed instead."""
        index = self.current
        if not index.files:
            return self.path.exists()
        if len(index) > self.max_records * 1.1 or self._oldest_gone(index):
            return True
        current = index.files[-1]
        on_disk = _inode(self.path)
        try:
            size = os.fstat(current.handle.fileno()).st_size
        except OSError:
            return True
        if on_disk == current.inode and size < current.read_to:
            return True  # truncated in place (copytruncate)
        self._collect_handed(index, on_disk)
        records = self._take(index, current, size)
        if on_disk is not None and on_disk != current.inode:  # rotated or moved: the rest of the old file is in
            for ref in self._newer_files(index, current):
                records += self._take(index, ref)
        if records and self.on_records is not None:
            self.on_records(records)
        return False

    def _newer_files(self, index: Index, current: FileRef) -> list[FileRef]:
        """The files of the log newer than `current`, oldest first, opened and added to the index: more
        than one when the log rotated several times since the last look; only the log's own file
        when `current` left the log's names (a rotator moved it away)."""
        listed = _listing(self.path)
        inodes = [inode for _, inode in listed]
        newer = listed[inodes.index(current.inode) + 1 :] if current.inode in inodes else listed[-1:]
        refs = []
        for path, inode in newer:
            try:
                handle = path.open("rb")
            except OSError:
                break
            st = os.fstat(handle.fileno())
            if (st.st_ino, st.st_dev) != inode:  # rotated again meanwhile: the next look goes on from here
                handle.close()
                break
            ref = FileRef(len(index.files), path, handle, inode)
            with self.lock:
                index.files.append(ref)
            refs.append(ref)
        return refs

    def _collect_handed(self, index: Index, on_disk: tuple[int, int] | None) -> None:
        """Move the writes handed over since the last look to the thread's own tables."""
        inbox, handed = self._inbox, self._handed
        for _ in range(len(inbox)):
            written = inbox.popleft()
            lines = handed.get(written.file)
            if lines is None:
                if len(handed) > 2:  # forget files the index no longer follows
                    following = {ref.inode for ref in index.files[-2:]}
                    for file in [f for f in handed if f not in following and f != on_disk]:
                        del handed[file]
                lines = handed[written.file] = deque(maxlen=HANDED_LINES)
            offset = written.offset
            for line, record in written.lines:
                version = record.get("v") if record is not None else None
                if record is not None and isinstance(version, int):  # as parse_line would take it
                    lines.append((offset, line, record if version >= 2 else upgrade(dict(record))))
                offset += len(line)

    def _take(self, index: Index, ref: FileRef, size: int | None = None) -> list[TraceRecord]:
        """The complete new lines of `ref`, indexed under the lock in one batch: a line this process
        wrote and handed over as it is on disk is indexed from its record, any other is parsed."""
        try:
            if size is None:
                size = os.fstat(ref.handle.fileno()).st_size
            data = ref.read_at(ref.read_to, size - ref.read_to) if size > ref.read_to else b""
        except OSError:
            return []
        end = data.rfind(b"\n") + 1
        if end == 0:
            return []
        parsed: list[tuple[TraceRecord | None, int, int]] = []
        base = ref.read_to
        handed = self._handed.get(ref.inode)
        handed_count = 0
        pos = 0
        while pos < end:
            if handed:
                while handed and handed[0][0] < base + pos:
                    handed.popleft()  # indexed by parsing already (handed over late), or never seen
                if handed and handed[0][0] == base + pos:
                    _, own, own_record = handed[0]
                    if pos + len(own) <= end and data.startswith(own, pos):
                        handed.popleft()
                        parsed.append((own_record, base + pos, len(own)))
                        handed_count += 1
                        pos += len(own)
                        continue
            newline = data.index(b"\n", pos)
            line = data[pos:newline]
            if line.strip():
                parsed.append((parse_head(line), base + pos, newline + 1 - pos))
            pos = newline + 1
        records = []
        for first in range(0, len(parsed), ADD_CHUNK):
            if first:
                os.sched_yield()  # the event loop may be waiting for the interpreter: let it run first
            with self.lock:
                for record, offset, size_of in parsed[first : first + ADD_CHUNK]:
                    if record is None:
                        index.damaged += 1
                    else:
                        index.add(record, ref.number, offset, size_of)
                        records.append(record)
                index.generation += 1
        with self.lock:
            ref.read_to += end
            index.handed += handed_count
        return records

    def _oldest_gone(self, index: Index) -> bool:
        """Every few seconds: has a file of the index left the log (deleted by rotation)?"""
        now = time.monotonic()
        if now - self._checked_files < 5.0:
            return False
        self._checked_files = now
        present = {inode for _, inode in _listing(self.path)}
        return any(ref.inode not in present for ref in index.files)
