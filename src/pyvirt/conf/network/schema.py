"""Optional RELAX NG validation of network/storage XML against libvirt's schemas."""

from __future__ import annotations

import functools
from pathlib import Path

from lxml import etree

from pyvirt import constants as c
from pyvirt.errors import raise_error

_SEARCH = (
    Path(__file__).resolve().parent.parent / "schemas",
    Path("/usr/share/libvirt/schemas"),
)


@functools.cache
def _load(name: str) -> etree.RelaxNG | None:
    for folder in _SEARCH:
        path = folder / name
        if path.is_file():
            return etree.RelaxNG(etree.parse(str(path)))
    return None


def validate(root: etree._Element, name: str) -> None:
    """Raise VIR_ERR_XML_INVALID_SCHEMA when ``root`` does not match schema ``name``."""
    schema = _load(name)
    if schema is None:
        raise_error(c.VIR_ERR_INTERNAL_ERROR, f"Unable to find RNG schema '{name}'",
                    domain=c.VIR_FROM_XML)
    assert schema is not None
    if not schema.validate(root):
        entry = schema.error_log.last_error
        detail = entry.message if entry is not None else "document is invalid"
        raise_error(c.VIR_ERR_XML_INVALID_SCHEMA, f"{name}\n{detail}", domain=c.VIR_FROM_XML)
