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


def _find(name: str) -> Path | None:
    for folder in _SEARCH:
        path = folder / name
        if path.is_file():
            return path
    return None


@functools.cache
def _load(path: Path) -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(path)))


def validate(root: etree._Element, name: str) -> None:
    """Raise VIR_ERR_XML_INVALID_SCHEMA when ``root`` does not match schema ``name``, worded
    as virXMLValidateAgainstSchema: the schema's path, then every libxml2 report, one a line."""
    path = _find(name)
    if path is None:
        raise_error(c.VIR_ERR_INTERNAL_ERROR, f"Unable to find RNG schema '{name}'",
                    domain=c.VIR_FROM_XML)
    assert path is not None
    schema = _load(path)
    if not schema.validate(root):
        detail = "".join(f"{entry.message}\n" for entry in schema.error_log)
        raise_error(c.VIR_ERR_XML_INVALID_SCHEMA, f"Unable to validate doc against {path}\n"
                    f"{detail}", domain=c.VIR_FROM_XML)
