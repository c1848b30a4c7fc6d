"""pyvirsh's command groups, one module each; every module registers its commands at import.

``load_all()`` imports them the first time the command table is needed. A module listed here
that does not exist (yet) is skipped.
"""

from __future__ import annotations

import importlib

MODULES = (
    "virsh_itself",
    "domain",
    "monitor",
    "events",
    "snapshot",
    "host",
    "network",
    "pool",
    "volume",
)


def load_all() -> None:
    for name in MODULES:
        full = f"{__name__}.{name}"
        try:
            importlib.import_module(full)
        except ModuleNotFoundError as exc:
            if exc.name != full:  # a real missing dependency inside the module
                raise
