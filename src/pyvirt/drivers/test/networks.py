"""The test driver's virtual networks (libvirt's test_driver.c network entry points).

Networks live in memory only. Each object keeps libvirt's virNetworkObj pair of
definitions: ``def_`` (what XMLDesc shows) and ``new_def`` (the persistent config saved
while the network runs); like libvirt's test driver, destroy never swaps them back.
The object list, its filters and the read-only entry points are shared with the real
network driver (drivers/netobj.py).
"""

from __future__ import annotations

import os

from pyvirt import constants as c
from pyvirt.conf.xmlutil import Element, parse_xml
from pyvirt.drivers.base import check_flags
from pyvirt.drivers.netobj import NetworkListEntryPoints, NetworkObjList, update_defs
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from typing import Any

    from pyvirt.api.connect import virConnect
    from pyvirt.api.network import virNetwork

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


class TestNetworks(NetworkListEntryPoints):
    """Mixin of TestDriver: libvirt's virNetworkDriver for test:///."""

    lock: threading.RLock
    error_domain: int
    events: Any
    _networks: NetworkObjList
    net_api_prefix = "test"

    @property
    def networks(self) -> NetworkObjList:  # type: ignore[override]
        return self._networks

    def _init_networks(self) -> None:
        self._networks = NetworkObjList(self.error_domain)

    def _load_networks(self, node_el: Element, base_dir: str | os.PathLike[str] | None) -> None:
        """testParseNetworks: each /node/network (inline or file=) is defined and started."""
        from pyvirt.conf.network import NetworkDef

        for el in node_el.iterfind("network"):
            netdef = NetworkDef.from_element(resolve_file_ref(el, base_dir))
            obj = self._networks.assign(netdef, live=False, check_live=False)
            obj.active = True

    # ---- define / create / undefine -----------------------------------------------------

    def networkCreateXMLFlags(self, conn: virConnect, xml: str, flags: int) -> virNetwork:  # noqa: N802
        from pyvirt.conf.network import NetworkDef

        check_flags("testNetworkCreateXMLFlags", flags, c.VIR_NETWORK_CREATE_VALIDATE,
                    self.error_domain)
        netdef = NetworkDef.from_xml(xml, validate_schema=bool(flags))
        with self.lock:
            obj = self._networks.assign(netdef, live=True, check_live=True)
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
            obj = self._networks.assign(netdef, live=False, check_live=False)
            self._net_event(obj, c.VIR_NETWORK_EVENT_DEFINED)
            return self._net_handle(conn, obj)

    def networkDefineXML(self, conn: virConnect, xml: str) -> virNetwork:  # noqa: N802
        return self.networkDefineXMLFlags(conn, xml, 0)

    def networkUndefine(self, net: virNetwork) -> int:  # noqa: N802
        with self.lock:
            obj = self._networks.by_name(net.name())
            if obj.active:
                raise_error(c.VIR_ERR_OPERATION_INVALID,
                            f"Network '{net.name()}' is still running", domain=self.error_domain)
            self._net_event(obj, c.VIR_NETWORK_EVENT_UNDEFINED)
            self._networks.remove(obj)
            return 0

    # ---- start / stop -------------------------------------------------------------------

    def networkCreate(self, net: virNetwork) -> int:  # noqa: N802
        with self.lock:
            obj = self._networks.by_name(net.name())
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
            obj = self._networks.by_name(net.name())
            obj.active = False
            self._net_event(obj, c.VIR_NETWORK_EVENT_STOPPED)
            if not obj.persistent:
                self._networks.remove(obj)
            return 0

    # ---- state and description ----------------------------------------------------------

    def networkGetXMLDesc(self, net: virNetwork, flags: int) -> str:  # noqa: N802
        check_flags("testNetworkGetXMLDesc", flags, 0, self.error_domain)
        with self.lock:
            return self._networks.by_name(net.name()).def_.to_xml()

    def networkSetAutostart(self, net: virNetwork, autostart: int) -> int:  # noqa: N802
        with self.lock:
            self._networks.by_name(net.name()).autostart = bool(autostart)
            return 0

    # ---- virNetworkUpdate ---------------------------------------------------------------

    def networkUpdate(  # noqa: N802
        self, net: virNetwork, command: int, section: int, parentIndex: int,  # noqa: N803
        xml: str, flags: int,
    ) -> int:
        live, config = c.VIR_NETWORK_UPDATE_AFFECT_LIVE, c.VIR_NETWORK_UPDATE_AFFECT_CONFIG
        check_flags("testNetworkUpdate", flags, live | config, self.error_domain)
        with self.lock:
            update_defs(self._networks.by_uuid(net.UUIDString()), command, section,
                        parentIndex, xml, flags)
            return 0
