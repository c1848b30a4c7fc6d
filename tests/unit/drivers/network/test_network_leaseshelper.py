"""The lease helper dnsmasq runs on lease events (``--dhcp-script``), with dnsmasq's
arguments and environment simulated, and networkGetDHCPLeases reading what it wrote: IPv4
and IPv6 leases with libvirt's fields, the MAC of an IPv6 lease from DNSMASQ_MAC."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

import pyvirt
from pyvirt.api.connect import virConnect
from pyvirt.drivers.network import dnsmasq, leaseshelper
from pyvirt.drivers.network.driver import NetworkDriver
from pyvirt.drivers.network.paths import NetworkPaths
from pyvirt.errors import libvirtError

MAC4, MAC6 = "52:54:00:6e:77:01", "52:54:00:6e:77:02"
DUID = "00:01:00:01:2c:aa:bb:cc:52:54:00:6e:77:02"
SERVER_DUID = "00:01:00:01:2c:00:00:01:52:54:00:11:22:33"


def _v4_env(status: Path, expires: int) -> dict[str, str]:
    return {leaseshelper.STATUS_ENV: str(status), "DNSMASQ_INTERFACE": "virbr0",
            "DNSMASQ_LEASE_EXPIRES": str(expires),
            "DNSMASQ_CLIENT_ID": "01:52:54:00:6e:77:01"}


def _v6_env(status: Path, expires: int, mac: str | None) -> dict[str, str]:
    env = {leaseshelper.STATUS_ENV: str(status), "DNSMASQ_INTERFACE": "virbr0",
           "DNSMASQ_LEASE_EXPIRES": str(expires), "DNSMASQ_IAID": "1234",
           "DNSMASQ_SERVER_DUID": SERVER_DUID}
    if mac:
        env["DNSMASQ_MAC"] = mac
    return env


def test_events_keep_a_json_array_of_leases(tmp_path: Path) -> None:
    status = tmp_path / "virbr0.status"
    exp = int(time.time()) + 3600
    assert leaseshelper.main(["h", "add", MAC4, "10.66.0.100", "g1"], _v4_env(status, exp)) == 0
    assert leaseshelper.main(["h", "add", DUID, "fd00::64"], _v6_env(status, exp, MAC6)) == 0
    leases = json.loads(status.read_text())
    assert leases == [
        {"ip-address": "10.66.0.100", "mac-address": MAC4, "hostname": "g1",
         "client-id": "01:52:54:00:6e:77:01", "expiry-time": exp},
        {"iaid": "1234", "ip-address": "fd00::64", "mac-address": MAC6, "client-id": DUID,
         "server-duid": SERVER_DUID, "expiry-time": exp},
    ]
    # a renewal replaces the address's entry; an IPv6 event without a known MAC (dnsmasq
    # replaying its lease file at start) keeps the entry as it was
    assert leaseshelper.main(["h", "old", MAC4, "10.66.0.100"],
                             _v4_env(status, exp + 60) | {"DNSMASQ_OLD_HOSTNAME": "g1"}) == 0
    assert leaseshelper.main(["h", "old", DUID, "fd00::64"], _v6_env(status, exp + 60, None)) == 0
    leases = json.loads(status.read_text())
    assert [(le["ip-address"], le["expiry-time"], le.get("hostname")) for le in leases] == [
        ("fd00::64", exp, None), ("10.66.0.100", exp + 60, "g1")]
    # release of the IPv6 address; other script events change nothing
    assert leaseshelper.main(["h", "del", DUID, "fd00::64"], _v6_env(status, 0, None)) == 0
    assert leaseshelper.main(["h", "tftp", "1024", "10.66.0.100", "/boot/x"], {}) == 0
    assert [le["ip-address"] for le in json.loads(status.read_text())] == ["10.66.0.100"]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".leases-")]


def test_bad_invocations_fail_without_writing(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    status = tmp_path / "virbr0.status"
    env = _v4_env(status, 0)
    assert leaseshelper.main(["h", "add", MAC4], env) == 1
    assert leaseshelper.main(["h", "init"], env) == 1
    assert leaseshelper.main(["h", "frob", MAC4, "10.0.0.1"], env) == 1
    assert leaseshelper.main(["h", "add", MAC4, "10.0.0.1"], {}) == 1
    assert leaseshelper.main(["h", "add", MAC4, "10.0.0.1"],
                             env | {"DNSMASQ_LEASE_EXPIRES": "soon"}) == 1
    err = capsys.readouterr().err
    assert "Unsupported action: frob" in err and "PYVIRT_LEASES_STATUS not set" in err
    assert not status.exists()
    # a garbled file is rewritten whole on the next event
    status.write_text("{not json")
    assert leaseshelper.main(["h", "add", MAC4, "10.0.0.1"], env) == 0
    assert [le["mac-address"] for le in json.loads(status.read_text())] == [MAC4]


@pytest.fixture
def net(tmp_path: Path):  # type: ignore[no-untyped-def]
    paths = NetworkPaths.for_mode("embed", str(tmp_path))
    driver = NetworkDriver(paths, define_default=False)
    conn = virConnect("qemu:///embed", driver, False)
    network = conn.networkDefineXML(
        "<network><name>n6</name><bridge name='virbr7'/><forward mode='nat'/>"
        "<ip address='10.66.0.1' netmask='255.255.0.0'>"
        "<dhcp><range start='10.66.0.100' end='10.66.0.199'/></dhcp></ip>"
        "<ip family='ipv6' address='fd00::1' prefix='64'>"
        "<dhcp><range start='fd00::64' end='fd00::c8'/></dhcp></ip></network>")
    yield network, paths, driver


def test_dhcp_leases_from_the_helper_file_written_by_the_wrapper(net) -> None:  # type: ignore[no-untyped-def]
    network, paths, driver = net
    files = driver._files("n6")
    os.makedirs(paths.dnsmasq_dir, exist_ok=True)
    dnsmasq.write_helper(files)  # the executable dnsmasq is given, run as dnsmasq would
    status = Path(files.status("virbr7"))
    exp = int(time.time()) + 3600
    for argv, env in ((["add", MAC4, "10.66.0.100", "g1"], _v4_env(status, exp)),
                      (["add", DUID, "fd00::64"], _v6_env(status, 0, MAC6)),
                      (["add", "52:54:00:00:00:09", "10.66.0.101"], _v4_env(status, 5))):
        proc = subprocess.run([files.helper, *argv], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    assert network.DHCPLeases() == [
        {"iface": "virbr7", "expirytime": exp, "type": pyvirt.VIR_IP_ADDR_TYPE_IPV4,
         "mac": MAC4, "iaid": None, "ipaddr": "10.66.0.100", "prefix": 16, "hostname": "g1",
         "clientid": "01:52:54:00:6e:77:01"},
        {"iface": "virbr7", "expirytime": 0, "type": pyvirt.VIR_IP_ADDR_TYPE_IPV6,
         "mac": MAC6, "iaid": "1234", "ipaddr": "fd00::64", "prefix": 64, "hostname": None,
         "clientid": DUID},
    ]  # the third one expired long ago
    assert [le["ipaddr"] for le in network.DHCPLeases(MAC6.upper())] == ["fd00::64"]
    # undefining the network removes the helper's file with dnsmasq's
    network.undefine()
    assert not status.exists()


def test_dhcp_leases_errors_and_fallback(net) -> None:  # type: ignore[no-untyped-def]
    network, paths, driver = net
    files = driver._files("n6")
    os.makedirs(paths.dnsmasq_dir, exist_ok=True)
    status = Path(files.status("virbr7"))
    for text, message in (
            ("[1", f"internal error: invalid json in file: {status}"),
            ("{}", "internal error: Malformed lease_entries array"),
            ('[{"ip-address": "10.66.0.5", "expiry-time": 0}]',
             "internal error: found lease without mac-address"),
            ('[{"ip-address": "10.66.0.5", "mac-address": "52:54:00:00:00:05"}]',
             "internal error: found lease without expiry-time")):
        status.write_text(text)
        with pytest.raises(libvirtError) as info:
            network.DHCPLeases()
        assert (info.value.get_error_code(), str(info.value)) == (
            pyvirt.VIR_ERR_INTERNAL_ERROR, message)
    status.write_text("")
    assert network.DHCPLeases() == []
    # no helper file (a dnsmasq started without the helper): dnsmasq's own lease file
    status.unlink()
    Path(files.leases).write_text(f"0 {MAC4} 10.66.0.100 * *\n")
    assert [(le["mac"], le["ipaddr"], le["prefix"]) for le in network.DHCPLeases()] == [
        (MAC4, "10.66.0.100", 16)]
