"""Headless Chromium: the DOM of a page after its scripts ran, and screenshots (Debian package `chromium`)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from polyglot_kd.core.errors import PolyglotError

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# No network, no GPU, no first-run dialogs or background updates; a fresh profile per run (--user-data-dir).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--hide-scrollbars", "--disable-extensions")


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable on PATH, or None."""
    return next((path for name in NAMES if (path := shutil.which(name))), None)


def page_url(path: Path, fragment: str = "") -> str:
    return Path(path).resolve().as_uri() + (f"#{fragment}" if fragment else "")


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    exe = find_chromium()
    if exe is None:
        raise PolyglotError("no Chromium found (looked for " + ", ".join(NAMES) + "); install it: apt-get install -y chromium")
    with tempfile.TemporaryDirectory(prefix="polyglot-kd-chromium-") as profile:
        try:
            done = subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise PolyglotError(f"chromium did not finish within {timeout:.0f} s: {' '.join(args)}") from None
    if done.returncode != 0:
        raise PolyglotError(f"chromium failed ({done.returncode}) on {args[-1]}: {done.stderr.strip()[-500:]}")
    return done


def dump_dom(url: str, timeout: float = 60) -> str:
    """The page's DOM serialised after its scripts ran."""
    return _run(["--dump-dom", url], timeout).stdout


def screenshot(url: str, path: Path, width: int = 1400, height: int = 1600, timeout: float = 60) -> Path:
    """A PNG of the page's first `width` x `height` pixels."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    _run([f"--screenshot={path}", f"--window-size={width},{height}", url], timeout)
    if not path.is_file():
        raise PolyglotError(f"chromium wrote no screenshot to {path}")
    return path
