"""Reading the JSONL trace log back: its files (rotated ones too), records, a live follower.

Kept apart from the writer so that the CLI reads traces without importing the server stack. Every
record read is upgraded to the current version (`parse_line`): version-1 records numbered profile
rules from 0 and counted count_tokens estimates as `usage`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

from axonhub import fastjson
from axonhub.trace_record import TraceRecord


def is_error(record: Mapping[str, Any]) -> bool:
    """A failed exchange: an error was recorded or the client got a 4xx/5xx."""
    status = record.get("status")
    return bool(record.get("error")) or (isinstance(status, int) and status >= 400)


TRACE_VERSION = 2  # the record's shape this reader hands out; see `axonhub.trace`


def upgrade(record: dict[str, Any]) -> TraceRecord:
    """A record of an older version in the current shape (and version number), in place."""
    if record["v"] < 2:
        record["v"] = 2
        if isinstance(record.get("rule"), int):
            record["rule"] += 1
        if record.get("kind") == "count_tokens":
            usage = record.get("usage") or {}
            record["counted_tokens"] = usage.get("input") if isinstance(usage, Mapping) else None
            record["usage"] = None
    return cast(TraceRecord, record)


@dataclass(slots=True)
class ReadStats:
    """What a read saw besides the records: damaged lines and the files read."""

    damaged: int = 0
    files: list[Path] = field(default_factory=list)


def trace_files(path: Path, *, include_rotated: bool = True) -> list[Path]:
    """The files of a trace log, oldest first: path.N … path.1, path."""
    rotated: list[tuple[int, Path]] = []
    if include_rotated and path.parent.is_dir():
        prefix = path.name + "."
        for candidate in path.parent.iterdir():
            suffix = candidate.name[len(prefix) :]
            if candidate.name.startswith(prefix) and suffix.isdigit():
                rotated.append((int(suffix), candidate))
    files = [p for _, p in sorted(rotated, reverse=True)]
    return [*files, path] if path.exists() else files


# The record's fields that readers take apart, and the JSON type each has when it is not null: a line
# where one has another (a hand edit, another program's JSON) is damaged, not a reader's crash.
_SHAPES: Final = (
    ("time", str),
    ("kind", str),
    ("request_id", str),
    ("trace_id", str),
    ("usage", dict),
    ("timings", dict),
    ("attempts", list),
    ("error", dict),
    ("limit", dict),
)


def parse_line(line: bytes) -> TraceRecord | None:
    """A record, or None for a damaged line (not UTF-8, not JSON, not a versioned object, or a field
    readers take apart holding another JSON type than a record writes)."""
    try:
        record = fastjson.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("v"), int):
        return None
    for name, kind in _SHAPES:
        value = record.get(name)
        if value is not None and not isinstance(value, kind):
            return None
    return upgrade(record)


def iter_records(
    path: Path | str, *, include_rotated: bool = True, stats: ReadStats | None = None
) -> Iterator[TraceRecord]:
    """Every record of the log, oldest file first; damaged lines are skipped and counted in `stats`."""
    return read_files(trace_files(Path(path), include_rotated=include_rotated), stats)


def read_files(files: Iterable[Path], stats: ReadStats | None = None) -> Iterator[TraceRecord]:
    """The records of these files in order; damaged lines are skipped and counted in `stats`."""
    stats = stats if stats is not None else ReadStats()
    for file in files:
        stats.files.append(file)
        try:
            handle = file.open("rb")
        except FileNotFoundError:
            continue  # rotated away between listing and opening
        with handle:
            for line in handle:
                if not line.strip():
                    continue
                record = parse_line(line)
                if record is None:
                    stats.damaged += 1
                    continue
                yield record


class TraceFollower:
    """`tail -F` over the log: each `poll()` returns the complete lines added since the last one.

    When the path comes to name another file (rotation, a log rotator's move or delete), the rest
    of the old file is read first, then the new one from its start.
    """

    def __init__(self, path: Path, stats: ReadStats, *, at_end: bool) -> None:
        self.path = path
        self.stats = stats
        self.handle = self._open(at_end=at_end)
        self.pending = b""

    def _open(self, *, at_end: bool) -> Any:
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return None
        if at_end:
            handle.seek(0, os.SEEK_END)
        return handle

    def poll(self) -> list[TraceRecord]:
        if self.handle is None:
            self.handle = self._open(at_end=False)
            return self._read() if self.handle is not None else []
        records = self._read()
        if self._replaced():
            records += self._read()  # whatever reached the old file before the switch
            self.handle.close()
            self.handle, self.pending = self._open(at_end=False), b""
            if self.handle is not None:
                records += self._read()
        return records

    def _replaced(self) -> bool:
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return True
        mine = os.fstat(self.handle.fileno())
        if on_disk.st_size < self.handle.tell() and on_disk.st_ino == mine.st_ino:
            self.handle.seek(0)  # truncated in place (copytruncate)
            self.pending = b""
        return (on_disk.st_ino, on_disk.st_dev) != (mine.st_ino, mine.st_dev)

    def _read(self) -> list[TraceRecord]:
        data = self.pending + self.handle.read()
        *lines, self.pending = data.split(b"\n")
        records = []
        for line in lines:
            if not line.strip():
                continue
            record = parse_line(line)
            if record is None:
                self.stats.damaged += 1
            else:
                records.append(record)
        return records

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
