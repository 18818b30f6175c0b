"""Where polyglot-kd keeps downloaded packages, converted models and builds."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_WORKDIR = Path("builds")


def cache_dir() -> Path:
    """Root of the cache: $POLYGLOT_KD_CACHE, else $XDG_CACHE_HOME/polyglot-kd, else ~/.cache/polyglot-kd."""
    env = os.environ.get("POLYGLOT_KD_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "polyglot-kd"


def repo_root() -> Path:
    """The source checkout (languages/ and eval/ live beside the package)."""
    return Path(__file__).resolve().parents[2]


def shipped_folder(checkout_folder: str, package: str) -> Path | None:
    """Data files that come with polyglot-kd: the checkout's top-level `checkout_folder` when run from a
    source checkout, else the installed package data `package`; None when neither holds any."""
    checkout = repo_root()
    if (checkout / "pyproject.toml").is_file() and (checkout / checkout_folder).is_dir():
        return checkout / checkout_folder
    from importlib import resources

    # a data folder has no __init__.py: a namespace package, whose files() is a MultiplexedPath; its
    # members are plain paths of an installed package
    try:
        members = list(resources.files(package).iterdir())
    except ModuleNotFoundError:
        return None
    return Path(str(members[0])).parent if members else None
