"""Storage pool and volume XML: libvirt's storagepoolxml2xml and storagevolxml2xml corpora,
units, defaults and libvirt's errors."""

from __future__ import annotations

import os
import re

import pytest

from pyvirt import constants as c
from pyvirt.conf.storage import PoolDef, VolumeDef
from pyvirt.errors import libvirtError

# libvirt 9.0.0's source tree (scripts/run-tests exports it; tests skip without it).
LIBVIRT_SRC = os.environ.get("PYVIRT_LIBVIRT_SRC", "/tmp/libvirt-src/src")

DATA = os.path.join(LIBVIRT_SRC, "tests")


def _read(*parts: str) -> str:
    return open(os.path.join(DATA, *parts)).read()


def _pool_cases() -> list[str]:
    path = os.path.join(DATA, "storagepoolxml2xmltest.c")
    if not os.path.exists(path):
        return []
    return re.findall(r'DO_TEST\("([^"]+)"\)', open(path).read())


def _vol_cases() -> list[tuple[str, str, bool]]:
    """(pool, volume, no_capacity) from storagevolxml2xmltest.c."""
    path = os.path.join(DATA, "storagevolxml2xmltest.c")
    if not os.path.exists(path):
        return []
    return [(pool, name, bool(flag)) for pool, name, flag in re.findall(
        r'DO_TEST(?:_FULL)?\("([^"]+)", "([^"]+)"(?:,\s*(\w+))?', open(path).read())]


POOLS = _pool_cases()
VOLS = _vol_cases()


@pytest.mark.skipif(not POOLS, reason="libvirt source tree not available")
def test_corpus_sizes() -> None:
    assert len(POOLS) == 38
    assert len(VOLS) == 20


@pytest.mark.parametrize("name", POOLS)
def test_storagepoolxml2xml(name: str) -> None:
    pool = PoolDef.from_xml(_read("storagepoolxml2xmlin", f"{name}.xml"))
    assert pool.to_xml() == _read("storagepoolxml2xmlout", f"{name}.xml")


@pytest.mark.parametrize("pool_name,name,no_capacity", VOLS, ids=[v[1] for v in VOLS])
def test_storagevolxml2xml(pool_name: str, name: str, no_capacity: bool) -> None:
    pool = PoolDef.from_xml(_read("storagepoolxml2xmlin", f"{pool_name}.xml"))
    vol = VolumeDef.from_xml(_read("storagevolxml2xmlin", f"{name}.xml"), pool=pool,
                             no_capacity=no_capacity)
    assert vol.to_xml(pool=pool) == _read("storagevolxml2xmlout", f"{name}.xml")


DIR_POOL = """<pool type='dir'>
  <name>default</name>
  <target>
    <path>/var/lib/libvirt/images/</path>
    <permissions><mode>0711</mode><owner>0</owner><group>-1</group></permissions>
  </target>
</pool>"""


def _pool() -> PoolDef:
    return PoolDef.from_xml(DIR_POOL)


def test_pool_fields_and_defaults() -> None:
    p = _pool()
    assert p.type == "dir" and p.name == "default"
    assert re.fullmatch(r"[0-9a-f-]{36}", p.uuid)
    assert (p.capacity, p.allocation, p.available) == (0, 0, 0)
    assert p.target.path == "/var/lib/libvirt/images"
    perms = p.target.permissions
    assert (perms.mode, perms.owner, perms.group, perms.label) == (0o711, 0, None, None)
    p.capacity, p.allocation, p.available = 10 << 30, 3 << 30, 7 << 30
    text = p.to_xml()
    assert "<capacity unit='bytes'>10737418240</capacity>" in text
    assert "  <source>\n  </source>\n" in text
    assert "<mode>0711</mode>\n      <owner>0</owner>\n    </permissions>" in text


def test_pool_sizes_ignored_like_libvirt_unless_asked() -> None:
    text = DIR_POOL.replace("<name>", "<capacity unit='KiB'>4</capacity><name>")
    assert PoolDef.from_xml(text).capacity == 0
    assert PoolDef.from_xml(text, parse_sizes=True).capacity == 4096


def test_pool_copy_and_element() -> None:
    p = _pool()
    dup = p.copy()
    dup.target.permissions.mode = 0o700
    assert p.target.permissions.mode == 0o711
    assert PoolDef.from_element(p.to_element()).to_xml() == p.to_xml()


@pytest.mark.parametrize("unit,expected", [
    (None, 1000), ("b", 1000), ("bytes", 1000), ("KB", 1000 * 1000), ("k", 1024000),
    ("KiB", 1024000), ("kib", 1024000), ("M", 1000 << 20), ("MB", 1000 * 10**6),
    ("G", 1000 << 30), ("GiB", 1000 << 30), ("T", 1000 << 40),
])
def test_volume_units(unit: str | None, expected: int) -> None:
    attr = f" unit='{unit}'" if unit else ""
    v = VolumeDef.from_xml(f"<volume><name>v</name><capacity{attr}>1000</capacity></volume>",
                           pool=_pool())
    assert v.capacity == expected
    assert v.allocation == expected  # follows capacity when absent
    assert f"<capacity unit='bytes'>{expected}</capacity>" in v.to_xml(pool=_pool())


def test_volume_fields() -> None:
    v = VolumeDef.from_xml("""<volume type='file'>
      <name>disk.qcow2</name>
      <key>/var/lib/libvirt/images/disk.qcow2</key>
      <capacity unit='G'>10</capacity>
      <allocation>0</allocation>
      <target>
        <path>/var/lib/libvirt/images/disk.qcow2</path>
        <format type='qcow2'/>
        <permissions><mode>0600</mode></permissions>
        <features><lazy_refcounts/></features>
      </target>
      <backingStore><path>/base.img</path><format type='raw'/></backingStore>
    </volume>""", pool=_pool())
    assert (v.name, v.type, v.key) == ("disk.qcow2", "file",
                                       "/var/lib/libvirt/images/disk.qcow2")
    assert (v.capacity, v.allocation, v.physical) == (10 << 30, 0, 0)
    assert v.target.format == "qcow2" and v.target.permissions.mode == 0o600
    assert v.target.features == ["lazy_refcounts"] and v.target.compat == "1.1"
    assert v.backing_store is not None
    assert (v.backing_store.path, v.backing_store.format) == ("/base.img", "raw")
    out = v.to_xml(pool=_pool())
    assert VolumeDef.from_element(v.to_element(pool=_pool()), pool=_pool()).to_xml(
        pool=_pool()) == out
    v.physical = 4096  # output only: drivers fill it, libvirt never reads it back
    assert "<physical unit='bytes'>4096</physical>" in v.to_xml(pool=_pool())


def test_volume_default_format_depends_on_pool() -> None:
    v = VolumeDef.from_xml("<volume><name>v</name><capacity>1</capacity></volume>",
                           pool=_pool())
    assert v.target.format == "raw"
    logical = PoolDef.from_xml("<pool type='logical'><name>vg</name>"
                               "<source><device path='/dev/sda'/></source></pool>")
    v = VolumeDef.from_xml("<volume><name>v</name><capacity>1</capacity></volume>",
                           pool=logical)
    assert v.target.format is None and "<format" not in v.to_xml(pool=logical)


def test_volume_no_capacity_flag() -> None:
    text = "<volume><name>v</name></volume>"
    assert VolumeDef.from_xml(text, pool=_pool(), no_capacity=True).capacity == 0


def _err(fn: object, *args: object, **kwargs: object) -> libvirtError:
    with pytest.raises(libvirtError) as info:
        fn(*args, **kwargs)  # type: ignore[operator]
    return info.value


# Each expectation was checked against libvirt 9.0's test driver (storagePoolDefineXML,
# storageVolCreateXML in a dir pool).
@pytest.mark.parametrize("text,code,domain,message", [
    ("<pool/>", c.VIR_ERR_XML_ERROR, c.VIR_FROM_XML,
     "XML error: Missing required attribute 'type' in element 'pool'"),
    ("<pool type='bogus'><name>p</name></pool>", c.VIR_ERR_XML_ERROR, c.VIR_FROM_XML,
     "XML error: Invalid value for attribute 'type' in element 'pool': 'bogus'."),
    ("<pool type='dir'><target><path>/p</path></target></pool>", c.VIR_ERR_XML_ERROR,
     c.VIR_FROM_STORAGE, "XML error: missing pool source name element"),
    ("<pool type='dir'><name>p</name></pool>", c.VIR_ERR_XML_ERROR, c.VIR_FROM_STORAGE,
     "XML error: missing storage pool target path"),
    ("<pool type='dir'><name>p</name><target><path>/p</path><permissions><mode>999</mode>"
     "</permissions></target></pool>", c.VIR_ERR_XML_ERROR, c.VIR_FROM_STORAGE,
     "XML error: malformed octal mode"),
    ("<pool type='netfs'><name>p</name><target><path>/p</path></target></pool>",
     c.VIR_ERR_XML_ERROR, c.VIR_FROM_STORAGE,
     "XML error: missing storage pool source host name"),
    ("<volume/>", None, None, None),
])
def test_pool_errors(text: str, code: int | None, domain: int | None,
                     message: str | None) -> None:
    err = _err(PoolDef.from_xml, text)
    if code is None:
        assert err.get_error_domain() == c.VIR_FROM_XML  # wrong root
        return
    assert (err.get_error_code(), err.get_error_domain(), err.get_error_message()) == \
        (code, domain, message)


@pytest.mark.parametrize("text,code,domain,message", [
    ("<volume/>", c.VIR_ERR_XML_ERROR, c.VIR_FROM_STORAGE,
     "XML error: missing volume name element"),
    ("<vol/>", c.VIR_ERR_XML_ERROR, c.VIR_FROM_XML,
     "XML error: expecting root element of 'volume', not 'vol'"),
    ("<volume><name>v</name></volume>", c.VIR_ERR_XML_ERROR, c.VIR_FROM_STORAGE,
     "XML error: missing capacity element"),
    ("<volume><name>v</name><capacity>x</capacity></volume>", c.VIR_ERR_XML_ERROR,
     c.VIR_FROM_STORAGE, "XML error: malformed capacity element"),
    ("<volume><name>v</name><capacity unit='zz'>1</capacity></volume>",
     c.VIR_ERR_INVALID_ARG, c.VIR_FROM_NONE, "invalid argument: unknown suffix 'zz'"),
    ("<volume><name>v</name><capacity unit='EiB'>100</capacity></volume>",
     c.VIR_ERR_OVERFLOW, c.VIR_FROM_NONE, "numerical overflow: value too large: 100EiB"),
    ("<volume><name>v</name><capacity>1</capacity><target><format type='zz'/></target>"
     "</volume>", c.VIR_ERR_CONFIG_UNSUPPORTED, c.VIR_FROM_STORAGE,
     "unsupported configuration: unknown volume format type zz"),
])
def test_volume_errors(text: str, code: int, domain: int, message: str) -> None:
    err = _err(VolumeDef.from_xml, text, pool=_pool())
    assert (err.get_error_code(), err.get_error_domain(), err.get_error_message()) == \
        (code, domain, message)
