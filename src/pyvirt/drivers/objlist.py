"""Helpers every driver's object lists share (networks, pools, node devices): list filter
groups and queuing an object's event."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def queue_event(driver: Any, family: str, event_id: int, ident: tuple[Any, ...],
                *payload: Any) -> None:
    """Queue a ``family`` event (``ident``: name[, uuid] of the object) on the driver's
    event state, built by the state's ``<family>_event`` factory."""
    if not driver.events.wanted():
        return
    make = getattr(driver.events, f"{family}_event")
    driver.events.queue(make(event_id, *ident, *payload))


def match_filter(flags: int, active_bits: tuple[int, int], value: bool) -> bool:
    """One libvirt list filter group: (flag-if-true, flag-if-false) against ``value``."""
    yes, no = active_bits
    if not flags & (yes | no):
        return True
    return bool((flags & yes and value) or (flags & no and not value))
