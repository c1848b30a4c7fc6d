"""fs, logical and disk pools on loop devices the tests make from sparse files (root only): an
ext4 filesystem mounted by the pool, an LVM volume group built by the pool and a logical volume
created and deleted, a GPT label written by the pool and partitions created, wiped and deleted.
Everything made here (mounts, VGs, PVs, loop devices) is removed in finally blocks."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="loop devices, mounts and LVM need root"),
    pytest.mark.skipif(any(shutil.which(t) is None for t in ("losetup", "mkfs.ext4", "vgcreate")),
                       reason="losetup, mkfs.ext4 or lvm2 is missing"),
]

MiB = 1024 * 1024


def device_mapper() -> bool:
    """Whether the kernel has device-mapper (LVM needs it for logical volumes)."""
    with open("/proc/devices") as fh:
        return any(line.split()[-1:] == ["device-mapper"] for line in fh)


@contextlib.contextmanager
def loop_device(backing: Path, size: int, partscan: bool = False) -> Iterator[str]:
    with open(backing, "wb") as fh:
        fh.truncate(size)
    argv = ["losetup", "--find", "--show", *(["--partscan"] if partscan else []), str(backing)]
    dev = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
    try:
        yield dev
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)


def volume_groups() -> list[str]:
    return subprocess.run(["vgs", "--noheadings", "-o", "vg_name"], capture_output=True,
                          text=True, check=False).stdout.split()


def mounted_at(path: Path) -> bool:
    with open("/proc/self/mounts") as fh:
        return any(line.split()[1] == str(path) for line in fh)


def test_fs_pool_on_loop_device(tmp_path: Path) -> None:
    target = tmp_path / "mnt"
    with loop_device(tmp_path / "fs.img", 64 * MiB) as dev:
        conn = pyvirt.open(f"qemu:///embed?root={tmp_path}/root")
        try:
            pool = conn.storagePoolDefineXML(
                f"<pool type='fs'><name>fsp</name><source><device path='{dev}'/>"
                f"<format type='ext4'/></source><target><path>{target}</path></target></pool>")
            pool.build(pyvirt.VIR_STORAGE_POOL_BUILD_NO_OVERWRITE)
            with pytest.raises(pyvirt.libvirtError) as info:
                pool.build(pyvirt.VIR_STORAGE_POOL_BUILD_NO_OVERWRITE)
            assert info.value.get_error_message() == (
                f"Storage pool already built: Device '{dev}' already formatted using 'ext4'")
            pool.create(0)
            assert mounted_at(target)
            capacity = pool.info()[1]
            assert 50 * MiB < capacity <= 64 * MiB
            vol = pool.createXML("<volume><name>v.img</name><capacity unit='MiB'>8</capacity>"
                                 "</volume>", 0)
            assert (target / "v.img").stat().st_size == 8 * MiB
            with pytest.raises(pyvirt.libvirtError) as info:
                pool.createXML("<volume><name>big</name><capacity unit='MiB'>200</capacity>"
                               "</volume>", 0)
            assert info.value.get_error_message() == (
                f"cannot allocate {200 * MiB} bytes in file '{target}/big': No space left on "
                "device")
            assert sorted(os.listdir(target)) == ["lost+found", "v.img"]
            conn.close()  # a new driver instance finds the pool active, still mounted
            conn = pyvirt.open(f"qemu:///embed?root={tmp_path}/root")
            pool = conn.storagePoolLookupByName("fsp")
            # as root, lost+found is a volume (a directory), as in libvirt's fs pools
            assert pool.isActive() == 1 and sorted(pool.listVolumes()) == ["lost+found", "v.img"]
            vol = pool.storageVolLookupByName("v.img")
            vol.delete(0)
            pool.destroy()
            assert not mounted_at(target)
        finally:
            conn.close()
            if mounted_at(target):
                subprocess.run(["umount", str(target)], check=False)


def test_logical_pool_on_loop_devices(tmp_path: Path) -> None:
    vg = f"pyvirt_test_{os.getpid()}"
    with loop_device(tmp_path / "pv1.img", 64 * MiB) as dev1, \
            loop_device(tmp_path / "pv2.img", 64 * MiB) as dev2:
        conn = pyvirt.open(f"qemu:///embed?root={tmp_path}/root")
        try:
            pool = conn.storagePoolDefineXML(
                f"<pool type='logical'><name>lvm</name><source><device path='{dev1}'/>"
                f"<device path='{dev2}'/><name>{vg}</name><format type='lvm2'/></source>"
                f"<target><path>/dev/{vg}</path></target></pool>")
            pool.build(0)
            pool.create(0)
            state, capacity, allocation, available = pool.info()
            assert state == pyvirt.VIR_STORAGE_POOL_RUNNING and 100 * MiB < capacity < 128 * MiB
            assert allocation == 0 and available == capacity
            if not device_mapper():
                # pvcreate/vgcreate work without it, lvcreate does not: libvirt's error
                with pytest.raises(pyvirt.libvirtError) as info:
                    pool.createXML("<volume><name>lv1</name><capacity unit='MiB'>16</capacity>"
                                   "</volume>", 0)
                assert str(info.value.get_error_message()).startswith(
                    f"internal error: Child process ({shutil.which('lvcreate')} --name lv1 -L "
                    f"16384K {vg} --yes) unexpected exit status ")
                assert pool.listVolumes() == []
                pool.destroy()
                pool.delete(0)
                assert vg not in volume_groups()
                return
            vol = pool.createXML("<volume><name>lv1</name><capacity unit='MiB'>16</capacity>"
                                 "</volume>", 0)
            assert vol.path() == f"/dev/{vg}/lv1" and os.path.exists(vol.path())
            assert vol.info() == [pyvirt.VIR_STORAGE_VOL_BLOCK, 16 * MiB, 16 * MiB]
            assert pool.info()[2] == 16 * MiB
            assert "<volume type='block'>" in vol.XMLDesc()
            assert conn.storageVolLookupByKey(vol.key()).name() == "lv1"
            vol.delete(0)
            assert not os.path.exists(f"/dev/{vg}/lv1") and pool.listVolumes() == []
            pool.destroy()
            pool.delete(0)
            assert vg not in volume_groups()
        finally:
            conn.close()
            subprocess.run(["vgremove", "-f", vg], capture_output=True, check=False)
            for dev in (dev1, dev2):
                subprocess.run(["pvremove", "-ff", "-y", dev], capture_output=True, check=False)


def parted_numbers(dev: str) -> list[str]:
    out = subprocess.run(["parted", "-m", "-s", dev, "unit", "B", "print"], capture_output=True,
                         text=True, check=False).stdout
    return [line.split(":")[0] for line in out.splitlines()[2:]]


@pytest.mark.skipif(shutil.which("parted") is None, reason="parted is missing")
def test_disk_pool_on_loop_device(tmp_path: Path) -> None:
    uri = f"qemu:///embed?root={tmp_path}/root"
    with loop_device(tmp_path / "disk.img", 64 * MiB, partscan=True) as dev:
        name = os.path.basename(dev)
        conn = pyvirt.open(uri)
        try:
            pool = conn.storagePoolDefineXML(
                f"<pool type='disk'><name>dp</name><source><device path='{dev}'/>"
                "<format type='gpt'/></source><target><path>/dev</path></target></pool>")
            with pytest.raises(pyvirt.libvirtError) as info:
                pool.create(0)
            assert info.value.get_error_message() == (
                f"Storage pool probe failed: Device '{dev}' is unrecognized, requires build")
            pool.build(pyvirt.VIR_STORAGE_POOL_BUILD_NO_OVERWRITE)
            with pytest.raises(pyvirt.libvirtError) as info:
                pool.build(0)
            assert info.value.get_error_message() == (
                f"Storage pool already built: Device '{dev}' already formatted using 'gpt'")
            pool.create(0)
            # as libvirt: the GPT's own sectors at both ends are neither capacity nor free
            assert pool.info() == [pyvirt.VIR_STORAGE_POOL_RUNNING, 67091968, 0, 67074560]

            def create(num: int, mib: int) -> pyvirt.virStorageVol:
                return pool.createXML(f"<volume><name>{name}p{num}</name><capacity unit='MiB'>"
                                      f"{mib}</capacity></volume>", 0)

            v1, v2 = create(1, 8), create(2, 16)
            assert v2.path() == f"{dev}p2" and os.path.exists(v2.path())
            assert v2.info() == [pyvirt.VIR_STORAGE_VOL_BLOCK, 16 * MiB, 16 * MiB]
            assert f"<extent start='{17408 + 8 * MiB}' end='{17408 + 24 * MiB}'/>" \
                in v2.XMLDesc()
            with pytest.raises(pyvirt.libvirtError) as info:
                pool.createXML("<volume><name>data</name><capacity unit='MiB'>4</capacity>"
                               "</volume>", 0)
            assert info.value.get_error_message() == (
                f"invalid argument: invalid partition name 'data', expected '{name}p3'")
            with pytest.raises(pyvirt.libvirtError) as info:
                create(3, 60)
            assert info.value.get_error_message() == "internal error: no large enough free extent"
            assert parted_numbers(dev) == ["1", "2"]  # the refused ones left nothing
            pool.refresh(0)
            assert sorted(pool.listVolumes()) == [f"{name}p1", f"{name}p2"]
            assert pool.info()[1:] == [67091968, 24 * MiB, 67074560 - 24 * MiB]
            assert f"<freeExtent start='{17408 + 24 * MiB}' end='67091968'/>" in pool.XMLDesc()

            with open(v2.path(), "r+b") as fh:
                fh.write(b"x" * MiB)
            v2.wipe(0)
            with open(v2.path(), "rb") as zeroed:
                assert zeroed.read(2 * MiB) == bytes(2 * MiB)
            with open(v1.path(), "r+b") as fh:
                fh.write(b"disk pool" * 1000)
            clone = pool.createXMLFrom(f"<volume><name>{name}p3</name><capacity unit='MiB'>4"
                                       "</capacity></volume>", v1, 0)
            assert clone.info()[1] == 8 * MiB  # the source's capacity when that is larger
            with open(clone.path(), "rb") as copied:
                assert copied.read(9000) == b"disk pool" * 1000
            clone.delete(0)
            v1.delete(0)
            assert parted_numbers(dev) == ["2"] and pool.listVolumes() == [f"{name}p2"]
            assert not os.path.exists(f"{dev}p1")
            assert pool.info()[2:] == [16 * MiB, 67074560 - 16 * MiB]

            conn.close()  # a new driver instance finds the pool active, its volume again
            conn = pyvirt.open(uri)
            pool = conn.storagePoolLookupByName("dp")
            assert pool.isActive() and pool.listVolumes() == [f"{name}p2"]
            pool.destroy()
            pool.delete(0)  # the label is wiped: starting wants a build again
            with pytest.raises(pyvirt.libvirtError) as info:
                pool.create(0)
            assert info.value.get_error_code() == pyvirt.VIR_ERR_STORAGE_PROBE_FAILED
            pool.undefine()
        finally:
            conn.close()


@pytest.mark.skipif(shutil.which("parted") is None, reason="parted is missing")
def test_disk_pool_dos_label_extended_and_logical(tmp_path: Path) -> None:
    """A dos label: primaries until four primary/extended ones exist, then a logical one in
    the extended partition (figures as libvirt 9.0's on the same device)."""
    with loop_device(tmp_path / "dos.img", 64 * MiB, partscan=True) as dev:
        name = os.path.basename(dev)
        conn = pyvirt.open(f"qemu:///embed?root={tmp_path}/root")
        try:
            pool = conn.storagePoolCreateXML(
                f"<pool type='disk'><name>dos</name><source><device path='{dev}'/></source>"
                "<target><path>/dev</path></target></pool>",
                pyvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD)
            assert "<format type='dos'/>" in pool.XMLDesc()
            for num, mib, fmt in ((1, 8, "linux"), (2, 30, "extended"), (3, 4, "linux-swap"),
                                  (4, 3, "none"), (5, 5, "fat32")):
                pool.createXML(f"<volume><name>{name}p{num}</name><capacity unit='MiB'>{mib}"
                               f"</capacity><target><format type='{fmt}'/></target></volume>", 0)
            ext = pool.storageVolLookupByName(f"{name}p2")
            logical = pool.storageVolLookupByName(f"{name}p5")
            assert ext.info() == [pyvirt.VIR_STORAGE_VOL_BLOCK, 31595520, 5481984]
            assert "<extent start='8618496' end='14100480'/>" in logical.XMLDesc()
            assert pool.info()[1:] == [67107840, 21931520, 45173760]
            with pytest.raises(pyvirt.libvirtError) as info:
                ext.wipe(0)
            assert info.value.get_error_message() == (
                "this function is not supported by the connection driver: cannot wipe "
                f"extended partition '{dev}p2'")
            logical.delete(0)
            assert pool.storageVolLookupByName(f"{name}p2").info()[2] == 0
            pool.destroy()
        finally:
            conn.close()
