"""Bad input gets libvirt's error code and a clear message, and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import pyvirt as libvirt
from pyvirt import constants as c

GOOD = """<domain type='test'>
  <name>{name}</name>
  {uuid}
  <memory unit='KiB'>131072</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
</domain>"""


@pytest.fixture
def conn() -> Iterator[libvirt.virConnect]:
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    connection = libvirt.open("test:///default")
    yield connection
    connection.close()
    libvirt.registerErrorHandler(None, None)


def snapshot_of_state(conn: libvirt.virConnect) -> tuple:
    return (
        sorted((d.name(), d.UUIDString(), d.isActive()) for d in conn.listAllDomains()),
        sorted(n.name() for n in conn.listAllNetworks()),
        sorted(p.name() for p in conn.listAllStoragePools()),
    )


def error_of(call) -> libvirt.libvirtError:  # type: ignore[no-untyped-def]
    with pytest.raises(libvirt.libvirtError) as info:
        call()
    return info.value


@pytest.mark.parametrize(
    ("xml", "code"),
    [
        ("<domain type='test'><name>x</name>", c.VIR_ERR_XML_DETAIL),  # not well-formed
        ("", c.VIR_ERR_XML_DETAIL),
        ("<network><name>x</name></network>", c.VIR_ERR_XML_ERROR),  # wrong root element
        (
            "<!DOCTYPE d [<!ENTITY big 'xxxxxxxx'>]><domain type='test'><name>&big;</name>"
            "<memory>1024</memory><os><type>hvm</type></os></domain>",
            c.VIR_ERR_XML_ERROR,
        ),
        (
            "<!DOCTYPE d [<!ENTITY ext SYSTEM 'file:///etc/passwd'>]><domain type='test'>"
            "<name>&ext;</name><memory>1024</memory><os><type>hvm</type></os></domain>",
            c.VIR_ERR_XML_ERROR,
        ),
    ],
    ids=["malformed", "empty", "wrong-root", "internal-entity", "external-entity"],
)
def test_bad_domain_xml_is_refused_and_changes_nothing(
    conn: libvirt.virConnect, xml: str, code: int
) -> None:
    before = snapshot_of_state(conn)
    exc = error_of(lambda: conn.defineXML(xml))
    assert exc.get_error_code() == code, exc
    assert str(exc)
    assert "passwd" not in str(exc) or "root:" not in str(exc)
    assert snapshot_of_state(conn) == before


def test_billion_laughs_is_refused_quickly(conn: libvirt.virConnect) -> None:
    entities = "".join(
        f"<!ENTITY l{i} '{f'&l{i - 1};' * 10}'>" if i else "<!ENTITY l0 'lol'>"
        for i in range(10)
    )
    xml = f"<!DOCTYPE d [{entities}]><domain type='test'><name>&l9;</name></domain>"
    before = snapshot_of_state(conn)
    # Refused either by libxml2's amplification guard or by the no-DTD rule.
    code = error_of(lambda: conn.defineXML(xml)).get_error_code()
    assert code in (c.VIR_ERR_XML_ERROR, c.VIR_ERR_XML_DETAIL)
    assert snapshot_of_state(conn) == before


def test_duplicate_name_and_uuid(conn: libvirt.virConnect) -> None:
    existing = conn.lookupByName("test")
    before = snapshot_of_state(conn)
    # Same name, different UUID: libvirt refuses (the running domain keeps its identity).
    exc = error_of(lambda: conn.defineXML(GOOD.format(
        name="test", uuid="<uuid>11111111-2222-3333-4444-555555555555</uuid>")))
    assert exc.get_error_code() == c.VIR_ERR_OPERATION_FAILED
    assert "test" in str(exc)
    # Same UUID, different name.
    exc = error_of(lambda: conn.defineXML(GOOD.format(
        name="other", uuid=f"<uuid>{existing.UUIDString()}</uuid>")))
    assert exc.get_error_code() == c.VIR_ERR_OPERATION_FAILED
    assert snapshot_of_state(conn) == before


@pytest.mark.parametrize("name", ["a/b", ""])
def test_invalid_names(conn: libvirt.virConnect, name: str) -> None:
    before = snapshot_of_state(conn)
    exc = error_of(lambda: conn.defineXML(GOOD.format(name=name, uuid="")))
    assert exc.get_error_code() in (c.VIR_ERR_XML_ERROR, c.VIR_ERR_XML_DETAIL,
                                    c.VIR_ERR_INVALID_ARG, c.VIR_ERR_NO_NAME)
    assert snapshot_of_state(conn) == before


def test_missing_objects(conn: libvirt.virConnect) -> None:
    assert error_of(lambda: conn.lookupByName("nope")).get_error_code() == c.VIR_ERR_NO_DOMAIN
    assert error_of(lambda: conn.lookupByID(4242)).get_error_code() == c.VIR_ERR_NO_DOMAIN
    assert error_of(lambda: conn.lookupByUUIDString(
        "00000000-0000-0000-0000-000000000001")).get_error_code() == c.VIR_ERR_NO_DOMAIN
    assert error_of(lambda: conn.lookupByUUIDString("not-a-uuid")).get_error_code() == (
        c.VIR_ERR_INVALID_ARG)
    assert error_of(lambda: conn.networkLookupByName("nope")).get_error_code() == (
        c.VIR_ERR_NO_NETWORK)
    assert error_of(lambda: conn.storagePoolLookupByName("nope")).get_error_code() == (
        c.VIR_ERR_NO_STORAGE_POOL)


def test_wrong_states(conn: libvirt.virConnect) -> None:
    # libvirt 9.0's test driver reports these as internal errors (resume, create, suspend)
    # and OPERATION_INVALID from the generic check (destroy of an inactive domain).
    dom = conn.lookupByName("test")
    before = snapshot_of_state(conn)
    exc = error_of(dom.resume)
    assert (exc.get_error_code(), exc.get_error_domain(), str(exc)) == (
        c.VIR_ERR_INTERNAL_ERROR, c.VIR_FROM_TEST, "internal error: domain 'test' not paused")
    exc = error_of(dom.create)
    assert (exc.get_error_code(), str(exc)) == (
        c.VIR_ERR_INTERNAL_ERROR, "internal error: Domain 'test' is already running")
    assert snapshot_of_state(conn) == before
    dom.destroy()
    try:
        exc = error_of(dom.suspend)
        assert (exc.get_error_code(), str(exc)) == (
            c.VIR_ERR_INTERNAL_ERROR, "internal error: domain 'test' not running")
        exc = error_of(dom.destroy)
        assert (exc.get_error_code(), exc.get_error_domain(), str(exc)) == (
            c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_DOMAIN,
            "Requested operation is not valid: domain is not running")
    finally:
        dom.create()


def test_read_only_connection_refuses_every_change() -> None:
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    ro = libvirt.openReadOnly("test:///default")
    try:
        dom = ro.lookupByName("test")
        for call in (dom.destroy, dom.suspend, lambda: dom.setAutostart(1),
                     lambda: ro.defineXML(GOOD.format(name="ro", uuid="")),
                     lambda: ro.networkLookupByName("default").destroy()):
            exc = error_of(call)
            assert exc.get_error_code() == c.VIR_ERR_OPERATION_DENIED
            assert "read only access prevents vir" in str(exc)
        assert dom.info()[0] == libvirt.VIR_DOMAIN_RUNNING
    finally:
        ro.close()
        libvirt.registerErrorHandler(None, None)


def test_closed_connection_is_invalid() -> None:
    conn = libvirt.open("test:///default")
    conn.close()
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    try:
        exc = error_of(conn.isAlive)
        assert exc.get_error_code() == c.VIR_ERR_INVALID_CONN
        assert str(exc) == "invalid connection pointer in virConnectIsAlive"
    finally:
        libvirt.registerErrorHandler(None, None)


@pytest.mark.parametrize("uri", ["not-a-valid-libvirt-uri", "foo:///bar", "qemu+foo:///system"])
def test_bad_uris(uri: str) -> None:
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    try:
        exc = error_of(lambda: libvirt.open(uri))
        assert exc.get_error_message()
    finally:
        libvirt.registerErrorHandler(None, None)


def test_unknown_elements_dropped_or_refused_with_validation(conn: libvirt.virConnect) -> None:
    xml = ("<domain type='test'><name>with-bogus</name><memory>1024</memory>"
           "<os><type>hvm</type></os><bogus/></domain>")
    before = snapshot_of_state(conn)
    exc = error_of(lambda: conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE))
    assert exc.get_error_code() == c.VIR_ERR_XML_INVALID_SCHEMA
    assert "Element domain has extra content: bogus" in str(exc)
    assert snapshot_of_state(conn) == before
    # Without validation libvirt ignores what it does not know.
    dom = conn.defineXMLFlags(xml, 0)
    try:
        assert "<bogus" not in dom.XMLDesc()
    finally:
        dom.undefine()
