"""User-facing errors: the CLI prints their message and exits 2, with no traceback."""

from __future__ import annotations


class PolyglotError(Exception):
    """A problem the user can fix (bad input, missing package, corrupt file)."""


class ConfigError(PolyglotError):
    """One or more problems in a configuration, all reported at once."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in {source}:\n{lines}")


def did_you_mean(value: str, known: list[str] | set[str]) -> str:
    """A ' (did you mean X?)' hint for a misspelled name, or ''."""
    import difflib

    close = difflib.get_close_matches(value, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
