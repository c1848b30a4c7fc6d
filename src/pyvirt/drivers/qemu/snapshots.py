"""Domain snapshots of the QEMU driver (mixed into QemuDriver)."""

from __future__ import annotations


class QemuSnapshotMixin:
    """Snapshot entry points; ``self`` is the QemuDriver."""
