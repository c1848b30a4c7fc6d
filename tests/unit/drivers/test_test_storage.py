"""test:/// storage pools and volumes, checked against libvirt 9.0's test driver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import pyvirt
from pyvirt import constants as c

CAP = 107374182400
VOL = ("<volume><name>v1</name><allocation unit='M'>10</allocation>"
       "<capacity unit='M'>1000</capacity></volume>")


@pytest.fixture
def conn() -> Iterator[pyvirt.virConnect]:
    pyvirt.registerErrorHandler(lambda *_: None, None)
    connection = pyvirt.open("test:///default")
    yield connection
    connection.close()


@pytest.fixture
def pool(conn: pyvirt.virConnect) -> pyvirt.virStoragePool:
    return conn.storagePoolLookupByName("default-pool")


def fails(fn, code: int, domain: int, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(pyvirt.libvirtError) as info:
        fn()
    err = info.value
    assert (err.get_error_code(), err.get_error_domain(), str(err)) == (code, domain, message)


def test_default_pool(pool: pyvirt.virStoragePool) -> None:
    assert pool.info() == [c.VIR_STORAGE_POOL_RUNNING, CAP, 0, CAP]
    assert pool.XMLDesc() == (
        "<pool type='dir'>\n  <name>default-pool</name>\n"
        "  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>\n"
        "  <capacity unit='bytes'>107374182400</capacity>\n"
        "  <allocation unit='bytes'>0</allocation>\n"
        "  <available unit='bytes'>107374182400</available>\n  <source>\n  </source>\n"
        "  <target>\n    <path>/default-pool</path>\n  </target>\n</pool>\n")
    assert (pool.isActive(), pool.isPersistent(), pool.autostart()) == (1, 1, 0)
    assert pool.listVolumes() == [] and pool.numOfVolumes() == 0


def test_volume_lifecycle_and_accounting(conn: pyvirt.virConnect,
                                         pool: pyvirt.virStoragePool) -> None:
    vol = pool.createXML(VOL)
    assert (vol.name(), vol.key(), vol.path()) == ("v1", "/default-pool/v1", "/default-pool/v1")
    assert vol.info() == [c.VIR_STORAGE_VOL_FILE, 1048576000, 10485760]
    assert vol.XMLDesc() == (
        "<volume type='file'>\n  <name>v1</name>\n  <key>/default-pool/v1</key>\n"
        "  <capacity unit='bytes'>1048576000</capacity>\n"
        "  <allocation unit='bytes'>10485760</allocation>\n"
        "  <target>\n    <path>/default-pool/v1</path>\n    <format type='raw'/>\n"
        "  </target>\n</volume>\n")
    assert pool.info() == [2, CAP, 10485760, CAP - 10485760]
    clone = pool.createXMLFrom("<volume><name>v2</name><capacity>5</capacity></volume>", vol)
    assert pool.info()[2] == 10485765
    assert conn.storageVolLookupByKey("/default-pool/v2").name() == "v2"
    assert conn.storageVolLookupByPath("/default-pool/v1").name() == "v1"
    assert vol.storagePoolLookupByVolume().name() == "default-pool"
    assert sorted(pool.listVolumes()) == ["v1", "v2"]
    assert sorted(v.name() for v in pool.listAllVolumes()) == ["v1", "v2"]
    assert vol.delete() == 0
    assert pool.info() == [2, CAP, 5, CAP - 5]
    clone.delete()
    assert pool.info() == [2, CAP, 0, CAP]


def test_volume_errors_change_nothing(conn: pyvirt.virConnect,
                                      pool: pyvirt.virStoragePool) -> None:
    pool.createXML(VOL)
    before = pool.info()
    fails(lambda: pool.createXML(VOL), c.VIR_ERR_OPERATION_FAILED, c.VIR_FROM_TEST,
          "operation failed: storage vol already exists")
    fails(lambda: pool.createXML(
        "<volume><name>big</name><capacity unit='T'>1000</capacity></volume>"),
        c.VIR_ERR_INTERNAL_ERROR, c.VIR_FROM_TEST,
        "internal error: Not enough free space in pool for volume 'big'")
    fails(lambda: pool.createXML("<volume><name>z</name></volume>"), c.VIR_ERR_XML_ERROR,
          c.VIR_FROM_STORAGE, "XML error: missing capacity element")
    fails(lambda: conn.storageVolLookupByKey("/nope"), c.VIR_ERR_NO_STORAGE_VOL,
          c.VIR_FROM_TEST, "Storage volume not found: no storage vol with matching key '/nope'")
    fails(lambda: conn.storageVolLookupByPath("/nope"), c.VIR_ERR_NO_STORAGE_VOL,
          c.VIR_FROM_TEST, "Storage volume not found: no storage vol with matching path '/nope'")
    fails(lambda: pool.storageVolLookupByName("nope"), c.VIR_ERR_NO_STORAGE_VOL,
          c.VIR_FROM_TEST, "Storage volume not found: no storage vol with matching name 'nope'")
    assert pool.info() == before and pool.listVolumes() == ["v1"]


@pytest.mark.parametrize("call, api", [
    (lambda v, p, c_: v.wipe(), "virStorageVolWipe"),
    (lambda v, p, c_: v.resize(1), "virStorageVolResize"),
    (lambda v, p, c_: v.infoFlags(), "virStorageVolGetInfoFlags"),
    (lambda v, p, c_: c_.storagePoolLookupByTargetPath("/default-pool"),
     "virStoragePoolLookupByTargetPath"),
    (lambda v, p, c_: c_.getStoragePoolCapabilities(), "virConnectGetStoragePoolCapabilities"),
    (lambda v, p, c_: v.download(c_.newStream(), 0, 0), "virStorageVolDownload"),
])
def test_not_in_test_driver(conn: pyvirt.virConnect, pool: pyvirt.virStoragePool,
                            call, api: str) -> None:  # type: ignore[no-untyped-def]
    vol = pool.createXML(VOL)
    fails(lambda: call(vol, pool, conn), c.VIR_ERR_NO_SUPPORT, c.VIR_FROM_STORAGE,
          f"this function is not supported by the connection driver: {api}")


def test_pool_lifecycle(conn: pyvirt.virConnect, pool: pyvirt.virStoragePool) -> None:
    pool.createXML(VOL)
    inactive = "Requested operation is not valid: storage pool 'default-pool' is not active"
    active = "Requested operation is not valid: storage pool 'default-pool' is active"
    fails(pool.build, c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_TEST, active)
    fails(pool.undefine, c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_TEST, active)
    assert pool.destroy() == 0
    fails(pool.destroy, c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_TEST, inactive)
    fails(pool.listVolumes, c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_TEST, inactive)
    fails(pool.refresh, c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_TEST, inactive)
    fails(pool.listAllVolumes, c.VIR_ERR_OPERATION_INVALID, c.VIR_FROM_TEST,
          "Requested operation is not valid: storage pool is not active")
    fails(lambda: conn.storageVolLookupByKey("/default-pool/v1"), c.VIR_ERR_NO_STORAGE_VOL,
          c.VIR_FROM_TEST,
          "Storage volume not found: no storage vol with matching key '/default-pool/v1'")
    assert pool.info()[0] == c.VIR_STORAGE_POOL_INACTIVE
    assert (pool.build(), pool.delete(), pool.create()) == (0, 0, 0)
    assert pool.listVolumes() == ["v1"]  # volumes survive a stop/start
    assert (pool.setAutostart(1), pool.autostart()) == (0, 1)
    pool.destroy()
    assert pool.undefine() == 0
    fails(lambda: conn.storagePoolLookupByName("default-pool"), c.VIR_ERR_NO_STORAGE_POOL,
          c.VIR_FROM_TEST,
          "Storage pool not found: no storage pool with matching name 'default-pool'")


def test_define_rules(conn: pyvirt.virConnect) -> None:
    fails(lambda: conn.storagePoolDefineXML(
        "<pool type='dir'><name>p2</name><target><path>/default-pool</path></target></pool>"),
        c.VIR_ERR_OPERATION_FAILED, c.VIR_FROM_STORAGE,
        "operation failed: Storage source conflict with pool: 'default-pool'")
    fails(lambda: conn.storagePoolDefineXML(
        "<pool type='dir'><name>default-pool</name><target><path>/x</path></target></pool>"),
        c.VIR_ERR_OPERATION_FAILED, c.VIR_FROM_STORAGE,
        "operation failed: pool 'default-pool' already exists with uuid "
        "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566")
    fails(lambda: conn.storagePoolDefineXML("<pool type='dir'><name>q</name></pool>"),
          c.VIR_ERR_XML_ERROR, c.VIR_FROM_STORAGE, "XML error: missing storage pool target path")
    assert conn.listDefinedStoragePools() == []
    p2 = conn.storagePoolDefineXML(
        "<pool type='dir'><name>p2</name><target><path>/p2</path></target></pool>")
    assert (p2.isActive(), p2.isPersistent()) == (0, 1)
    assert p2.info() == [c.VIR_STORAGE_POOL_INACTIVE, CAP, 0, CAP]
    assert conn.listDefinedStoragePools() == ["p2"]


def test_transient_pool(conn: pyvirt.virConnect) -> None:
    p3 = conn.storagePoolCreateXML(
        "<pool type='dir'><name>p3</name><target><path>/p3</path></target></pool>")
    assert (p3.isActive(), p3.isPersistent(), p3.autostart()) == (1, 0, 0)
    fails(lambda: p3.setAutostart(1), c.VIR_ERR_INVALID_ARG, c.VIR_FROM_TEST,
          "invalid argument: pool has no config file")
    assert sorted(conn.listStoragePools()) == ["default-pool", "p3"]
    p3.destroy()
    fails(lambda: conn.storagePoolLookupByName("p3"), c.VIR_ERR_NO_STORAGE_POOL,
          c.VIR_FROM_TEST, "Storage pool not found: no storage pool with matching name 'p3'")


def test_list_all_filters(conn: pyvirt.virConnect) -> None:
    conn.storagePoolDefineXML(
        "<pool type='dir'><name>p2</name><target><path>/p2</path></target></pool>")

    def names(flags: int) -> list[str]:
        return sorted(p.name() for p in conn.listAllStoragePools(flags))

    assert names(0) == ["default-pool", "p2"]
    assert names(c.VIR_CONNECT_LIST_STORAGE_POOLS_INACTIVE) == ["p2"]
    assert names(c.VIR_CONNECT_LIST_STORAGE_POOLS_DIR) == ["default-pool", "p2"]
    assert names(c.VIR_CONNECT_LIST_STORAGE_POOLS_FS) == []
    assert names(c.VIR_CONNECT_LIST_STORAGE_POOLS_TRANSIENT) == []
    fails(lambda: conn.listAllStoragePools(1 << 30), c.VIR_ERR_INVALID_ARG, c.VIR_FROM_TEST,
          "unsupported flags (0x40000000) in function testConnectListAllStoragePools")


def test_find_pool_sources(conn: pyvirt.virConnect) -> None:
    assert conn.findStoragePoolSources("logical", None) == (
        "<sources>\n  <source>\n    <device path='/dev/sda20'/>\n    <name>testvg1</name>\n"
        "    <format type='lvm2'/>\n  </source>\n  <source>\n"
        "    <device path='/dev/sda21'/>\n    <name>testvg2</name>\n"
        "    <format type='lvm2'/>\n  </source>\n</sources>\n")
    assert conn.findStoragePoolSources("netfs", "<source><host name='h1'/></source>") == (
        "<sources>\n  <source>\n    <host name='h1'/>\n    <dir path='/testshare'/>\n"
        "    <format type='nfs'/>\n  </source>\n</sources>\n")
    fails(lambda: conn.findStoragePoolSources("netfs", None), c.VIR_ERR_INVALID_ARG,
          c.VIR_FROM_TEST, "invalid argument: hostname must be specified for netfs sources")
    fails(lambda: conn.findStoragePoolSources("dir", None), c.VIR_ERR_INTERNAL_ERROR,
          c.VIR_FROM_TEST, "internal error: unknown storage pool type dir")
    fails(lambda: conn.findStoragePoolSources("bogus", None), c.VIR_ERR_NO_SUPPORT,
          c.VIR_FROM_TEST, "this function is not supported by the connection driver: "
          "pool type 'bogus' does not support source discovery")


def test_flag_checks(pool: pyvirt.virStoragePool) -> None:
    vol = pool.createXML(VOL)
    fails(lambda: vol.XMLDesc(1), c.VIR_ERR_INVALID_ARG, c.VIR_FROM_TEST,
          "unsupported flags (0x1) in function testStorageVolGetXMLDesc")
    fails(lambda: pool.XMLDesc(1), c.VIR_ERR_INVALID_ARG, c.VIR_FROM_TEST,
          "unsupported flags (0x1) in function testStoragePoolGetXMLDesc")


def test_node_file_pools_and_volumes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "vol.xml").write_text(
        "<volume><name>b</name><key>mykey</key><capacity unit='K'>4</capacity>"
        "<target><path>/elsewhere/b</path></target></volume>")
    (tmp_path / "pool2.xml").write_text(
        "<pool type='logical'><name>vg</name><source><name>vg</name></source></pool>")
    (tmp_path / "node.xml").write_text(
        "<node><pool type='dir'><name>p1</name><target><path>/p1</path></target>"
        "<volume><name>a</name><capacity>1000</capacity><allocation>500</allocation></volume>"
        "<volume file='vol.xml'/></pool><pool file='pool2.xml'/></node>")
    conn = pyvirt.open(f"test://{tmp_path / 'node.xml'}")
    try:
        p1 = conn.storagePoolLookupByName("p1")
        assert p1.info() == [2, CAP, 4596, CAP - 4596]
        assert p1.storageVolLookupByName("a").key() == "/p1/a"
        assert conn.storageVolLookupByKey("mykey").path() == "/elsewhere/b"
        vg = conn.storagePoolLookupByName("vg")
        vol = vg.createXML("<volume><name>lv</name><capacity>1024</capacity></volume>")
        assert (vol.path(), vol.info()) == ("/dev/vg/lv", [c.VIR_STORAGE_VOL_BLOCK, 1024, 1024])
    finally:
        conn.close()
