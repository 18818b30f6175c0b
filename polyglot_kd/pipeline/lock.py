"""One build of a language at a time: `builds/<lang>/.lock`, held with an OS file lock.

The kernel releases the lock when its process dies, however it dies, so a lock is never stuck; the
file also names the holder (pid, host, start time) for the message a second build gets, and a file
left by a dead holder is taken over with a warning.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from polyglot_kd.core.errors import PolyglotError

log = logging.getLogger(__name__)

LOCK_FILE = ".lock"


class BuildLocked(PolyglotError):
    """Another process is building the same language into the same work directory."""


@contextmanager
def build_lock(root: Path, wait_seconds: float = 0.0):
    """Hold `root/.lock` for the duration; another holder makes this wait up to `wait_seconds`,
    then refuse with a message naming it."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise BuildLocked(f"another build of {root.name} is running in {root.parent} "
                                      f"({_describe(_read(path))}); wait for it to finish, or stop it") from None
                time.sleep(0.5)
        previous = _read(path)
        if previous.get("pid") and not _alive(previous):
            log.warning("taking over the lock of a build that is no longer running (%s)", _describe(previous))
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # the file stays (unlinking would race a waiter); empty = free
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _alive(holder: dict) -> bool:
    if holder.get("host") != socket.gethostname():
        return True  # cannot tell for another machine; the OS lock said it is free
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError):
        return True
    return True


def _describe(holder: dict) -> str:
    if not holder:
        return "holder unknown"
    return f"pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('started')}"
