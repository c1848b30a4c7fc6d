"""Secret XML (virSecretDefineXML / virSecretGetXMLDesc), after libvirt's secret_conf.c."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pyvirt import constants as c
from pyvirt.conf import xmlutil as x
from pyvirt.conf.xmlutil import Element
from pyvirt.errors import raise_error

# usage type -> (element holding its id, the word libvirt's "missing" message uses)
USAGE_ID_ELEMENT: dict[str, tuple[str, str]] = {
    "volume": ("volume", "volume usage specified, but volume path is missing"),
    "ceph": ("name", "Ceph usage specified, but name is missing"),
    "iscsi": ("target", "iSCSI usage specified, but target is missing"),
    "tls": ("name", "TLS usage specified, but name is missing"),
    "vtpm": ("name", "vTPM usage specified, but name is missing"),
}
# VIR_SECRET_USAGE_TYPE_* numbers by name.
USAGE_TYPES = {"none": c.VIR_SECRET_USAGE_TYPE_NONE, "volume": c.VIR_SECRET_USAGE_TYPE_VOLUME,
               "ceph": c.VIR_SECRET_USAGE_TYPE_CEPH, "iscsi": c.VIR_SECRET_USAGE_TYPE_ISCSI,
               "tls": c.VIR_SECRET_USAGE_TYPE_TLS, "vtpm": c.VIR_SECRET_USAGE_TYPE_VTPM}


def _string(parent: Element, path: str) -> str | None:
    """libvirt's virXPathString: the text, or None when absent or empty."""
    text = x.text_of(parent, path)
    return text if text else None


def _err(code: int, detail: str) -> None:
    raise_error(code, detail, domain=c.VIR_FROM_SECRET)


@dataclass
class SecretDef:
    uuid: str = ""
    ephemeral: bool = False
    private: bool = False
    description: str | None = None
    usage_type: str = "none"  # none | volume | ceph | iscsi | tls | vtpm
    usage_id: str | None = None  # volume path, ceph/tls/vtpm name, iscsi target

    @property
    def usage_type_id(self) -> int:
        """The VIR_SECRET_USAGE_TYPE_* number (virSecretGetUsageType)."""
        return USAGE_TYPES[self.usage_type]

    @classmethod
    def from_xml(cls, text: str | bytes) -> SecretDef:
        return cls.from_element(x.parse_document(text, "secret", "(definition_of_secret)",
                                            c.VIR_FROM_SECRET))

    @classmethod
    def from_element(cls, root: Element) -> SecretDef:
        secret = cls()
        for attr in ("ephemeral", "private"):
            value = root.get(attr)
            if value:
                if value not in ("yes", "no"):
                    _err(c.VIR_ERR_XML_ERROR, f"invalid value of '{attr}'")
                setattr(secret, attr, value == "yes")
        uuid = _string(root, "uuid")
        if uuid is None:
            secret.uuid = x.new_uuid()
        else:
            parsed = x.parse_uuid(uuid)
            if parsed is None:
                _err(c.VIR_ERR_INTERNAL_ERROR, "malformed uuid element")
            secret.uuid = parsed or ""
        secret.description = _string(root, "description")
        usage = root.find("usage")
        if usage is not None:
            kind = usage.get("type")
            if not kind:
                _err(c.VIR_ERR_XML_ERROR, "unknown secret usage type")
            if kind not in USAGE_TYPES:
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"unknown secret usage type {kind}")
            secret.usage_type = kind or "none"
            if secret.usage_type in USAGE_ID_ELEMENT:
                tag, missing = USAGE_ID_ELEMENT[secret.usage_type]
                secret.usage_id = _string(usage, tag)
                if secret.usage_id is None:
                    _err(c.VIR_ERR_INTERNAL_ERROR, missing)
        return secret

    def to_element(self) -> Element:
        root = x.element("secret", ephemeral=x.yes_no(self.ephemeral),
                         private=x.yes_no(self.private))
        x.sub(root, "uuid", self.uuid)
        if self.description is not None:
            x.sub(root, "description", self.description)
        if self.usage_type != "none":
            usage = x.keep_open(x.sub(root, "usage", type=self.usage_type), lines=True)
            if self.usage_id is not None:
                x.sub(usage, USAGE_ID_ELEMENT[self.usage_type][0], self.usage_id)
        return root

    def to_xml(self) -> str:
        return x.to_string(self.to_element())

    def copy(self) -> SecretDef:
        return dataclasses.replace(self)
