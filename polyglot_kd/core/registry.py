"""One registry class for every kind of variant: stages, tasks, task kinds, training methods,
embedding initialisations, distillation losses.

An entry is declared in one line, by name, with where its object lives ("module:attribute"), so the
names a config accepts are known without importing torch; the object is imported on first use.
Light facts a config check needs (a loss's kinds, say) travel with the declaration as `info`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from polyglot_kd.core.errors import PolyglotError, did_you_mean


@dataclass
class Entry:
    name: str
    target: str
    """'package.module:attribute', or 'package.module' for a module itself."""
    info: dict = field(default_factory=dict)
    loaded: Any = None


class Registry:
    """Named variants of one kind, in declaration order."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def add(self, name: str, target: str, **info) -> None:
        """Declare `name`, implemented at `target` ('module:attribute' or 'module')."""
        if name in self._entries and self._entries[name].target != target:
            raise ValueError(f"{self.kind} {name!r} declared twice ({self._entries[name].target}, {target})")
        self._entries[name] = Entry(name, target, info)

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def info(self, name: str) -> dict:
        return self._entry(name).info

    def get(self, name: str) -> Any:
        """The object registered as `name`, imported on first use."""
        entry = self._entry(name)
        if entry.loaded is None:
            module, _, attribute = entry.target.partition(":")
            obj = importlib.import_module(module)
            entry.loaded = getattr(obj, attribute) if attribute else obj
        return entry.loaded

    def problem(self, name: str, where: str) -> str | None:
        """A config check's message for an unknown name, or None."""
        if name in self._entries:
            return None
        return f"{where}: {name!r} is not one of {self.names()}{did_you_mean(name, self.names())}"

    def _entry(self, name: str) -> Entry:
        if name not in self._entries:
            raise PolyglotError(f"unknown {self.kind} {name!r}{did_you_mean(name, self.names())}; "
                                f"known: {', '.join(self.names())}")
        return self._entries[name]
