"""The test driver's host interfaces (libvirt's test_driver.c interface entry points).

Interfaces from the node file start active; defined ones start inactive. A change
transaction (changeBegin) snapshots the definitions; changeRollback restores them, and,
as in libvirt, every restored interface comes back inactive.
"""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.conf.xmlutil import Element
from pyvirt.drivers.base import check_flags
from pyvirt.drivers.test.networks import resolve_file_ref
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    import threading

    from pyvirt.api.connect import virConnect
    from pyvirt.api.interface import virInterface
    from pyvirt.conf.interface import InterfaceDef

LIST_FILTERS_ACTIVE = c.VIR_CONNECT_LIST_INTERFACES_ACTIVE | c.VIR_CONNECT_LIST_INTERFACES_INACTIVE


class InterfaceObj:
    """A host interface of the test driver: its definition and state."""

    # A plain class, not a dataclass: importing dataclasses (and inspect) costs ~15 ms of
    # pyvirsh's start-up.
    def __init__(self, def_: InterfaceDef, active: bool = False) -> None:
        self.def_ = def_
        self.active = active

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InterfaceObj) or other.__class__ is not self.__class__:
            return NotImplemented
        return (self.def_, self.active) == (other.def_, other.active)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"InterfaceObj(def_={self.def_!r}, active={self.active!r})"


class TestInterfaces:
    """Mixin of TestDriver: libvirt's virInterfaceDriver for test:///."""

    lock: threading.RLock
    error_domain: int
    _ifaces: dict[str, InterfaceObj]  # by name, in creation order
    _ifaces_backup: dict[str, InterfaceDef] | None

    def _init_interfaces(self) -> None:
        self._ifaces = {}
        self._ifaces_backup = None

    def _load_interfaces(self, node_el: Element, base_dir: str | os.PathLike[str] | None) -> None:
        """testParseInterfaces: each /node/interface is defined and active."""
        from pyvirt.conf.interface import InterfaceDef

        for el in node_el.iterfind("interface"):
            ifdef = InterfaceDef.from_element(resolve_file_ref(el, base_dir))
            self._assign_iface(ifdef).active = True

    def _assign_iface(self, ifdef: InterfaceDef) -> InterfaceObj:
        """virInterfaceObjListAssignDef: a known name gets the new definition, state kept."""
        obj = self._ifaces.get(ifdef.name)
        if obj is None:
            obj = self._ifaces[ifdef.name] = InterfaceObj(ifdef)
        else:
            obj.def_ = ifdef
        return obj

    def _iface_by_name(self, name: str) -> InterfaceObj:
        obj = self._ifaces.get(name)
        if obj is None:
            raise_error(c.VIR_ERR_NO_INTERFACE, f"no interface with matching name '{name}'",
                        domain=self.error_domain)
        return obj

    @staticmethod
    def _iface_handle(conn: virConnect, obj: InterfaceObj) -> virInterface:
        return conn._make_interface(obj.def_.name, obj.def_.mac or "")

    # ---- lookups and lists --------------------------------------------------------------

    def interfaceLookupByName(self, conn: virConnect, name: str) -> virInterface:  # noqa: N802
        with self.lock:
            return self._iface_handle(conn, self._iface_by_name(name))

    def interfaceLookupByMACString(self, conn: virConnect, macstr: str) -> virInterface:  # noqa: N802
        with self.lock:
            wanted = macstr.lower()
            names = [o.def_.name for o in self._ifaces.values()
                     if any(m.lower() == wanted for m in o.def_.macs())]
        if not names:
            raise_error(c.VIR_ERR_NO_INTERFACE, f"no interface with matching mac '{macstr}'",
                        domain=self.error_domain)
        if len(names) > 1:
            raise_error(c.VIR_ERR_MULTIPLE_INTERFACES, None, domain=self.error_domain)
        return conn._make_interface(names[0], macstr)

    def _iface_names(self, active: bool) -> list[str]:
        with self.lock:
            return [n for n, o in self._ifaces.items() if o.active == active]

    def connectListInterfaces(self, conn: virConnect) -> list[str]:  # noqa: N802
        return self._iface_names(True)

    def connectNumOfInterfaces(self, conn: virConnect) -> int:  # noqa: N802
        return len(self._iface_names(True))

    def connectListDefinedInterfaces(self, conn: virConnect) -> list[str]:  # noqa: N802
        return self._iface_names(False)

    def connectNumOfDefinedInterfaces(self, conn: virConnect) -> int:  # noqa: N802
        return len(self._iface_names(False))

    def connectListAllInterfaces(self, conn: virConnect, flags: int) -> list[virInterface]:  # noqa: N802
        check_flags("testConnectListAllInterfaces", flags, LIST_FILTERS_ACTIVE, self.error_domain)
        want_active = flags & c.VIR_CONNECT_LIST_INTERFACES_ACTIVE
        want_inactive = flags & c.VIR_CONNECT_LIST_INTERFACES_INACTIVE
        with self.lock:
            return [self._iface_handle(conn, o) for o in self._ifaces.values()
                    if not (want_active or want_inactive)
                    or (want_active and o.active) or (want_inactive and not o.active)]

    # ---- definitions and state ----------------------------------------------------------

    def interfaceGetXMLDesc(self, iface: virInterface, flags: int) -> str:  # noqa: N802
        check_flags("testInterfaceGetXMLDesc", flags, 0, self.error_domain)
        with self.lock:
            return self._iface_by_name(iface.name()).def_.to_xml()

    def interfaceDefineXML(self, conn: virConnect, xml: str, flags: int) -> virInterface:  # noqa: N802
        from pyvirt.conf.interface import InterfaceDef

        check_flags("testInterfaceDefineXML", flags, c.VIR_INTERFACE_DEFINE_VALIDATE,
                    self.error_domain)
        ifdef = InterfaceDef.from_xml(xml)
        with self.lock:
            return self._iface_handle(conn, self._assign_iface(ifdef))

    def interfaceUndefine(self, iface: virInterface) -> int:  # noqa: N802
        # libvirt's test driver removes running interfaces too
        with self.lock:
            del self._ifaces[self._iface_by_name(iface.name()).def_.name]
            return 0

    def interfaceIsActive(self, iface: virInterface) -> int:  # noqa: N802
        with self.lock:
            return int(self._iface_by_name(iface.name()).active)

    def _iface_set_active(self, iface: virInterface, active: bool) -> int:
        with self.lock:
            obj = self._iface_by_name(iface.name())
            if obj.active == active:
                raise_error(c.VIR_ERR_OPERATION_INVALID, None, domain=self.error_domain)
            obj.active = active
            return 0

    def interfaceCreate(self, iface: virInterface, flags: int) -> int:  # noqa: N802
        check_flags("testInterfaceCreate", flags, 0, self.error_domain)
        return self._iface_set_active(iface, True)

    def interfaceDestroy(self, iface: virInterface, flags: int) -> int:  # noqa: N802
        check_flags("testInterfaceDestroy", flags, 0, self.error_domain)
        return self._iface_set_active(iface, False)

    # ---- change transactions ------------------------------------------------------------

    def interfaceChangeBegin(self, conn: virConnect, flags: int) -> int:  # noqa: N802
        from pyvirt.conf.interface import InterfaceDef

        check_flags("testInterfaceChangeBegin", flags, 0, self.error_domain)
        with self.lock:
            if self._ifaces_backup is not None:
                raise_error(c.VIR_ERR_OPERATION_INVALID, "there is another transaction running.",
                            domain=self.error_domain)
            # virInterfaceObjListClone: a format/parse copy of each definition
            self._ifaces_backup = {n: InterfaceDef.from_xml(o.def_.to_xml())
                                   for n, o in self._ifaces.items()}
            return 0

    def interfaceChangeCommit(self, conn: virConnect, flags: int) -> int:  # noqa: N802
        check_flags("testInterfaceChangeCommit", flags, 0, self.error_domain)
        with self.lock:
            if self._ifaces_backup is None:
                raise_error(c.VIR_ERR_OPERATION_INVALID,
                            "no transaction running, nothing to be committed.",
                            domain=self.error_domain)
            self._ifaces_backup = None
            return 0

    def interfaceChangeRollback(self, conn: virConnect, flags: int) -> int:  # noqa: N802
        check_flags("testInterfaceChangeRollback", flags, 0, self.error_domain)
        with self.lock:
            if self._ifaces_backup is None:
                raise_error(c.VIR_ERR_OPERATION_INVALID,
                            "no transaction running, nothing to rollback.",
                            domain=self.error_domain)
            self._ifaces = {n: InterfaceObj(d) for n, d in self._ifaces_backup.items()}
            self._ifaces_backup = None
            return 0
