"""Safe edits of `axonhub.yml`: every CLI write goes through `edit_config`.

One edit is: take an exclusive lock (`fcntl.flock` on the sidecar `axonhub.yml.lock`), read the
file with ruamel.yaml in round-trip mode, let the caller change the document, dump it, read the
dump back the way the server reads it (PyYAML) and validate it with `config.validate`, and only
then replace the file atomically (temp file in the same directory, fsync, `os.replace`). A refused
edit leaves the file untouched byte for byte. The lock covers the whole read-modify-write, so
concurrent commands never lose each other's change: they queue, each holding the lock for a
fraction of a second. A command waits up to `LOCK_TIMEOUT` seconds (120; `AXONHUB_LOCK_TIMEOUT`
overrides it), long enough for dozens of commands started at once on a busy machine, then fails
with a message naming the process that holds the lock. The lock file records that process id.

Why ruamel.yaml: it is the one maintained Python library that round-trips YAML with its comments,
key order, quoting and flow/block styles, so a user's annotated file stays theirs after
`axonhub keys create`. Two of its habits need help, both handled here:

* Indentation is a global setting, not remembered per file: `guess_indent` reads it off the text.
* A comment block between two entries belongs to the entry above it, so appending after the last
  entry of a list would land below the comment meant for the next section: `kept_tail` moves that
  comment to whatever is last after the change.

ruamel reads YAML 1.2 and PyYAML (the server) 1.1, where a bare `on`, `yes` or a date-like string
is not a string: `yaml_str` quotes such values, and the read-back validation catches the rest.

The file's permission bits are kept as they are (never widened); a temp file starts 0600.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from axonhub.config import validate
from axonhub.errors import AxonHubError, ConfigError

T = TypeVar("T")

LOCK_TIMEOUT = 120.0
LOCK_TIMEOUT_ENV = "AXONHUB_LOCK_TIMEOUT"
# The order of the top-level sections in the schema and the shipped file.
SECTION_ORDER = ("version", "server", "channels", "profiles", "projects", "keys", "pricing")

# The server's reader: libyaml's loader when present, as in config.py.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class EditError(AxonHubError):
    """The change does not apply (no such key, name taken, …); nothing was written."""


class InvalidEdit(EditError):
    """The change would make the file invalid; nothing was written. `errors` holds every reason."""

    def __init__(self, path: Path, errors: list[str]) -> None:
        self.errors = errors
        reasons = "\n  ".join(errors)
        super().__init__(f"refused: the change would make {path} invalid (file left unchanged):\n  {reasons}")


def edit_config(path: str | os.PathLike[str], change: Callable[[CommentedMap], T]) -> T:
    """Apply `change` to the YAML document at `path` under the lock; returns what `change` returns.

    `change` mutates the document in place and raises EditError when it does not apply.
    """
    target = Path(os.path.realpath(path))
    with locked(target):
        original = _read(target)
        document, yaml_rt = _parse(target, original)
        result = change(document)
        text = _dump(yaml_rt, document)
        if text.encode() != original:
            _check(target, text)
            write_atomic(target, text.encode())
    return result


def lock_timeout() -> float:
    """Seconds to wait for the lock: `AXONHUB_LOCK_TIMEOUT`, else `LOCK_TIMEOUT`."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "")
    try:
        value = float(raw)
    except ValueError:
        return LOCK_TIMEOUT
    return value if value >= 0 else LOCK_TIMEOUT


@contextlib.contextmanager
def locked(target: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive flock on `<file>.lock` next to `target`, waiting up to `timeout` seconds."""
    lock_path = target.with_name(target.name + ".lock")
    wait = lock_timeout() if timeout is None else timeout
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        pause = 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise EditError(
                        f"{target} is still being edited by another process{_holder(fd)} after {wait:g}s "
                        f"(lock {lock_path}); try again, or wait longer with {LOCK_TIMEOUT_ENV}=SECONDS"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
        _record_holder(fd)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _record_holder(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)


def _holder(fd: int) -> str:
    """` (pid N)` as the lock file says, or nothing."""
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


def _read(target: Path) -> bytes:
    try:
        return target.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"config file not found: {target}"], str(target)) from None


def _parse(target: Path, raw: bytes) -> tuple[CommentedMap, YAML]:
    text = raw.decode("utf-8")
    yaml_rt = YAML(typ="rt")
    yaml_rt.preserve_quotes = True
    yaml_rt.width = 4096  # never re-wrap a long line
    mapping, sequence, offset = guess_indent(text)
    yaml_rt.indent(mapping=mapping, sequence=sequence, offset=offset)
    try:
        document = yaml_rt.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"(yaml) {where}{problem}"], str(target)) from None
    if document is None:
        document = CommentedMap()
    if not isinstance(document, CommentedMap):
        raise ConfigError(["(root): the file must be a mapping of sections"], str(target))
    return document, yaml_rt


def _dump(yaml_rt: YAML, document: CommentedMap) -> str:
    out = io.StringIO()
    yaml_rt.dump(document, out)
    return out.getvalue()


def _check(target: Path, text: str) -> None:
    """Validate `text` exactly as the server will read it."""
    try:
        data = yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise InvalidEdit(target, [f"(yaml) {exc}"]) from None
    errors = validate(data if data is not None else {}, text)
    if errors:
        raise InvalidEdit(target, errors)


def write_atomic(target: Path, data: bytes) -> None:
    """Replace `target` with `data` all at once, keeping its permission bits (0600 if it is new)."""
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, (st.st_mode & 0o7777) if st else 0o600)
        if st is not None and os.geteuid() == 0:
            os.fchown(fd, st.st_uid, st.st_gid)  # root editing a user's file leaves it theirs
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_INDENTED = re.compile(r"^(?P<indent> *)(?P<dash>- +)?(?P<rest>[^#\s].*)$")


def guess_indent(text: str) -> tuple[int, int, int]:
    """(mapping indent, sequence indent, dash offset) as the file uses them; (2, 4, 2) by default.

    The mapping indent is the step from a `key:` line to a nested key; the dash offset is the
    step from a `key:` line to a `- ` item under it (0 for `key:` then `- item` in the same column);
    the sequence indent is where the item's content starts, relative to the `key:` line.
    """
    mapping: int | None = None
    sequence: tuple[int, int] | None = None  # (sequence indent, dash offset)
    opener: int | None = None  # the indent of the previous content line when it opens a block
    for line in text.splitlines():
        found = _INDENTED.match(line)
        if not found:
            continue
        indent, dash = len(found["indent"]), found["dash"] or ""
        if opener is not None and dash and indent >= opener and sequence is None:
            sequence = (indent - opener + len(dash), indent - opener)
        elif opener is not None and not dash and indent > opener and mapping is None:
            mapping = indent - opener
        rest = found["rest"].rstrip()
        opener = indent + len(dash) if rest.endswith(":") or re.search(r":\s+#", rest) else None
        if mapping is not None and sequence is not None:
            break
    return (mapping or 2, *(sequence or (4, 2)))


def yaml_str(value: str) -> str:
    """`value`, double-quoted when PyYAML (YAML 1.1) would not read it back as this same string."""
    try:
        plain = yaml.load(value, Loader=_SafeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        plain = None
    return value if plain == value and isinstance(plain, str) else cast(str, DoubleQuotedScalarString(value))


def yaml_verbatim(value: str) -> str:
    """`value` single-quoted, where backslashes and regex metacharacters stay exactly as typed."""
    return cast(str, SingleQuotedScalarString(value))


def section(document: CommentedMap, name: str, kind: type[CommentedMap] | type[CommentedSeq]) -> Any:
    """The top-level `name` section in block style, created at its usual place when missing."""
    current = document.get(name)
    if current is None:
        current = kind()
        earlier = SECTION_ORDER[: SECTION_ORDER.index(name)]
        position = max((i + 1 for i, key in enumerate(document) if key in earlier), default=0)
        # The comment lines above the next section hang on the previous one's last entry: they
        # move to the new section, which the caller's `kept_tail` then carries to its end.
        tail = _take_tail(_chain_with_owner(document, position - 1)) if position else ""
        document.insert(position, name, current)
        if tail:
            _put_tail((document, name), tail)
    if not isinstance(current, kind):
        raise EditError(f"'{name}' in the config is not a {'list' if kind is CommentedSeq else 'mapping'}")
    return current


def block(node: Any) -> Any:
    """`node` switched to block style, so appended entries go one per line."""
    if isinstance(node, CommentedMap | CommentedSeq):
        node.fa.set_block_style()
    return node


# A place a comment can follow: (mapping, key) or (sequence, index).
Slot = tuple[CommentedMap | CommentedSeq, Any]


@contextlib.contextmanager
def kept_tail(node: CommentedMap | CommentedSeq, owner: Slot | None = None) -> Iterator[None]:
    """Keep the comment lines that follow `node`'s last entry after its last entry, whatever the
    change in the block does (append, insert, delete, move).

    `owner` is where `node` itself sits in its parent: the comment goes there when `node` ends empty
    (and an emptied collection is written `[]` / `{}` again).
    """
    tail = _take_tail(([owner] if owner else []) + _last_chain(node))
    yield
    if not node:
        node.fa.set_flow_style()
    if tail:
        slots = ([owner] if owner else []) + _last_chain(node)
        if slots:
            _put_tail(slots[-1], tail)


def _chain_with_owner(document: CommentedMap, index: int) -> list[Slot]:
    key = list(document)[index]
    return [(document, key), *_last_chain(document[key])]


def _last_chain(node: Any) -> list[Slot]:
    """The slots of the last entry of `node`, of that entry's last entry, and so on (block style only)."""
    chain: list[Slot] = []
    while isinstance(node, CommentedMap | CommentedSeq) and len(node) and not node.fa.flow_style():
        last = next(reversed(node)) if isinstance(node, CommentedMap) else len(node) - 1
        chain.append((node, last))
        node = node[last]
    return chain


def _token_index(container: CommentedMap | CommentedSeq) -> int:
    return 2 if isinstance(container, CommentedMap) else 0


def _take_tail(slots: list[Slot]) -> str:
    """Cut the full comment lines after the deepest commented slot; the inline comment stays."""
    for container, key in reversed(slots):
        entry = container.ca.items.get(key)
        token = entry[_token_index(container)] if entry else None
        value = str(token.value) if token is not None else ""
        head, newline, rest = value.partition("\n")
        if token is not None and newline and rest:
            token.value = head + newline
            return rest
    return ""


def _put_tail(slot: Slot, tail: str) -> None:
    container, key = slot
    index = _token_index(container)
    entry = container.ca.items.setdefault(key, [None, None, None, None])
    token = entry[index]
    if token is not None:
        token.value = str(token.value) + tail
    else:
        entry[index] = CommentToken("\n" + tail, CommentMark(0), None)
