"""Files that are never seen half-written, and the hashes and fingerprints that say what made them."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

TRACKED_PACKAGES = ("torch", "transformers", "tokenizers", "numpy", "polyglot-kd")


def write_text_atomic(path: Path, text: str) -> None:
    """Write UTF-8 text under a temporary name, then rename: a reader sees the old file or the new one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_json_atomic(path: Path, data) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str))


def inputs_hash(inputs: dict) -> str:
    """SHA-256 of a JSON-able description of what a result was made from."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_fingerprint(path: Path) -> str:
    """Changes whenever the model's files change (names, sizes, modification times); cheap."""
    h = hashlib.sha256(str(Path(path).resolve()).encode())
    for f in sorted(Path(path).iterdir()):
        if f.is_file():
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def package_version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    """Python, the tracked packages and the source's git commit, for manifests and result files."""
    out = {"python": platform.python_version()} | {name: package_version(name) for name in TRACKED_PACKAGES}
    try:
        out["git"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                    cwd=Path(__file__).parent, timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        out["git"] = "unknown"
    return out
