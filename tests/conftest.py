"""Fixtures every test gets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ports import release_reserved_ports


@pytest.fixture(autouse=True)
def _reserved_ports_end_with_the_test() -> Iterator[None]:
    """Ports a test reserved (`tests.ports.free_ports`) stay its own until it ends, its restarts included; then
    other tests may have them. Autouse and outermost: released only after the test's own fixtures stopped the
    components that listened on them."""
    yield
    release_reserved_ports()
