"""The libvirt article's QEMU domain (the ReactOS example) and bad input, on
``qemu:///embed?root=DIR`` through pyvirsh and the API.

The article's XML is used with the changes the issue allows: its XML declaration fixed,
``/usr/bin/qemu`` and the VMDK path pointed at this machine's emulator and a small VMDK image
made here, and ``network='default'`` replaced by a user-mode interface (no network driver yet).
As written (with ``/usr/bin/qemu``) it must fail with libvirt's error.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

import pyvirt
from integration.guest import embed_uri

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.access("/usr/bin/qemu-system-x86_64", os.X_OK),
                       reason="qemu-system-x86_64 is missing"),
]

PYVIRSH = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "pyvirsh"

ARTICLE = """<?xml version="1.0"?>
<domain type='qemu'>
  <name>ReactOS</name>
  <memory>131072</memory>
  <currentMemory>131072</currentMemory>
  <vcpu>1</vcpu>
  <os>
    <type arch='i686' machine='pc'>hvm</type>
  </os>
  <devices>
    <emulator>{emulator}</emulator>
    <disk type='file' device='disk'>
      <source file='{image}'/>
      <target dev='hda'/>
    </disk>
    {interface}
    <graphics type='vnc' port='-1'/>
  </devices>
</domain>
"""


def article(tmp_path: Path, *, as_written: bool = False) -> Path:
    image = tmp_path / "ReactOS.vmdk"
    if not image.exists():
        subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", str(image), "64M"],
                       check=True)
    xml = ARTICLE.format(
        emulator="/usr/bin/qemu" if as_written else "/usr/bin/qemu-system-i386",
        image=image,
        interface=("<interface type='network'><source network='default'/></interface>"
                   if as_written else "<interface type='user'/>"))
    path = tmp_path / ("reactos-as-written.xml" if as_written else "reactos.xml")
    path.write_text(xml)
    return path


def pyvirsh(uri: str, *words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PYVIRSH), "-c", uri, *words], capture_output=True, text=True,
                          timeout=120)


def running_qemu_under(root: Path) -> list[int]:
    """Pids of QEMU processes whose command line names a path under ``root``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if b"qemu-system" in cmdline and str(root).encode() in cmdline:
            pids.append(int(entry))
    return pids


@pytest.fixture
def root(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "root"
    yield path
    for pid in running_qemu_under(path):  # only guests this test started
        os.kill(pid, 9)


def test_article_domain_runs_i686_with_vnc_autoport(root: Path, tmp_path: Path) -> None:
    uri = embed_uri(root)
    xml = article(tmp_path)
    res = pyvirsh(uri, f"create {xml}; list; domstate ReactOS; dominfo ReactOS; "
                       "vncdisplay ReactOS; dumpxml ReactOS")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert f"Domain 'ReactOS' created from {xml}" in out
    assert " 1    ReactOS   running" in out
    assert "State:          running" in out
    assert "OS Type:        hvm" in out
    assert "Security model: none" in out
    assert re.search(r"\n127\.0\.0\.1:\d+\n", out)  # autoport: the first free display
    assert "<type arch='i686' machine='pc-i440fx-" in out
    # a port from this test worker's autoport range (see embed_uri)
    assert re.search(r"<graphics type='vnc' port='(59|6\d)\d\d' autoport='yes'", out)
    # i686 is emulated by qemu-system-i386, TCG
    pids = running_qemu_under(root)
    assert len(pids) == 1
    cmdline = Path(f"/proc/{pids[0]}/cmdline").read_bytes().split(b"\0")
    assert b"accel=tcg" in b" ".join(cmdline) or b"tcg" in b" ".join(cmdline)
    res = pyvirsh(uri, "destroy ReactOS")
    assert res.returncode == 0 and res.stdout == "Domain 'ReactOS' destroyed\n\n"


def test_article_as_written_fails_with_libvirts_error(root: Path, tmp_path: Path) -> None:
    uri = embed_uri(root)
    res = pyvirsh(uri, f"create {article(tmp_path, as_written=True)}")
    assert res.returncode == 1
    assert res.stdout == "\n"  # virsh's blank line after a failed command
    assert res.stderr == (f"error: Failed to create domain from "
                          f"{tmp_path / 'reactos-as-written.xml'}\n"
                          "error: Cannot check QEMU binary /usr/bin/qemu: "
                          "No such file or directory\n")
    assert "Traceback" not in res.stderr
    assert running_qemu_under(root) == []


# ---- bad input: a libvirtError before any process starts, nothing left behind ------------

GUEST = """<domain type='{virt}'>
  <name>bad</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    {emulator}
    {devices}
  </devices>
</domain>
"""


def guest(devices: str = "", emulator: str | None = None, virt: str = "qemu") -> str:
    emu = f"<emulator>{emulator}</emulator>" if emulator else ""
    return GUEST.format(devices=devices, emulator=emu, virt=virt)


def assert_nothing_left(conn: pyvirt.virConnect, root: Path) -> None:
    assert running_qemu_under(root) == []
    run = root / "run" / "qemu"
    assert not list(run.glob("*.xml")) if run.exists() else True
    assert conn._drv._vnc_ports == set()
    assert conn.listAllDomains(pyvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE) == []


@pytest.fixture
def conn(root: Path):  # type: ignore[no-untyped-def]
    c = pyvirt.open(embed_uri(root))
    yield c
    c.close()


def test_unknown_emulator_path(conn, root: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(pyvirt.libvirtError) as exc:
        conn.defineXML(guest(emulator="/usr/bin/no-such-qemu"))
    assert exc.value.get_error_code() == pyvirt.VIR_ERR_SYSTEM_ERROR
    assert str(exc.value) == ("Cannot check QEMU binary /usr/bin/no-such-qemu: "
                              "No such file or directory")
    assert conn.listAllDomains() == []
    assert not (root / "etc" / "qemu" / "bad.xml").exists()


def test_missing_disk_image(conn, root: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "missing.qcow2"
    disk = (f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
            f"<source file='{missing}'/><target dev='vda' bus='virtio'/></disk>"
            "<graphics type='vnc' port='-1'/>")
    with pytest.raises(pyvirt.libvirtError) as exc:
        conn.createXML(guest(disk))
    assert exc.value.get_error_code() == pyvirt.VIR_ERR_SYSTEM_ERROR
    assert str(exc.value).startswith(f"Cannot access storage file '{missing}'")
    assert str(exc.value).endswith("No such file or directory")
    assert_nothing_left(conn, root)
    assert conn.listAllDomains() == []


def test_vnc_port_clash(conn, root: Path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(pyvirt.libvirtError) as exc:
            conn.createXML(guest(f"<graphics type='vnc' port='{port}' autoport='no' "
                                 "listen='127.0.0.1'/>"))
    assert exc.value.get_error_code() == pyvirt.VIR_ERR_INTERNAL_ERROR
    assert str(exc.value) == f"internal error: Failed to reserve port {port}"
    assert_nothing_left(conn, root)


def test_invalid_device_model(conn, root: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(pyvirt.libvirtError) as exc:
        conn.createXML(guest("<interface type='user'><model type='no-such-nic'/></interface>"
                             "<graphics type='vnc' port='-1'/>"))
    assert exc.value.get_error_code() in (pyvirt.VIR_ERR_CONFIG_UNSUPPORTED,
                                          pyvirt.VIR_ERR_XML_ERROR,
                                          pyvirt.VIR_ERR_INTERNAL_ERROR)
    assert "no-such-nic" in str(exc.value)
    assert_nothing_left(conn, root)


def test_kvm_when_kvm_cannot_run_guests(conn, root: Path) -> None:  # type: ignore[no-untyped-def]
    caps = conn._drv.caps_for("/usr/bin/qemu-system-x86_64")
    if caps.kvm:
        pytest.skip("KVM works on this host")
    with pytest.raises(pyvirt.libvirtError) as exc:
        conn.createXML(guest(virt="kvm"))
    assert exc.value.get_error_code() == pyvirt.VIR_ERR_CONFIG_UNSUPPORTED
    assert str(exc.value) == ("unsupported configuration: Emulator "
                              "'/usr/bin/qemu-system-x86_64' does not support virt type 'kvm'")
    assert_nothing_left(conn, root)
