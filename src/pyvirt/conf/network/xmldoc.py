"""Document-level parsing for network (and storage) XML with libvirt's error reports.

The parser itself is the shared ``xmlutil.parse_document``: libxml2's first error under the
calling driver's error domain, followed by the offending line and a ``---^`` pointer. This
module keeps the name older importers use.
"""

from __future__ import annotations

from pyvirt.conf.xmlutil import parse_document

__all__ = ["parse_document"]
