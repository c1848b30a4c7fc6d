"""Domain capabilities: libvirt's domaincapsdata files (formatter output) read back and
printed identically; a hand-built document prints libvirt's layout."""

from __future__ import annotations

import glob
import os

import pytest

from pyvirt.conf.domcaps import CapsBlock, CPUModel, DomainCapabilities

# libvirt 9.0.0's source tree (scripts/run-tests exports it; tests skip without it).
LIBVIRT_SRC = os.environ.get("PYVIRT_LIBVIRT_SRC", "/tmp/libvirt-src/src")

CORPUS = sorted(glob.glob(os.path.join(LIBVIRT_SRC, "tests", "domaincapsdata/*.xml")))


@pytest.mark.skipif(not CORPUS, reason="libvirt source tree not available")
@pytest.mark.parametrize("path", CORPUS, ids=os.path.basename)
def test_corpus_roundtrip(path: str) -> None:
    text = open(path).read()
    assert DomainCapabilities.from_xml(text).to_xml() == text


def test_build() -> None:
    caps = DomainCapabilities(
        path="/usr/bin/qemu-system-x86_64",
        virt_type="kvm",
        arch="x86_64",
        machine="pc-q35-7.2",
        max_vcpus=288,
        iothreads=True,
    )
    caps.os.supported = True
    caps.os.enum("firmware", ["bios", "efi"])
    loader = caps.os.children.setdefault("loader", CapsBlock(supported=True))
    loader.values = ["/usr/share/OVMF/OVMF_CODE.fd"]
    loader.enum("type", ["rom", "pflash"])
    caps.cpu.host_passthrough = True
    caps.cpu.host_passthrough_migratable = ["on", "off"]
    caps.cpu.custom_models = [CPUModel("qemu64", "yes")]
    disk = caps.device("disk")
    disk.supported = True
    disk.enum("bus", ["virtio", "sata"])
    disk.enum("model")
    caps.device("tpm").supported = False
    caps.features["genid"] = True
    xml = caps.to_xml()
    assert "<vcpu max='288'/>\n  <iothreads supported='yes'/>\n  <os supported='yes'>" in xml
    assert "<value>/usr/share/OVMF/OVMF_CODE.fd</value>\n      <enum name='type'>" in xml
    assert "<model usable='yes' vendor='unknown'>qemu64</model>" in xml
    assert "<mode name='maximum' supported='no'/>" in xml
    assert "<enum name='model'/>" in xml and "<tpm supported='no'/>" in xml
    assert "<genid supported='yes'/>\n    <sev supported='no'/>" in xml
    assert DomainCapabilities.from_xml(xml).to_xml() == xml
