"""The network driver: libvirt's bridge_driver.c for pyvirt.

One ``NetworkDriver`` per directory layout (paths.py) serves every connection that opens it.
Definitions live in ``config_dir``; a running network's live definition, dnsmasq pid file and
ports live in ``state_dir``, so a new driver instance (a restarted process or daemon) finds
the networks still up, reconnects to their dnsmasq (restarting it if it died) and re-applies
their firewall tables.

Forward modes nat, route, open and none (isolated) get a bridge of their own (bridge.py),
nftables rules (firewall.py) and a dnsmasq (dnsmasq.py); mode bridge hands out an existing
host bridge; the macvtap and hostdev modes can be defined and started, and a port on them gets
libvirt's checks and errors, but no device of their pool (VIR_ERR_NO_SUPPORT).
"""

from __future__ import annotations

import logging
import os
import threading
import time

from pyvirt import constants as c
from pyvirt.drivers.base import Driver, check_flags
from pyvirt.drivers.netobj import NetworkListEntryPoints, NetworkObj, NetworkObjList, update_defs
from pyvirt.drivers.network import bridge, dnsmasq, firewall
from pyvirt.errors import libvirtError, raise_error
from pyvirt.events.state import EventState
from pyvirt.fileutil import (
    acquire_driver_lock,
    atomic_write,
    first_autostart,
    release_driver_lock,
    remove_quietly,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.api.connect import virConnect
    from pyvirt.api.network import virNetwork, virNetworkPort
    from pyvirt.conf.network import NetworkDef
    from pyvirt.conf.network.port import PortDef
    from pyvirt.drivers.network.paths import NetworkPaths

log = logging.getLogger(__name__)

_NET_ERR = c.VIR_FROM_NETWORK
# Modes whose bridge, addresses, firewall and dnsmasq the driver manages.
VIRTUAL_MODES = (None, "nat", "route", "open")
BRIDGE_TEMPLATE = "virbr%d"
MAX_BRIDGE_ID = 256
DEFAULT_NETWORK_XML = """<network>
  <name>default</name>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
"""
_UPDATE_RESTART = (c.VIR_NETWORK_SECTION_BRIDGE, c.VIR_NETWORK_SECTION_DOMAIN,
                   c.VIR_NETWORK_SECTION_IP, c.VIR_NETWORK_SECTION_IP_DHCP_RANGE,
                   c.VIR_NETWORK_SECTION_DNS_TXT, c.VIR_NETWORK_SECTION_DNS_SRV)
_UPDATE_FIREWALL = (c.VIR_NETWORK_SECTION_FORWARD, c.VIR_NETWORK_SECTION_FORWARD_INTERFACE,
                    c.VIR_NETWORK_SECTION_IP, c.VIR_NETWORK_SECTION_IP_DHCP_RANGE,
                    c.VIR_NETWORK_SECTION_IP_DHCP_HOST)


def _err(code: int, detail: str) -> None:
    raise_error(code, detail, domain=_NET_ERR)


def _not_active(name: str) -> None:
    _err(c.VIR_ERR_OPERATION_INVALID, f"network '{name}' is not active")


class Runtime:
    """What the driver keeps about a running network besides its live definition."""

    __slots__ = ("files", "dnsmasq_pid", "ports")

    def __init__(self, files: dnsmasq.DnsmasqFiles) -> None:
        self.files = files
        self.dnsmasq_pid: int | None = None
        self.ports: dict[str, PortDef] = {}


class NetworkDriver(NetworkListEntryPoints, Driver):
    name = "network"
    error_domain = _NET_ERR
    net_api_prefix = "network"

    def __init__(self, paths: NetworkPaths, define_default: bool | None = None) -> None:
        self.paths = paths
        self.lock = threading.RLock()
        self.events = EventState()
        self.networks = NetworkObjList()
        first_start = not os.path.isdir(paths.config_dir)
        paths.ensure()
        self._lock_fd = acquire_driver_lock(paths.state_dir)
        self._load_configs()
        self._load_status()
        if define_default is None:
            # libvirt's packaging installs the default network once, for the system
            # daemon; a relocated root (embed, tests) gets none: it would claim the host's
            # 192.168.122.0/24 in whatever network namespace runs it.
            define_default = paths.mode == "system" and paths.root is None
        if define_default and first_start:
            self._define_default()
        self._autostart()

    # ---- files -----------------------------------------------------------------------------

    def shutdown(self) -> None:
        """The last user went away: networks stay up (bridges, dnsmasq), as libvirtd's."""
        release_driver_lock(self.paths.state_dir, self._lock_fd)

    def _files(self, name: str) -> dnsmasq.DnsmasqFiles:
        return dnsmasq.DnsmasqFiles(name, self.paths.dnsmasq_dir, self.paths.state_dir)

    def _runtime(self, obj: NetworkObj) -> Runtime:
        if obj.runtime is None:
            obj.runtime = Runtime(self._files(obj.name))
        runtime: Runtime = obj.runtime
        return runtime

    def _save_config(self, netdef: NetworkDef) -> None:
        atomic_write(self.paths.config_file(netdef.name), netdef.to_xml(inactive=True))

    def _save_status(self, obj: NetworkObj) -> None:
        atomic_write(self.paths.status_file(obj.name), obj.def_.to_xml(), durable=False)

    def _save_port(self, obj: NetworkObj, port: PortDef) -> None:
        directory = self.paths.ports_dir(obj.name)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        atomic_write(os.path.join(directory, port.uuid + ".xml"), port.to_xml(), durable=False)

    def _delete_all_ports(self, obj: NetworkObj) -> None:
        """virNetworkObjDeleteAllPorts: a network that stops forgets its ports."""
        directory = self.paths.ports_dir(obj.name)
        for entry in _listdir(directory):
            remove_quietly(os.path.join(directory, entry))
        for path in (directory, os.path.dirname(directory)):
            try:
                os.rmdir(path)
            except OSError:
                pass
        if obj.runtime is not None:
            obj.runtime.ports.clear()
        obj.def_.connections = 0

    def _load_configs(self) -> None:
        from pyvirt.conf.network import NetworkDef

        for entry in sorted(_listdir(self.paths.config_dir)):
            if not entry.endswith(".xml"):
                continue
            path = os.path.join(self.paths.config_dir, entry)
            try:
                with open(path) as fh:
                    netdef = NetworkDef.from_xml(fh.read())
                obj = self.networks.assign(netdef, live=False, check_live=False)
            except (OSError, libvirtError) as exc:
                log.warning("network config %s ignored: %s", path, exc)
                continue
            obj.autostart = os.path.exists(self.paths.autostart_link(netdef.name))

    def _load_status(self) -> None:
        """networkUpdateState: networks that still run come back active; their dnsmasq is
        found by its pid file (restarted when gone) and their firewall table re-applied."""
        from pyvirt.conf.network import NetworkDef
        from pyvirt.conf.network.port import PortDef

        for entry in sorted(_listdir(self.paths.state_dir)):
            path = os.path.join(self.paths.state_dir, entry)
            if not entry.endswith(".xml") or not os.path.isfile(path):
                continue
            try:
                with open(path) as fh:
                    live = NetworkDef.from_xml(fh.read())
            except (OSError, libvirtError) as exc:
                log.warning("network status %s ignored: %s", path, exc)
                continue
            virtual = live.forward_mode in VIRTUAL_MODES
            if virtual and not bridge.exists(live.bridge.name or ""):
                # the host lost it (reboot, someone deleted it): the network is down
                dnsmasq.stop(dnsmasq.read_pid(self._files(live.name)), self._files(live.name))
                remove_quietly(path)
                obj = self.networks.find_uuid(live.uuid)
                if obj is not None:
                    self._delete_all_ports(obj)
                continue
            obj = self.networks.assign(live, live=True, check_live=False)
            obj.active = True
            runtime = self._runtime(obj)
            ports_dir = self.paths.ports_dir(obj.name)
            for port_file in sorted(_listdir(ports_dir)):
                try:
                    with open(os.path.join(ports_dir, port_file)) as fh:
                        port = PortDef.from_xml(fh.read())
                except (OSError, libvirtError):
                    continue
                runtime.ports[port.uuid] = port
            if not virtual:
                continue
            try:
                if live.forward_mode != "open":
                    firewall.add_rules(live)
                runtime.dnsmasq_pid = dnsmasq.read_pid(runtime.files)
                if runtime.dnsmasq_pid is None and dnsmasq.needs_dnsmasq(live):
                    runtime.dnsmasq_pid = dnsmasq.start(live, runtime.files)
            except libvirtError as exc:
                log.warning("network %s: %s", live.name, exc)

    def _define_default(self) -> None:
        from pyvirt.conf.network import NetworkDef

        netdef = NetworkDef.from_xml(DEFAULT_NETWORK_XML)
        try:
            with self.lock:
                self._validate(netdef)
                obj = self.networks.assign(netdef, live=False, check_live=False)
                self._save_config(netdef)
                self._set_autostart(obj, True)
        except (OSError, libvirtError) as exc:
            log.warning("default network not defined: %s", exc)

    def _autostart(self) -> None:
        """Start autostart networks once per host boot (networkAutostartConfig)."""
        if not first_autostart(self.paths.state_dir):
            return
        for obj in self.networks:
            if obj.autostart and not obj.active:
                try:
                    with self.lock:
                        self._start(obj)
                    self._net_event(obj, c.VIR_NETWORK_EVENT_STARTED)
                except libvirtError as exc:
                    log.warning("Failed to autostart network '%s': %s", obj.name, exc)

    # ---- validation ------------------------------------------------------------------------

    def _validate(self, netdef: NetworkDef) -> None:
        """networkValidate: bridge name and MAC for the managed modes, what other modes
        must not have, one DHCP section per address family."""
        from pyvirt.conf.domain.interfaces import generate_mac

        mode = netdef.forward_mode
        if "\n" in netdef.name:
            raise_error(c.VIR_ERR_XML_DETAIL, "invalid char in name: \n",
                        domain=c.VIR_FROM_XML)
        if mode in VIRTUAL_MODES:
            self._validate_bridge_name(netdef)
            if not netdef.mac:
                netdef.mac = generate_mac()  # virNetworkSetBridgeMacAddr
        else:
            shown = mode or "none"
            for present, element in ((netdef.mac, "<mac>"), (netdef.ips, "<ip>"),
                                     (netdef.dns.txts or netdef.dns.hosts or netdef.dns.srvs,
                                      "<dns>"), (netdef.domain, "<domain>")):
                if present:
                    _err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"Unsupported {element} element in "
                         f"network {netdef.name} with forward mode='{shown}'")
        seen: set[bool] = set()
        for ip in netdef.ips:
            if ip.ranges or ip.hosts:
                if ip.is_ipv6 in seen:
                    family = "IPv6" if ip.is_ipv6 else "IPv4"
                    _err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"Multiple {family} dhcp sections "
                         f"found -- dhcp is supported only for a single {family} address on "
                         "each network")
                seen.add(ip.is_ipv6)

    def _validate_bridge_name(self, netdef: NetworkDef) -> None:
        """networkBridgeNameValidate: a given name must not be another network's; no name
        (or a name with %d) gets the first virbr%d that no network and no host device
        uses."""
        name = netdef.bridge.name
        if name and "%d" not in name:
            if self.networks.bridge_in_use(name, netdef.name):
                _err(c.VIR_ERR_INTERNAL_ERROR, f"bridge name '{name}' already in use.")
            return
        template = name if name and name.count("%") == 1 else BRIDGE_TEMPLATE
        for index in range(MAX_BRIDGE_ID + 1):
            candidate = template.replace("%d", str(index))
            if not (self.networks.bridge_in_use(candidate, netdef.name)
                    or bridge.exists(candidate)):
                netdef.bridge.name = candidate
                return
        _err(c.VIR_ERR_INTERNAL_ERROR, f"Bridge generation exceeded max id {MAX_BRIDGE_ID}")

    # ---- start / stop ----------------------------------------------------------------------

    def _start(self, obj: NetworkObj) -> None:
        """networkStartNetwork, with the driver lock held."""
        if obj.active:
            _err(c.VIR_ERR_OPERATION_INVALID, "network is already active")
        self._delete_all_ports(obj)
        obj.set_def_transient()
        try:
            if obj.def_.forward_mode in VIRTUAL_MODES:
                self._start_virtual(obj)
            self._save_status(obj)
        except BaseException:
            if obj.def_.forward_mode in VIRTUAL_MODES:
                self._stop_virtual(obj)
            remove_quietly(self.paths.status_file(obj.name))
            obj.unset_def_transient()
            raise
        obj.active = True

    def _start_virtual(self, obj: NetworkObj) -> None:
        """networkStartNetworkVirtual; the caller undoes a partial start."""
        netdef = obj.def_
        bridge.check_route_collision(netdef)
        if not netdef.bridge.name:
            _err(c.VIR_ERR_INTERNAL_ERROR, f"network '{netdef.name}' has no bridge name "
                 "defined")
        name = netdef.bridge.name or ""
        if bridge.exists(name):
            # not ours: the clean-up after this failure must leave it alone
            raise_error(c.VIR_ERR_SYSTEM_ERROR,
                        f"error creating bridge interface {name}: File exists",
                        domain=c.VIR_FROM_NONE)
        runtime = self._runtime(obj)
        bridge.create(netdef)
        bridge.set_ipv6_sysctls(netdef)
        if netdef.forward_mode != "open":
            firewall.add_rules(netdef)
        bridge.add_addresses(netdef)
        bridge.set_up(name, True)
        bridge.add_routes(netdef)
        if netdef.forward is not None:
            bridge.enable_forwarding(any(not ip.is_ipv6 for ip in netdef.ips),
                                     any(ip.is_ipv6 for ip in netdef.ips))
        if dnsmasq.needs_dnsmasq(netdef):
            runtime.dnsmasq_pid = dnsmasq.start(netdef, runtime.files)

    def _stop_virtual(self, obj: NetworkObj) -> None:
        """networkShutdownNetworkVirtual: dnsmasq, firewall table, bridge."""
        netdef = obj.def_
        runtime = self._runtime(obj)
        pid = runtime.dnsmasq_pid or dnsmasq.read_pid(runtime.files)
        dnsmasq.stop(pid, runtime.files)
        runtime.dnsmasq_pid = None
        firewall.remove_rules(netdef)
        name = netdef.bridge.name or ""
        if bridge.is_bridge(name) and self._created_here(obj):
            bridge.delete(name)

    def _created_here(self, obj: NetworkObj) -> bool:
        """Whether the bridge is the network's own: it carries the network's MAC (a host
        bridge of the same name, refused at start, never does)."""
        try:
            with open(f"/sys/class/net/{obj.def_.bridge.name}/address") as fh:
                return fh.read().strip() == (obj.def_.mac or "")
        except OSError:
            return False

    def _shutdown(self, obj: NetworkObj) -> None:
        """networkShutdownNetwork, with the driver lock held."""
        if not obj.active:
            return
        remove_quietly(self.paths.status_file(obj.name))
        if obj.def_.forward_mode in VIRTUAL_MODES:
            self._stop_virtual(obj)
        obj.active = False
        obj.unset_def_transient()

    # ---- define / create / undefine --------------------------------------------------------

    def networkCreateXMLFlags(self, conn: virConnect, xml: str, flags: int) -> virNetwork:  # noqa: N802
        from pyvirt.conf.network import NetworkDef

        check_flags("networkCreateXMLFlags", flags, c.VIR_NETWORK_CREATE_VALIDATE, _NET_ERR)
        netdef = NetworkDef.from_xml(xml, validate_schema=bool(flags))
        with self.lock:
            self._validate(netdef)
            obj = self.networks.assign(netdef, live=True, check_live=True)
            try:
                self._start(obj)
            except BaseException:
                if not obj.persistent:
                    self.networks.remove(obj)
                raise
            self._net_event(obj, c.VIR_NETWORK_EVENT_STARTED)
            return self._net_handle(conn, obj)

    def networkCreateXML(self, conn: virConnect, xml: str) -> virNetwork:  # noqa: N802
        return self.networkCreateXMLFlags(conn, xml, 0)

    def networkDefineXMLFlags(self, conn: virConnect, xml: str, flags: int) -> virNetwork:  # noqa: N802
        from pyvirt.conf.network import NetworkDef

        check_flags("networkDefineXMLFlags", flags, c.VIR_NETWORK_DEFINE_VALIDATE, _NET_ERR)
        netdef = NetworkDef.from_xml(xml, validate_schema=bool(flags))
        with self.lock:
            self._validate(netdef)
            existed = self.networks.find_uuid(netdef.uuid) is not None
            obj = self.networks.assign(netdef, live=False, check_live=False)
            try:
                self._save_config(netdef)
            except OSError as exc:
                if not existed:
                    self.networks.remove(obj)
                raise_error(c.VIR_ERR_SYSTEM_ERROR, f"cannot write network config: {exc}",
                            domain=_NET_ERR)
            self._net_event(obj, c.VIR_NETWORK_EVENT_DEFINED)
            return self._net_handle(conn, obj)

    def networkDefineXML(self, conn: virConnect, xml: str) -> virNetwork:  # noqa: N802
        return self.networkDefineXMLFlags(conn, xml, 0)

    def networkUndefine(self, net: virNetwork) -> int:  # noqa: N802
        with self.lock:
            obj = self.networks.by_name(net.name())
            if not obj.persistent:
                _err(c.VIR_ERR_OPERATION_INVALID, "can't undefine transient network")
            remove_quietly(self.paths.autostart_link(obj.name))
            remove_quietly(self.paths.config_file(obj.name))
            obj.autostart = False
            self._net_event(obj, c.VIR_NETWORK_EVENT_UNDEFINED)
            if obj.active:
                obj.new_def, obj.persistent = None, False  # runs on as a transient network
            else:
                self._remove_inactive(obj)
            return 0

    def _remove_inactive(self, obj: NetworkObj) -> None:
        """networkRemoveInactive: the object and dnsmasq's files, leases included."""
        dnsmasq.remove_files(self._files(obj.name), obj.persistent_def.bridge.name)
        self.networks.remove(obj)

    # ---- start / stop entry points ---------------------------------------------------------

    def networkCreate(self, net: virNetwork) -> int:  # noqa: N802
        with self.lock:
            obj = self.networks.by_name(net.name())
            self._start(obj)
            self._net_event(obj, c.VIR_NETWORK_EVENT_STARTED)
            return 0

    def networkDestroy(self, net: virNetwork) -> int:  # noqa: N802
        with self.lock:
            obj = self.networks.by_name(net.name())
            if not obj.active:
                _not_active(obj.name)
            self._shutdown(obj)
            self._delete_all_ports(obj)
            self._net_event(obj, c.VIR_NETWORK_EVENT_STOPPED)
            if not obj.persistent:
                self._remove_inactive(obj)
            return 0

    # ---- description and settings ----------------------------------------------------------

    def networkGetXMLDesc(self, net: virNetwork, flags: int) -> str:  # noqa: N802
        check_flags("networkGetXMLDesc", flags, c.VIR_NETWORK_XML_INACTIVE, _NET_ERR)
        with self.lock:
            obj = self.networks.by_name(net.name())
            inactive = bool(flags & c.VIR_NETWORK_XML_INACTIVE)
            netdef = obj.new_def if inactive and obj.new_def is not None else obj.def_
            return netdef.to_xml(inactive=inactive)

    def networkSetAutostart(self, net: virNetwork, autostart: int) -> int:  # noqa: N802
        with self.lock:
            obj = self.networks.by_name(net.name())
            if not obj.persistent:
                _err(c.VIR_ERR_OPERATION_INVALID, "cannot set autostart for transient network")
            self._set_autostart(obj, bool(autostart))
            return 0

    def _set_autostart(self, obj: NetworkObj, autostart: bool) -> None:
        link = self.paths.autostart_link(obj.name)
        if autostart and not obj.autostart:
            target = self.paths.config_file(obj.name)
            try:
                os.makedirs(self.paths.autostart_dir, exist_ok=True)
                os.symlink(target, link)
            except OSError as exc:
                raise_error(c.VIR_ERR_SYSTEM_ERROR, f"Failed to create symlink '{link}' to "
                            f"'{target}': {exc.strerror}", domain=_NET_ERR)
        elif not autostart and obj.autostart:
            try:
                os.unlink(link)
            except (FileNotFoundError, NotADirectoryError):
                pass
            except OSError as exc:
                raise_error(c.VIR_ERR_SYSTEM_ERROR,
                            f"Failed to delete symlink '{link}': {exc.strerror}",
                            domain=_NET_ERR)
        obj.autostart = autostart

    # ---- virNetworkUpdate ------------------------------------------------------------------

    def networkUpdate(  # noqa: N802
        self, net: virNetwork, command: int, section: int, parentIndex: int,  # noqa: N803
        xml: str, flags: int,
    ) -> int:
        live, config = c.VIR_NETWORK_UPDATE_AFFECT_LIVE, c.VIR_NETWORK_UPDATE_AFFECT_CONFIG
        check_flags("networkUpdate", flags, live | config, _NET_ERR)
        with self.lock:
            obj = self.networks.by_uuid(net.UUIDString())
            was_active = obj.active
            old_def = obj.def_
            old_dhcp = _dhcp_v4_active(old_def)
            flags = update_defs(obj, command, section, parentIndex, xml, flags)
            if flags & config:
                self._save_config(obj.persistent_def)
            if was_active and flags & live:
                self._apply_live_update(obj, old_def, section, old_dhcp)
                self._save_status(obj)
            return 0

    def _apply_live_update(self, obj: NetworkObj, old_def: NetworkDef, section: int,
                           old_dhcp: bool) -> None:
        """Bring the running network in line with its updated live definition: new firewall
        rules, then dnsmasq restarted (conf changes) or sent SIGHUP (hosts files)."""
        netdef = obj.def_
        if netdef.forward_mode not in VIRTUAL_MODES:
            return
        runtime = self._runtime(obj)
        if section in _UPDATE_FIREWALL and netdef.forward_mode != "open":
            firewall.add_rules(netdef)
        restart = section in _UPDATE_RESTART or (
            section == c.VIR_NETWORK_SECTION_IP_DHCP_HOST
            and _dhcp_v4_active(netdef) != old_dhcp)
        if restart:
            dnsmasq.stop(runtime.dnsmasq_pid, runtime.files)
            runtime.dnsmasq_pid = None
            if dnsmasq.needs_dnsmasq(netdef):
                runtime.dnsmasq_pid = dnsmasq.start(netdef, runtime.files)
        elif section in (c.VIR_NETWORK_SECTION_IP_DHCP_HOST, c.VIR_NETWORK_SECTION_DNS_HOST):
            dnsmasq.write_host_files(netdef, runtime.files)
            if runtime.dnsmasq_pid is not None:
                dnsmasq.reload(runtime.dnsmasq_pid)

    # ---- DHCP leases -----------------------------------------------------------------------

    def networkGetDHCPLeases(self, net: virNetwork, mac: str | None,  # noqa: N802
                             flags: int) -> list[dict[str, Any]]:
        from pyvirt.conf.network.netdev import parse_mac

        check_flags("networkGetDHCPLeases", flags, 0, _NET_ERR)
        wanted = None
        if mac is not None:
            wanted = parse_mac(mac)
            if wanted is None:
                raise_error(c.VIR_ERR_INVALID_MAC, mac, domain=_NET_ERR)
        with self.lock:
            netdef = self.networks.by_uuid(net.UUIDString()).def_
            files = self._files(netdef.name)
        prefix4 = next((ip.effective_prefix for ip in netdef.ips if not ip.is_ipv6), 0)
        prefix6 = next((ip.prefix for ip in netdef.ips if ip.is_ipv6), 0)
        entries = dnsmasq.read_status_leases(files.status(netdef.bridge.name or ""))
        if entries is None:  # a dnsmasq without the lease helper: its own file, IPv4 only
            entries = [{"ip-address": le["ipaddr"], "mac-address": le["mac"],
                        "hostname": le["hostname"], "client-id": le["clientid"],
                        "expiry-time": le["expirytime"]}
                       for le in dnsmasq.read_leases(files.leases)]
        now = int(time.time())
        leases = []
        for entry in entries:
            lease_mac = parse_mac(entry["mac-address"]) or entry["mac-address"]
            if wanted is not None and lease_mac != wanted:
                continue
            expiry = entry["expiry-time"]
            if 0 < expiry < now:
                continue
            ipv6 = ":" in entry["ip-address"]
            leases.append({"iface": netdef.bridge.name, "expirytime": expiry,
                           "type": c.VIR_IP_ADDR_TYPE_IPV6 if ipv6 else c.VIR_IP_ADDR_TYPE_IPV4,
                           "mac": entry["mac-address"], "iaid": entry.get("iaid"),
                           "ipaddr": entry["ip-address"],
                           "prefix": prefix6 if ipv6 else prefix4,
                           "hostname": entry.get("hostname"),
                           "clientid": entry.get("client-id")})
        return leases

    # ---- ports ----------------------------------------------------------------------------

    def _port_obj(self, port: virNetworkPort) -> tuple[NetworkObj, PortDef]:
        obj = self.networks.by_uuid(port.network().UUIDString())
        portdef = self._runtime(obj).ports.get(port.UUIDString())
        if portdef is None:
            _err(c.VIR_ERR_NO_NETWORK_PORT,
                 f"Network port with UUID {port.UUIDString()} does not exist")
        assert portdef is not None
        if not obj.active:
            _not_active(obj.name)
        return obj, portdef

    def create_port(self, network: str, portdef: PortDef, reclaim: bool = False) -> PortDef:
        """networkPortCreateXML's work, for the public entry point and for the hypervisor
        driver plugging a guest: allocate (or, with ``reclaim``, take back) a port."""
        with self.lock:
            obj = self.networks.by_name(network)
            if not obj.active:
                _not_active(obj.name)
            if portdef.plug_type is None and reclaim:
                raise_error(c.VIR_ERR_INVALID_ARG, "Port reclaim requested but plug type is "
                            "none", domain=_NET_ERR)
            if portdef.plug_type is not None and not reclaim:
                raise_error(c.VIR_ERR_INVALID_ARG, "Port reclaim not requested but plug type "
                            "is not none", domain=_NET_ERR)
            runtime = self._runtime(obj)
            if portdef.uuid in runtime.ports:
                _err(c.VIR_ERR_NETWORK_PORT_EXIST,
                     f"Network port with UUID {portdef.uuid} already exists")
            if not reclaim:
                self._allocate(obj, portdef)
            runtime.ports[portdef.uuid] = portdef
            obj.def_.connections += 1
            try:
                self._save_port(obj, portdef)
                self._save_status(obj)
            except OSError as exc:
                del runtime.ports[portdef.uuid]
                obj.def_.connections -= 1
                raise_error(c.VIR_ERR_SYSTEM_ERROR, f"cannot save network port: {exc}",
                            domain=_NET_ERR)
            return portdef

    def _allocate(self, obj: NetworkObj, portdef: PortDef) -> None:
        """networkAllocatePort for the modes with a bridge."""
        netdef = obj.def_
        mode = netdef.forward_mode
        if portdef.isolated is None:
            portdef.isolated = netdef.isolated_port
        if portdef.trust_guest_rx_filters is None:
            portdef.trust_guest_rx_filters = netdef.trust_guest_rx_filters
        vtype = portdef.virtualport.type if portdef.virtualport is not None else None
        if mode in VIRTUAL_MODES or (mode == "bridge" and netdef.bridge.name):
            if vtype is not None and (mode in VIRTUAL_MODES or vtype != "openvswitch"):
                uses = "uses IP forwarding" if mode in VIRTUAL_MODES else "uses a bridge device"
                _err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"<virtualport type='{vtype}'> not "
                     f"supported for network '{netdef.name}' which {uses}")
            portdef.plug_type = "network" if mode in VIRTUAL_MODES else "bridge"
            portdef.plug_attrs = {"bridge": netdef.bridge.name or ""}
            if netdef.bridge.macTableManager:
                portdef.plug_attrs["macTableManager"] = netdef.bridge.macTableManager
            return
        # hostdev (an SR-IOV VF by PCI passthrough) and the macvtap modes (bridge without a
        # bridge, private, vepa, passthrough): libvirt's checks in libvirt's order, then where
        # libvirt would take a device of the network's pool, which this driver does not manage
        fwd = netdef.forward
        pool = bool(fwd is not None and (fwd.interfaces or fwd.pfs))
        if mode == "hostdev":
            if not pool:
                _err(c.VIR_ERR_INTERNAL_ERROR, f"network '{netdef.name}' requires exclusive "
                     "access to interfaces, but none are available")
            via = "uses an SR-IOV Virtual Function via PCI passthrough"
        else:
            via = "uses a macvtap device"
        if vtype is not None and vtype not in ("802.1Qbg", "802.1Qbh"):
            _err(c.VIR_ERR_CONFIG_UNSUPPORTED, f"<virtualport type='{vtype}'> not supported "
                 f"for network '{netdef.name}' which {via}")
        if not pool:
            _err(c.VIR_ERR_INTERNAL_ERROR, f"network '{netdef.name}' uses a direct mode, but "
                 "has no forward dev and no interface pool")
        raise_error(c.VIR_ERR_NO_SUPPORT, "networkAllocatePort", domain=_NET_ERR)

    def delete_port(self, network_uuid: str, port_uuid: str) -> None:
        """networkPortDelete's work (the hypervisor driver releasing a guest's port)."""
        with self.lock:
            obj = self.networks.find_uuid(network_uuid)
            if obj is None or obj.runtime is None or port_uuid not in obj.runtime.ports:
                return
            del obj.runtime.ports[port_uuid]
            obj.def_.connections = max(0, obj.def_.connections - 1)
            remove_quietly(os.path.join(self.paths.ports_dir(obj.name), port_uuid + ".xml"))
            if obj.active:
                self._save_status(obj)

    def plug_guest(self, network: str | None, owner_name: str, owner_uuid: str, mac: str,
                   group: str | None) -> tuple[PortDef, int]:
        """A port for a guest's <interface type='network'> (what libvirt's QEMU driver does
        with virNetworkPortCreateXML); returns it and the MTU its TAP device should have
        (0: the bridge's default)."""
        from pyvirt.conf.network.port import PortDef
        from pyvirt.conf.xmlutil import new_uuid

        with self.lock:
            obj = self.networks.by_name(network or "")
            portdef = PortDef(uuid=new_uuid(), owner_name=owner_name, owner_uuid=owner_uuid,
                              group=group, mac=mac)
            self.create_port(obj.name, portdef)
            if portdef.plug_type not in ("network", "bridge"):
                self.delete_port(obj.uuid, portdef.uuid)
                raise_error(c.VIR_ERR_NO_SUPPORT, f"interfaces on network '{obj.name}'",
                            domain=_NET_ERR)
            return portdef, obj.def_.mtu or 0

    def unplug_guest(self, network: str | None, port_uuid: str) -> None:
        with self.lock:
            obj = self.networks.find_name(network or "")
            if obj is not None:
                self.delete_port(obj.uuid, port_uuid)

    def networkPortCreateXML(self, net: virNetwork, xmldesc: str,  # noqa: N802
                             flags: int) -> virNetworkPort:
        from pyvirt.conf.network.port import PortDef

        check_flags("networkPortCreateXML", flags, c.VIR_NETWORK_PORT_CREATE_RECLAIM
                    | c.VIR_NETWORK_PORT_CREATE_VALIDATE, _NET_ERR)
        with self.lock:
            name = self.networks.by_uuid(net.UUIDString()).name
        portdef = PortDef.from_xml(xmldesc)
        self.create_port(name, portdef, reclaim=bool(flags & c.VIR_NETWORK_PORT_CREATE_RECLAIM))
        return net._conn._make_network_port(net, portdef.uuid)

    def networkPortLookupByUUID(self, net: virNetwork, uuid: str) -> virNetworkPort:  # noqa: N802
        port = net._conn._make_network_port(net, uuid)
        with self.lock:
            self._port_obj(port)
        return port

    def networkPortGetXMLDesc(self, port: virNetworkPort, flags: int) -> str:  # noqa: N802
        check_flags("networkPortGetXMLDesc", flags, 0, _NET_ERR)
        with self.lock:
            return self._port_obj(port)[1].to_xml()

    def networkPortDelete(self, port: virNetworkPort, flags: int) -> int:  # noqa: N802
        check_flags("networkPortDelete", flags, 0, _NET_ERR)
        with self.lock:
            obj, portdef = self._port_obj(port)
            self.delete_port(obj.uuid, portdef.uuid)
            return 0

    def networkListAllPorts(self, net: virNetwork, flags: int) -> list[virNetworkPort]:  # noqa: N802
        check_flags("networkListAllPorts", flags, 0, _NET_ERR)
        with self.lock:
            obj = self.networks.by_uuid(net.UUIDString())
            if not obj.active:
                _not_active(obj.name)
            uuids = list(self._runtime(obj).ports)
        return [net._conn._make_network_port(net, uuid) for uuid in uuids]

    # ---- connections -----------------------------------------------------------------------

    def connectClose(self, conn: virConnect) -> None:  # noqa: N802
        self.events.deregister_connection(conn)


def _dhcp_v4_active(netdef: NetworkDef) -> bool:
    return any(ip.ranges or ip.hosts or ip.tftp_root for ip in netdef.ips if not ip.is_ipv6)


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []
