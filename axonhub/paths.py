"""Where AxonHub's files live on a user's machine: the config file it finds, the saved key secrets.

The config file a command uses is, in this order:

1. `--config PATH` (every command takes it), else the `AXONHUB_CONFIG` environment variable;
2. `./axonhub.yml` in the current directory, when it exists;
3. the user-level file `$XDG_CONFIG_HOME/axonhub/axonhub.yml` (`~/.config/axonhub/axonhub.yml`
   when `XDG_CONFIG_HOME` is not set), when it exists.

When none of them exists the command says where it looked and how to name a file
(`axonhub config init` writes the user-level one). `axonhub config path` prints the choice.

Secrets saved for the launcher (`axonhub run`) live next to the user-level config, in
`credentials` (see `axonhub.credentials`). Pure functions of the environment; nothing is created here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

CONFIG_NAME = "axonhub.yml"
CONFIG_ENV = "AXONHUB_CONFIG"

Source = Literal["option", "env", "cwd", "user", "none"]


@dataclass(frozen=True, slots=True)
class ConfigLocation:
    """The config file a command uses and why; `source == "none"` when no file was found."""

    path: Path
    source: Source
    looked_in: tuple[Path, ...] = ()

    @property
    def found(self) -> bool:
        return self.source != "none"

    def describe(self) -> str:
        return {
            "option": "given with --config",
            "env": f"given with {CONFIG_ENV}",
            "cwd": "found in the current directory",
            "user": f"the user-level default (no ./{CONFIG_NAME} here)",
            "none": "not found",
        }[self.source]


def user_dir(env: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/axonhub`, `~/.config/axonhub` by default."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path(env.get("HOME") or Path.home()) / ".config"
    return root / "axonhub"


def user_config(env: Mapping[str, str] | None = None) -> Path:
    return user_dir(env) / CONFIG_NAME


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CACHE_HOME/axonhub`, `~/.cache/axonhub` by default."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path(env.get("HOME") or Path.home()) / ".cache"
    return root / "axonhub"


def find_config(
    given: Path | None, given_by: Literal["option", "env"] = "option", env: Mapping[str, str] | None = None
) -> ConfigLocation:
    """The config file to use: the one given, else `./axonhub.yml`, else the user-level one."""
    if given is not None:
        return ConfigLocation(given, given_by)
    here = Path(CONFIG_NAME)
    user = user_config(env)
    if here.is_file():
        return ConfigLocation(here, "cwd")
    if user.is_file():
        return ConfigLocation(user, "user", (here.absolute(),))
    return ConfigLocation(here, "none", (here.absolute(), user))


def not_found_hint(location: ConfigLocation) -> str:
    """What to do when no config file was found."""
    looked = " and ".join(str(p) for p in location.looked_in)
    return (
        f"no AxonHub config file found (looked for {looked}); "
        f"name one with --config PATH or {CONFIG_ENV}=PATH, or create the user-level one with "
        "`axonhub config init`"
    )
