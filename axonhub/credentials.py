"""The user's saved AxonHub key secrets, for the launcher (`axonhub run` / `axonhub env`).

`axonhub.yml` keeps only a key's hash; a secret is shown once when it is created. So that
`axonhub run claude` can start an agent without the secret being pasted into a shell, `keys create`
and `keys rotate` also save it in a file only its owner can read:

    $XDG_CONFIG_HOME/axonhub/credentials     (~/.config/axonhub/credentials; mode 0600, its folder 0700)

a JSON object `{"version": 1, "keys": [{"name", "secret", "config", "saved_at"}]}`. Nothing else
ever holds a secret: never argv, never the config file. The file is refused when others can read
it. An entry is used only when its hash matches an enabled key of the config in use, so a stale
entry (revoked, rotated elsewhere) is never sent; `keys revoke` and `keys rotate` keep it current.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from axonhub.errors import AxonHubError
from axonhub.paths import user_dir

FILE_NAME = "credentials"


class CredentialsError(AxonHubError):
    """The credentials file cannot be used (unreadable, damaged, or readable by others)."""


@dataclass(frozen=True, slots=True)
class SavedKey:
    name: str
    secret: str
    config: str  # the absolute path of the config the key was created in
    saved_at: str = ""


def credentials_path(env: Mapping[str, str] | None = None) -> Path:
    return user_dir(env) / FILE_NAME


def load_saved(path: Path | None = None) -> list[SavedKey]:
    """Every saved key; [] when there is no file."""
    path = path or credentials_path()
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise CredentialsError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise CredentialsError(f"{path} can be read by other users; run `chmod 600 {path}` (it holds secrets)")
        raw = handle.read()
    try:
        data = json.loads(raw)
        return [SavedKey(**entry) for entry in data["keys"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise CredentialsError(f"{path} is damaged ({exc}); remove it and `axonhub keys rotate NAME`") from None


def save(name: str, secret: str, config: Path, path: Path | None = None) -> Path:
    """Save (or replace) the secret of key `name` of `config`; returns the file written."""
    from axonhub.config_edit import locked

    path = path or credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    config_id = str(config.resolve())
    with locked(path):  # concurrent `keys create` runs never lose each other's secret
        kept = [k for k in load_saved(path) if not (k.name == name and k.config == config_id)]
        saved_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        _write(path, [*kept, SavedKey(name, secret, config_id, saved_at)])
    return path


def forget(name: str, config: Path, path: Path | None = None) -> bool:
    """Drop the saved secret of key `name` of `config`; True when there was one."""
    from axonhub.config_edit import locked

    path = path or credentials_path()
    if not path.exists():
        return False
    config_id = str(config.resolve())
    with locked(path):
        saved = load_saved(path)
        kept = [k for k in saved if not (k.name == name and k.config == config_id)]
        if len(kept) == len(saved):
            return False
        _write(path, kept)
    return True


def _write(path: Path, keys: list[SavedKey]) -> None:
    from axonhub.config_edit import write_atomic  # a new file is created 0600, an existing one keeps its mode

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data: dict[str, Any] = {"version": 1, "keys": [_entry(k) for k in keys]}
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode())


def _entry(key: SavedKey) -> dict[str, str]:
    return {"name": key.name, "secret": key.secret, "config": key.config, "saved_at": key.saved_at}
