"""Fixtures of the model-adapter tests."""

from __future__ import annotations

import pytest

@pytest.fixture(params=["classification", "regression"])
def task(request):
    return request.param
