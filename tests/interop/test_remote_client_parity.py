"""pyvirt's remote client and real libvirt-python, side by side, against one real libvirtd.

The same script (``SCRIPT``: ~110 API calls covering connection, host, domain, network,
storage, node device, interface, secret and nwfilter calls, typed parameters, lists with
counts and a sequence of changes: define, autostart, memory, start, metadata, snapshots,
suspend/resume, shutdown, undefine, a network's life, a volume's life) runs once under
/usr/bin/python3 with ``import libvirt`` and once with ``import pyvirt as libvirt``, both
over ``test+unix:///default?socket=...``; each result (or libvirt error code, domain and
message) is printed as JSON and the two outputs must be equal, apart from the explained
differences in ``KNOWN``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from interop.test_remote_client_libvirtd import LIBVIRTD, Libvirtd

SYSTEM_PYTHON = "/usr/bin/python3"
SRC = Path(__file__).resolve().parents[2] / "src"


def has_libvirt_python() -> bool:
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return False
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import libvirt"], capture_output=True)
    return probe.returncode == 0


pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not os.access(LIBVIRTD, os.X_OK), reason="libvirtd is not installed"),
    pytest.mark.skipif(not has_libvirt_python(), reason="libvirt-python is not installed"),
]

# Calls whose values change between two runs (CPU times, counters): compared by shape.
VARYING = {"dom.vcpus", "dom.blockStats", "dom.interfaceStats"}
# Explained differences: libvirt-python's own quirks on a driver error.
KNOWN = {
    # libvirt-python returns None instead of raising when virDomainGetGuestVcpus fails;
    # pyvirt raises the server's VIR_ERR_NO_SUPPORT.
    "dom.guestVcpus",
    # the test driver has no security label list: libvirt-python reports "cause unknown"
    # (its C glue drops the error), pyvirt returns the server's empty list.
    "dom.securityLabelList",
}

SCRIPT = r'''
import sys, json
if sys.argv[1] == "pyvirt":
    import pyvirt as libvirt
else:
    import libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
uri = sys.argv[2]


def norm(v):
    if isinstance(v, (list, tuple)):
        return [norm(x) for x in v]
    if isinstance(v, dict):
        return {str(k): norm(x) for k, x in sorted(v.items())}
    if hasattr(v, "name") and callable(v.name) and type(v).__name__.startswith("vir"):
        return f"<{type(v).__name__} {v.name()}>"
    if hasattr(v, "getName") and type(v).__name__.startswith("vir"):
        return f"<{type(v).__name__} {v.getName()}>"
    if isinstance(v, bytes):
        return v.hex()
    return v


c = libvirt.open(uri)
d = c.lookupByName("test")
net = c.networkLookupByName("default")
pool = c.storagePoolLookupByName("default-pool")
calls = {
 "listAllDomains": lambda: c.listAllDomains(),
 "listAllDomains3": lambda: c.listAllDomains(3),
 "listDomainsID": c.listDomainsID, "listDefinedDomains": c.listDefinedDomains,
 "numOfDomains": c.numOfDomains,
 "getInfo": c.getInfo, "getType": c.getType, "getVersion": c.getVersion,
 "getHostname": c.getHostname, "getMaxVcpus": lambda: c.getMaxVcpus(None),
 "getFreeMemory": c.getFreeMemory, "getCellsFreeMemory": lambda: c.getCellsFreeMemory(0, 2),
 "getSecurityModel": c.getSecurityModel, "getSysinfo": lambda: c.getSysinfo(0)[:40],
 "getCPUMap": lambda: c.getCPUMap(0), "isSecure": c.isSecure, "isEncrypted": c.isEncrypted,
 "isAlive": c.isAlive, "getURI": c.getURI,
 "getCapabilities": lambda: len(c.getCapabilities()),
 "getCPUStats": lambda: sorted(c.getCPUStats(-1, 0)),
 "getMemoryStats": lambda: sorted(c.getMemoryStats(-1, 0)),
 "dom.info": lambda: d.info()[:4], "dom.state": lambda: d.state(), "dom.ID": d.ID,
 "dom.UUIDString": d.UUIDString, "dom.OSType": d.OSType, "dom.isActive": d.isActive,
 "dom.isPersistent": d.isPersistent, "dom.autostart": d.autostart,
 "dom.maxMemory": d.maxMemory, "dom.maxVcpus": d.maxVcpus,
 "dom.XMLDesc": lambda: d.XMLDesc(0)[:200],
 "dom.schedulerType": d.schedulerType, "dom.schedulerParameters": d.schedulerParameters,
 "dom.schedulerParametersFlags": lambda: d.schedulerParametersFlags(0),
 "dom.memoryParameters": lambda: d.memoryParameters(0),
 "dom.blkioParameters": lambda: d.blkioParameters(0),
 "dom.numaParameters": lambda: d.numaParameters(0),
 "dom.vcpus": lambda: [[list(x)[:3] for x in d.vcpus()[0]], d.vcpus()[1]],
 "dom.vcpuPinInfo": lambda: d.vcpuPinInfo(0),
 "dom.emulatorPinInfo": lambda: d.emulatorPinInfo(0),
 "dom.vcpusFlags": lambda: d.vcpusFlags(0),
 "dom.securityLabel": d.securityLabel, "dom.securityLabelList": d.securityLabelList,
 "dom.controlInfo": lambda: d.controlInfo(0)[:2], "dom.jobInfo": d.jobInfo,
 "dom.jobStats": lambda: d.jobStats(0),
 "dom.hasManagedSaveImage": lambda: d.hasManagedSaveImage(0),
 "dom.blockStats": lambda: d.blockStats("vda"),
 "dom.blockStatsFlags": lambda: sorted(d.blockStatsFlags("vda", 0)),
 "dom.interfaceStats": lambda: d.interfaceStats("testnet0"),
 "dom.memoryStats": d.memoryStats, "dom.getCPUStats": lambda: sorted(d.getCPUStats(True)[0]),
 "dom.getCPUStatsPer": lambda: len(d.getCPUStats(False)),
 "dom.blockInfo": lambda: d.blockInfo("vda"), "dom.diskErrors": lambda: d.diskErrors(0),
 "dom.blockJobInfo": lambda: d.blockJobInfo("vda", 0),
 "dom.messages": lambda: d.messages(0), "dom.getTime": lambda: sorted(d.getTime(0)),
 "dom.perfEvents": lambda: d.perfEvents(0),
 "dom.ioThreadInfo": lambda: d.ioThreadInfo(0),
 "dom.fsInfo": lambda: d.fsInfo(0), "dom.guestVcpus": lambda: d.guestVcpus(0),
 "dom.interfaceAddresses": lambda: d.interfaceAddresses(0),
 "dom.snapshotNum": lambda: d.snapshotNum(0), "dom.listAllSnapshots": lambda: d.listAllSnapshots(0),
 "dom.snapshotListNames": lambda: d.snapshotListNames(0),
 "dom.hasCurrentSnapshot": lambda: d.hasCurrentSnapshot(0),
 "dom.blockIoTune": lambda: d.blockIoTune("vda", 0),
 "dom.interfaceParameters": lambda: d.interfaceParameters("testnet0", 0),
 "dom.launchSecurityInfo": lambda: d.launchSecurityInfo(0),
 "dom.metadata": lambda: d.metadata(0, None, 0),
 "dom.hostname": lambda: d.hostname(0),
 "lookupByID": lambda: c.lookupByID(d.ID()),
 "lookupByUUIDString": lambda: c.lookupByUUIDString(d.UUIDString()),
 "lookupByUUID": lambda: c.lookupByUUID(d.UUID()),
 "missing": lambda: c.lookupByName("nope"),
 "listAllNetworks": lambda: c.listAllNetworks(0), "listNetworks": c.listNetworks,
 "listDefinedNetworks": c.listDefinedNetworks,
 "net.XMLDesc": lambda: net.XMLDesc(0)[:100], "net.bridgeName": net.bridgeName,
 "net.autostart": net.autostart, "net.isActive": net.isActive, "net.isPersistent": net.isPersistent,
 "net.DHCPLeases": lambda: net.DHCPLeases(),
 "listAllStoragePools": lambda: c.listAllStoragePools(0), "listStoragePools": c.listStoragePools,
 "pool.info": pool.info, "pool.XMLDesc": lambda: pool.XMLDesc(0)[:100],
 "pool.listVolumes": pool.listVolumes, "pool.numOfVolumes": pool.numOfVolumes,
 "pool.listAllVolumes": lambda: pool.listAllVolumes(0),
 "listAllInterfaces": lambda: c.listAllInterfaces(0), "listInterfaces": c.listInterfaces,
 "listDefinedInterfaces": c.listDefinedInterfaces,
 "listAllNodeDevices": lambda: c.listAllNodeDevices(0)[:3],
 "listDevices": lambda: c.listDevices(None, 0)[:3],
 "numOfDevices": lambda: c.numOfDevices(None, 0),
 "listAllSecrets": lambda: c.listAllSecrets(0), "listSecrets": c.listSecrets,
 "listAllNWFilters": lambda: c.listAllNWFilters(0), "listNWFilters": c.listNWFilters,
 "getAllDomainStats": lambda: [(norm(a), sorted(b)[:5]) for a, b in c.getAllDomainStats()],
 "domainListGetStats": lambda: [(norm(a), sorted(b)[:5]) for a, b in c.domainListGetStats([d])],
 "getCPUModelNames": lambda: c.getCPUModelNames("x86_64")[:3],
 "getFreePages": lambda: c.getFreePages([4, 2048], 0, 1),
 "nodedev.XMLDesc": lambda: c.listAllNodeDevices(0)[0].XMLDesc(0)[:60],
 "nodedev.listCaps": lambda: c.listAllNodeDevices(0)[0].listCaps(),
 "nodedev.parent": lambda: c.listAllNodeDevices(0)[1].parent(),
 "iface.XMLDesc": lambda: c.listAllInterfaces(0)[0].XMLDesc(0)[:60],
 "iface.MACString": lambda: c.listAllInterfaces(0)[0].MACString(),
 "getDomainCapabilities": lambda: c.getDomainCapabilities()[:50],
}

st = {}
steps = [
    ("define", lambda: norm(st.setdefault("x", c.defineXML(
        "<domain type='test'><name>parity</name><memory>131072</memory><vcpu>1</vcpu>"
        "<os><type>hvm</type></os></domain>")))),
    ("setAutostart", lambda: st["x"].setAutostart(1)), ("autostart", lambda: st["x"].autostart()),
    ("setMemoryFlags", lambda: st["x"].setMemoryFlags(65536, libvirt.VIR_DOMAIN_AFFECT_CONFIG)),
    ("info", lambda: st["x"].info()[:4]), ("create", lambda: st["x"].create()),
    ("state", lambda: st["x"].state()),
    ("setMemoryParameters", lambda: st["x"].setMemoryParameters({"hard_limit": 500000}, 0)),
    ("memoryParameters", lambda: st["x"].memoryParameters(0)),
    ("setMetadata", lambda: st["x"].setMetadata(libvirt.VIR_DOMAIN_METADATA_DESCRIPTION,
                                                "hello", None, None, 0)),
    ("metadata", lambda: st["x"].metadata(libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, None, 0)),
    ("snapshotCreateXML", lambda: norm(st.setdefault("snap", st["x"].snapshotCreateXML(
        "<domainsnapshot><name>s1</name></domainsnapshot>", 0)))),
    ("snapshotListNames", lambda: st["x"].snapshotListNames(0)),
    ("snapshotCurrent", lambda: st["x"].snapshotCurrent(0)),
    ("snapshot.isCurrent", lambda: st["snap"].isCurrent(0)),
    ("snapshot.getParent", lambda: st["snap"].getParent(0)),
    ("listAllSnapshots", lambda: st["x"].listAllSnapshots(0)),
    ("revertToSnapshot", lambda: st["x"].revertToSnapshot(st["snap"], 0)),
    ("snapshot.delete", lambda: st["snap"].delete(0)),
    ("suspend", lambda: st["x"].suspend()), ("state2", lambda: st["x"].state()),
    ("resume", lambda: st["x"].resume()), ("setVcpusFlags", lambda: st["x"].setVcpusFlags(1, 0)),
    ("reboot", lambda: st["x"].reboot(0)), ("reset", lambda: st["x"].reset(0)),
    ("shutdown", lambda: st["x"].shutdown()), ("state3", lambda: st["x"].state()),
    ("managedSave", lambda: (st["x"].create(), st["x"].managedSave(0))),
    ("hasManagedSaveImage", lambda: st["x"].hasManagedSaveImage(0)),
    ("managedSaveRemove", lambda: st["x"].managedSaveRemove(0)),
    ("rename", lambda: st["x"].rename("parity2", 0)), ("name", lambda: st["x"].name()),
    ("undefineFlags", lambda: st["x"].undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)),
    ("missingAfterUndefine", lambda: c.lookupByName("parity2")),
    ("networkDefineXML", lambda: norm(st.setdefault("n", c.networkDefineXML(
        "<network><name>paritynet</name><bridge name='pnbr0'/>"
        "<ip address='192.168.77.1' netmask='255.255.255.0'/></network>")))),
    ("net.create", lambda: st["n"].create()), ("net.isActive", lambda: st["n"].isActive()),
    ("net.setAutostart", lambda: st["n"].setAutostart(1)),
    ("net.autostart", lambda: st["n"].autostart()),
    ("net.update", lambda: st["n"].update(libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
        libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST, -1,
        "<host mac='52:54:00:00:00:01' ip='192.168.77.5'/>", 0)),
    ("net.destroy", lambda: st["n"].destroy()), ("net.undefine", lambda: st["n"].undefine()),
    ("vol.create", lambda: norm(st.setdefault("v", pool.createXML(
        "<volume><name>par.img</name><capacity>1048576</capacity></volume>", 0)))),
    ("vol.info", lambda: st["v"].info()), ("vol.path", lambda: st["v"].path()),
    ("vol.byPath", lambda: c.storageVolLookupByPath(st["v"].path())),
    ("vol.byKey", lambda: c.storageVolLookupByKey(st["v"].key())),
    ("vol.resize", lambda: st["v"].resize(2097152, 0)),
    ("vol.wipe", lambda: st["v"].wipe(0)),
    ("vol.createFrom", lambda: pool.createXMLFrom(
        "<volume><name>par2.img</name><capacity>1048576</capacity></volume>", st["v"], 0)),
    ("vol.delete2", lambda: pool.storageVolLookupByName("par2.img").delete(0)),
    ("vol.delete", lambda: st["v"].delete(0)),
    ("pool.refresh", lambda: pool.refresh(0)),
    ("pool.setAutostart", lambda: pool.setAutostart(1)),
    ("pool.autostart", lambda: pool.autostart()),
    ("pool.setAutostart0", lambda: pool.setAutostart(0)),
    ("secretDefine", lambda: norm(st.setdefault("sec", c.secretDefineXML(
        "<secret ephemeral='no' private='no'><uuid>aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee</uuid>"
        "<usage type='volume'><volume>/x</volume></usage></secret>", 0)))),
    ("secret.setValue", lambda: st["sec"].setValue(b"s3cret", 0)),
    ("secret.value", lambda: st["sec"].value(0)),
    ("secret.usage", lambda: (st["sec"].usageType(), st["sec"].usageID())),
    ("secret.byUsage", lambda: c.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_VOLUME,
                                                      "/x").UUIDString()),
    ("secret.undefine", lambda: st["sec"].undefine()),
]
for step_name, step in steps:
    calls["mut." + step_name] = step

for name, fn in calls.items():
    try:
        r = ("ok", norm(fn()))
    except libvirt.libvirtError as e:
        r = ("err", e.get_error_code(), e.get_error_domain(), e.get_error_message())
    except Exception as e:
        r = ("exc", type(e).__name__, str(e))
    print(json.dumps([name, r], default=str))
c.close()
'''


def shape(value: object) -> object:
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


def run(python: str, module: str, uri: str) -> dict[str, object]:
    env = dict(os.environ)
    if module == "pyvirt":
        env["PYTHONPATH"] = str(SRC)
    else:
        env.pop("PYTHONPATH", None)
    out = subprocess.run([python, "-c", SCRIPT, module, uri], capture_output=True, text=True,
                         timeout=120, env=env, check=True).stdout
    return {name: result for name, result in map(json.loads, out.splitlines())}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Libvirtd]:
    d = Libvirtd(tmp_path_factory.mktemp("libvirtd")).start()
    yield d
    d.stop()


def test_same_results_as_libvirt_python(daemon: Libvirtd) -> None:
    theirs = run(SYSTEM_PYTHON, "libvirt", daemon.uri())
    ours = run(sys.executable, "pyvirt", daemon.uri())
    assert set(ours) == set(theirs)
    assert len(ours) > 100
    different = []
    for name in sorted(theirs):
        a, b = theirs[name], ours[name]
        if name in VARYING:
            a, b = shape(a), shape(b)
        if a != b and name not in KNOWN:
            different.append(f"{name}:\n  libvirt-python {a}\n  pyvirt         {b}")
    assert not different, "\n".join(different)
    for name in KNOWN:
        assert theirs[name] != ours[name], f"{name} now agrees: drop it from KNOWN"
