"""Fixtures: an in-process pyvirtd (sockets under tmp_path/run), and a pyvirtd process
for tests that depend on test:///default's state (in this process, another test that
left a connection to it open would keep its changes alive)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from unit.daemon.support import InProcessDaemon, Pyvirtd


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[InProcessDaemon]:
    with InProcessDaemon(tmp_path) as d:
        yield d


@pytest.fixture(scope="module")
def pyvirtd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pyvirtd]:
    with Pyvirtd(tmp_path_factory.mktemp("pyvirtd")) as d:
        yield d
