"""Capabilities model: libvirt's own formatter output round-trips; building one by hand
prints exactly what libvirt's test driver prints."""

from __future__ import annotations

import glob
import os

import pytest

from pyvirt import constants as c
from pyvirt.conf.capabilities import Capabilities, Machine, NumaCPU
from pyvirt.errors import libvirtError

# libvirt 9.0.0's source tree (scripts/run-tests exports it; tests skip without it).
LIBVIRT_SRC = os.environ.get("PYVIRT_LIBVIRT_SRC", "/tmp/libvirt-src/src")

LIBVIRT_TESTS = os.path.join(LIBVIRT_SRC, "tests")
VIRCAPS = sorted(glob.glob(f"{LIBVIRT_TESTS}/vircaps2xmldata/*.xml"))
SCHEMA = sorted(glob.glob(f"{LIBVIRT_TESTS}/capabilityschemadata/*.xml"))

# What test:///default answers to getCapabilities() (libvirt 9.0).
TEST_DRIVER_CAPS = """<capabilities>

  <host>
    <cpu>
      <arch>i686</arch>
      <features>
        <pae/>
        <nonpae/>
      </features>
      <pages unit='KiB' size='4'/>
      <pages unit='KiB' size='8'/>
      <pages unit='KiB' size='2048'/>
      <pages unit='KiB' size='1048576'/>
    </cpu>
    <power_management/>
    <iommu support='no'/>
    <topology>
      <cells num='2'>
{cells}      </cells>
    </topology>
    <secmodel>
      <model>testSecurity</model>
      <doi></doi>
    </secmodel>
  </host>

{guests}</capabilities>
"""


def _expected_test_caps() -> str:
    cells = []
    for cell, (mem, page) in enumerate(((2097152, 4), (4194304, 8))):
        lines = [f"        <cell id='{cell}'>\n",
                 f"          <memory unit='KiB'>{mem}</memory>\n",
                 f"          <pages unit='KiB' size='{page}'>524288</pages>\n",
                 "          <pages unit='KiB' size='2048'>0</pages>\n",
                 "          <pages unit='KiB' size='1048576'>0</pages>\n",
                 "          <cpus num='8'>\n"]
        for core in range(8):
            cpu = cell * 8 + core
            lines.append(f"            <cpu id='{cpu}' socket_id='{cell}' die_id='0' "
                         f"core_id='{core}' siblings='{cpu}'/>\n")
        lines += ["          </cpus>\n", "        </cell>\n"]
        cells.append("".join(lines))
    guests = ""
    for os_type in ("hvm", "xen"):
        guests += (f"  <guest>\n    <os_type>{os_type}</os_type>\n    <arch name='i686'>\n"
                   "      <wordsize>32</wordsize>\n      <emulator>/usr/bin/test-hv</emulator>\n"
                   "      <domain type='test'/>\n    </arch>\n    <features>\n      <pae/>\n"
                   "      <nonpae/>\n    </features>\n  </guest>\n\n")
    return TEST_DRIVER_CAPS.format(cells="".join(cells), guests=guests)


def _build_test_caps() -> Capabilities:
    caps = Capabilities.new("i686")
    caps.host.cpu.flags = ["pae", "nonpae"]
    caps.host.cpu.pages = [4, 8, 2048, 1048576]
    for cell, (mem, page) in enumerate(((2097152, 4), (4194304, 8))):
        cpus = [NumaCPU(id=cell * 8 + core, socket_id=cell, core_id=core,
                        siblings=str(cell * 8 + core)) for core in range(8)]
        caps.host.add_numa_cell(cell, mem, cpus, pages=[(page, 524288), (2048, 0), (1048576, 0)])
    caps.host.add_secmodel("testSecurity")
    for os_type in ("hvm", "xen"):
        guest = caps.add_guest(os_type, "i686", 32, "/usr/bin/test-hv")
        guest.add_domain("test")
        guest.add_feature("nonpae")
        guest.add_feature("pae")
    return caps


def test_built_like_the_test_driver() -> None:
    assert _build_test_caps().to_xml() == _expected_test_caps()


def test_parse_back_the_test_driver_caps() -> None:
    caps = Capabilities.from_xml(_expected_test_caps())
    assert caps.host.cpu.arch == "i686"
    assert caps.host.numa_cells is not None and len(caps.host.numa_cells) == 2
    assert caps.host.numa_cells[1].cpus[0].id == 8
    assert caps.host.secmodels[0].doi == ""
    assert [g.os_type for g in caps.guests] == ["hvm", "xen"]
    assert caps.guest_for("xen", "i686", "test") is caps.guests[1]
    assert caps.guest_for("exe") is None
    assert caps.to_xml() == _expected_test_caps()


@pytest.mark.skipif(not VIRCAPS, reason="libvirt source tree not available")
@pytest.mark.parametrize("path", VIRCAPS, ids=os.path.basename)
def test_vircaps2xml_roundtrip(path: str) -> None:
    text = open(path).read()
    assert Capabilities.from_xml(text).to_xml() == text


@pytest.mark.skipif(not SCHEMA, reason="libvirt source tree not available")
@pytest.mark.parametrize("path", SCHEMA, ids=os.path.basename)
def test_schema_data_parses_and_is_stable(path: str) -> None:
    # Hand-written schema samples, not formatter output: check parse -> format is a fixpoint.
    once = Capabilities.from_xml(open(path).read()).to_xml()
    assert Capabilities.from_xml(once).to_xml() == once


def test_guests_machines_and_features() -> None:
    caps = Capabilities.new("x86_64", offline_migrate=True, live_migrate=True)
    caps.host.migrate_transports = ["tcp"]
    guest = caps.add_guest("hvm", "x86_64", 64, "/usr/bin/qemu-system-x86_64",
                           [Machine("pc-i440fx-7.2", canonical=None, max_cpus=255),
                            Machine("pc", canonical="pc-i440fx-7.2", max_cpus=255),
                            Machine("old", deprecated=True)])
    guest.add_domain("qemu")
    guest.add_domain("kvm", "/usr/bin/qemu-system-x86_64", [Machine("old", deprecated=True)])
    guest.add_feature("apic", default=True, toggle=False)
    guest.add_feature("acpi", default=True, toggle=True)
    xml = caps.to_xml()
    assert "<machine canonical='pc-i440fx-7.2' maxCpus='255'>pc</machine>" in xml
    assert "<machine deprecated='yes'>old</machine>" in xml
    assert "        <machine>old</machine>\n" in xml
    assert xml.index("<acpi default='on' toggle='yes'/>") < xml.index("<apic")
    assert "<live/>" in xml and "<uri_transport>tcp</uri_transport>" in xml
    assert Capabilities.from_xml(xml).to_xml() == xml
    assert caps.emulator_for("hvm", "x86_64", "kvm") == "/usr/bin/qemu-system-x86_64"
    assert caps.emulator_for("hvm", "x86_64", "qemu") == "/usr/bin/qemu-system-x86_64"
    assert caps.emulator_for("hvm", "aarch64", "qemu") is None
    assert [m.name for m in caps.machines_for("hvm", "x86_64", "kvm")] == ["old"]
    assert len(caps.machines_for("hvm", "x86_64", "qemu")) == 3


def test_empty_host_is_left_out() -> None:
    assert Capabilities().to_xml() == "<capabilities>\n\n</capabilities>\n"


def test_bad_input() -> None:
    with pytest.raises(libvirtError) as err:
        Capabilities.from_xml("<domain/>")
    assert err.value.get_error_code() == c.VIR_ERR_XML_ERROR
    with pytest.raises(libvirtError) as err:
        Capabilities.from_xml("<capabilities><host><uuid>nope</uuid></host></capabilities>")
    assert err.value.get_error_code() == c.VIR_ERR_XML_ERROR
    with pytest.raises(libvirtError):
        Capabilities().add_guest("hvm", "i686", 32).add_feature("bogus")
