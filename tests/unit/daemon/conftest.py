"""Fixtures: an in-process pyvirtd (sockets under tmp_path/run)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from unit.daemon.support import InProcessDaemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[InProcessDaemon]:
    with InProcessDaemon(tmp_path) as d:
        yield d
