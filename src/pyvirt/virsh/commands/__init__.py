"""pyvirsh's command groups, one module each; every module registers its commands at import.

``load_all()`` imports them the first time the command table is needed. A module listed here
that does not exist (yet) is skipped.
"""

from __future__ import annotations

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
    "secret",
    "nodedev",
    "interface",
)


# Where a command most likely lives, by name prefix: one command line then imports one or
# two group modules instead of all of them. Only a hint: a miss loads every module.
_HINTS = (
    ("net-", "network"), ("secret-", "secret"), ("nodedev-", "nodedev"),
    ("iface-", "interface"), ("pool-", "pool"), ("vol-", "volume"), ("snapshot-", "snapshot"),
    ("node", "host"), ("event", "events"), ("dom", "monitor"), ("list", "monitor"),
)


def load_module(name: str) -> None:
    """Import group module ``name`` (registering its commands); a missing one is skipped."""
    full = f"{__name__}.{name}"
    try:
        __import__(full)  # importlib.import_module's own import costs start-up ~1 ms
    except ModuleNotFoundError as exc:
        if exc.name != full:  # a real missing dependency inside the module
            raise


def likely_modules(command: str) -> list[str]:
    """The group modules to try first for ``command``."""
    for prefix, module in _HINTS:
        if command.startswith(prefix):
            return [module, "domain"] if module == "monitor" else [module]
    return ["domain", "monitor", "host"]


def load_all() -> None:
    for name in MODULES:
        load_module(name)
