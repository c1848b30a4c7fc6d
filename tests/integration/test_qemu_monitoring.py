"""Reading running QEMU guests through pyvirt: the console stream on the guest's pty,
screenshots, statistics; autostart when a driver starts on a freshly booted host; the
command line of a definition (domxml-to-native)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

import pyvirt
from integration.guest import GUEST_APPEND, GUEST_PROMPT, embed_uri, ensure_test_guest
from integration.test_qemu_driver import BOOT_TIMEOUT, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.access("/usr/bin/qemu-system-x86_64", os.X_OK),
                       reason="qemu-system-x86_64 is missing"),
]

XML = """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>{append}</cmdline>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>
    <video><model type='vga'/></video>
    <memballoon model='virtio'><stats period='1'/></memballoon>
  </devices>
</domain>
"""


@pytest.fixture
def guest(tmp_path: Path):  # type: ignore[no-untyped-def]
    import subprocess

    kernel, initrd = ensure_test_guest()
    disk = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    conn = pyvirt.open(embed_uri(tmp_path / 'root'))
    xml = XML.format(name="mon", kernel=kernel, initrd=initrd, append=GUEST_APPEND, disk=disk)
    dom = conn.createXML(xml, 0)
    yield conn, dom, xml
    if dom.isActive():
        dom.destroy()
    conn.close()


class ConsoleReader:
    """Collects what the guest writes to its console stream, in a thread."""

    def __init__(self, stream: pyvirt.virStream) -> None:
        self.stream = stream
        self.data = b""
        self.lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                chunk = self.stream.recv(4096)
            except pyvirt.libvirtError:
                return
            if not isinstance(chunk, bytes) or not chunk:
                return
            with self.lock:
                self.data += chunk

    def text(self) -> str:
        with self.lock:
            return self.data.decode(errors="replace")


def test_console_stream_talks_to_the_guest_shell(guest) -> None:  # type: ignore[no-untyped-def]
    conn, dom, _xml = guest
    assert "<source path='/dev/pts/" in dom.XMLDesc()  # the pty QEMU allocated
    stream = conn.newStream(0)
    dom.openConsole(None, stream, 0)
    reader = ConsoleReader(stream)
    # the guest may still be booting: poke until its shell prompt answers
    deadline = time.monotonic() + BOOT_TIMEOUT
    while GUEST_PROMPT not in reader.text() and time.monotonic() < deadline:
        stream.send(b"\n")
        time.sleep(0.5)
    assert GUEST_PROMPT in reader.text()
    stream.send(b"echo pyvirt-$((6 * 7))\n")
    wait_until(lambda: "pyvirt-42" in reader.text(), 10, "the guest's answer")
    stream.abort()


def test_screenshot_statistics_and_vcpus(guest) -> None:  # type: ignore[no-untyped-def]
    conn, dom, _xml = guest
    stream = conn.newStream(0)
    mime = dom.screenshot(stream, 0, 0)
    assert mime == "image/x-portable-pixmap"
    image = b""
    while True:
        chunk = stream.recv(65536)
        if not chunk:
            break
        image += chunk
    stream.finish()
    assert image.startswith(b"P6\n")

    info, maps = dom.vcpus()
    assert len(info) == 1 and info[0][0] == 0 and info[0][1] == pyvirt.VIR_VCPU_RUNNING
    assert len(maps[0]) == os.cpu_count()

    mem = dom.memoryStats()
    assert mem["actual"] == 256 * 1024
    assert mem["rss"] > 0

    rd_req, rd_bytes, wr_req, wr_bytes, errs = dom.blockStats("vda")
    assert rd_req >= 0 and rd_bytes >= 0 and errs == -1

    [(handle, stats)] = conn.getAllDomainStats(0, 0)
    assert handle.name() == "mon"
    assert stats["state.state"] == pyvirt.VIR_DOMAIN_RUNNING
    assert stats["cpu.time"] > 0
    assert stats["balloon.maximum"] == 256 * 1024
    assert stats["vcpu.current"] == 1 and "vcpu.0.time" in stats
    assert stats["block.count"] == 1 and stats["block.0.name"] == "vda"

    dom.setMemory(128 * 1024)
    wait_until(lambda: dom.memoryStats()["actual"] == 128 * 1024, 30, "the balloon")
    assert dom.info()[2] == 128 * 1024


def test_domxml_to_native(guest) -> None:  # type: ignore[no-untyped-def]
    conn, _dom, xml = guest
    native = conn.domainXMLToNative("qemu-argv", xml.replace("<name>mon", "<name>other"), 0)
    assert native.startswith("LC_ALL=C ")
    assert "/usr/bin/qemu-system-x86_64" in native and "guest=other" in native
    with pytest.raises(pyvirt.libvirtError) as exc:
        conn.domainXMLToNative("xen-xm", xml, 0)
    assert exc.value.get_error_code() == pyvirt.VIR_ERR_INVALID_ARG


def test_autostart_once_per_host_boot(tmp_path: Path) -> None:
    kernel, initrd = ensure_test_guest()
    uri = embed_uri(tmp_path / 'root')
    conn = pyvirt.open(uri)
    xml = XML.format(name="auto", kernel=kernel, initrd=initrd, append=GUEST_APPEND,
                     disk=tmp_path / "none.qcow2")
    xml = xml.replace(xml[xml.index("    <disk"):xml.index("</disk>") + len("</disk>")], "")
    dom = conn.defineXML(xml)
    dom.setAutostart(1)
    assert dom.autostart() == 1
    conn.close()
    # A driver that starts again in the same boot of the host starts nothing...
    conn = pyvirt.open(uri)
    assert not conn.lookupByName("auto").isActive()
    conn.close()
    # ...after a host reboot (the run directory is empty again) it starts the domain.
    (tmp_path / "root" / "run" / "qemu" / "autostarted").unlink()
    conn = pyvirt.open(uri)
    try:
        dom = conn.lookupByName("auto")
        assert dom.isActive()
        assert dom.state() == [pyvirt.VIR_DOMAIN_RUNNING, pyvirt.VIR_DOMAIN_RUNNING_BOOTED]
        dom.destroy()
    finally:
        conn.close()
