"""Pieces shared by storage pool and volume XML: sizes with units, permissions, paths,
<auth>/<secret> lookups and volume <encryption> (storage_conf.c, storage_source_conf.c,
storage_encryption_conf.c, virsecret.c in libvirt)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyvirt import constants as c
from pyvirt.conf import xmlutil as x
from pyvirt.conf.network.netdev import prop_enum, prop_uint
from pyvirt.conf.xmlutil import Element  # noqa: E402
from pyvirt.errors import raise_error

LLONG_MAX = 2**63 - 1
ULLONG_MAX = 2**64 - 1


def storage_err(code: int, detail: str) -> None:
    raise_error(code, detail, domain=c.VIR_FROM_STORAGE)


def _none_err(code: int, detail: str) -> None:
    # util/ helpers (virsecret.c) report without an error domain
    raise_error(code, detail, domain=c.VIR_FROM_NONE)


def scale_size(value: int, unit: str | None, limit: int = LLONG_MAX) -> int:
    """libvirt's virScaleInteger with scale 1: ``value`` in ``unit`` as bytes.

    Units are case-insensitive: b/byte/bytes, k/KiB (1024), KB (1000), ... up to E.
    """
    suffix = unit or ""
    if not suffix or suffix.lower() in ("b", "byte", "bytes"):
        factor = 1
    else:
        if len(suffix) == 1 or suffix[1:].lower() == "ib":
            base = 1024
        elif len(suffix) == 2 and suffix[1].lower() == "b":
            base = 1000
        else:
            raise_error(c.VIR_ERR_INVALID_ARG, f"unknown suffix '{suffix}'",
                        domain=c.VIR_FROM_NONE)
        power = "kmgtpe".find(suffix[0].lower()) + 1
        if power == 0:
            raise_error(c.VIR_ERR_INVALID_ARG, f"unknown suffix '{suffix}'",
                        domain=c.VIR_FROM_NONE)
        factor = base**power
    if value and value > limit // factor:
        raise_error(c.VIR_ERR_OVERFLOW, f"value too large: {value}{suffix}",
                    domain=c.VIR_FROM_NONE)
    return value * factor


def parse_ull(text: str) -> int | None:
    """virStrToLong_ullp: a non-negative decimal, None when malformed."""
    stripped = text.strip(" \t\n")
    if not stripped.isdigit():
        return None
    number = int(stripped)
    return number if number <= ULLONG_MAX else None


def parse_size(text: str, unit: str | None, what: str = "capacity") -> int:
    """virStorageSize: a <capacity>/<allocation> value with its unit, in bytes."""
    number = parse_ull(text)
    if number is None:
        storage_err(c.VIR_ERR_XML_ERROR, f"malformed {what} element")
    assert number is not None
    return scale_size(number, unit)


def sanitize_path(path: str) -> str:
    """virFileSanitizePath: collapse repeated '/', drop a trailing '/' (URIs untouched)."""
    uri = path.find("://")
    if uri >= 0 and path.find("/") > uri:
        return path
    out: list[str] = []
    i = 0
    if path.startswith("//") and path[2:3] != "/":
        out.append("//")
        i = 2
    n = len(path)
    while i < n:
        ch = path[i]
        if ch != "/":
            out.append(ch)
            i += 1
            continue
        while i < n and path[i] == "/":
            i += 1
        if out and i == n:
            break
        out.append("/")
    return "".join(out)


@dataclass
class Permissions:
    """<permissions>: None means "not set" (libvirt's -1)."""

    mode: int | None = None
    owner: int | None = None
    group: int | None = None
    label: str | None = None

    def is_empty(self) -> bool:
        return self.mode is None and self.owner is None and self.group is None \
            and self.label is None

    @classmethod
    def from_element(cls, node: Element | None) -> Permissions:
        perms = cls()
        if node is None:
            return perms
        mode = node.findtext("mode")
        if mode:
            try:
                value = int(mode.strip(), 8)
            except ValueError:
                value = -1
            if value < 0 or value & ~0o777:
                storage_err(c.VIR_ERR_XML_ERROR, "malformed octal mode")
            perms.mode = value
        for attr in ("owner", "group"):
            child = node.find(attr)
            if child is None:
                continue
            try:
                value = int((child.text or "").strip())
            except ValueError:
                value = -2
            if value != -1 and not 0 <= value < 2**32:
                storage_err(c.VIR_ERR_XML_ERROR, f"malformed {attr} element")
            if value != -1 and value != 2**32 - 1:
                setattr(perms, attr, value)
        label = node.findtext("label")
        perms.label = label if label else None
        return perms

    def format(self, parent: Element) -> None:
        if self.is_empty():
            return
        node = x.sub(parent, "permissions")
        if self.mode is not None:
            x.sub(node, "mode", f"0{self.mode:o}")
        if self.owner is not None:
            x.sub(node, "owner", self.owner)
        if self.group is not None:
            x.sub(node, "group", self.group)
        if self.label is not None:
            x.sub(node, "label", self.label)


@dataclass
class SecretLookup:
    """A <secret uuid=.../> or <secret usage=.../> reference."""

    uuid: str | None = None
    usage: str | None = None
    type: str | None = None

    @classmethod
    def from_element(cls, node: Element) -> SecretLookup:
        uuid, usage = node.get("uuid"), node.get("usage")
        if uuid is None and usage is None:
            _none_err(c.VIR_ERR_XML_ERROR, "missing secret uuid or usage attribute")
        if uuid is not None and usage is not None:
            _none_err(c.VIR_ERR_XML_ERROR, "either secret uuid or usage expected")
        lookup = cls(type=node.get("type"))
        if uuid is not None:
            lookup.uuid = x.parse_uuid(uuid)
            if lookup.uuid is None:
                _none_err(c.VIR_ERR_XML_ERROR, f"invalid secret uuid '{uuid}'")
        else:
            lookup.usage = usage
        return lookup

    def format(self, parent: Element, type_: str | None = None) -> None:
        x.sub(parent, "secret", type=type_, uuid=self.uuid, usage=self.usage)


@dataclass
class AuthDef:
    username: str
    type: str | None = None  # 'chap' / 'ceph'
    secret: SecretLookup = field(default_factory=SecretLookup)

    @classmethod
    def from_element(cls, node: Element) -> AuthDef:
        username = node.get("username")
        if username is None:
            storage_err(c.VIR_ERR_XML_ERROR, "missing username for auth")
        assert username is not None
        auth = cls(username=username)
        atype = node.get("type")
        if atype is not None:
            if atype not in ("none", "chap", "ceph"):
                storage_err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"unknown auth type '{atype}'")
            auth.type = None if atype == "none" else atype
        secret = node.find("secret")
        if secret is None:
            storage_err(c.VIR_ERR_XML_ERROR, "Missing <secret> element in auth")
        assert secret is not None
        auth.secret = SecretLookup.from_element(secret)
        return auth

    def format(self, parent: Element) -> None:
        node = x.sub(parent, "auth", type=self.type, username=self.username)
        self.secret.format(node, self.secret.type)


ENCRYPTION_FORMATS = ("default", "qcow", "luks", "luks2")


@dataclass
class EncryptionDef:
    format: str = "default"
    engine: str | None = None  # 'qemu' / 'librbd'
    secrets: list[SecretLookup] = field(default_factory=list)  # type is 'passphrase'
    cipher_name: str | None = None
    cipher_size: int = 0
    cipher_mode: str | None = None
    cipher_hash: str | None = None
    ivgen_name: str | None = None
    ivgen_hash: str | None = None

    @classmethod
    def from_element(cls, node: Element) -> EncryptionDef:
        fmt = node.get("format")
        if fmt is None:
            storage_err(c.VIR_ERR_XML_ERROR, "unknown volume encryption format")
        assert fmt is not None
        if fmt not in ENCRYPTION_FORMATS:
            storage_err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                        f"unknown volume encryption format type {fmt}")
        enc = cls(format=fmt)
        enc.engine = prop_enum(node, "engine", ("qemu", "librbd"))
        for snode in node.iterfind("secret"):
            stype = snode.get("type")
            if stype is None:
                storage_err(c.VIR_ERR_XML_ERROR, "unknown volume encryption secret type")
            if stype != "passphrase":
                storage_err(c.VIR_ERR_CONFIG_UNSUPPORTED,
                            f"unknown volume encryption secret type {stype}")
            enc.secrets.append(SecretLookup.from_element(snode))
        if fmt == "luks":
            cipher = node.find("cipher")
            if cipher is not None:
                name = cipher.get("name")
                if name is None:
                    storage_err(c.VIR_ERR_XML_ERROR, "cipher info missing 'name' attribute")
                size = prop_uint(cipher, "size", required=True)
                assert size is not None
                enc.cipher_name, enc.cipher_size = name, size
                enc.cipher_mode, enc.cipher_hash = cipher.get("mode"), cipher.get("hash")
            ivgen = node.find("ivgen")
            if ivgen is not None:
                if enc.cipher_name is None:
                    storage_err(c.VIR_ERR_XML_ERROR,
                                "ivgen element found, but cipher is missing")
                enc.ivgen_name = ivgen.get("name")
                if enc.ivgen_name is None:
                    storage_err(c.VIR_ERR_XML_ERROR, "missing ivgen info name string")
                enc.ivgen_hash = ivgen.get("hash")
        return enc

    def format_xml(self, parent: Element) -> None:
        node = x.sub(parent, "encryption", format=self.format, engine=self.engine)
        for secret in self.secrets:
            secret.format(node, "passphrase")
        if self.format == "luks" and self.cipher_name:
            x.sub(node, "cipher", name=self.cipher_name, size=self.cipher_size,
                  mode=self.cipher_mode, hash=self.cipher_hash)
            if self.ivgen_name:
                x.sub(node, "ivgen", name=self.ivgen_name, hash=self.ivgen_hash)
        if len(node) == 0:
            x.keep_open(node, lines=True)
