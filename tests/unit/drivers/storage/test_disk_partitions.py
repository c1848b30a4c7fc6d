"""The disk pool backend's pure parts: parted's machine output read as libvirt's parthelper
lists it, the label checks, and where a new partition goes. The expected figures are what
libvirt 9.0 (parthelper, and its disk backend on a 64 MiB loop device) reported for the
same tables."""

from __future__ import annotations

import struct

import pytest

import pyvirt
from pyvirt import constants as c
from pyvirt.drivers.storage import partitions as p

MiB = 1024 * 1024

# parted -a cylinder -m -s /dev/loop0 unit chs print unit B print free, on a 64 MiB msdos
# label with a primary, an extended and a logical partition
DOS_OUTPUT = """\
CHS;
/dev/loop0:257,0,1:loopback:512:512:msdos:Loopback device:cylinder_alignment;
257:255:2:261kB;
1:4,4,0:40,39,1:::;
2:40,40,0:153,47,1:::lba;
5:42,32,0:76,151,0:::;
BYT;
/dev/loop0:67108864B:loopback:512:512:msdos:Loopback device:cylinder_alignment;
1:1024B:1048575B:1047552B:free;
1:1048576B:10485759B:9437184B:::;
2:10485760B:40000511B:29514752B:::lba;
1:10486784B:10967039B:480256B:free;
5:10999808B:20000255B:9000448B:::;
1:20000256B:40000511B:20000256B:free;
1:40000512B:67107839B:27107328B:free;
"""

GPT_OUTPUT = """\
CHS;
/dev/loop0:257,0,1:loopback:512:512:gpt:Loopback device:;
257:255:2:261kB;
1:4,4,0:40,39,1::primary:;
BYT;
/dev/loop0:67108864B:loopback:512:512:gpt:Loopback device:;
1:17408B:1048575B:1031168B:free;
1:1048576B:10485759B:9437184B::primary:;
1:10485760B:67091967B:56606208B:free;
"""


def mbr(types: dict[int, int]) -> bytes:
    """A first sector whose primary entries ``num -> type byte`` are in use."""
    sector = bytearray(512)
    for num, ptype in types.items():
        off = 446 + 16 * (num - 1)
        sector[off + 4] = ptype
        struct.pack_into("<II", sector, off + 8, 2048 * num, 2048)
    sector[510:512] = b"\x55\xaa"
    return bytes(sector)


def regions(table: p.Table) -> list[tuple[int | None, str, str, int, int]]:
    return [(r.num, r.kind, r.content, r.start, r.end) for r in table.regions]


def test_dos_table_as_parthelper_lists_it() -> None:
    table = p.parse_parted(DOS_OUTPUT, mbr({1: 0x83, 2: 0x0F}))
    assert (table.label, table.size, table.cylinders, table.heads, table.sectors) == (
        "msdos", 64 * MiB, 257, 255, 2)
    assert table.cylinder_size == 255 * 2 * 512
    # parthelper: the same lines less its metadata ones (which are not volumes)
    assert regions(table) == [
        (None, "normal", "free", 1024, 1048576),
        (1, "normal", "data", 1048576, 10485760),
        (2, "extended", "metadata", 10485760, 40000512),
        (None, "logical", "free", 10486784, 10967040),
        (5, "logical", "data", 10999808, 20000256),
        (None, "logical", "free", 20000256, 40000512),
        (None, "normal", "free", 40000512, 67107840),
    ]
    assert table.extended() is table.regions[2]


def test_dos_table_without_a_readable_mbr_has_no_extended_partition() -> None:
    table = p.parse_parted(DOS_OUTPUT, b"\0" * 512)
    assert table.extended() is None
    assert [r.kind for r in table.partitions()] == ["normal", "normal", "logical"]


def test_gpt_table_and_its_free_extents() -> None:
    table = p.parse_parted(GPT_OUTPUT, None)
    assert table.label == "gpt"
    assert regions(table) == [
        (None, "normal", "free", 17408, 1048576),
        (1, "normal", "data", 1048576, 10485760),
        (None, "normal", "free", 10485760, 67091968),
    ]


def test_free_space_at_offset_zero_starts_at_the_second_sector() -> None:
    text = ("BYT;\n/dev/sdz:1048576B:scsi:512:512:gpt:X:;\n"
            "1:0B:524287B:524288B:free;\n")
    assert [(r.start, r.end) for r in p.parse_parted(text).free()] == [(512, 524288)]


def test_parse_rejects_output_without_a_table() -> None:
    with pytest.raises(ValueError):
        p.parse_parted("Error: /dev/loop9: unrecognised disk label\n")


def test_mbr_extended_types_and_signature() -> None:
    assert p.mbr_extended(mbr({1: 0x83, 3: 0x05, 4: 0x85})) == {3, 4}
    unsigned = bytearray(mbr({2: 0x05}))
    unsigned[510] = 0
    assert p.mbr_extended(bytes(unsigned)) == set()


def test_partition_names_as_parthelper_makes_them() -> None:
    assert p.partition_path("/dev/pyvirt-no-loop7", 1) == "/dev/pyvirt-no-loop7p1"
    assert p.partition_path("/dev/pyvirt-no-sdz", 2) == "/dev/pyvirt-no-sdz2"
    assert p.partition_number("/dev/pyvirt-no-loop7", "/dev/pyvirt-no-loop7p12") == "12"
    assert p.partition_number("/dev/pyvirt-no-sdz", "/dev/pyvirt-no-sdz3") == "3"
    with pytest.raises(pyvirt.libvirtError) as info:
        p.partition_number("/dev/pyvirt-no-sdz", "/dev/pyvirt-no-sdy3")
    assert info.value.get_error_message() == (
        "internal error: Volume path 'pyvirt-no-sdy3' did not start with parent pool source "
        "device name.")
    with pytest.raises(pyvirt.libvirtError) as info:
        p.partition_number("/dev/pyvirt-no-sdz", "/dev/pyvirt-no-sdz")
    assert "cannot parse partition number from target 'pyvirt-no-sdz'" in str(info.value)


def test_partition_types_for_mkpart() -> None:
    dos = p.parse_parted(DOS_OUTPUT, mbr({1: 0x83, 2: 0x0F}))
    assert p.part_format(dos, "dos", "linux-swap") == "primary linux-swap"
    assert p.part_format(dos, "dos", "none") == "primary ext2"
    assert p.part_format(p.parse_parted(GPT_OUTPUT), "gpt", "extended") == "primary"
    with pytest.raises(pyvirt.libvirtError, match="extended partition already exists"):
        p.part_format(dos, "dos", "extended")
    # four primary/extended partitions: logical ones from now on, inside the extended one
    full = p.Table("msdos", 64 * MiB, regions=[
        p.Region(n, "extended" if n == 2 else "normal", "data", n * MiB, n * MiB + MiB)
        for n in (1, 2, 3, 4)])
    assert p.part_type_to_create(full, "dos") == "logical"
    assert p.part_format(full, "dos", "fat32") == "logical fat32"
    for r in full.regions:
        r.kind = "normal"
    with pytest.raises(pyvirt.libvirtError) as info:
        p.part_format(full, "dos", "linux")
    assert info.value.get_error_message() == (
        "internal error: no extended partition found and no primary partition available")


def test_boundaries_match_libvirts_on_an_empty_label() -> None:
    dos = p.Table("msdos", 64 * MiB, cylinders=257, heads=255, sectors=2,
                  regions=[p.Region(None, "normal", "free", 1024, 67107840)])
    # libvirt made the 8 MiB partition 1024..8616960 (cylinder aligned) on this label
    assert p.part_boundaries(dos, "dos", 8 * MiB) == (1024, 8616960 - 1)
    gpt = p.Table("gpt", 64 * MiB, regions=[p.Region(None, "normal", "free", 17408, 67091968)])
    assert p.part_boundaries(gpt, "gpt", 8 * MiB) == (17408, 17408 + 8 * MiB - 1)


def test_boundaries_pick_the_smallest_extent_that_fits() -> None:
    table = p.Table("gpt", 64 * MiB, regions=[
        p.Region(None, "normal", "free", 1 * MiB, 20 * MiB),
        p.Region(None, "normal", "free", 30 * MiB, 36 * MiB),
        p.Region(None, "normal", "free", 40 * MiB, 44 * MiB)])
    assert p.part_boundaries(table, "gpt", 5 * MiB)[0] == 30 * MiB
    # a free extent exactly as large as asked is not large enough (libvirt: size > needed)
    assert p.part_boundaries(table, "gpt", 4 * MiB)[0] == 30 * MiB
    with pytest.raises(pyvirt.libvirtError) as info:
        p.part_boundaries(table, "gpt", 20 * MiB)
    assert info.value.get_error_code() == c.VIR_ERR_INTERNAL_ERROR
    assert info.value.get_error_message() == "internal error: no large enough free extent"


def test_logical_partition_goes_into_logical_free_space_one_sector_in() -> None:
    # the extended partition 8616960..40212480 and four primaries, as libvirt left them
    table = p.Table("msdos", 64 * MiB, cylinders=257, heads=255, sectors=2, regions=[
        p.Region(1, "normal", "data", 1024, 8616960),
        p.Region(2, "extended", "metadata", 8616960, 40212480),
        p.Region(None, "logical", "free", 8617984, 40212480),
        p.Region(3, "normal", "data", 40212480, 44651520),
        p.Region(4, "normal", "data", 44651520, 48046080),
        p.Region(None, "normal", "free", 48046080, 67107840)])
    # libvirt's 5 MiB logical partition: 8618496..14100480
    assert p.part_boundaries(table, "dos", 5 * MiB) == (8618496, 14100480 - 1)


@pytest.mark.parametrize(("found", "fmt", "writelabel", "code", "message"), [
    (p.BlkidResult(), "gpt", True, None, None),
    (p.BlkidResult(), "gpt", False, c.VIR_ERR_STORAGE_PROBE_FAILED,
     "Storage pool probe failed: Device '/dev/x' is unrecognized, requires build"),
    (p.BlkidResult(pt_type="gpt"), "gpt", False, None, None),
    (p.BlkidResult(pt_type="gpt"), "gpt", True, c.VIR_ERR_STORAGE_POOL_BUILT,
     "Storage pool already built: Device '/dev/x' already formatted using 'gpt'"),
    (p.BlkidResult(pt_type="dos"), "gpt", True, c.VIR_ERR_STORAGE_POOL_BUILT,
     "Storage pool already built: Format of device '/dev/x' does not match the expected "
     "format 'gpt', forced overwrite is necessary"),
    (p.BlkidResult(pt_type="dos"), "unknown", True, c.VIR_ERR_STORAGE_POOL_BUILT,
     "Storage pool already built: Format of device '/dev/x' does not match the expected "
     "format 'unknown', forced overwrite is necessary"),
    (p.BlkidResult(pt_type="dos"), "gpt", False, c.VIR_ERR_OPERATION_INVALID,
     "Requested operation is not valid: Format of device '/dev/x' does not match the "
     "expected format 'gpt'"),
    (p.BlkidResult(fs_type="ext4"), "dos", False, c.VIR_ERR_OPERATION_INVALID,
     "Requested operation is not valid: Format of device '/dev/x' does not match the "
     "expected format 'dos'"),
    (p.BlkidResult(pt_type="dos", ambivalent=True), "dos", False,
     c.VIR_ERR_STORAGE_PROBE_FAILED,
     "Storage pool probe failed: Found additional probes to run, probing may be incorrect"),
])
def test_label_checks_through_blkid(found: p.BlkidResult, fmt: str, writelabel: bool,
                                    code: int | None, message: str | None) -> None:
    def parted(device: str) -> tuple[int, str]:
        raise AssertionError("blkid decides these")

    if code is None:
        p.check_label("/dev/x", fmt, writelabel, lambda d: found, parted)
        return
    with pytest.raises(pyvirt.libvirtError) as info:
        p.check_label("/dev/x", fmt, writelabel, lambda d: found, parted)
    assert (info.value.get_error_code(), info.value.get_error_message()) == (code, message)


PARTED_DVH = "Model: X\nDisk /dev/x: 67.1MB\nPartition Table: dvh\nDisk Flags: \n"


@pytest.mark.parametrize(("rc", "output", "writelabel", "message"), [
    (0, PARTED_DVH, False, None),
    (0, PARTED_DVH, True, "Requested operation is not valid: Disk label already formatted "
     "using 'dvh'"),
    (1, "Error: /dev/x: unrecognised disk label\n", True, None),
    (1, "Error: /dev/x: unrecognised disk label\n", False,
     "operation failed: Unrecognized disk label found, requires build"),
    (0, PARTED_DVH.replace("dvh", "msdos"), False,
     "operation failed: Known, but different label format present, requires build "
     "--overwrite"),
    (0, PARTED_DVH.replace("dvh", "loop"), False,
     "operation failed: Unknown Partition Type, requires build --overwrite"),
    (0, "Model: X\n", False,
     "operation failed: Unable to determine Partition Type, requires build --overwrite"),
    (1, "Error: cannot open\n", False, "operation failed: Error checking for disk label, "
     "failed to get disk partition information"),
])
def test_label_checks_blkid_leaves_to_parted(rc: int, output: str, writelabel: bool,
                                             message: str | None) -> None:
    # blkid finds a dos table, but cannot tell dvh (sgi) from others: parted decides
    def blkid(device: str) -> p.BlkidResult:
        return p.BlkidResult(pt_type="sgi")

    if message is None:
        p.check_label("/dev/x", "dvh", writelabel, blkid, lambda d: (rc, output))
        return
    with pytest.raises(pyvirt.libvirtError) as info:
        p.check_label("/dev/x", "dvh", writelabel, blkid, lambda d: (rc, output))
    assert info.value.get_error_message() == message


def test_blkid_export_output() -> None:
    found = p.parse_blkid_export("DEVNAME=/dev/loop0\nPTUUID=c25d35cb\nPTTYPE=dos\n", 0)
    assert (found.fs_type, found.pt_type, found.ambivalent) == (None, "dos", False)
    assert p.parse_blkid_export("", 2) == p.BlkidResult()
    assert p.parse_blkid_export("TYPE=ext4\n", 8).ambivalent
