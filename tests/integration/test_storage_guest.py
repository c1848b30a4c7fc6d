"""A TCG guest boots with a disk from a storage pool: ``<disk type='volume'>`` is translated
to the volume's file by the QEMU driver, and the guest sees it in /proc/partitions."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import pyvirt
from integration.guest import embed_uri, ensure_test_guest
from integration.test_qemu_driver import BOOT_TIMEOUT, QEMU, domain_xml, partitions_seen, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.access(QEMU, os.X_OK) or shutil.which("qemu-img") is None,
                       reason="qemu-system-x86_64 or qemu-img is missing"),
]


def test_guest_boots_with_volume_disk(tmp_path: Path) -> None:
    kernel, initrd = ensure_test_guest()
    root = tmp_path / "root"
    conn = pyvirt.open(embed_uri(root))
    try:
        pool = conn.storagePoolCreateXML(
            f"<pool type='dir'><name>vms</name><target><path>{tmp_path}/vms</path></target>"
            "</pool>", pyvirt.VIR_STORAGE_POOL_CREATE_WITH_BUILD)
        pool.createXML("<volume><name>data.qcow2</name><capacity unit='MiB'>48</capacity>"
                       "<target><format type='qcow2'/></target></volume>", 0)
        disk = ("<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>"
                "<source pool='vms' volume='data.qcow2'/><target dev='vda' bus='virtio'/></disk>")
        log = tmp_path / "serial.log"
        missing = domain_xml("nope", log, kernel, initrd, extra_devices=disk.replace(
            "data.qcow2", "absent.qcow2"))
        with pytest.raises(pyvirt.libvirtError) as info:
            conn.createXML(missing)
        assert info.value.get_error_message() == (
            "Storage volume not found: no storage vol with matching name 'absent.qcow2'")
        dom = conn.createXML(domain_xml("volguest", log, kernel, initrd, extra_devices=disk,
                                        tick=True))
        try:
            wait_until(lambda: "vda" in partitions_seen(log), BOOT_TIMEOUT,
                       "vda in the guest's /proc/partitions")
            assert "<source pool='vms' volume='data.qcow2'/>" in dom.XMLDesc()
        finally:
            dom.destroy()
    finally:
        conn.close()
