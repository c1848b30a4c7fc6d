"""constants.py and _api_names.py are generated from libvirt's API description; re-running the
generator must reproduce them exactly (fails on drift), where libvirt-dev is installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location(
        "gen_constants", TOP / "scripts" / "gen_constants.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_files_match_libvirt_api_description() -> None:
    gen = _generator()
    files = gen.default_api_files()
    if not files:
        pytest.skip("libvirt-dev's API description is not installed")
    constants_text, names_text = gen.generate(files)
    assert (TOP / "src" / "pyvirt" / "constants.py").read_text() == constants_text
    assert (TOP / "src" / "pyvirt" / "_api_names.py").read_text() == names_text


def test_constant_values_are_libvirts() -> None:
    from pyvirt import constants as c

    assert c.LIBVIR_VERSION_NUMBER == 9000000
    assert c.VIR_DOMAIN_SHUTOFF == 5
    assert c.VIR_DOMAIN_EVENT_ID_LIFECYCLE == 0
    assert c.VIR_FROM_TEST == 12
    assert c.VIR_ERR_NO_SUPPORT == 3
    # Sentinels are left out as libvirt-python leaves them out; aliases stay.
    assert not hasattr(c, "VIR_DOMAIN_LAST")
    assert c.VIR_DOMAIN_MEMORY_STAT_LAST == c.VIR_DOMAIN_MEMORY_STAT_NR
