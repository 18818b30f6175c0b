"""The tiny backbone and tiny Marian MT model the stacking tests share."""

from __future__ import annotations

import pytest

from tests.marian_tiny import save_tiny_mt
from tests.tiny import save_tiny_model


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    root = tmp_path_factory.mktemp("stack")
    return save_tiny_model(root / "backbone"), save_tiny_mt(root / "mt")
