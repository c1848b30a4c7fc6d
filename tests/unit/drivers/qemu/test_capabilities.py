"""The QEMU driver's emulator probe (real /usr/bin/qemu-system-x86_64, probed once per
session into a private cache), the KVM probe, and the two capabilities documents."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator

import pytest
from lxml import etree

from pyvirt import constants as c
from pyvirt.conf.capabilities import Capabilities
from pyvirt.conf.domcaps import DomainCapabilities
from pyvirt.drivers.qemu import capabilities as qcaps
from pyvirt.drivers.qemu.emulator import EmulatorCaps, MachineType
from pyvirt.errors import libvirtError

QEMU = "/usr/bin/qemu-system-x86_64"
needs_qemu = pytest.mark.skipif(not os.access(QEMU, os.X_OK), reason=f"{QEMU} not installed")


class Probed:
    def __init__(self, caps: EmulatorCaps, cache_dir: str, seconds: float) -> None:
        self.caps = caps
        self.cache_dir = cache_dir
        self.seconds = seconds


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probed]:
    if not os.access(QEMU, os.X_OK):
        pytest.skip(f"{QEMU} not installed")
    cache_dir = str(tmp_path_factory.mktemp("qemu-cache"))
    started = time.monotonic()
    caps = qcaps.probe_emulator(QEMU, cache_dir)
    yield Probed(caps, cache_dir, time.monotonic() - started)


# ---- the probe ----------------------------------------------------------------------------


def test_probe_identity(probed: Probed) -> None:
    caps = probed.caps
    assert caps.binary == QEMU and caps.arch == "x86_64"
    assert caps.version >= 2_012_000
    st = os.stat(QEMU)
    assert caps.stamp == (st.st_mtime_ns, st.st_size)
    assert probed.seconds < 20  # "a few seconds": about one on a normal host


def test_probe_machines(probed: Probed) -> None:
    caps = probed.caps
    by_alias = {m.alias: m for m in caps.machines if m.alias}
    assert by_alias["pc"].name.startswith("pc-i440fx-")
    assert by_alias["q35"].name.startswith("pc-q35-")
    assert caps.canonical_machine("pc") == by_alias["pc"].name
    assert caps.canonical_machine("q35") == by_alias["q35"].name
    assert caps.canonical_machine("no-such-machine") is None
    assert "none" not in {m.name for m in caps.machines}
    # libvirt's preferred machine ("pc") comes first
    assert caps.machines[0].alias == "pc"
    assert by_alias["q35"].cpu_max >= 255


def test_probe_devices_commands_cpus(probed: Probed) -> None:
    caps = probed.caps
    for name in ("virtio-blk-pci", "virtio-net-pci", "isa-debug-exit", "VGA", "iothread"):
        assert caps.has_device(name), name
    assert not caps.has_device("no-such-device")
    assert "query-status" in caps.commands and "vnc" in caps.flags
    assert "qemu64" in caps.cpu_models and caps.cpu_blockers["qemu64"] == []
    assert "spinlocks" in caps.hyperv_features


def test_probe_kvm_result_recorded(probed: Probed) -> None:
    caps = probed.caps
    assert isinstance(caps.kvm, bool) and caps.kvm_reason
    if caps.kvm:
        assert caps.kvm_cpu_models
    else:
        assert caps.kvm_cpu_models == []


def test_cache_file(probed: Probed) -> None:
    path = qcaps.cache_path(QEMU, probed.cache_dir)
    assert path == os.path.join(probed.cache_dir, "capabilities",
                                "usr_bin_qemu-system-x86_64.json")
    with open(path) as fh:
        data = json.load(fh)
    assert data["key"]["format"] == qcaps.PROBE_FORMAT
    assert data["key"]["stamp"] == list(probed.caps.stamp)
    assert EmulatorCaps.from_json(data["caps"]).to_json() == probed.caps.to_json()
    leftovers = [n for n in os.listdir(os.path.dirname(path)) if n.endswith(".tmp")]
    assert leftovers == []


def test_cache_reused_without_starting_qemu(probed: Probed,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def no_process(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached probe started a process")

    monkeypatch.setattr(qcaps.subprocess, "Popen", no_process)
    started = time.monotonic()
    again = qcaps.probe_emulator(QEMU, probed.cache_dir)
    assert time.monotonic() - started < 0.5
    assert again.to_json() == probed.caps.to_json()


def test_changed_binary_is_reprobed(tmp_path: os.PathLike[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    binary = os.path.join(str(tmp_path), "qemu-fake")
    with open(binary, "w") as fh:
        fh.write("#!/bin/sh\nexit 1\n")
    os.chmod(binary, 0o755)
    calls: list[str] = []

    def fake_probe(path: str) -> EmulatorCaps:
        calls.append(path)
        return EmulatorCaps(path, "x86_64", 7_002_000, machines=[MachineType("m1")])

    monkeypatch.setattr(qcaps, "_probe_uncached", fake_probe)
    cache = os.path.join(str(tmp_path), "cache")
    first = qcaps.probe_emulator(binary, cache)
    qcaps.probe_emulator(binary, cache)
    assert calls == [binary]
    st = os.stat(binary)
    os.utime(binary, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    second = qcaps.probe_emulator(binary, cache)
    assert calls == [binary, binary]
    assert second.stamp != first.stamp
    # a cache file of another probe format is ignored too
    path = qcaps.cache_path(binary, cache)
    with open(path) as fh:
        data = json.load(fh)
    data["key"]["format"] = -1
    with open(path, "w") as fh:
        json.dump(data, fh)
    qcaps.probe_emulator(binary, cache)
    assert len(calls) == 3


def test_probe_errors(tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(libvirtError) as info:
        qcaps.probe_emulator("/nonexistent/qemu-system-x86_64", str(tmp_path))
    assert info.value.get_error_code() == c.VIR_ERR_SYSTEM_ERROR
    assert "Cannot check QEMU binary /nonexistent/qemu-system-x86_64" in str(info.value)
    binary = os.path.join(str(tmp_path), "not-qemu")
    with open(binary, "w") as fh:
        fh.write("#!/bin/sh\necho no >&2\nexit 3\n")
    os.chmod(binary, 0o755)
    started = time.monotonic()
    with pytest.raises(libvirtError) as info:
        qcaps.probe_emulator(binary, str(tmp_path))
    assert time.monotonic() - started < 10
    assert info.value.get_error_code() == c.VIR_ERR_INTERNAL_ERROR
    assert info.value.get_error_domain() == c.VIR_FROM_QEMU
    assert f"Failed to probe capabilities for {binary}" in str(info.value)


# ---- the KVM probe ------------------------------------------------------------------------


def test_kvm_probe_bios_image() -> None:
    image = qcaps.kvm_probe_bios()
    assert len(image) == 64 * 1024
    assert image[0xFFF0:0xFFF5] == b"\xea\x00\x00\x00\xf0"


@needs_qemu
def test_kvm_probe_image_runs_under_tcg(tmp_path: os.PathLike[str]) -> None:
    """The image itself is right: TCG runs it through every stage to exit status 99."""
    bios = os.path.join(str(tmp_path), "probe.bin")
    stages = os.path.join(str(tmp_path), "stages")
    with open(bios, "wb") as fh:
        fh.write(qcaps.kvm_probe_bios())
    proc = subprocess.run(
        [QEMU, "-accel", "tcg", "-machine", "pc", "-m", "16", "-nodefaults",
         "-display", "none", "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
         "-chardev", f"file,id=s,path={stages}", "-device", "isa-debugcon,iobase=0x402,chardev=s",
         "-bios", bios], capture_output=True, timeout=30, check=False)
    assert proc.returncode == qcaps.KVM_PROBE_OK_STATUS
    with open(stages) as fh:
        assert fh.read() == "12C34X56"


@needs_qemu
def test_probe_kvm_answers_within_timeout() -> None:
    started = time.monotonic()
    ok, reason = qcaps.probe_kvm(QEMU, timeout=10.0)
    assert time.monotonic() - started < 15
    assert isinstance(ok, bool) and isinstance(reason, str) and reason
    if ok:
        assert "timer interrupt" in reason
    else:
        assert "KVM" in reason or "kvm" in reason


def test_kvm_probe_verdict() -> None:
    def run(stages: str, seconds: float) -> list[tuple[str, float]]:
        return [(ch, 0.1 if i < 2 else 0.1 + seconds) for i, ch in enumerate(stages)]

    ok, reason = qcaps.kvm_probe_verdict(99, run("12C34X56", 0.002), "", 10)
    assert ok and "a locked cmpxchg16b" in reason and "a timer interrupt delivered" in reason
    ok, reason = qcaps.kvm_probe_verdict(99, run("12CP", 0.002), "", 10)
    assert ok and "no long mode" in reason
    ok, reason = qcaps.kvm_probe_verdict(99, run("12C34X56", 1.5), "", 10)
    assert not ok and "1.5 million instructions took 1.50s" in reason
    ok, reason = qcaps.kvm_probe_verdict(None, run("12", 0), "", 10)
    assert not ok and "1.5 million instructions took more than 0.5s" in reason
    ok, reason = qcaps.kvm_probe_verdict(None, run("12C34", 0.002), "", 10)
    assert not ok and reason == ("KVM guest code did not finish within 10s (last stage "
                                 "reached: 64-bit arithmetic and memory; stuck before: a "
                                 "locked cmpxchg16b)")
    ok, reason = qcaps.kvm_probe_verdict(1, [], "failed to initialize kvm", 10)
    assert not ok and reason.endswith("(no guest code ran); failed to initialize kvm")


def test_probe_kvm_never_hangs(tmp_path: os.PathLike[str]) -> None:
    hung = os.path.join(str(tmp_path), "hung-qemu")
    with open(hung, "w") as fh:
        fh.write("#!/bin/sh\nexec sleep 60\n")
    os.chmod(hung, 0o755)
    started = time.monotonic()
    ok, reason = qcaps.probe_kvm(hung, timeout=1.0)
    assert time.monotonic() - started < 8
    assert ok is False and reason


# ---- capabilities XML ---------------------------------------------------------------------


def test_host_capabilities_xml(probed: Probed) -> None:
    xml = qcaps.host_capabilities_xml([probed.caps], arch="x86_64")
    root = etree.fromstring(xml.encode())
    assert root.tag == "capabilities"
    host = root.find("host")
    assert host.findtext("uuid") and host.findtext("cpu/arch") == "x86_64"
    assert [t.text for t in host.iterfind("migration_features/uri_transports/uri_transport")] \
        == ["tcp", "rdma"]
    assert host.find("migration_features/live") is not None
    assert host.find("topology/cells/cell/cpus/cpu") is not None
    assert host.findtext("secmodel/model") == "none"
    guest = root.xpath("guest[arch/@name='x86_64']")[0]
    assert guest.findtext("os_type") == "hvm"
    assert guest.findtext("arch/wordsize") == "64"
    assert guest.findtext("arch/emulator") == QEMU
    machines = {m.text: m.get("canonical") for m in guest.iterfind("arch/machine")}
    assert machines["pc"] == probed.caps.canonical_machine("pc")
    assert machines["q35"] == probed.caps.canonical_machine("q35")
    assert probed.caps.canonical_machine("pc") in machines
    domains = [d.get("type") for d in guest.iterfind("arch/domain")]
    assert domains == (["qemu", "kvm"] if probed.caps.kvm else ["qemu"])
    features = [f.tag for f in guest.find("features")]
    assert features == ["acpi", "apic", "cpuselection", "deviceboot", "disksnapshot"]
    # the x86_64 emulator serves i686 guests too, with pae/nonpae, and i686 comes first
    archs = [g.get("name") for g in root.iterfind("guest/arch")]
    assert archs == ["i686", "x86_64"]
    i686 = root.xpath("guest[arch/@name='i686']")[0]
    assert [f.tag for f in i686.find("features")][:2] == ["pae", "nonpae"]
    # the model reads it back and prints it identically
    assert Capabilities.from_xml(xml).to_xml() == xml


def test_host_capabilities_uuid_is_stable() -> None:
    assert qcaps.host_uuid() == qcaps.host_uuid()
    assert qcaps.format_cpulist([0, 1, 2, 3, 8, 10, 11]) == "0-3,8,10-11"


def _domcaps(caps: EmulatorCaps, **kwargs: object) -> etree._Element:
    xml = qcaps.domain_capabilities_xml(caps, **kwargs)  # type: ignore[arg-type]
    assert DomainCapabilities.from_xml(xml).to_xml() == xml
    return etree.fromstring(xml.encode())


def test_domain_capabilities_xml(probed: Probed) -> None:
    caps = probed.caps
    root = _domcaps(caps, arch="x86_64", machine="pc", virttype="qemu")
    assert root.findtext("path") == QEMU
    assert root.findtext("domain") == "qemu"
    assert root.findtext("machine") == caps.canonical_machine("pc")
    assert root.findtext("arch") == "x86_64"
    assert root.find("vcpu").get("max") == "255"
    assert root.find("iothreads").get("supported") == "yes"
    assert root.find("cpu/mode[@name='host-passthrough']").get("supported") == "no"
    custom = {m.text: m.get("usable") for m in root.iterfind("cpu/mode[@name='custom']/model")}
    assert custom["qemu64"] == "yes" and "max" not in custom and "qemu64-v1" not in custom
    buses = [v.text for v in root.iterfind("devices/disk/enum[@name='bus']/value")]
    assert buses[:2] == ["ide", "fdc"] and "virtio" in buses
    assert "vnc" in [v.text for v in root.iterfind("devices/graphics/enum/value")]
    assert root.find("features/genid").get("supported") == "yes"
    assert root.find("features/backingStoreInput").get("supported") == "yes"
    # q35 by its alias: the canonical name, no IDE
    root = _domcaps(caps, arch=None, machine="q35", virttype="qemu")
    assert root.findtext("machine") == caps.canonical_machine("q35")
    assert "ide" not in [v.text for v in root.iterfind("devices/disk/enum[@name='bus']/value")]
    # defaults: libvirt's preferred machine, kvm when KVM works
    root = _domcaps(caps)
    assert root.findtext("machine") == caps.machines[0].name
    assert root.findtext("domain") == ("kvm" if caps.kvm else "qemu")
    if caps.kvm:
        assert root.find("cpu/mode[@name='host-passthrough']").get("supported") == "yes"
    # an x86_64 emulator serves i686
    assert _domcaps(caps, arch="i686", virttype="qemu").findtext("arch") == "i686"


def test_domain_capabilities_firmware(probed: Probed, tmp_path: os.PathLike[str]) -> None:
    code = os.path.join(str(tmp_path), "CODE.fd")
    secure = os.path.join(str(tmp_path), "CODE.secboot.fd")
    for path in (code, secure):
        open(path, "wb").close()
    descriptors = [
        {"interface-types": ["uefi"], "features": ["requires-smm", "secure-boot"],
         "mapping": {"device": "flash", "executable": {"filename": secure}},
         "targets": [{"architecture": "x86_64", "machines": ["pc-q35-*"]}]},
        {"interface-types": ["uefi"], "features": [],
         "mapping": {"device": "flash", "executable": {"filename": code}},
         "targets": [{"architecture": "x86_64", "machines": ["pc-i440fx-*", "pc-q35-*"]}]},
    ]
    root = _domcaps(probed.caps, arch="x86_64", machine="q35", virttype="qemu",
                    firmware=descriptors)
    assert [v.text for v in root.iterfind("os/enum[@name='firmware']/value")] == ["efi"]
    assert [v.text for v in root.iterfind("os/loader/value")] == [secure, code]
    assert [v.text for v in root.iterfind("os/loader/enum[@name='secure']/value")] == \
        ["yes", "no"]
    root = _domcaps(probed.caps, arch="x86_64", machine="pc", virttype="qemu",
                    firmware=descriptors)
    assert [v.text for v in root.iterfind("os/loader/value")] == [code]
    assert [v.text for v in root.iterfind("os/loader/enum[@name='secure']/value")] == ["no"]


def _fails(code: int, message: str, caps: EmulatorCaps, **kwargs: object) -> None:
    with pytest.raises(libvirtError) as info:
        qcaps.domain_capabilities_xml(caps, **kwargs)  # type: ignore[arg-type]
    err = info.value
    assert (err.get_error_code(), err.get_error_domain(), str(err)) == \
        (code, c.VIR_FROM_QEMU, message)


def test_domain_capabilities_errors(probed: Probed) -> None:
    caps = probed.caps
    _fails(c.VIR_ERR_INVALID_ARG, "invalid argument: unknown architecture: bogus", caps,
           arch="bogus")
    _fails(c.VIR_ERR_INVALID_ARG, "invalid argument: unknown virttype: bogus", caps,
           virttype="bogus")
    _fails(c.VIR_ERR_INVALID_ARG,
           "invalid argument: architecture from emulator 'x86_64' doesn't match given "
           "architecture 'aarch64'", caps, arch="aarch64")
    _fails(c.VIR_ERR_INVALID_ARG,
           f"invalid argument: the machine 'no-such-machine' is not supported by emulator "
           f"'{QEMU}'", caps, machine="no-such-machine")
    no_kvm = EmulatorCaps.from_json({**caps.to_json(), "kvm": False})
    _fails(c.VIR_ERR_INVALID_ARG,
           f"invalid argument: the accel 'kvm' is not supported by '{QEMU}' on this host",
           no_kvm, virttype="kvm")
    _fails(c.VIR_ERR_INVALID_ARG,
           f"invalid argument: the accel 'tcg' is not supported by '{QEMU}' on this host",
           no_kvm, virttype="xen")
