"""Post-parse: the defaults libvirt fills in after parsing (domain_postparse.c's job).

Only driver-independent defaults live here; a hypervisor driver adds its own afterwards
(machine types, PCI addresses, default devices).
"""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.conf.domain import cpu, cputune
from pyvirt.conf.domain.address import Address
from pyvirt.conf.domain.xnode import XNode
from pyvirt.conf.xmlutil import scale
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.conf.domain.core import DomainDef
    from pyvirt.conf.domain.devices import Devices


def post_parse(d: DomainDef, inactive: bool) -> None:
    from pyvirt.conf.domain.core import _HOST_ARCH

    if d.os.type == "exe" and not d.os.init:
        raise_error(c.VIR_ERR_XML_ERROR, "init binary must be specified",
                    domain=c.VIR_FROM_DOMAIN)
    if not d.os.arch:
        d.os.arch = _HOST_ARCH
    if d.cpu is not None:
        cpu.canonicalise(d.cpu)
        if not d.cpu.attrs and not d.cpu.children:
            d.cpu = None  # an empty <cpu/> says nothing
    _memory(d)
    _iothreads(d)
    _memory_units(d)
    cputune.canonicalise(d)
    if d.os.type == "hvm":
        _boot_order(d)
    for _, node in d.os.extra.children:
        if node.tag == "bootmenu" and node.attrs.get("enable") != "yes":
            node.attrs.pop("timeout", None)  # only read for an enabled menu
    devs = d.devices
    for disk in devs.disks:
        disk.post_parse()
    for net in devs.interfaces:
        net.post_parse()
    for video in devs.videos:
        video.post_parse()
    for rng in devs.rngs:
        rng.post_parse()
    for fs in devs.filesystems:
        fs.post_parse()
    for hostdev in devs.hostdevs:
        hostdev.post_parse()
    for gfx in devs.graphics:
        gfx.post_parse()
    _chardevs(d)
    _implicit_controllers(d)
    _controller_indexes(d)
    if devs.videos and devs.videos[0].model != "none":
        devs.videos[0].primary = True
    devs.os_hvm = d.os.type == "hvm"


def _memory(d: DomainDef) -> None:
    if d.memory_kib == 0:
        # the NUMA cells' sizes add up to the total
        d.memory_kib = sum(int(cell.get("memory", "0")) for cell in cpu.numa_cells(d.cpu))
    if d.memory_kib == 0:
        raise_error(c.VIR_ERR_XML_ERROR, "Memory size must be specified via <memory> or in "
                    "the <numa> configuration", domain=c.VIR_FROM_DOMAIN)
    if d.current_memory_kib == 0 or d.current_memory_kib > d.memory_kib:
        d.current_memory_kib = d.memory_kib
    if bool(d.max_memory_kib) != bool(d.max_memory_slots):
        raise_error(c.VIR_ERR_XML_ERROR, "both maximum memory size and memory slot count "
                    "must be specified", domain=c.VIR_FROM_DOMAIN)
    if d.max_memory_kib and d.max_memory_kib < d.memory_kib:
        raise_error(c.VIR_ERR_XML_ERROR, "maximum memory size must be equal or greater than "
                    "the actual memory size", domain=c.VIR_FROM_DOMAIN)


_MEMTUNE = ("hard_limit", "soft_limit", "swap_hard_limit", "min_guarantee")


def _memory_units(d: DomainDef) -> None:
    """Scaled sizes libvirt keeps in KiB: <memtune> limits, hugepage sizes."""
    for _, node in d.extra.children:
        if node.tag == "memtune":
            for child in node.children:
                if child.tag in _MEMTUNE and child.text:
                    nbytes = scale(child.text.strip(), child.attrs.get("unit"), "KiB",
                                   child.tag)
                    child.text = str((nbytes + 1023) // 1024)
                    child.attrs = {"unit": "KiB"}
        elif node.tag == "memoryBacking":
            pages = node.find("hugepages")
            for page in pages.findall("page") if pages is not None else []:
                if "size" in page.attrs:
                    nbytes = scale(page.attrs["size"], page.attrs.get("unit"), "KiB",
                                   "hugepage size")
                    rest = {k: v for k, v in page.attrs.items() if k not in ("size", "unit")}
                    page.attrs = {"size": str(nbytes // 1024), "unit": "KiB", **rest}


def _iothreads(d: DomainDef) -> None:
    """virDomainIOThreadIDDefArrayInit: <iothreads> counts the ids; missing ids are filled
    in with the lowest free numbers (printed only when some ids were given)."""
    node = next((n for _, n in d.extra.children if n.tag == "iothreadids"), None)
    if node is None:
        return
    ids = []
    for child in node.findall("iothread"):
        try:
            ids.append(int(child.attrs.get("id", "")))
        except ValueError:
            raise_error(c.VIR_ERR_XML_ERROR, "invalid iothread 'id' value",
                        domain=c.VIR_FROM_DOMAIN)
    d.iothreads = max(d.iothreads, len(ids))
    free = (i for i in range(1, d.iothreads + 1) if i not in ids)
    while len(ids) < d.iothreads:
        new = next(free)
        ids.append(new)
        node.children.append(XNode("iothread", {"id": str(new)}))


def _boot_order(d: DomainDef) -> None:
    orders: set[int] = set()
    for dev in d.devices.all():
        order = dev.info.boot_order
        if order is None:
            continue
        if order in orders:
            raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                        f"boot order '{order}' used for more than one device",
                        domain=c.VIR_FROM_DOMAIN)
        orders.add(order)
    if d.os.boot_devices and orders:
        raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED, "per-device boot elements cannot be used "
                    "together with os/boot elements", domain=c.VIR_FROM_DOMAIN)
    if not d.os.boot_devices and not orders:
        d.os.boot_devices = ["hd"]


def _chardevs(d: DomainDef) -> None:
    devs = d.devices
    for con in devs.consoles:
        if con.target_type is None:
            con.target_type = "serial"
    for group in (devs.serials, devs.parallels, devs.consoles):
        for chr_ in group:
            if chr_.target_port is None:
                ports = [x.target_port for x in group if x.target_port is not None]
                chr_.target_port = max(ports, default=-1) + 1
    if d.os.type == "hvm":
        _console_compat(devs)


# Serial target types for which libvirt pairs serials[0] with a console stub.
_STUB_SERIAL_TYPES = (None, "isa-serial", "spapr-vio-serial", "system-serial", "sclp-serial")


def _console_compat(devs: Devices) -> None:
    """virDomainDefAddConsoleCompat: an hvm guest's first <console> is an alias of
    <serial> 0 (created from the console when missing)."""
    for cons in devs.consoles[1:]:
        if cons.target_type == "serial":
            raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED,
                        "Only the first console can be a serial port", domain=c.VIR_FROM_DOMAIN)
    if not devs.consoles and not devs.serials:
        return  # nothing to pair (and no need to import the character device model)
    from pyvirt.conf.domain.chardevs import ChrDevice

    stub = ChrDevice(tag="console", type="pty", target_type="serial", target_port=0)
    if devs.consoles and devs.consoles[0].target_type == "serial":
        first = devs.consoles[0]
        if not devs.serials:
            first.tag = "serial"
            first.target_type = None
            first.target_port = 0
            devs.serials.append(first)
            devs.consoles[0] = stub
        elif devs.serials[0].source != first.source:
            devs.consoles[0] = stub
    elif devs.serials and devs.serials[0].target_type in _STUB_SERIAL_TYPES:
        devs.consoles.insert(0, stub)


def _implicit_controllers(d: DomainDef) -> None:
    devs = d.devices

    def maybe_add(type_: str, index: int) -> None:
        if devs.find_controller(type_, index) is None:
            from pyvirt.conf.domain.controllers import Controller

            cont = Controller.new(type_, index)
            cont.implicit = True
            devs.insert_controller(cont)

    for ctype, bus in (("scsi", "scsi"), ("fdc", "fdc"), ("ide", "ide"), ("sata", "sata")):
        top = -1
        for disk in devs.disks:
            addr = disk.info.address
            if disk.target_bus == bus and addr is not None and addr.type == "drive":
                top = max(top, addr.controller)
        for i in range(top + 1):
            maybe_add(ctype, i)
    for chr_ in (*devs.channels, *devs.consoles):
        if chr_.target_type == "virtio":
            addr = chr_.info.address
            idx = addr.controller if addr is not None and addr.type == "virtio-serial" else 0
            maybe_add("virtio-serial", idx)
    for card in devs.smartcards:
        addr = card.info.address
        idx = 0
        if addr is not None and addr.type == "ccid":
            idx = addr.controller
        elif addr is None:
            top = -1
            for other in devs.smartcards:
                oa = other.info.address
                if oa is not None and oa.type == "ccid" and oa.controller == 0:
                    top = max(top, oa.slot)
            card.info.address = Address("ccid", {"controller": "0", "slot": str(top + 1)})
        maybe_add("ccid", idx)
    for hostdev in devs.hostdevs:
        src = next((n for _, n in hostdev.extra.children if n.tag == "source"), None)
        addr = hostdev.info.address
        if (hostdev.extra.attrs.get("type") == "scsi" and src is not None and addr is not None
                and addr.type == "drive"):
            maybe_add("scsi", addr.controller)


def _controller_indexes(d: DomainDef) -> None:
    conts = d.devices.controllers
    for cont in conts:
        if cont.index != -1:
            continue
        used = {x.index for x in conts if x.type == cont.type}
        idx = 0
        while idx in used:
            idx += 1
        cont.index = idx

