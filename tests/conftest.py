"""Shared fixtures: tiny models and tokenizers built in-process, and an isolated cache."""

from __future__ import annotations

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "real: uses the real embedded teacher or corpora (downloads packages once)")
