"""Checkpoint XML: libvirt's qemudomaincheckpointxml2xml corpus with its own pairing table,
defaults and errors."""

from __future__ import annotations

import os

import pytest

from pyvirt import constants as c
from pyvirt.conf.checkpoint import CheckpointDef, CheckpointDiskDef
from pyvirt.errors import libvirtError

# libvirt 9.0.0's source tree (scripts/run-tests exports it; tests skip without it).
LIBVIRT_SRC = os.environ.get("PYVIRT_LIBVIRT_SRC", "/tmp/libvirt-src/src")

DATA = os.path.join(LIBVIRT_SRC, "tests")
IN, OUT = "qemudomaincheckpointxml2xmlin", "qemudomaincheckpointxml2xmlout"
REDEFINE, PARENT, VDA_BITMAP, SIZE = 1, 2, 4, 8

# As in libvirt's tests/qemudomaincheckpointxml2xmltest.c.
CASES = [
    ("redefine", OUT, 0, REDEFINE),
    ("empty", IN, 1525889631, VDA_BITMAP),
    ("disk-default", IN, 1525889631, PARENT | VDA_BITMAP),
    ("sample", IN, 1525889631, PARENT | VDA_BITMAP),
    ("size", IN, 1553648510, PARENT | VDA_BITMAP | SIZE),
]
INVALID = ["disk-invalid", "name-invalid"]


@pytest.mark.skipif(not os.path.isdir(f"{DATA}/{IN}"), reason="libvirt source tree not available")
@pytest.mark.parametrize("case", CASES, ids=lambda case: case[0])
def test_corpus(case: tuple) -> None:
    name, indir, mocktime, flags = case
    chk = CheckpointDef.from_xml(open(f"{DATA}/{indir}/{name}.xml").read(),
                                 redefine=bool(flags & REDEFINE), now=mocktime)
    if flags & PARENT:
        assert chk.parent is None
        chk.parent = "1525111885"
    if flags & VDA_BITMAP:
        if not chk.disks:
            chk.disks.append(CheckpointDiskDef(name="vda"))
        assert chk.disks[0].name == "vda" and chk.disks[0].bitmap is None
        chk.disks[0].bitmap = chk.name
    if flags & SIZE:
        chk.disks[0].size = 1048576
    out = chk.to_xml(secure=True, size=bool(flags & SIZE))
    assert out == open(f"{DATA}/{OUT}/{name}.xml").read()


@pytest.mark.skipif(not os.path.isdir(f"{DATA}/{IN}"), reason="libvirt source tree not available")
@pytest.mark.parametrize("name", INVALID)
def test_corpus_invalid(name: str) -> None:
    with pytest.raises(libvirtError) as err:
        CheckpointDef.from_xml(open(f"{DATA}/{IN}/{name}.xml").read())
    assert err.value.get_error_code() == c.VIR_ERR_XML_INVALID_SCHEMA


def test_defaults_and_flags() -> None:
    chk = CheckpointDef.from_xml("<domaincheckpoint><disks><disk name='vda'/>"
                                 "<disk name='vdb' checkpoint='no'/></disks>"
                                 "</domaincheckpoint>", now=42)
    assert chk.name == "42" and chk.creation_time == 42
    assert [d.checkpoint for d in chk.disks] == ["bitmap", "no"]
    chk.disks[0].bitmap, chk.disks[0].size = "42", 10
    assert "size='10'" not in chk.to_xml()
    assert "bitmap='42' size='10'" in chk.to_xml(size=True)
    dup = chk.copy()
    dup.disks[0].bitmap = "x"
    assert chk.disks[0].bitmap == "42"


def test_redefine_keeps_saved_fields() -> None:
    text = ("<domaincheckpoint><name>c1</name><parent><name>c0</name></parent>"
            "<creationTime>7</creationTime><domain type='qemu'><name>d</name>"
            "<uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid><memory>65536</memory>"
            "<os><type arch='x86_64'>hvm</type></os></domain></domaincheckpoint>")
    chk = CheckpointDef.from_xml(text, redefine=True)
    assert (chk.name, chk.parent, chk.creation_time) == ("c1", "c0", 7)
    assert chk.domain_uuid() == "c7a5fdbd-edaf-9455-926a-d65c16db1809"
    assert "<domain type='qemu'>" in chk.to_xml()
    assert "<domain " not in chk.to_xml(no_domain=True)
    dup = chk.copy()
    assert dup.domain is not chk.domain and dup.domain_uuid() == chk.domain_uuid()


@pytest.mark.parametrize("xml,kwargs,code,message", [
    ("<domaincheckpoint/>", {"redefine": True}, c.VIR_ERR_XML_ERROR,
     "XML error: a redefined checkpoint must have a name"),
    ("<domaincheckpoint><name>a</name></domaincheckpoint>", {"redefine": True},
     c.VIR_ERR_INTERNAL_ERROR, "internal error: missing creationTime from existing checkpoint"),
    ("<domaincheckpoint><name>.hidden</name></domaincheckpoint>", {},
     c.VIR_ERR_XML_INVALID_SCHEMA, None),
    ("<domaincheckpoint><disks><disk name='vda' checkpoint='x'/></disks></domaincheckpoint>",
     {}, c.VIR_ERR_XML_INVALID_SCHEMA, None),
])
def test_errors(xml: str, kwargs: dict, code: int, message: str | None) -> None:
    with pytest.raises(libvirtError) as err:
        CheckpointDef.from_xml(xml, **kwargs)
    assert err.value.get_error_code() == code
    if message:
        assert str(err.value) == message
