"""Domain checkpoint XML (<domaincheckpoint>), after libvirt's checkpoint_conf.c.

As for snapshots, ``redefine`` reads back the saved fields (creationTime, parent, domain);
otherwise the creation time, and the name when absent, come from the clock. libvirt always
validates checkpoint XML against its schema; the schema rules that matter (disk names,
checkpoint names usable as file names, known checkpoint types) are checked here.
"""

from __future__ import annotations

import copy as _copy
import re
import time
from dataclasses import dataclass, field

from pyvirt import constants as c
from pyvirt.conf import xmlutil as x
from pyvirt.conf.snapshot import format_domain, parse_domain, xpath_string
from pyvirt.conf.xmlutil import Element
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CHECKPOINT_TYPES = ("default", "no", "bitmap")
# domaincheckpoint.rng: no leading ".", no "/" or newline.
_NAME_RE = re.compile(r"^[a-zA-Z0-9_\-][a-zA-Z0-9_\-.]*$")


def _err(code: int, detail: str) -> None:
    raise_error(code, detail, domain=c.VIR_FROM_DOMAIN_CHECKPOINT)


def _schema_error(detail: str) -> None:
    raise_error(c.VIR_ERR_XML_INVALID_SCHEMA, detail, domain=c.VIR_FROM_XML)


@dataclass
class CheckpointDiskDef:
    name: str
    checkpoint: str = "bitmap"  # default | no | bitmap
    bitmap: str | None = None
    size: int | None = None  # bytes, filled in by drivers for VIR_DOMAIN_CHECKPOINT_XML_SIZE

    def to_element(self, with_size: bool) -> Element:
        node = x.element("disk", name=self.name,
                         checkpoint=self.checkpoint if self.checkpoint != "default" else None,
                         bitmap=self.bitmap)
        if self.bitmap and with_size and self.size is not None:
            node.set("size", str(self.size))
        return node


@dataclass
class CheckpointDef:
    name: str | None = None
    description: str | None = None
    parent: str | None = None
    creation_time: int = 0
    disks: list[CheckpointDiskDef] = field(default_factory=list)
    domain: Any = None  # DomainDef (or RawDomain)

    @classmethod
    def from_xml(cls, text: str | bytes, *, redefine: bool = False,
                 now: int | None = None) -> CheckpointDef:
        root = x.parse_document(text, "domaincheckpoint", "(domain_checkpoint)",
                                  c.VIR_FROM_DOMAIN_CHECKPOINT)
        return cls.from_element(root, redefine=redefine, now=now)

    @classmethod
    def from_element(cls, root: Element, *, redefine: bool = False,
                     now: int | None = None) -> CheckpointDef:
        cls._validate(root)
        chk = cls(name=xpath_string(root, "name"))
        if chk.name is None and redefine:
            _err(c.VIR_ERR_XML_ERROR, "a redefined checkpoint must have a name")
        chk.description = xpath_string(root, "description")
        if redefine:
            created = xpath_string(root, "creationTime")
            try:
                chk.creation_time = int(created or "")
            except ValueError:
                _err(c.VIR_ERR_INTERNAL_ERROR, "missing creationTime from existing checkpoint")
            chk.parent = xpath_string(root, "parent/name")
            dom = root.find("domain")
            if dom is not None:
                chk.domain = parse_domain(dom)
        else:
            chk.creation_time = int(time.time()) if now is None else now
            if chk.name is None:
                chk.name = str(chk.creation_time)
        disks = root.find("disks")
        if disks is not None:
            for node in disks:
                if not isinstance(node.tag, str):
                    continue
                size = node.get("size")
                chk.disks.append(CheckpointDiskDef(
                    name=node.get("name", ""), checkpoint=node.get("checkpoint", "bitmap"),
                    bitmap=node.get("bitmap"), size=int(size) if size else None,
                ))
        return chk

    @staticmethod
    def _validate(root: Element) -> None:
        """The checks libvirt gets from domaincheckpoint.rng (always validated)."""
        name = x.text_of(root, "name")
        if name is not None and not _NAME_RE.match(name):
            _schema_error(f"Invalid value '{name}' for checkpoint name")
        for disk in root.iterfind("disks/*"):
            if disk.tag != "disk" or not disk.get("name"):
                _schema_error("missing name from disk checkpoint element")
            kind = disk.get("checkpoint")
            if kind is not None and kind not in CHECKPOINT_TYPES[1:]:
                _schema_error(f"Invalid value '{kind}' for disk checkpoint")
            size = disk.get("size")
            if size is not None and not size.isdigit():
                _schema_error(f"Invalid value '{size}' for disk checkpoint size")

    def to_element(self, *, secure: bool = False, no_domain: bool = False,
                   size: bool = False) -> Element:
        root = x.element("domaincheckpoint")
        if self.name is not None:
            x.sub(root, "name", self.name)
        if self.description is not None:
            x.sub(root, "description", self.description)
        if self.parent:
            parent = x.sub(root, "parent")
            x.sub(parent, "name", self.parent)
        if self.creation_time:
            x.sub(root, "creationTime", self.creation_time)
        if self.disks:
            disks = x.sub(root, "disks")
            for disk in self.disks:
                if disk.name:
                    disks.append(disk.to_element(size))
        if self.domain is not None and not no_domain:
            root.append(format_domain(self.domain, secure))
        return root

    def to_xml(self, *, secure: bool = False, no_domain: bool = False,
               size: bool = False) -> str:
        """virDomainCheckpointDefFormat (VIR_DOMAIN_CHECKPOINT_XML_SECURE/NO_DOMAIN/SIZE)."""
        return x.to_string(self.to_element(secure=secure, no_domain=no_domain, size=size))

    def domain_uuid(self) -> str | None:
        return getattr(self.domain, "uuid", None) if self.domain is not None else None

    def copy(self) -> CheckpointDef:
        dup = _copy.copy(self)
        dup.disks = [_copy.copy(d) for d in self.disks]
        dup.domain = self.domain.copy() if self.domain is not None else None
        return dup
