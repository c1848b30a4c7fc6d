"""Virtual network objects as every network driver keeps them (libvirt's virnetworkobj.c):
the live/persistent definition pair, the list with its name/UUID clash rules and filters,
virNetworkUpdate on copies, and the entry points that only read the list.

The in-memory test driver (drivers/test/networks.py) and the real network driver
(drivers/network/) both build on this module.
"""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.drivers.base import check_flags
from pyvirt.drivers.objlist import match_filter, queue_event
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from collections.abc import Iterator
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


class NetworkObj:
    """One network: ``def_`` is what XMLDesc shows (the live definition while it runs),
    ``new_def`` the persistent config saved while it runs. (A plain class: importing
    dataclasses costs start-up time on every connection open.)"""

    __slots__ = ("def_", "new_def", "active", "persistent", "autostart", "runtime")

    def __init__(self, def_: NetworkDef, new_def: NetworkDef | None = None, active: bool = False,
                 persistent: bool = False, autostart: bool = False) -> None:
        self.def_ = def_
        self.new_def = new_def
        self.active = active
        self.persistent = persistent
        self.autostart = autostart
        self.runtime: Any = None  # what a driver keeps about the running network

    def __repr__(self) -> str:
        return (f"NetworkObj(def_={self.def_!r}, new_def={self.new_def!r}, "
                f"active={self.active}, persistent={self.persistent}, "
                f"autostart={self.autostart})")

    @property
    def persistent_def(self) -> NetworkDef:
        return self.new_def if self.new_def is not None else self.def_

    @property
    def name(self) -> str:
        return self.def_.name

    @property
    def uuid(self) -> str:
        return self.def_.uuid

    def set_def_transient(self) -> None:
        """virNetworkObjSetDefTransient: a starting persistent network keeps its config
        aside, so that what the start fills in (bridge state) stays in the live copy."""
        if self.persistent and self.new_def is None:
            self.new_def = self.def_.copy()

    def unset_def_transient(self) -> None:
        """virNetworkObjUnsetDefTransient: a stopped network shows its config again."""
        if self.new_def is not None:
            self.def_, self.new_def = self.new_def, None


class NetworkObjList:
    """virNetworkObjList: networks by UUID, in creation order. ``error_domain``: the
    domain of lookup errors (the test driver reports them as its own)."""

    def __init__(self, error_domain: int = _NET_ERR) -> None:
        self._by_uuid: dict[str, NetworkObj] = {}
        self.error_domain = error_domain

    def __iter__(self) -> Iterator[NetworkObj]:
        return iter(list(self._by_uuid.values()))

    def __len__(self) -> int:
        return len(self._by_uuid)

    def find_uuid(self, uuid: str) -> NetworkObj | None:
        return self._by_uuid.get(uuid)

    def find_name(self, name: str) -> NetworkObj | None:
        for obj in self._by_uuid.values():
            if obj.def_.name == name:
                return obj
        return None

    def by_uuid(self, uuid: str) -> NetworkObj:
        obj = self._by_uuid.get(uuid)
        if obj is None:
            raise_error(c.VIR_ERR_NO_NETWORK, f"no network with matching uuid '{uuid}'",
                        domain=self.error_domain)
        return obj

    def by_name(self, name: str) -> NetworkObj:
        obj = self.find_name(name)
        if obj is None:
            raise_error(c.VIR_ERR_NO_NETWORK, f"no network with matching name '{name}'",
                        domain=self.error_domain)
        return obj

    def remove(self, obj: NetworkObj) -> None:
        self._by_uuid.pop(obj.def_.uuid, None)

    def add(self, obj: NetworkObj) -> None:
        self._by_uuid[obj.def_.uuid] = obj

    def bridge_in_use(self, bridge: str, skip_name: str | None) -> bool:
        """virNetworkObjBridgeInUse: another network's live or config def names ``bridge``."""
        for obj in self._by_uuid.values():
            if obj.def_.name == skip_name:
                continue
            for netdef in (obj.def_, obj.new_def):
                if netdef is not None and netdef.bridge.name == bridge:
                    return True
        return False

    def assign(self, netdef: NetworkDef, live: bool, check_live: bool) -> NetworkObj:
        """virNetworkObjAssignDef: name/UUID clash rules, then replace or add."""
        obj = self._by_uuid.get(netdef.uuid)
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
        clash = self.find_name(netdef.name)
        if clash is not None:
            raise_error(c.VIR_ERR_OPERATION_FAILED,
                        f"network '{netdef.name}' already exists with uuid {clash.def_.uuid}",
                        domain=_NET_ERR)
        obj = NetworkObj(def_=netdef, persistent=not live)
        self._by_uuid[netdef.uuid] = obj
        return obj

    def matching(self, flags: int) -> list[NetworkObj]:
        """virNetworkObjListExport's filter."""
        return [
            o for o in self._by_uuid.values()
            if match_filter(flags, (c.VIR_CONNECT_LIST_NETWORKS_ACTIVE,
                                    c.VIR_CONNECT_LIST_NETWORKS_INACTIVE), o.active)
            and match_filter(flags, (c.VIR_CONNECT_LIST_NETWORKS_PERSISTENT,
                                     c.VIR_CONNECT_LIST_NETWORKS_TRANSIENT), o.persistent)
            and match_filter(flags, (c.VIR_CONNECT_LIST_NETWORKS_AUTOSTART,
                                     c.VIR_CONNECT_LIST_NETWORKS_NO_AUTOSTART), o.autostart)
        ]


def reparsed(netdef: NetworkDef, inactive: bool) -> NetworkDef:
    """virNetworkDefCopy: a format/parse round trip (also validates an updated copy)."""
    from pyvirt.conf.network import NetworkDef

    return NetworkDef.from_xml(netdef.to_xml(inactive=inactive))


def update_defs(obj: NetworkObj, command: int, section: int, parent_index: int, xml: str,
                flags: int) -> int:
    """virNetworkObjUpdate: apply one virNetworkUpdate to copies of the live and/or config
    definitions (flags already checked); the object changes only when every requested copy
    succeeded. Returns the flags with AFFECT_CURRENT resolved."""
    from pyvirt.conf.network.update import update_section

    live, config = c.VIR_NETWORK_UPDATE_AFFECT_LIVE, c.VIR_NETWORK_UPDATE_AFFECT_CONFIG
    if not flags & (live | config):
        flags |= live if obj.active else config
    # virNetworkObjConfigChangeSetup
    if not obj.active and flags & live:
        raise_error(c.VIR_ERR_OPERATION_INVALID, "network is not running", domain=_NET_ERR)
    if flags & config:
        if not obj.persistent:
            raise_error(c.VIR_ERR_OPERATION_INVALID,
                        "cannot change persistent config of a transient network",
                        domain=_NET_ERR)
        if obj.active and obj.new_def is None:
            obj.new_def = reparsed(obj.def_, inactive=True)
    livedef = configdef = None
    if flags & live:
        livedef = reparsed(obj.def_, inactive=False)
        update_section(livedef, command, section, parent_index, xml)
        reparsed(livedef, inactive=False)
    if flags & config:
        configdef = reparsed(obj.persistent_def, inactive=True)
        update_section(configdef, command, section, parent_index, xml)
        reparsed(configdef, inactive=True)
    if configdef is not None:
        if obj.active:
            obj.new_def = configdef
        else:
            obj.def_ = configdef
    if livedef is not None:
        obj.def_ = livedef
    return flags


class NetworkListEntryPoints:
    """The network entry points that only read the object list, shared by every network
    driver. The driver provides ``lock``, ``networks`` (a NetworkObjList), ``events``,
    ``error_domain`` and ``net_api_prefix`` (libvirt's function prefix, "test" or
    "network", for flag errors)."""

    lock: threading.RLock
    networks: NetworkObjList
    events: Any
    error_domain: int
    net_api_prefix: str

    def _net_handle(self, conn: virConnect, obj: NetworkObj) -> virNetwork:
        return conn._make_network(obj.def_.name, obj.def_.uuid)

    def networkLookupByName(self, conn: virConnect, name: str) -> virNetwork:  # noqa: N802
        with self.lock:
            return self._net_handle(conn, self.networks.by_name(name))

    def networkLookupByUUID(self, conn: virConnect, uuid: str) -> virNetwork:  # noqa: N802
        with self.lock:
            return self._net_handle(conn, self.networks.by_uuid(uuid))

    def _net_names(self, active: bool) -> list[str]:
        with self.lock:
            return [o.def_.name for o in self.networks if o.active == active]

    def connectListNetworks(self, conn: virConnect) -> list[str]:  # noqa: N802
        return self._net_names(True)

    def connectNumOfNetworks(self, conn: virConnect) -> int:  # noqa: N802
        return len(self._net_names(True))

    def connectListDefinedNetworks(self, conn: virConnect) -> list[str]:  # noqa: N802
        return self._net_names(False)

    def connectNumOfDefinedNetworks(self, conn: virConnect) -> int:  # noqa: N802
        return len(self._net_names(False))

    def connectListAllNetworks(self, conn: virConnect, flags: int) -> list[virNetwork]:  # noqa: N802
        check_flags(f"{self.net_api_prefix}ConnectListAllNetworks", flags, LIST_FILTERS_ALL,
                    self.error_domain)
        with self.lock:
            return [self._net_handle(conn, o) for o in self.networks.matching(flags)]

    def networkIsActive(self, net: virNetwork) -> int:  # noqa: N802
        with self.lock:
            return int(self.networks.by_uuid(net.UUIDString()).active)

    def networkIsPersistent(self, net: virNetwork) -> int:  # noqa: N802
        with self.lock:
            return int(self.networks.by_uuid(net.UUIDString()).persistent)

    def networkGetBridgeName(self, net: virNetwork) -> str:  # noqa: N802
        with self.lock:
            netdef = self.networks.by_name(net.name()).def_
            if not netdef.bridge.name:
                raise_error(c.VIR_ERR_INTERNAL_ERROR,
                            f"network '{netdef.name}' does not have a bridge name.",
                            domain=self.error_domain)
            return netdef.bridge.name

    def networkGetAutostart(self, net: virNetwork) -> int:  # noqa: N802
        with self.lock:
            return int(self.networks.by_name(net.name()).autostart)

    def connectNetworkEventRegisterAny(  # noqa: N802
        self, conn: virConnect, net: virNetwork | None, eventID: int, cb: Any, opaque: Any,  # noqa: N803
    ) -> int:
        key = net.UUIDString() if net is not None else None
        result: int = self.events.register(conn, "network", eventID, key, cb, opaque)
        return result

    def connectNetworkEventDeregisterAny(self, conn: virConnect, callbackID: int) -> int:  # noqa: N802, N803
        self.events.deregister(conn, callbackID)
        return 0

    def _net_event(self, obj: NetworkObj, event: int) -> None:
        queue_event(self, "network", c.VIR_NETWORK_EVENT_ID_LIFECYCLE,
                    (obj.def_.name, obj.def_.uuid), event, 0)
