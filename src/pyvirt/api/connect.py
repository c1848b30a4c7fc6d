"""virConnect: a connection to one driver, with libvirt-python's methods.

The class is assembled from one mixin per object family (domains, networks, storage, ...),
each living beside its handle class in this package; this module holds the connection itself
and the host ("node") calls.
"""

from __future__ import annotations

import _thread  # threading's locks without its module's import cost (~2 ms)

from pyvirt.api._common import api_boundary, check_writable, invalid_arg
from pyvirt.api.domain import DomainConnectMixin, virDomain
from pyvirt.api.interface import InterfaceConnectMixin, virInterface
from pyvirt.api.network import NetworkConnectMixin, virNetwork, virNetworkPort
from pyvirt.api.nodedev import NodeDeviceConnectMixin, virNodeDevice
from pyvirt.api.nwfilter import NWFilterConnectMixin, virNWFilter, virNWFilterBinding
from pyvirt.api.secret import SecretConnectMixin, virSecret
from pyvirt.api.storage import StorageConnectMixin, virStoragePool, virStorageVol
from pyvirt.api.stream import virStream
from pyvirt.drivers.base import CLOSED, Driver

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType
    from typing import Any


@api_boundary
class virConnect(  # noqa: N801 - libvirt-python's name
    DomainConnectMixin,
    NetworkConnectMixin,
    StorageConnectMixin,
    InterfaceConnectMixin,
    NodeDeviceConnectMixin,
    SecretConnectMixin,
    NWFilterConnectMixin,
):
    """A connection to a hypervisor driver. Made by pyvirt.open(), openReadOnly(), openAuth()."""

    def __init__(self, uri: str, driver: Driver, readonly: bool) -> None:
        self._uri = uri
        self._drv: Any = driver
        self._readonly = readonly
        self._close_callback: tuple[Callable[..., Any], Any] | None = None
        self._lock = _thread.allocate_lock()

    # ---- handle factories (drivers and events build handles through these) ---------------

    def _make_domain(self, name: str, uuid: str, domain_id: int = -1) -> virDomain:
        return virDomain(self, name, uuid, domain_id)

    def _make_network(self, name: str, uuid: str) -> virNetwork:
        return virNetwork(self, name, uuid)

    def _make_network_port(self, net: virNetwork, uuid: str) -> virNetworkPort:
        return virNetworkPort(net, uuid)

    def _make_storage_pool(self, name: str, uuid: str) -> virStoragePool:
        return virStoragePool(self, name, uuid)

    def _make_storage_vol(self, pool: str, name: str, key: str) -> virStorageVol:
        return virStorageVol(self, pool, name, key)

    def _make_interface(self, name: str, mac: str) -> virInterface:
        return virInterface(self, name, mac)

    def _make_node_device(self, name: str) -> virNodeDevice:
        return virNodeDevice(self, name)

    def _make_secret(self, uuid: str, usage_type: int, usage_id: str) -> virSecret:
        return virSecret(self, uuid, usage_type, usage_id)

    def _make_nwfilter(self, name: str, uuid: str) -> virNWFilter:
        return virNWFilter(self, name, uuid)

    def _make_nwfilter_binding(self, portdev: str, filtername: str) -> virNWFilterBinding:
        return virNWFilterBinding(self, portdev, filtername)

    # ---- lifetime -------------------------------------------------------------------------

    def close(self) -> int:
        with self._lock:
            driver, self._drv = self._drv, CLOSED
        if driver is CLOSED:
            return 0
        driver.connectClose(self)
        return 0

    def __del__(self) -> None:
        drv = getattr(self, "_drv", CLOSED)
        if drv is not CLOSED:
            try:
                self.close()
            except Exception:  # noqa: BLE001 - never raise from a finaliser
                pass

    def __enter__(self) -> virConnect:
        return self

    def __exit__(
        self,
        exc_type_: type[BaseException] | None,
        exc_value_: BaseException | None,
        traceback_: TracebackType | None,
    ) -> None:
        self.close()

    def isAlive(self) -> int:
        return int(self._drv.connectIsAlive(self))

    def isSecure(self) -> int:
        return int(self._drv.connectIsSecure(self))

    def isEncrypted(self) -> int:
        return int(self._drv.connectIsEncrypted(self))

    def setKeepAlive(self, interval: int, count: int) -> int:
        result: int = self._drv.connectSetKeepAlive(self, interval, count)
        return result

    def registerCloseCallback(self, cb: Callable[..., Any], opaque: Any) -> int:
        if self._close_callback is not None:
            invalid_arg("virConnectRegisterCloseCallback", "A close callback is already registered")
        self._drv.connectRegisterCloseCallback(self, cb, opaque)
        self._close_callback = (cb, opaque)
        return 0

    def unregisterCloseCallback(self) -> None:
        if self._close_callback is None:
            invalid_arg("virConnectUnregisterCloseCallback", "A different callback was requested")
        self._drv.connectUnregisterCloseCallback(self)
        self._close_callback = None

    def _dispatchCloseCallback(self, reason: int, cbData: dict[str, Any]) -> int:
        cb = cbData["cb"]
        cb(self, reason, cbData["opaque"])
        return 0

    def setIdentity(self, params: dict[str, Any], flags: int = 0) -> int:
        result: int = self._drv.connectSetIdentity(self, params, flags)
        return result

    def virConnGetLastError(self) -> Any:
        from pyvirt.errors import last_error

        return last_error()

    def virConnResetLastError(self) -> None:
        from pyvirt.errors import reset_last_error

        reset_last_error()

    def c_pointer(self) -> int:
        return id(self)

    # ---- identity of the connection and its driver -----------------------------------------

    def getURI(self) -> str:
        result: str = self._drv.connectGetURI(self)
        return result

    def getType(self) -> str:
        result: str = self._drv.connectGetType(self)
        return result

    def getVersion(self) -> int:
        result: int = self._drv.connectGetVersion(self)
        return result

    def getLibVersion(self) -> int:
        result: int = self._drv.connectGetLibVersion(self)
        return result

    def getHostname(self) -> str:
        result: str = self._drv.connectGetHostname(self)
        return result

    def getSysinfo(self, flags: int = 0) -> str:
        result: str = self._drv.connectGetSysinfo(self, flags)
        return result

    def getCapabilities(self) -> str:
        result: str = self._drv.connectGetCapabilities(self)
        return result

    def getDomainCapabilities(
        self,
        emulatorbin: str | None = None,
        arch: str | None = None,
        machine: str | None = None,
        virttype: str | None = None,
        flags: int = 0,
    ) -> str:
        result: str = self._drv.connectGetDomainCapabilities(
            self, emulatorbin, arch, machine, virttype, flags
        )
        return result

    def getMaxVcpus(self, type: str | None) -> int:  # noqa: A002 - libvirt-python's name
        result: int = self._drv.connectGetMaxVcpus(self, type)
        return result

    def getCPUModelNames(self, arch: str, flags: int = 0) -> list[str]:
        result: list[str] = self._drv.connectGetCPUModelNames(self, arch, flags)
        return result

    def baselineCPU(self, xmlCPUs: list[str], flags: int = 0) -> str:
        result: str = self._drv.connectBaselineCPU(self, xmlCPUs, flags)
        return result

    def baselineHypervisorCPU(
        self,
        emulator: str | None,
        arch: str | None,
        machine: str | None,
        virttype: str | None,
        xmlCPUs: list[str],
        flags: int = 0,
    ) -> str:
        result: str = self._drv.connectBaselineHypervisorCPU(
            self, emulator, arch, machine, virttype, xmlCPUs, flags
        )
        return result

    def compareCPU(self, xmlDesc: str, flags: int = 0) -> int:
        result: int = self._drv.connectCompareCPU(self, xmlDesc, flags)
        return result

    def compareHypervisorCPU(
        self,
        emulator: str | None,
        arch: str | None,
        machine: str | None,
        virttype: str | None,
        xmlCPU: str,
        flags: int = 0,
    ) -> int:
        result: int = self._drv.connectCompareHypervisorCPU(
            self, emulator, arch, machine, virttype, xmlCPU, flags
        )
        return result

    # ---- the host ("node") ---------------------------------------------------------------------

    def getInfo(self) -> list[Any]:
        """[model, memory MiB, cpus, mhz, nodes, sockets, cores, threads]"""
        result: list[Any] = self._drv.nodeGetInfo(self)
        return result

    def getFreeMemory(self) -> int:
        result: int = self._drv.nodeGetFreeMemory(self)
        return result

    def getCellsFreeMemory(self, startCell: int, maxCells: int) -> list[int]:
        # libvirt-python refuses these itself, before libvirt, with no error details
        if startCell < 0 or maxCells <= 0 or startCell + maxCells > 10000:
            from pyvirt.errors import libvirtError

            raise libvirtError("virNodeGetCellsFreeMemory() failed")
        result: list[int] = self._drv.nodeGetCellsFreeMemory(self, startCell, maxCells)
        return result

    def getFreePages(
        self, pages: list[int], startCell: int, maxCells: int, flags: int = 0
    ) -> dict[int, dict[int, int]]:
        result: dict[int, dict[int, int]] = self._drv.nodeGetFreePages(
            self, pages, startCell, maxCells, flags
        )
        return result

    def allocPages(
        self, pages: dict[int, int], startCell: int = 0, cellCount: int = 0, flags: int = 0
    ) -> int:
        check_writable(self, "virNodeAllocPages")
        result: int = self._drv.nodeAllocPages(self, pages, startCell, cellCount, flags)
        return result

    def getMemoryStats(self, cellNum: int, flags: int = 0) -> dict[str, int]:
        if cellNum < 0 and cellNum != -1:  # VIR_NODE_MEMORY_STATS_ALL_CELLS
            invalid_arg("virNodeGetMemoryStats",
                        "cellNum in virNodeGetMemoryStats only accepts -1 as a negative value",
                        "cpuNum")  # sic: libvirt names the wrong argument here
        result: dict[str, int] = self._drv.nodeGetMemoryStats(self, cellNum, flags)
        return result

    def getCPUStats(self, cpuNum: int, flags: int = 0) -> dict[str, int]:
        if cpuNum < 0 and cpuNum != -1:  # VIR_NODE_CPU_STATS_ALL_CPUS
            invalid_arg("virNodeGetCPUStats",
                        "cpuNum in virNodeGetCPUStats only accepts -1 as a negative value",
                        "cpuNum")
        result: dict[str, int] = self._drv.nodeGetCPUStats(self, cpuNum, flags)
        return result

    def getCPUMap(self, flags: int = 0) -> tuple[int, list[bool], int]:
        result: tuple[int, list[bool], int] = self._drv.nodeGetCPUMap(self, flags)
        return result

    def getMemoryParameters(self, flags: int = 0) -> dict[str, Any]:
        result: dict[str, Any] = self._drv.nodeGetMemoryParameters(self, flags)
        return result

    def setMemoryParameters(self, params: dict[str, Any], flags: int = 0) -> int:
        check_writable(self, "virNodeSetMemoryParameters")
        result: int = self._drv.nodeSetMemoryParameters(self, params, flags)
        return result

    def getSecurityModel(self) -> list[str]:
        result: list[str] = self._drv.nodeGetSecurityModel(self)
        return result

    def getSEVInfo(self, flags: int = 0) -> dict[str, Any]:
        result: dict[str, Any] = self._drv.nodeGetSEVInfo(self, flags)
        return result

    def suspendForDuration(self, target: int, duration: int, flags: int = 0) -> int:
        check_writable(self, "virNodeSuspendForDuration")
        result: int = self._drv.nodeSuspendForDuration(self, target, duration, flags)
        return result

    # ---- streams ---------------------------------------------------------------------------

    def newStream(self, flags: int = 0) -> virStream:
        return virStream(self, flags)
