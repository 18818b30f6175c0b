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
