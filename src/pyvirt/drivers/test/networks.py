"""The test driver's virtual networks (libvirt's test_driver.c network entry points).

Networks live in memory only. Each object keeps libvirt's virNetworkObj pair of
definitions: ``def_`` (what XMLDesc shows) and ``new_def`` (the persistent config saved
while the network runs); like libvirt's test driver, destroy never swaps them back.
"""

from __future__ import annotations

import os

from pyvirt import constants as c
from pyvirt.conf.xmlutil import Element, parse_xml
from pyvirt.drivers.base import check_flags
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from typing import Any

    from pyvirt.api.connect import virConnect
    from pyvirt.api.network import virNetwork
    from pyvirt.conf.network import NetworkDef

_NET_ERR = c.VIR_FROM_NETWORK

LIST_FILTERS_ALL = (
    c.VIR_CONNECT_LIST_NETWORKS_ACTIVE | c.VIR_CONNECT_LIST_NETWORKS_INACTIVE
    | c.VIR_CONNECT_LIST_NETWORKS_PERSISTENT | c.VIR_CONNECT_LIST_NETWORKS_TRANSIENT
    | c.VIR_CONNECT_LIST_NETWORKS_AUTOSTART | c.VIR_CONNECT_LIST_NETWORKS_NO_AUTOSTART
)


def queue_event(driver: Any, family: str, event_id: int, ident: tuple[Any, ...],
                *payload: Any) -> None:
    """Queue a ``family`` event (``ident``: name[, uuid] of the object) on the driver's
    event state, built by the state's ``<family>_event`` factory."""
    if not driver.events.wanted():
        return
    make = getattr(driver.events, f"{family}_event")
    driver.events.queue(make(event_id, *ident, *payload))


def resolve_file_ref(el: Element, base_dir: str | os.PathLike[str] | None) -> Element:
    """testParseXMLDocFromFile: ``<network file='net.xml'/>`` stands for that file's root
    element (a relative name is relative to the node file's directory)."""
    rel = el.get("file")
    if rel is None:
        return el
    path = rel if os.path.isabs(rel) or base_dir is None else os.path.join(base_dir, rel)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise_error(c.VIR_ERR_INTERNAL_ERROR, f"failed to open file '{path}': {exc.strerror}",
                    domain=c.VIR_FROM_XML)
    return parse_xml(data, root=el.tag, url=path)


def match_filter(flags: int, active_bits: tuple[int, int], value: bool) -> bool:
    """One libvirt list filter group: (flag-if-true, flag-if-false) against ``value``."""
    yes, no = active_bits
    if not flags & (yes | no):
        return True
    return bool((flags & yes and value) or (flags & no and not value))


class NetworkObj:
    """A network of the test driver: its definitions and state. (A plain class: importing
    dataclasses costs start-up time on every connection open.)"""

    __slots__ = ("def_", "new_def", "active", "persistent", "autostart")

    def __init__(self, def_: NetworkDef, new_def: NetworkDef | None = None, active: bool = False,
                 persistent: bool = False, autostart: bool = False) -> None:
        self.def_ = def_
        self.new_def = new_def
        self.active = active
        self.persistent = persistent
        self.autostart = autostart

    def __repr__(self) -> str:
        return (f"NetworkObj(def_={self.def_!r}, new_def={self.new_def!r}, "
                f"active={self.active}, persistent={self.persistent}, "
                f"autostart={self.autostart})")

    @property
    def persistent_def(self) -> NetworkDef:
        return self.new_def if self.new_def is not None else self.def_


class TestNetworks:
    """Mixin of TestDriver: libvirt's virNetworkDriver for test:///."""

    lock: threading.RLock
    error_domain: int
    events: Any
    _networks: dict[str, NetworkObj]  # by UUID, in creation order

    def _init_networks(self) -> None:
        self._networks = {}

    def _load_networks(self, node_el: Element, base_dir: str | os.PathLike[str] | None) -> None:
        """testParseNetworks: each /node/network (inline or file=) is defined and started."""
        from pyvirt.conf.network import NetworkDef

        for el in node_el.iterfind("network"):
            netdef = NetworkDef.from_element(resolve_file_ref(el, base_dir))
            obj = self._assign_network(netdef, live=False, check_live=False)
            obj.active = True

    # ---- lookups ------------------------------------------------------------------------

    def _net_by_uuid(self, uuid: str) -> NetworkObj:
        obj = self._networks.get(uuid)
        if obj is None:
            raise_error(c.VIR_ERR_NO_NETWORK, f"no network with matching uuid '{uuid}'",
                        domain=self.error_domain)
        return obj

    def _net_find_name(self, name: str) -> NetworkObj | None:
        for obj in self._networks.values():
            if obj.def_.name == name:
                return obj
        return None

    def _net_by_name(self, name: str) -> NetworkObj:
        obj = self._net_find_name(name)
        if obj is None:
            raise_error(c.VIR_ERR_NO_NETWORK, f"no network with matching name '{name}'",
                        domain=self.error_domain)
        return obj

    def _net_handle(self, conn: virConnect, obj: NetworkObj) -> virNetwork:
        return conn._make_network(obj.def_.name, obj.def_.uuid)

    def networkLookupByName(self, conn: virConnect, name: str) -> virNetwork:  # noqa: N802
        with self.lock:
            return self._net_handle(conn, self._net_by_name(name))

    def networkLookupByUUID(self, conn: virConnect, uuid: str) -> virNetwork:  # noqa: N802
        with self.lock:
            return self._net_handle(conn, self._net_by_uuid(uuid))

    # ---- listing ------------------------------------------------------------------------

    def _net_names(self, active: bool) -> list[str]:
        with self.lock:
            return [o.def_.name for o in self._networks.values() if o.active == active]

    def connectListNetworks(self, conn: virConnect) -> list[str]:  # noqa: N802
        return self._net_names(True)

    def connectNumOfNetworks(self, conn: virConnect) -> int:  # noqa: N802
        return len(self._net_names(True))

    def connectListDefinedNetworks(self, conn: virConnect) -> list[str]:  # noqa: N802
        return self._net_names(False)

    def connectNumOfDefinedNetworks(self, conn: virConnect) -> int:  # noqa: N802
        return len(self._net_names(False))

    def connectListAllNetworks(self, conn: virConnect, flags: int) -> list[virNetwork]:  # noqa: N802
        check_flags("testConnectListAllNetworks", flags, LIST_FILTERS_ALL, self.error_domain)
        with self.lock:
            return [
                self._net_handle(conn, o) for o in self._networks.values()
                if match_filter(flags, (c.VIR_CONNECT_LIST_NETWORKS_ACTIVE,
                                        c.VIR_CONNECT_LIST_NETWORKS_INACTIVE), o.active)
                and match_filter(flags, (c.VIR_CONNECT_LIST_NETWORKS_PERSISTENT,
                                         c.VIR_CONNECT_LIST_NETWORKS_TRANSIENT), o.persistent)
                and match_filter(flags, (c.VIR_CONNECT_LIST_NETWORKS_AUTOSTART,
                                         c.VIR_CONNECT_LIST_NETWORKS_NO_AUTOSTART), o.autostart)
            ]

    # ---- define / create / undefine -----------------------------------------------------

    def _assign_network(self, netdef: NetworkDef, live: bool, check_live: bool) -> NetworkObj:
        """virNetworkObjAssignDef: name/UUID clash rules, then replace or add."""
        obj = self._networks.get(netdef.uuid)
        if obj is not None:
            if obj.def_.name != netdef.name:
                raise_error(c.VIR_ERR_OPERATION_FAILED,
                            f"network '{obj.def_.name}' is already defined with uuid "
                            f"{obj.def_.uuid}", domain=_NET_ERR)
            if check_live and obj.active:
                raise_error(c.VIR_ERR_OPERATION_INVALID,
                            f"network is already active as '{obj.def_.name}'", domain=_NET_ERR)
            if live:
                if obj.persistent and obj.new_def is None:
                    obj.new_def = obj.def_
                obj.def_ = netdef
            else:
                if obj.active:
                    obj.new_def = netdef
                else:
                    obj.new_def = None
                    obj.def_ = netdef
                obj.persistent = True
            return obj
        clash = self._net_find_name(netdef.name)
        if clash is not None:
            raise_error(c.VIR_ERR_OPERATION_FAILED,
                        f"network '{netdef.name}' already exists with uuid {clash.def_.uuid}",
                        domain=_NET_ERR)
        obj = NetworkObj(def_=netdef, persistent=not live)
        self._networks[netdef.uuid] = obj
        return obj

    def _net_event(self, obj: NetworkObj, event: int) -> None:
        queue_event(self, "network", c.VIR_NETWORK_EVENT_ID_LIFECYCLE,
                    (obj.def_.name, obj.def_.uuid), event, 0)

    def networkCreateXMLFlags(self, conn: virConnect, xml: str, flags: int) -> virNetwork:  # noqa: N802
        from pyvirt.conf.network import NetworkDef

        check_flags("testNetworkCreateXMLFlags", flags, c.VIR_NETWORK_CREATE_VALIDATE,
                    self.error_domain)
        netdef = NetworkDef.from_xml(xml, validate_schema=bool(flags))
        with self.lock:
            obj = self._assign_network(netdef, live=True, check_live=True)
            obj.active = True
            self._net_event(obj, c.VIR_NETWORK_EVENT_STARTED)
            return self._net_handle(conn, obj)

    def networkCreateXML(self, conn: virConnect, xml: str) -> virNetwork:  # noqa: N802
        return self.networkCreateXMLFlags(conn, xml, 0)

    def networkDefineXMLFlags(self, conn: virConnect, xml: str, flags: int) -> virNetwork:  # noqa: N802
        from pyvirt.conf.network import NetworkDef

        check_flags("testNetworkDefineXMLFlags", flags, c.VIR_NETWORK_DEFINE_VALIDATE,
                    self.error_domain)
        netdef = NetworkDef.from_xml(xml, validate_schema=bool(flags))
        with self.lock:
            obj = self._assign_network(netdef, live=False, check_live=False)
            self._net_event(obj, c.VIR_NETWORK_EVENT_DEFINED)
            return self._net_handle(conn, obj)

    def networkDefineXML(self, conn: virConnect, xml: str) -> virNetwork:  # noqa: N802
        return self.networkDefineXMLFlags(conn, xml, 0)

    def networkUndefine(self, net: virNetwork) -> int:  # noqa: N802
        with self.lock:
            obj = self._net_by_name(net.name())
            if obj.active:
                raise_error(c.VIR_ERR_OPERATION_INVALID,
                            f"Network '{net.name()}' is still running", domain=self.error_domain)
            self._net_event(obj, c.VIR_NETWORK_EVENT_UNDEFINED)
            del self._networks[obj.def_.uuid]
            return 0

    # ---- start / stop -------------------------------------------------------------------

    def networkCreate(self, net: virNetwork) -> int:  # noqa: N802
        with self.lock:
            obj = self._net_by_name(net.name())
            if obj.active:
                raise_error(c.VIR_ERR_OPERATION_INVALID,
                            f"Network '{net.name()}' is already running",
                            domain=self.error_domain)
            obj.active = True
            self._net_event(obj, c.VIR_NETWORK_EVENT_STARTED)
            return 0

    def networkDestroy(self, net: virNetwork) -> int:  # noqa: N802
        # libvirt's test driver does not check that the network runs.
        with self.lock:
            obj = self._net_by_name(net.name())
            obj.active = False
            self._net_event(obj, c.VIR_NETWORK_EVENT_STOPPED)
            if not obj.persistent:
                del self._networks[obj.def_.uuid]
            return 0

    # ---- state and description ----------------------------------------------------------

    def networkIsActive(self, net: virNetwork) -> int:  # noqa: N802
        with self.lock:
            return int(self._net_by_uuid(net.UUIDString()).active)

    def networkIsPersistent(self, net: virNetwork) -> int:  # noqa: N802
        with self.lock:
            return int(self._net_by_uuid(net.UUIDString()).persistent)

    def networkGetXMLDesc(self, net: virNetwork, flags: int) -> str:  # noqa: N802
        check_flags("testNetworkGetXMLDesc", flags, 0, self.error_domain)
        with self.lock:
            return self._net_by_name(net.name()).def_.to_xml()

    def networkGetBridgeName(self, net: virNetwork) -> str:  # noqa: N802
        with self.lock:
            netdef = self._net_by_name(net.name()).def_
            if not netdef.bridge.name:
                raise_error(c.VIR_ERR_INTERNAL_ERROR,
                            f"network '{netdef.name}' does not have a bridge name.",
                            domain=self.error_domain)
            return netdef.bridge.name

    def networkGetAutostart(self, net: virNetwork) -> int:  # noqa: N802
        with self.lock:
            return int(self._net_by_name(net.name()).autostart)

    def networkSetAutostart(self, net: virNetwork, autostart: int) -> int:  # noqa: N802
        with self.lock:
            self._net_by_name(net.name()).autostart = bool(autostart)
            return 0

    # ---- virNetworkUpdate ---------------------------------------------------------------

    def networkUpdate(  # noqa: N802
        self, net: virNetwork, command: int, section: int, parentIndex: int,  # noqa: N803
        xml: str, flags: int,
    ) -> int:
        from pyvirt.conf.network.update import update_section

        live, config = c.VIR_NETWORK_UPDATE_AFFECT_LIVE, c.VIR_NETWORK_UPDATE_AFFECT_CONFIG
        check_flags("testNetworkUpdate", flags, live | config, self.error_domain)
        with self.lock:
            obj = self._net_by_uuid(net.UUIDString())
            if not flags & (live | config):
                flags |= live if obj.active else config
            # virNetworkObjConfigChangeSetup
            if not obj.active and flags & live:
                raise_error(c.VIR_ERR_OPERATION_INVALID, "network is not running",
                            domain=_NET_ERR)
            if flags & config:
                if not obj.persistent:
                    raise_error(c.VIR_ERR_OPERATION_INVALID,
                                "cannot change persistent config of a transient network",
                                domain=_NET_ERR)
                if obj.active and obj.new_def is None:
                    obj.new_def = _reparsed(obj.def_, inactive=True)
            # Work on copies; the object changes only when every requested copy succeeded,
            # and each copy survives a format/parse round trip.
            livedef = configdef = None
            if flags & live:
                livedef = _reparsed(obj.def_, inactive=False)
                update_section(livedef, command, section, parentIndex, xml)
                _reparsed(livedef, inactive=False)
            if flags & config:
                configdef = _reparsed(obj.persistent_def, inactive=True)
                update_section(configdef, command, section, parentIndex, xml)
                _reparsed(configdef, inactive=True)
            if configdef is not None:
                if obj.active:
                    obj.new_def = configdef
                else:
                    obj.def_ = configdef
            if livedef is not None:
                obj.def_ = livedef
            return 0

    # ---- events -------------------------------------------------------------------------

    def connectNetworkEventRegisterAny(  # noqa: N802
        self, conn: virConnect, net: virNetwork | None, eventID: int, cb: Any, opaque: Any,  # noqa: N803
    ) -> int:
        key = net.UUIDString() if net is not None else None
        result: int = self.events.register(conn, "network", eventID, key, cb, opaque)
        return result

    def connectNetworkEventDeregisterAny(self, conn: virConnect, callbackID: int) -> int:  # noqa: N802, N803
        self.events.deregister(conn, callbackID)
        return 0


def _reparsed(netdef: NetworkDef, inactive: bool) -> NetworkDef:
    """virNetworkDefCopy: a format/parse round trip (also validates an updated copy)."""
    from pyvirt.conf.network import NetworkDef

    return NetworkDef.from_xml(netdef.to_xml(inactive=inactive))
