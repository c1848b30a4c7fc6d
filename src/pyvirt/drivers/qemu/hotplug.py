"""Device hotplug and vCPU changes of running QEMU guests (mixed into QemuDriver)."""

from __future__ import annotations


class QemuHotplugMixin:
    """Device and vCPU entry points; ``self`` is the QemuDriver."""
