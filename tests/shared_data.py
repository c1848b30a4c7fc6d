"""Where the shared protocol fixtures live: the copies committed under tests/data (so a fresh
CI machine has them), else the workspace's ../shared directory they were taken from."""

from __future__ import annotations

from pathlib import Path

_TESTS = Path(__file__).resolve().parent
_SHARED = _TESTS.parents[1] / "shared"


def _first(*candidates: Path) -> Path:
    return next((p for p in candidates if p.exists()), candidates[0])


# Real traffic between virsh, libvirt-python and libvirtd 9.0 (see its README.md).
RPC_VECTORS = _first(_TESTS / "data" / "rpc-vectors", _SHARED / "vectors" / "rpc")
# The procedure table of the project's protocol reference.
RPC_PROCEDURES_TSV = _first(_TESTS / "data" / "libvirt-rpc-procedures.tsv",
                            _SHARED / "reference" / "libvirt-rpc-procedures.tsv")
