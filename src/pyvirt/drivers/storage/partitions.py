"""Partition tables for the ``disk`` pool backend: what libvirt's parthelper reports, read
from ``parted``'s machine output, the label checks (virStorageBackendDeviceIsEmpty) and
where a new partition goes (virStorageBackendDiskPartBoundaries).

Everything here is pure: the tools' output comes in as text, so it can be tested without
a device. Offsets are bytes; a region's ``end`` is exclusive, as parthelper prints it.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from pyvirt import constants as c
from pyvirt.drivers.storage.volfile import storage_error

SECTOR_SIZE = 512
# MBR partition type bytes of an extended partition (DOS, Win95 LBA, Linux)
EXTENDED_MBR_TYPES = frozenset({0x05, 0x0F, 0x85})
# pool <format> -> the label name parted writes and reports
PARTED_LABELS = {"dos": "msdos"}
# volume <format> (a partition type) -> parted's file system type for mkpart on a dos label
PARTED_FS_TYPES = {"none": "ext2", "linux": "ext2", "fat16": "fat16", "fat32": "fat32",
                   "linux-swap": "linux-swap", "linux-lvm": "ext2", "linux-raid": "ext2",
                   "extended": "extended"}
# the pool's <format> names (libvirt's virStoragePoolFormatDisk)
DISK_FORMATS = ("unknown", "dos", "dvh", "gpt", "mac", "bsd", "pc98", "sun", "lvm2")


@dataclass
class Region:
    """One line of parthelper's listing: a partition or a stretch of free space."""

    num: int | None  # partition number; None for free space
    kind: str  # "normal", "logical" or "extended"
    content: str  # "data", "metadata" (the extended partition) or "free"
    start: int
    end: int


@dataclass
class Table:
    label: str  # parted's name: msdos, gpt, ...
    size: int
    sector_size: int = SECTOR_SIZE
    cylinders: int = 0
    heads: int = 0
    sectors: int = 0
    regions: list[Region] = field(default_factory=list)

    @property
    def cylinder_size(self) -> int:
        return self.heads * self.sectors * SECTOR_SIZE

    def partitions(self) -> list[Region]:
        return [r for r in self.regions if r.num is not None]

    def free(self) -> list[Region]:
        """The free extents as libvirt keeps them: the first sector never counts as free."""
        out = []
        for r in self.regions:
            if r.content == "free":
                out.append(Region(None, r.kind, "free", r.start or SECTOR_SIZE, r.end))
        return out

    def extended(self) -> Region | None:
        return next((r for r in self.regions if r.kind == "extended"), None)


def parted_argv(device: str) -> list[str]:
    """One parted run for the geometry (CHS) and the layout (bytes, free space included).
    Cylinder alignment stays on, as in libparted's default that parthelper sees: then the
    partial last cylinder of a dos label is metadata, not free space."""
    return ["parted", "-a", "cylinder", "-m", "-s", device, "unit", "chs", "print", "unit", "B",
            "print", "free"]


def _bytes(text: str) -> int:
    if not text.endswith("B"):
        raise ValueError(f"not a byte figure: {text!r}")
    return int(text[:-1])


def parse_parted(text: str, mbr: bytes | None = None) -> Table:
    """The table in the output of ``parted_argv``. ``mbr`` is the device's first sector: on
    a dos label it says which primary partition is the extended one (parted's machine
    output does not)."""
    table: Table | None = None
    geometry = (0, 0, 0)
    block = ""
    header = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line.endswith(";"):
            continue
        line = line[:-1]
        if line in ("CHS", "BYT", "CYL", "SEC"):
            block, header = line, True
            continue
        fields = line.split(":")
        if header:  # the device's own line
            header = False
            if block == "BYT":
                if len(fields) < 6:
                    raise ValueError(f"cannot parse device line {raw!r}")
                table = Table(label=fields[5], size=_bytes(fields[1]),
                              sector_size=int(fields[3]))
                table.cylinders, table.heads, table.sectors = geometry
            continue
        if block == "CHS" and len(fields) == 4 and all(f.isdigit() for f in fields[:3]):
            geometry = (int(fields[0]), int(fields[1]), int(fields[2]))  # cyl:heads:sectors
            continue
        if block != "BYT" or table is None or len(fields) < 5:
            continue
        start, end = _bytes(fields[1]), _bytes(fields[2]) + 1
        if fields[4] == "free" and len(fields) == 5:
            table.regions.append(Region(None, "normal", "free", start, end))
        else:
            table.regions.append(Region(int(fields[0]), "normal", "data", start, end))
    if table is None:
        raise ValueError("no partition table in parted's output")
    if table.label == "msdos":
        _dos_kinds(table, mbr)
    return table


def _dos_kinds(table: Table, mbr: bytes | None) -> None:
    """Primary, extended or logical, and free space inside the extended partition is
    logical free space."""
    extended_nums = mbr_extended(mbr) if mbr else set()
    ext: Region | None = None
    for r in table.regions:
        if r.num is not None and r.num in extended_nums:
            r.kind, r.content = "extended", "metadata"
            ext = r
        elif r.num is not None and r.num >= 5:
            r.kind = "logical"
    if ext is None:
        return
    for r in table.regions:
        if r.content == "free" and ext.start <= r.start and r.end <= ext.end:
            r.kind = "logical"


def mbr_extended(sector: bytes) -> set[int]:
    """Numbers of the primary partitions that the MBR marks as extended."""
    if len(sector) < 512 or sector[510:512] != b"\x55\xaa":
        return set()
    out = set()
    for i in range(4):
        entry = sector[446 + 16 * i: 462 + 16 * i]
        ptype = entry[4]
        _start, count = struct.unpack_from("<II", entry, 8)
        if ptype in EXTENDED_MBR_TYPES and count:
            out.add(i + 1)
    return out


def partition_path(device: str, num: int) -> str:
    """parthelper's name for partition ``num``: the device's real path, a 'p' when that
    ends with a digit (loop0p1, nvme0n1p1; sda1)."""
    canonical = os.path.realpath(device)
    sep = "p" if canonical[-1:].isdigit() else ""
    return f"{canonical}{sep}{num}"


def partition_number(device: str, vol_path: str) -> str:
    """virStorageBackendDiskDeleteVol: the partition number from the volume's device name.
    libvirt keeps parthelper's 'p' separator there and so cannot delete the partitions of
    loop or nvme devices (parted: "Partition doesn't exist"); it is dropped here."""
    srcname = os.path.basename(device)
    dev_name = os.path.basename(os.path.realpath(vol_path))
    if not dev_name.startswith(srcname):
        storage_error(c.VIR_ERR_INTERNAL_ERROR, f"Volume path '{dev_name}' did not start "
                      "with parent pool source device name.")
    part = dev_name[len(srcname):]
    if part.startswith("p") and srcname[-1:].isdigit():
        part = part[1:]
    if not part:
        storage_error(c.VIR_ERR_INTERNAL_ERROR,
                      f"cannot parse partition number from target '{dev_name}'")
    return part


# ---- where a new partition goes ------------------------------------------------------------


def part_type_to_create(table: Table, pool_format: str) -> str:
    """virStorageBackendDiskPartTypeToCreate: on a dos label, primary partitions until
    four primary or extended ones exist, logical ones after."""
    if pool_format == "dos":
        count = sum(1 for r in table.partitions() if r.kind in ("normal", "extended"))
        if count >= 4:
            return "logical"
    return "primary"


def part_format(table: Table, pool_format: str, vol_format: str | None) -> str:
    """virStorageBackendDiskPartFormat: the partition type words for ``parted mkpart``."""
    if pool_format != "dos":
        return "primary"
    fs_type = PARTED_FS_TYPES.get(vol_format or "none")
    if fs_type is None:
        storage_error(c.VIR_ERR_INTERNAL_ERROR, "Invalid partition type")
    if vol_format == "extended":
        if table.extended() is not None:
            storage_error(c.VIR_ERR_INTERNAL_ERROR, "extended partition already exists")
        return fs_type
    if part_type_to_create(table, pool_format) == "primary":
        return f"primary {fs_type}"
    if table.extended() is None:
        storage_error(c.VIR_ERR_INTERNAL_ERROR,
                      "no extended partition found and no primary partition available")
    return f"logical {fs_type}"


def part_boundaries(table: Table, pool_format: str, allocation: int) -> tuple[int, int]:
    """virStorageBackendDiskPartBoundaries: the smallest free extent of the right kind with
    room for ``allocation`` bytes (on a dos label rounded up to whole cylinders); the
    partition's first and last byte."""
    dos = pool_format == "dos"
    cyl = table.cylinder_size or SECTOR_SIZE  # no geometry: align to sectors only
    part_type = part_type_to_create(table, pool_format)
    extra = cyl - allocation % cyl
    best: Region | None = None
    best_size = 0
    aligned = allocation
    for ext in table.free():
        size = ext.end - ext.start
        needed = allocation
        if dos:
            needed += extra
            if ext.start % cyl > extra:
                needed += cyl  # the start's offset into its cylinder does not fit
            if part_type == "logical":
                size -= SECTOR_SIZE  # a logical partition starts one sector in
        if size > needed and (best_size == 0 or size < best_size):
            if part_type == "logical" and ext.kind != "logical":
                continue
            if part_type == "primary" and ext.kind != "normal":
                continue
            best, best_size, aligned = ext, size, needed
    if best is None:
        storage_error(c.VIR_ERR_INTERNAL_ERROR, "no large enough free extent")
    start = best.start + (SECTOR_SIZE if part_type == "logical" else 0)
    end = start + aligned
    if dos:
        end -= start % cyl
    return start, end - 1


# ---- label checks ------------------------------------------------------------------------


@dataclass
class BlkidResult:
    """What ``blkid -p -o export`` found: a filesystem TYPE, a partition table PTTYPE;
    ``ambivalent`` when blkid saw more than one signature (exit status 8)."""

    fs_type: str | None = None
    pt_type: str | None = None
    ambivalent: bool = False


def parse_blkid_export(text: str, returncode: int) -> BlkidResult:
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return BlkidResult(values.get("TYPE"), values.get("PTTYPE"), returncode == 8)


def _blkid_verdict(found: BlkidResult, fmt: str) -> str:
    """virStorageBackendBLKIDFindEmpty's probe result: undefined, unknown, match or
    different."""
    if found.fs_type:
        return "match" if found.fs_type == fmt else "different"
    # blkid cannot tell these from others (dvh reads as sgi, pc98 as dos, bsd unreliably)
    if fmt in ("dvh", "pc98", "bsd"):
        return "unknown"
    if found.pt_type:
        return "match" if found.pt_type == fmt else "different"
    return "undefined"


def parted_label_verdict(returncode: int, output: str, fmt: str) -> str:
    """virStorageBackendPARTEDFindLabel on the output of ``parted DEV print --script``:
    error, match, different, unknown (no label), nopttype or pttype_unk."""
    if returncode != 0:
        return "unknown" if "unrecognised disk label" in output else "error"
    marker = "Partition Table: "
    pos = output.find(marker)
    if pos < 0 or "\n" not in output[pos:]:
        return "nopttype"
    label = output[pos + len(marker):].split("\n", 1)[0]
    if label == "msdos":
        label = "dos"
    if label not in DISK_FORMATS:
        return "pttype_unk"
    return "match" if label == fmt else "different"


_PARTED_ERRORS = {
    "error": (c.VIR_ERR_OPERATION_FAILED,
              "Error checking for disk label, failed to get disk partition information"),
    "different": (c.VIR_ERR_OPERATION_FAILED,
                  "Known, but different label format present, requires build --overwrite"),
    "nopttype": (c.VIR_ERR_OPERATION_FAILED,
                 "Unable to determine Partition Type, requires build --overwrite"),
    "pttype_unk": (c.VIR_ERR_OPERATION_FAILED,
                   "Unknown Partition Type, requires build --overwrite"),
}


def check_label(device: str, fmt: str, writelabel: bool,
                blkid: Callable[[str], BlkidResult],
                parted_print: Callable[[str], tuple[int, str]]) -> None:
    """virStorageBackendDeviceIsEmpty for a disk label ``fmt`` (libvirt's name: dos, gpt,
    ...): with ``writelabel`` (build without OVERWRITE) the device must hold nothing
    known; without (start) it must hold that label. Raises libvirt's error otherwise."""
    found = blkid(device)
    verdict = _blkid_verdict(found, fmt)
    if verdict == "undefined":
        if not writelabel:
            storage_error(c.VIR_ERR_STORAGE_PROBE_FAILED,
                          f"Device '{device}' is unrecognized, requires build")
    elif verdict == "match":
        if writelabel:
            storage_error(c.VIR_ERR_STORAGE_POOL_BUILT,
                          f"Device '{device}' already formatted using '{fmt}'")
    elif verdict == "different":
        if writelabel:
            storage_error(c.VIR_ERR_STORAGE_POOL_BUILT,
                          f"Format of device '{device}' does not match the expected format "
                          f"'{fmt}', forced overwrite is necessary")
        storage_error(c.VIR_ERR_OPERATION_INVALID, f"Format of device '{device}' does not "
                      f"match the expected format '{fmt}'")
    else:  # blkid cannot judge this label type: ask parted
        rc, output = parted_print(device)
        pverdict = parted_label_verdict(rc, output, fmt)
        if pverdict == "match":
            if writelabel:
                storage_error(c.VIR_ERR_OPERATION_INVALID,
                              f"Disk label already formatted using '{fmt}'")
        elif pverdict == "unknown":
            if not writelabel:
                storage_error(c.VIR_ERR_OPERATION_FAILED,
                              "Unrecognized disk label found, requires build")
        else:
            code, text = _PARTED_ERRORS[pverdict]
            storage_error(code, text)
        return
    if found.ambivalent:
        storage_error(c.VIR_ERR_STORAGE_PROBE_FAILED,
                      "Found additional probes to run, probing may be incorrect")
