"""Secret XML: libvirt's secretxml2xml corpus, defaults and libvirt's errors."""

from __future__ import annotations

import glob
import os

import pytest

from pyvirt import constants as c
from pyvirt.conf.secret import SecretDef
from pyvirt.errors import libvirtError

# libvirt 9.0.0's source tree (scripts/run-tests exports it; tests skip without it).
LIBVIRT_SRC = os.environ.get("PYVIRT_LIBVIRT_SRC", "/tmp/libvirt-src/src")

CORPUS = sorted(glob.glob(os.path.join(LIBVIRT_SRC, "tests", "secretxml2xmlin/*.xml")))


@pytest.mark.skipif(not CORPUS, reason="libvirt source tree not available")
@pytest.mark.parametrize("path", CORPUS, ids=os.path.basename)
def test_corpus_roundtrip(path: str) -> None:
    text = open(path).read()
    assert SecretDef.from_xml(text).to_xml() == text


def test_defaults() -> None:
    secret = SecretDef.from_xml("<secret/>")
    assert len(secret.uuid) == 36
    assert secret.to_xml() == (
        f"<secret ephemeral='no' private='no'>\n  <uuid>{secret.uuid}</uuid>\n</secret>\n"
    )
    assert secret.usage_type_id == c.VIR_SECRET_USAGE_TYPE_NONE
    other = SecretDef.from_xml("<secret/>")
    assert other.uuid != secret.uuid


def test_usage_ids() -> None:
    secret = SecretDef.from_xml(
        "<secret private='yes'><uuid>27f25d34aea64e2abe85fa2c18380be8</uuid>"
        "<usage type='iscsi'><target>t1</target></usage></secret>"
    )
    assert secret.uuid == "27f25d34-aea6-4e2a-be85-fa2c18380be8"
    assert (secret.usage_type, secret.usage_id) == ("iscsi", "t1")
    assert secret.usage_type_id == c.VIR_SECRET_USAGE_TYPE_ISCSI
    assert secret.private and not secret.ephemeral


@pytest.mark.parametrize(
    "xml,code,message",
    [
        (
            "<secret ephemeral='maybe'/>",
            c.VIR_ERR_XML_ERROR,
            "XML error: invalid value of 'ephemeral'",
        ),
        ("<secret private='1'/>", c.VIR_ERR_XML_ERROR, "XML error: invalid value of 'private'"),
        (
            "<secret><uuid>zzz</uuid></secret>",
            c.VIR_ERR_INTERNAL_ERROR,
            "internal error: malformed uuid element",
        ),
        ("<secret><usage/></secret>", c.VIR_ERR_XML_ERROR, "XML error: unknown secret usage type"),
        (
            "<secret><usage type='disk'/></secret>",
            c.VIR_ERR_CONFIG_UNSUPPORTED,
            "unsupported configuration: unknown secret usage type disk",
        ),
        (
            "<secret><usage type='volume'/></secret>",
            c.VIR_ERR_INTERNAL_ERROR,
            "internal error: volume usage specified, but volume path is missing",
        ),
        (
            "<secret><usage type='ceph'><name></name></usage></secret>",
            c.VIR_ERR_INTERNAL_ERROR,
            "internal error: Ceph usage specified, but name is missing",
        ),
        ("<domain/>", c.VIR_ERR_XML_ERROR, None),
    ],
)
def test_errors(xml: str, code: int, message: str | None) -> None:
    with pytest.raises(libvirtError) as err:
        SecretDef.from_xml(xml)
    assert err.value.get_error_code() == code
    if message is not None:
        assert str(err.value) == message
        assert err.value.get_error_domain() == c.VIR_FROM_SECRET
