"""Domain XML model: parse -> defaults -> validate -> format, and libvirt's errors.

Expected error codes and messages were checked against libvirt 9.0's test driver
(``virConnectDefineXML`` on test:///default).
"""

from __future__ import annotations

import os

import pytest
from lxml import etree

from pyvirt import constants as c
from pyvirt.conf.domain import DomainDef, Metadata
from pyvirt.errors import libvirtError

FULL = """\
<domain type='kvm' id='7'>
  <name>vm1</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <title>A title</title>
  <description>Some description</description>
  <memory unit='KiB'>1048576</memory>
  <currentMemory unit='KiB'>524288</currentMemory>
  <vcpu placement='static' current='2'>4</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <kernel>/boot/vmlinuz</kernel>
    <initrd>/boot/initrd</initrd>
    <cmdline>console=ttyS0</cmdline>
    <boot dev='cdrom'/>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>restart</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none'/>
      <source file='/var/lib/images/vm1.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='block' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source dev='/dev/sr0'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
      <address type='drive' controller='0' bus='1' target='0' unit='0'/>
    </disk>
    <controller type='ide' index='0'/>
    <interface type='network'>
      <mac address='52:54:00:12:34:56'/>
      <source network='default'/>
      <target dev='vnet0'/>
      <model type='virtio'/>
    </interface>
    <serial type='pty'>
      <source path='/dev/pts/3'/>
      <target port='0'/>
    </serial>
    <console type='pty' tty='/dev/pts/3'>
      <source path='/dev/pts/3'/>
      <target type='serial' port='0'/>
    </console>
    <input type='mouse' bus='ps2'/>
    <graphics type='vnc' port='5900' autoport='yes' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>
    <video>
      <model type='cirrus' vram='16384' heads='1' primary='yes'/>
    </video>
    <memballoon model='virtio'/>
  </devices>
</domain>
"""

MINIMAL = ("<domain type='test'><name>m</name><memory>1024</memory>"
           "<os><type>hvm</type></os></domain>")


def _error(xml: str, **kw: object) -> libvirtError:
    with pytest.raises(libvirtError) as info:
        DomainDef.from_xml(xml, **kw)  # type: ignore[arg-type]
    return info.value


# ---- parse and typed fields ---------------------------------------------------------------


def test_typed_fields() -> None:
    d = DomainDef.from_xml(FULL)
    assert (d.type, d.id, d.name) == ("kvm", 7, "vm1")
    assert d.uuid == "c7a5fdbd-edaf-9455-926a-d65c16db1809"
    assert d.title == "A title" and d.description == "Some description"
    assert (d.memory_kib, d.current_memory_kib) == (1048576, 524288)
    assert (d.vcpus_max, d.vcpus_current) == (4, 2)
    assert d.os.type == "hvm" and d.os.arch == "x86_64" and d.os.machine == "pc-q35-7.2"
    assert d.os.boot_devices == ["cdrom", "hd"]
    assert (d.os.kernel, d.os.initrd, d.os.cmdline) == ("/boot/vmlinuz", "/boot/initrd",
                                                        "console=ttyS0")
    assert (d.on_poweroff, d.on_reboot, d.on_crash) == ("destroy", "restart", "restart")
    assert d.emulator == "/usr/bin/qemu-system-x86_64"
    disk, cdrom = d.devices.disks
    assert (disk.type, disk.device, disk.path) == ("file", "disk", "/var/lib/images/vm1.qcow2")
    assert disk.source is not None and disk.source.file == "/var/lib/images/vm1.qcow2"
    assert (disk.target.dev, disk.target.bus) == ("vda", "virtio")
    assert disk.driver is not None and (disk.driver.name, disk.driver.type) == ("qemu", "qcow2")
    assert cdrom.readonly and cdrom.source is not None and cdrom.source.dev == "/dev/sr0"
    assert cdrom.address is not None and (cdrom.address.type, cdrom.address.bus) == ("drive", 1)
    (net,) = d.devices.interfaces
    assert (net.type, net.mac, net.model, net.target_dev) == (
        "network", "52:54:00:12:34:56", "virtio", "vnet0")
    assert net.source is not None and net.source.network == "default"
    assert [x.type for x in d.devices.controllers] == ["ide"]
    assert d.devices.graphics[0].type == "vnc"
    assert d.devices.graphics[0].listen_address == "127.0.0.1"
    assert d.devices.serials[0].path == "/dev/pts/3"
    assert d.devices.memballoon is not None and d.devices.memballoon.model == "virtio"
    assert d.devices.videos[0].model == "cirrus" and d.devices.videos[0].primary
    assert d.feature_enabled("acpi") and not d.feature_enabled("pae")


def test_live_roundtrip_is_identity() -> None:
    assert DomainDef.from_xml(FULL).to_xml() == FULL


def test_inactive_format() -> None:
    d = DomainDef.from_xml(FULL)
    out = d.to_xml(inactive=True)
    assert out.startswith("<domain type='kvm'>\n")
    # an inactive parse forgets runtime state: id, generated interface names
    d2 = DomainDef.from_xml(FULL, inactive=True)
    assert d2.id == -1
    assert d2.devices.interfaces[0].target_dev is None
    assert "<target dev='vnet0'/>" not in d2.to_xml()
    # VNC autoport: inactive output shows port -1
    assert "<graphics type='vnc' port='-1' autoport='yes'" in out


def test_defaults_filled_in() -> None:
    d = DomainDef.from_xml(MINIMAL)
    assert d.id == -1
    assert d.current_memory_kib == d.memory_kib == 1024
    assert d.vcpus_max == d.vcpus_current == 1
    assert d.os.arch  # the host architecture
    assert d.os.boot_devices == ["hd"]
    assert (d.on_poweroff, d.on_reboot, d.on_crash) == ("destroy", "restart", "destroy")
    out = d.to_xml()
    for line in ("<memory unit='KiB'>1024</memory>",
                 "<currentMemory unit='KiB'>1024</currentMemory>",
                 "<vcpu placement='static'>1</vcpu>", "<boot dev='hd'/>", "<clock offset='utc'/>",
                 "<on_poweroff>destroy</on_poweroff>", "<on_reboot>restart</on_reboot>",
                 "<on_crash>destroy</on_crash>"):
        assert line in out
    assert "<devices>\n  </devices>" in out


def test_uuid_generated_when_absent() -> None:
    a = DomainDef.from_xml(MINIMAL)
    b = DomainDef.from_xml(MINIMAL)
    assert len(a.uuid) == 36 and a.uuid != b.uuid
    assert f"<uuid>{a.uuid}</uuid>" in a.to_xml()


def test_uuid_canonicalised() -> None:
    xml = MINIMAL.replace("<name>m</name>",
                          "<name>m</name><uuid>C7A5FDBDEDAF9455926AD65C16DB1809</uuid>")
    assert DomainDef.from_xml(xml).uuid == "c7a5fdbd-edaf-9455-926a-d65c16db1809"


def test_memory_units_scaled() -> None:
    d = DomainDef.from_xml(MINIMAL.replace("<memory>1024</memory>",
                                           "<memory unit='GiB'>2</memory>"))
    assert d.memory_kib == 2 * 1024 * 1024
    d = DomainDef.from_xml(MINIMAL.replace("<memory>1024</memory>",
                                           "<memory unit='b'>1025</memory>"))
    assert d.memory_kib == 2  # rounded up to whole KiB


def test_disk_defaults() -> None:
    xml = MINIMAL.replace("</os>", "</os><devices><disk type='file' device='cdrom'>"
                          "<source file='/a.iso'/><target dev='hdc'/></disk></devices>")
    disk = DomainDef.from_xml(xml).devices.disks[0]
    assert disk.target.bus == "ide" and disk.readonly
    assert disk.address is not None and disk.address.attrs == {
        "controller": "0", "bus": "1", "target": "0", "unit": "0"}
    d = DomainDef.from_xml(xml)
    assert [(x.type, x.index) for x in d.devices.controllers] == [("ide", 0)]


def test_interface_mac_generated() -> None:
    xml = MINIMAL.replace("</os>", "</os><devices><interface type='user'/></devices>")
    mac = DomainDef.from_xml(xml).devices.interfaces[0].mac
    assert mac.startswith("52:54:00:") and len(mac) == 17


def test_copy_is_deep() -> None:
    d = DomainDef.from_xml(FULL)
    e = d.copy()
    e.name = "other"
    e.devices.disks[0].target.dev = "vdz"
    assert d.name == "vm1" and d.devices.disks[0].target.dev == "vda"
    assert e.to_xml() != d.to_xml()


def test_from_element_embedded() -> None:
    wrapper = etree.fromstring(f"<domainsnapshot>{MINIMAL}</domainsnapshot>")
    d = DomainDef.from_element(wrapper[0], inactive=True)
    assert d.name == "m" and d.id == -1


def test_to_element() -> None:
    el = DomainDef.from_xml(MINIMAL).to_element()
    assert el.tag == "domain" and el.findtext("name") == "m"


def test_unknown_elements_preserved_in_place() -> None:
    xml = MINIMAL.replace("</os>", "</os><pm><suspend-to-mem enabled='no'/></pm>").replace(
        "<name>m</name>", "<name>m</name><blkiotune><weight>800</weight></blkiotune>")
    out = DomainDef.from_xml(xml).to_xml()
    assert out.index("<blkiotune>") < out.index("<vcpu") < out.index("<os>")
    assert out.index("<on_crash>") < out.index("<pm>") < out.index("<devices>")


def test_secure_flag_hides_graphics_password() -> None:
    xml = MINIMAL.replace("</os>", "</os><devices><graphics type='vnc' passwd='s3cret'/>"
                          "</devices>")
    d = DomainDef.from_xml(xml)
    assert "s3cret" not in d.to_xml()
    assert "passwd='s3cret'" in d.to_xml(secure=True)


# ---- metadata ------------------------------------------------------------------------------


def test_metadata_set_get_remove() -> None:
    d = DomainDef.from_xml(MINIMAL)
    assert isinstance(d.metadata, Metadata)
    d.metadata.set("http://example.org/a", "app", "<foo bar='1'><baz/></foo>")
    d.metadata.set("http://example.org/a", "app2", "<other/>")  # replaces: one per namespace
    assert len(d.metadata) == 1
    assert d.metadata.get_xml("http://example.org/a") is not None
    out = d.to_xml()
    assert '<app2:other xmlns:app2="http://example.org/a"/>' in out
    assert d.metadata.remove("http://example.org/a")
    assert not d.metadata.remove("http://example.org/a")
    assert "<metadata>" not in d.to_xml()


def test_metadata_roundtrip_keeps_libxml_form() -> None:
    xml = MINIMAL.replace("<name>m</name>", "<name>m</name><metadata>"
                          "<app1:foo xmlns:app1='http://foo.org/'>fooish</app1:foo>"
                          "</metadata>")
    out = DomainDef.from_xml(xml).to_xml()
    assert ('  <metadata>\n    <app1:foo xmlns:app1="http://foo.org/">fooish</app1:foo>\n'
            '  </metadata>\n') in out


# ---- errors (codes and wording as libvirt 9.0) ---------------------------------------------


def test_malformed_xml() -> None:
    err = _error("<domain type='test'><name>x</name>")
    assert err.get_error_code() == c.VIR_ERR_XML_DETAIL
    assert err.get_error_domain() == c.VIR_FROM_DOMAIN
    assert str(err).startswith("(domain_definition):1: Premature end of data in tag domain")


def test_empty_document() -> None:
    err = _error("")
    assert err.get_error_code() == c.VIR_ERR_XML_DETAIL
    assert "Document is empty" in str(err)


def test_wrong_root() -> None:
    err = _error("<network><name>x</name></network>")
    assert err.get_error_code() == c.VIR_ERR_XML_ERROR
    assert str(err) == "XML error: expecting root element of 'domain', not 'network'"


@pytest.mark.parametrize("value", ["abc", "-5", "1.5"])
def test_invalid_memory(value: str) -> None:
    err = _error(MINIMAL.replace("<memory>1024</memory>", f"<memory>{value}</memory>"))
    assert err.get_error_code() == c.VIR_ERR_XML_ERROR
    assert str(err) == (f"XML error: Invalid value '{value}' for element or attribute "
                        "'./memory[1]'")


def test_unknown_memory_unit() -> None:
    err = _error(MINIMAL.replace("<memory>1024</memory>", "<memory unit='zz'>1</memory>"))
    assert err.get_error_code() == c.VIR_ERR_INVALID_ARG
    assert str(err) == "invalid argument: unknown suffix 'zz'"


def test_missing_memory() -> None:
    err = _error(MINIMAL.replace("<memory>1024</memory>", ""))
    assert err.get_error_code() == c.VIR_ERR_XML_ERROR
    assert "Memory size must be specified" in str(err)


def test_missing_name() -> None:
    err = _error(MINIMAL.replace("<name>m</name>", ""))
    assert err.get_error_code() == c.VIR_ERR_NO_NAME
    assert str(err) == "missing name information"


@pytest.mark.parametrize("change,code,message", [
    ((" type='test'", ""), c.VIR_ERR_INTERNAL_ERROR,
     "internal error: missing domain type attribute"),
    (("type='test'", "type='foo'"), c.VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: invalid domain type foo"),
    (("<name>m</name>", "<name>m</name><uuid>zzz</uuid>"), c.VIR_ERR_INTERNAL_ERROR,
     "internal error: malformed uuid element"),
    (("<type>hvm</type>", ""), c.VIR_ERR_XML_ERROR,
     "XML error: an os <type> must be specified"),
    (("<type>hvm</type>", "<type>foo</type>"), c.VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: unknown OS type 'foo'"),
    (("</os>", "</os><on_poweroff>foo</on_poweroff>"), c.VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: unknown on_poweroff action: foo"),
    (("</memory>", "</memory><vcpu>abc</vcpu>"), c.VIR_ERR_XML_ERROR,
     "XML error: maximum vcpus count must be an integer"),
    (("</memory>", "</memory><vcpu current='4'>2</vcpu>"), c.VIR_ERR_CONFIG_UNSUPPORTED,
     "unsupported configuration: maximum vCPU count must not be less than current vCPU count"),
    (("<type>hvm</type>", "<type>hvm</type><boot dev='foo'/>"), c.VIR_ERR_XML_ERROR,
     "XML error: Invalid value for attribute 'dev' in element 'boot': 'foo'."),
    (("</os>", "</os><devices><disk type='file'><source file='/a'/></disk></devices>"),
     c.VIR_ERR_NO_TARGET, "missing target information for device /a"),
    (("</os>", "</os><devices><interface type='user'><mac address='zz'/></interface>"
      "</devices>"), c.VIR_ERR_XML_ERROR, "XML error: unable to parse mac address 'zz'"),
    (("<name>m</name>", "<name>a/b</name>"), c.VIR_ERR_XML_ERROR,
     "XML error: name a/b cannot contain '/'"),
])
def test_semantic_errors(change: tuple[str, str], code: int, message: str) -> None:
    err = _error(MINIMAL.replace(*change))
    assert (err.get_error_code(), str(err)) == (code, message)


def test_name_slash_allowed_with_feature() -> None:
    d = DomainDef.from_xml(MINIMAL.replace("<name>m</name>", "<name>a/b</name>"),
                           features=frozenset({"name-slash"}))
    assert d.name == "a/b"


@pytest.mark.parametrize("doc", [
    "<!DOCTYPE domain [<!ENTITY e 'x'>]><domain type='test'><name>&e;</name>"
    "<memory>1</memory><os><type>hvm</type></os></domain>",
    "<!DOCTYPE domain SYSTEM 'file:///etc/passwd'><domain type='test'><name>x</name>"
    "<memory>1</memory><os><type>hvm</type></os></domain>",
])
def test_dtd_and_entities_rejected(doc: str) -> None:
    err = _error(doc)
    assert err.get_error_code() in (c.VIR_ERR_XML_ERROR, c.VIR_ERR_XML_DETAIL)


@pytest.mark.parametrize("xml", [
    # chardev sources libvirt refuses (from genericxml2xml's failure cases)
    "<channel type='tcp'><source mode='connect' service='1'/><target type='virtio'/></channel>",
    "<channel type='udp'><source mode='connect' host='h'/><target type='virtio'/></channel>",
    "<smartcard mode='passthrough' type='unix'><source mode='connect'/></smartcard>",
    "<graphics type='vnc' listen='1.2.3.4'><listen type='address' address='5.6.7.8'/>"
    "</graphics>",
])
def test_device_validation(xml: str) -> None:
    _error(MINIMAL.replace("</os>", f"</os><devices>{xml}</devices>"))


# ---- schema validation ---------------------------------------------------------------------

SCHEMA = "/usr/share/libvirt/schemas/domain.rng"


@pytest.mark.skipif(not os.path.exists(SCHEMA), reason="libvirt schemas not installed")
def test_schema_validation() -> None:
    assert DomainDef.from_xml(FULL, validate_schema=True).name == "vm1"
    bad = MINIMAL.replace("</os>", "</os><bogus/>")
    DomainDef.from_xml(bad)  # unknown elements are kept without validation
    err = _error(bad, validate_schema=True)
    assert err.get_error_code() == c.VIR_ERR_XML_INVALID_SCHEMA
