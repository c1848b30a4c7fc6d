"""fs and logical pools on loop devices the tests make from sparse files (root only): an ext4
filesystem mounted by the pool, an LVM volume group built by the pool and a logical volume
created and deleted. Everything made here (mounts, VGs, PVs, loop devices) is removed in
finally blocks."""

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
def loop_device(backing: Path, size: int) -> Iterator[str]:
    with open(backing, "wb") as fh:
        fh.truncate(size)
    dev = subprocess.run(["losetup", "--find", "--show", str(backing)], capture_output=True,
                         text=True, check=True).stdout.strip()
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
