"""RelaxNG validation against libvirt's installed schemas (VIR_ERR_XML_INVALID_SCHEMA)."""

from __future__ import annotations

import os
from functools import lru_cache

from lxml import etree

from pyvirt import constants as c
from pyvirt.conf.xmlutil import Element
from pyvirt.errors import raise_error

SCHEMA_DIRS = ("/usr/share/libvirt/schemas",)


def schema_path(name: str) -> str | None:
    for base in (os.environ.get("PYVIRT_SCHEMA_DIR"), *SCHEMA_DIRS):
        if base and os.path.exists(os.path.join(base, name)):
            return os.path.join(base, name)
    return None


@lru_cache(maxsize=8)
def _load(path: str) -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(path))


def validate(root: Element, schema: str = "domain.rng") -> None:
    path = schema_path(schema)
    if path is None:
        raise_error(c.VIR_ERR_INTERNAL_ERROR, f"Unable to find RNG schema {schema}",
                    domain=c.VIR_FROM_XML)
    rng = _load(path)
    if not rng.validate(root):
        # libvirt relays libxml2's messages, one per line
        detail = "".join(f"{e.message}\n" for e in rng.error_log)
        raise_error(c.VIR_ERR_XML_INVALID_SCHEMA,
                    f"Unable to validate doc against {path}\n{detail}", domain=c.VIR_FROM_XML)
