"""The libvirt 9.0.0 source tree the corpus tests read (libvirt's own test data), found the
way scripts/xml_roundtrip.py looks for it: $PYVIRT_LIBVIRT_SRC, /tmp/libvirt-src/src, or
the copy that script unpacks into ~/.cache/pyvirt."""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CANDIDATES = (os.environ.get("PYVIRT_LIBVIRT_SRC"), "/tmp/libvirt-src/src",
              os.path.expanduser("~/.cache/pyvirt/libvirt-src"))


def xml_roundtrip() -> ModuleType:
    """scripts/xml_roundtrip.py as a module (loaded once per process)."""
    mod = sys.modules.get("xml_roundtrip")
    if mod is None:
        path = os.path.join(ROOT, "scripts", "xml_roundtrip.py")
        spec = importlib.util.spec_from_file_location("xml_roundtrip", path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules["xml_roundtrip"] = mod
        spec.loader.exec_module(mod)
    return mod


def libvirt_tree() -> str | None:
    """The source tree's root, or None when it is not on this machine."""
    mod = xml_roundtrip()
    for cand in CANDIDATES:
        tree = mod._tree_under(cand) if cand else None
        if tree:
            return str(tree)
    return None
