"""Golden tests for the "Storage Volume" group: pyvirsh's stdout, stderr and exit status equal
real virsh 9.0's for the same command line on test:///default and on libvirt's testnode.xml.

Volumes are created and used in one invocation (commands chained with ';'), since every
process starts from the driver's default state. The test driver answers "not supported" for
wipe, resize, upload and download, as libvirt's does: virsh's messages for that are compared.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from golden_support import expect_mismatch

DEFAULT = "test:///default"
DATA = Path(__file__).parent / "data" / "storage"
VOL_XML = str(DATA / "vol.xml")
UPLOAD = str(DATA / "upload.txt")
NEW = "vol-create-as default-pool v1 10M"

CASES: list[str] = [
    # listing
    "vol-list default-pool",
    "vol-list default-pool --details",
    "vol-list --pool default-pool",
    "vol-list nope",
    "vol-list",
    "pool-destroy default-pool; vol-list default-pool",
    f"{NEW}; vol-create-as default-pool A 1K; vol-create-as default-pool b 1G; "
    "vol-list default-pool; vol-list default-pool --details",
    # create-as and its sizes
    f"{NEW}; vol-list default-pool; vol-list default-pool --details",
    "vol-create-as default-pool v1 10M --allocation 1M --format qcow2 --print-xml",
    "vol-create-as default-pool v1 10 --print-xml",
    "vol-create-as default-pool v1 1KB --allocation 0 --print-xml",
    "vol-create-as default-pool v1 2GiB --print-xml",
    "vol-create-as default-pool v1 3e --print-xml",
    "vol-create-as default-pool v1 20E --print-xml",
    "vol-create-as default-pool v1 10X",
    "vol-create-as default-pool v1 abc",
    "vol-create-as default-pool v1 -- -1",
    "vol-create-as default-pool v1 10M --allocation 5Q",
    "vol-create-as default-pool v1 10M --allocation x",
    "vol-create-as default-pool v1 10M --format qcow2; vol-dumpxml v1 default-pool",
    f"{NEW}; {NEW}",
    "vol-create-as nope v1 10M",
    "vol-create-as default-pool v1",
    "vol-create-as default-pool v1 10M --prealloc-metadata",
    "pool-destroy default-pool; vol-create-as default-pool v 1",
    f"{NEW}; vol-create-as default-pool v2 1G --backing-vol v1 --backing-vol-format raw "
    "--print-xml; vol-create-as default-pool v2 1G --backing-vol /default-pool/v1; "
    "vol-dumpxml v2 default-pool",
    "vol-create-as default-pool v1 1G --backing-vol nope",
    # info, key, path, name, pool
    f"{NEW}; vol-info v1 --pool default-pool; vol-info --bytes /default-pool/v1; "
    "vol-info --physical /default-pool/v1; vol-info v1 default-pool --bytes --physical",
    f"{NEW}; vol-info default-pool/v1",
    "vol-info v1",
    "vol-info v1 --pool default-pool",
    "vol-info v1 --pool nope",
    "pool-destroy default-pool; vol-info x default-pool",
    f"{NEW}; vol-key v1 default-pool; vol-key /default-pool/v1; vol-path v1 --pool "
    "default-pool; vol-path /default-pool/v1; vol-name /default-pool/v1; "
    "vol-pool /default-pool/v1; vol-pool --uuid /default-pool/v1",
    f"{NEW}; vol-name v1; vol-pool v1; vol-path v1",
    f"{NEW}; vol-name v1 --pool default-pool",
    "vol-key /x",
    "vol-name /x",
    "vol-pool /x",
    # dumpxml
    f"{NEW}; vol-dumpxml v1 default-pool; vol-dumpxml /default-pool/v1",
    f"{NEW}; vol-dumpxml v1 default-pool --xpath //capacity; "
    "vol-dumpxml v1 default-pool --xpath //target/path/text() --wrap",
    "vol-dumpxml nope default-pool",
    # create from a file, from another volume, clone
    f"vol-create default-pool {VOL_XML}; vol-list default-pool --details; "
    f"vol-create default-pool {VOL_XML}",
    f"vol-create default-pool {VOL_XML} --prealloc-metadata",
    f"vol-create default-pool {VOL_XML} --validate",
    "vol-create default-pool /nonexistent/vol.xml",
    f"vol-create nope {VOL_XML}",
    f"{NEW}; vol-create-from default-pool {VOL_XML} v1 --inputpool default-pool; "
    "vol-list default-pool --details",
    f"{NEW}; vol-create-from default-pool {VOL_XML} v1",
    f"{NEW}; vol-create-from default-pool {VOL_XML} /default-pool/v1",
    f"{NEW}; vol-create-from default-pool /nonexistent/vol.xml /default-pool/v1",
    f"{NEW}; vol-clone v1 v2 --pool default-pool; vol-list default-pool --details",
    f"{NEW}; vol-clone --print-xml v1 v3 default-pool; vol-list default-pool",
    f"{NEW}; vol-clone /default-pool/v1 v1",
    "vol-clone nope v2 default-pool",
    # delete
    f"{NEW}; vol-delete v1 default-pool; vol-list default-pool",
    f"{NEW}; vol-delete /default-pool/v1 --delete-snapshots; vol-list default-pool",
    "vol-delete nope --pool default-pool",
    # not supported by the test driver: virsh's messages
    f"{NEW}; vol-wipe v1 default-pool",
    f"{NEW}; vol-wipe v1 default-pool --algorithm nnsa",
    f"{NEW}; vol-wipe v1 default-pool --algorithm foo",
    f"{NEW}; vol-resize v1 20M default-pool",
    f"{NEW}; vol-resize v1 -5M default-pool",
    f"{NEW}; vol-resize v1 --shrink -5M --pool default-pool",
    f"{NEW}; vol-resize v1 --delta 1G default-pool --allocate",
    f"{NEW}; vol-resize v1 5Z default-pool",
    f"{NEW}; vol-resize v1 abc default-pool",
    f"{NEW}; vol-upload v1 {UPLOAD} default-pool",
    f"{NEW}; vol-upload v1 {UPLOAD} default-pool --sparse --offset 1 --length 2",
    f"{NEW}; vol-upload v1 /nonexistent/file default-pool",
    f"{NEW}; vol-upload --offset -1 v1 {UPLOAD} default-pool",
    f"{NEW}; vol-upload --length -1 v1 {UPLOAD} default-pool",
    f"vol-upload nope {UPLOAD} default-pool",
    f"{NEW}; vol-download v1 /nonexistent/dir/file default-pool",
    # help texts
    "help vol-list",
    "help vol-info",
    "help vol-create-as",
    "help vol-resize",
    "help vol-upload",
    # quiet
    f"-q {NEW}; vol-list default-pool",
]

XFAIL: dict[str, str] = {
    "help vol-list": "pyvirsh adds --json (our documented extension) to vol-list",
    "help vol-info": "pyvirsh adds --json (our documented extension) to vol-info",
}


def _argv(uri: str, case: str) -> list[str]:
    if case.startswith("-q "):
        return ["-q", "-c", uri, case[3:]]
    return ["-c", uri, case]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[:70])
@pytest.mark.parametrize("where", ["default", "testnode"])
def test_volume_matches_virsh(both, testnode_uri, where: str, case: str) -> None:
    uri = DEFAULT if where == "default" else testnode_uri
    reason = XFAIL.get(case) or XFAIL.get(f"{where}:{case}")
    with expect_mismatch(reason):
        ours, theirs = both(*_argv(uri, case))
        assert (ours.stdout, ours.stderr, ours.status) == (
            theirs.stdout, theirs.stderr, theirs.status)


def test_vol_download_leaves_no_file(both, tmp_path) -> None:
    """A failed download removes the file it created, as virsh does."""
    target = tmp_path / "out.img"
    ours, theirs = both("-c", DEFAULT, f"{NEW}; vol-download v1 {target} default-pool")
    assert (ours.stdout, ours.stderr, ours.status) == (
        theirs.stdout, theirs.stderr, theirs.status)
    assert not target.exists()


def test_vol_list_json(pyvirsh) -> None:
    res = pyvirsh("-c", DEFAULT, f"{NEW}; vol-list default-pool --json")
    assert res.status == 0
    doc = json.loads(res.stdout.split("\n\n", 1)[1])
    assert doc == [{"name": "v1", "path": "/default-pool/v1", "type": "file",
                    "capacity": 10485760, "allocation": 10485760}]


def test_vol_info_json(pyvirsh) -> None:
    res = pyvirsh("-c", DEFAULT, f"{NEW}; vol-info v1 default-pool --json")
    assert res.status == 0
    doc = json.loads(res.stdout.split("\n\n", 1)[1])
    assert doc == {"name": "v1", "type": "file", "capacity": 10485760,
                   "allocation": 10485760}
