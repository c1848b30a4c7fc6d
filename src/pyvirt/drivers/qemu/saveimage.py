"""Save images: a running guest's memory and device state in a file (virDomainSave,
managed save) and back (virDomainRestore, start with a managed save image).

The file layout is libvirt's, so either can read the other's images: a 92-byte header
(magic "LibvirtQemudSave", or "LibvirtQemudPart" while being written; version 2; the
length of the data that follows; whether the guest was running; compression (0: raw);
cookie offset; 14 unused words; native byte order), the domain XML NUL-terminated and padded
with 64 KiB of zeros so it can be edited in place, then QEMU's migration stream, which QEMU
writes to (and reads from) a file descriptor handed over the monitor.
"""

from __future__ import annotations

import os
import signal
import struct

from pyvirt import constants as c
from pyvirt.drivers.qemu import jobs
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.drivers.qemu.domain import QemuDomain
    from pyvirt.drivers.qemu.driver import QemuDriver

MAGIC = b"LibvirtQemudSave"
PARTIAL = b"LibvirtQemudPart"
VERSION = 2
_HEADER = struct.Struct("=16sIIIII14I")  # 92 bytes
XML_PAD = 64 * 1024


def _save_error(detail: str, code: int = c.VIR_ERR_OPERATION_FAILED) -> None:
    raise_error(code, detail, domain=c.VIR_FROM_QEMU)


class SaveHeader:
    __slots__ = ("magic", "version", "data_len", "was_running", "compressed", "cookie_offset")

    def __init__(self, data_len: int, was_running: bool, magic: bytes = PARTIAL) -> None:
        self.magic = magic
        self.version = VERSION
        self.data_len = data_len
        self.was_running = was_running
        self.compressed = 0
        self.cookie_offset = 0

    def pack(self) -> bytes:
        return _HEADER.pack(self.magic, self.version, self.data_len, int(self.was_running),
                            self.compressed, self.cookie_offset, *([0] * 14))

    @classmethod
    def read(cls, fd: int, path: str) -> SaveHeader:
        raw = os.pread(fd, _HEADER.size, 0)
        if len(raw) < _HEADER.size:
            _save_error("failed to read qemu header")
        fields = _HEADER.unpack(raw)
        magic, version, data_len, was_running, compressed, cookie_offset = fields[:6]
        if magic == PARTIAL:
            _save_error(f"save image is incomplete: {path}")
        if magic != MAGIC:
            _save_error("image magic is incorrect")
        if version > VERSION:
            _save_error(f"image version is not supported ({version} > {VERSION})")
        if data_len <= 0:
            _save_error(f"invalid header data length: {data_len}")
        if compressed != 0:
            _save_error("compressed save images are not supported", c.VIR_ERR_NO_SUPPORT)
        hdr = cls(data_len, bool(was_running), magic)
        hdr.version, hdr.compressed, hdr.cookie_offset = version, compressed, cookie_offset
        return hdr


def read_image_xml(path: str) -> tuple[str, SaveHeader]:
    """The domain XML stored in a save image, and its header."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise_error(c.VIR_ERR_SYSTEM_ERROR, f"Failed to open file '{path}': {exc.strerror}",
                    domain=c.VIR_FROM_QEMU)
    try:
        hdr = SaveHeader.read(fd, path)
        xml_len = hdr.cookie_offset or hdr.data_len
        data = os.pread(fd, xml_len, _HEADER.size)
    finally:
        os.close(fd)
    return data.split(b"\0", 1)[0].decode(), hdr


def write_image_xml(path: str, xml: str) -> None:
    """Replace the XML of a save image in place (virDomainSaveImageDefineXML)."""
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    try:
        hdr = SaveHeader.read(fd, path)
        data = xml.encode() + b"\0"
        if len(data) > hdr.data_len:
            _save_error("new xml too large to fit in file")
        os.pwrite(fd, data + b"\0" * (hdr.data_len - len(data)), _HEADER.size)
        os.fsync(fd)
    finally:
        os.close(fd)


def save_to(drv: QemuDriver, dom: QemuDomain, path: str, xml: str | None,
            running_after: bool | None, managed: bool) -> None:
    """With the domain's job held: write the save image and stop the guest
    (qemuDomainSaveInternal). ``xml`` replaces the stored definition (it must describe
    the same guest); ``running_after`` overrides whether a restore resumes it."""
    from pyvirt.fileutil import remove_quietly

    monitor = drv._running_monitor(dom)
    with dom.lock:
        was_running = dom.state == c.VIR_DOMAIN_RUNNING
        stored = xml if xml is not None else dom.defn.to_xml(inactive=True, secure=True)
    if running_after is not None:
        was_running = running_after
    if dom.state == c.VIR_DOMAIN_RUNNING:
        with dom.lock:
            dom.paused_reason = c.VIR_DOMAIN_PAUSED_SAVE
        monitor.execute("stop")
        with dom.lock:
            dom.state, dom.reason = c.VIR_DOMAIN_PAUSED, c.VIR_DOMAIN_PAUSED_SAVE
    resumable = dom.state == c.VIR_DOMAIN_PAUSED and dom.reason == c.VIR_DOMAIN_PAUSED_SAVE
    data = stored.encode() + b"\0"
    hdr = SaveHeader(len(data) + XML_PAD, was_running)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        _resume(dom, resumable)
        raise_error(c.VIR_ERR_SYSTEM_ERROR,
                    f"Failed to create file '{path}': {exc.strerror}", domain=c.VIR_FROM_QEMU)
    try:
        os.write(fd, hdr.pack())
        os.write(fd, data + b"\0" * XML_PAD)
        with jobs.async_job(dom, c.VIR_DOMAIN_JOB_OPERATION_SAVE, "domain save") as job:
            jobs.set_bandwidth(monitor)
            monitor.execute_with_fd(fd, "migrate")
            monitor.execute("migrate", {"uri": "fd:migrate"})
            jobs.wait_for_stream(monitor, job)
        os.fsync(fd)
        hdr.magic = MAGIC
        os.pwrite(fd, hdr.pack(), 0)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        remove_quietly(path)
        _resume(dom, resumable)
        raise
    os.close(fd)
    with dom.lock:
        dom.expected_stop = (c.VIR_DOMAIN_SHUTOFF_SAVED, c.VIR_DOMAIN_EVENT_STOPPED_SAVED)
        if managed:
            dom.has_managed_save = True
    drv._signal(dom, signal.SIGTERM)
    if not dom.stopped.wait(10):
        drv._signal(dom, signal.SIGKILL)
        dom.stopped.wait(5)
    if managed:
        dom.has_managed_save = True


def _resume(dom: QemuDomain, resumable: bool) -> None:
    if not resumable or dom.monitor is None:
        return
    try:
        dom.monitor.execute("cont")
    except Exception:
        return
    with dom.lock:
        dom.state, dom.reason = c.VIR_DOMAIN_RUNNING, c.VIR_DOMAIN_RUNNING_SAVE_CANCELED


def run_incoming(dom: QemuDomain, fd: int) -> None:
    """Feed the migration stream at ``fd``'s offset into a QEMU started with
    ``-incoming defer`` and wait until it is loaded."""
    monitor = dom.monitor
    assert monitor is not None
    with jobs.async_job(dom, c.VIR_DOMAIN_JOB_OPERATION_RESTORE, "start") as job:
        monitor.execute_with_fd(fd, "incoming")
        monitor.execute("migrate-incoming", {"uri": "fd:incoming"})
        jobs.wait_for_stream(monitor, job)


def restore_into(drv: QemuDriver, dom: QemuDomain, path: str, paused: bool | None,
                 remove_after: bool, running: bool | None = None) -> None:
    """With the domain's job held: start ``dom`` from the image at ``path``."""
    from pyvirt.fileutil import remove_quietly

    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        hdr = SaveHeader.read(fd, path)
        os.lseek(fd, _HEADER.size + hdr.data_len, os.SEEK_SET)
        start_paused = not hdr.was_running
        if running:
            start_paused = False
        if paused:
            start_paused = True
        drv._start(dom, paused=start_paused, incoming_fd=fd,
                   reason=c.VIR_DOMAIN_RUNNING_RESTORED,
                   event_detail=c.VIR_DOMAIN_EVENT_STARTED_RESTORED)
    finally:
        os.close(fd)
    if remove_after:
        remove_quietly(path)
        dom.has_managed_save = False
