"""The few stubs that need code: libvirt-python builds their arguments from other calls (host
CPU count, the domain's vCPU count) or reshapes their results beyond a table entry. Each is
``func(driver, *method_args)`` and makes exactly the calls libvirt-python makes through the C
library, in the same order.
"""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.drivers.remote import convert as cv
from pyvirt.rpc import handles

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.api.connect import virConnect
    from pyvirt.api.domain import virDomain
    from pyvirt.drivers.remote.driver import RemoteDriver


def _host_cpus(drv: RemoteDriver, conn: virConnect) -> int:
    """libvirt-python's getPyNodeCPUCount: virNodeGetCPUMap(conn, NULL, NULL, 0)."""
    ret = drv._rpc("NODE_GET_CPU_MAP", {"need_map": 0, "need_online": 0, "flags": 0})
    return int(ret["ret"])


def _nr_vcpus(drv: RemoteDriver, dom: virDomain) -> int:
    ret = drv._rpc("DOMAIN_GET_INFO", {"dom": handles.to_wire(dom)})
    return int(ret["nrVirtCpu"])


def send_key(drv: RemoteDriver, dom: virDomain, codeset: int, holdtime: int,
             keycodes: Any, nkeycodes: int, flags: int) -> int:
    codes = [int(k) for k in list(keycodes)[:nkeycodes]]
    drv._rpc("DOMAIN_SEND_KEY", {"dom": handles.to_wire(dom), "codeset": codeset,
                                 "holdtime": holdtime, "keycodes": codes, "flags": flags})
    return 0


def set_time(drv: RemoteDriver, dom: virDomain, time: dict[str, int] | None,
             flags: int) -> int:
    time = time or {}
    drv._rpc("DOMAIN_SET_TIME", {"dom": handles.to_wire(dom),
                                 "seconds": int(time.get("seconds", 0)),
                                 "nseconds": int(time.get("nseconds", 0)), "flags": flags})
    return 0


def get_vcpus(drv: RemoteDriver, dom: virDomain) -> tuple[list[tuple[Any, ...]],
                                                          list[tuple[bool, ...]]]:
    cpus = _host_cpus(drv, dom._conn)
    nvcpus = _nr_vcpus(drv, dom)
    size = cv.maplen(cpus)
    ret = drv._rpc("DOMAIN_GET_VCPUS", {"dom": handles.to_wire(dom), "maxinfo": nvcpus,
                                        "maplen": size})
    info = [(v["number"], v["state"], v["cpu_time"], v["cpu"]) for v in ret["info"]]
    maps = [cv.cpumap_bools(ret["cpumaps"], i * size, size, cpus) for i in range(len(info))]
    return info, maps


def vcpu_pin_info(drv: RemoteDriver, dom: virDomain, flags: int) -> list[tuple[bool, ...]]:
    cpus = _host_cpus(drv, dom._conn)
    nvcpus = _nr_vcpus(drv, dom)
    size = cv.maplen(cpus)
    ret = drv._rpc("DOMAIN_GET_VCPU_PIN_INFO", {"dom": handles.to_wire(dom),
                                                "ncpumaps": nvcpus, "maplen": size,
                                                "flags": flags})
    return [cv.cpumap_bools(ret["cpumaps"], i * size, size, cpus) for i in range(nvcpus)]


def emulator_pin_info(drv: RemoteDriver, dom: virDomain, flags: int) -> tuple[bool, ...]:
    cpus = _host_cpus(drv, dom._conn)
    size = cv.maplen(cpus)
    ret = drv._rpc("DOMAIN_GET_EMULATOR_PIN_INFO", {"dom": handles.to_wire(dom),
                                                    "maplen": size, "flags": flags})
    return cv.cpumap_bools(ret["cpumaps"], 0, size, cpus)


def _cpu_stats_call(drv: RemoteDriver, dom: virDomain, nparams: int, start: int, ncpus: int,
                    flags: int) -> dict[str, Any]:
    # virDomainGetCPUStats adds VIR_TYPED_PARAM_STRING_OKAY after asking the driver
    if drv._supports_feature(9):
        flags |= c.VIR_TYPED_PARAM_STRING_OKAY
    return drv._rpc("DOMAIN_GET_CPU_STATS", {"dom": handles.to_wire(dom), "nparams": nparams,
                                             "start_cpu": start, "ncpus": ncpus,
                                             "flags": flags})


def cpu_stats(drv: RemoteDriver, dom: virDomain, total: Any, flags: int) -> list[dict[str, Any]]:
    """libvirt-python's getCPUStats: the total (one dict) or one dict per host CPU, asked
    128 CPUs at a time after counting CPUs and parameters."""
    if total:
        nparams = _cpu_stats_call(drv, dom, 0, -1, 1, flags)["nparams"]
        if not nparams:
            return [{}]
        ret = _cpu_stats_call(drv, dom, nparams, -1, 1, flags)
        return [cv.params_from_wire(ret["params"][:ret["nparams"]])]
    ncpus = _cpu_stats_call(drv, dom, 0, 0, 0, flags)["nparams"]
    nparams = _cpu_stats_call(drv, dom, 0, 0, 1, flags)["nparams"]
    out: list[dict[str, Any]] = []
    start = 0
    while ncpus:
        queried = min(ncpus, 128)
        per_cpu: list[list[dict[str, Any]]] = [[] for _ in range(queried)]
        if nparams:
            ret = _cpu_stats_call(drv, dom, nparams, start, queried, flags)
            stride = ret["nparams"]
            params = ret["params"]
            if stride:
                for i in range(min(queried, len(params) // stride)):
                    per_cpu[i] = params[i * stride:(i + 1) * stride]
        out.extend(cv.params_from_wire(p) for p in per_cpu)
        start += queried
        ncpus -= queried
    return out


def free_pages(drv: RemoteDriver, conn: virConnect, pages: list[int], start: int,
               cells: int, flags: int) -> dict[int, dict[int, int]]:
    ret = drv._rpc("NODE_GET_FREE_PAGES", {"pages": [int(p) for p in pages],
                                           "startCell": start, "cellCount": cells,
                                           "flags": flags})
    counts = ret["counts"]
    out: dict[int, dict[int, int]] = {}
    for i in range(cells):
        out[start + i] = {int(p): counts[i * len(pages) + j]
                          for j, p in enumerate(pages) if i * len(pages) + j < len(counts)}
    return out


def alloc_pages(drv: RemoteDriver, conn: virConnect, pages: dict[int, int], start: int,
                cells: int, flags: int) -> int:
    ret = drv._rpc("NODE_ALLOC_PAGES", {"pageSizes": [int(k) for k in pages],
                                        "pageCounts": [int(v) for v in pages.values()],
                                        "startCell": start, "cellCount": cells,
                                        "flags": flags})
    return int(ret["ret"])


def rename(drv: RemoteDriver, dom: virDomain, new_name: str, flags: int) -> int:
    """virDomainRename: on success libvirt's public API renames the handle too."""
    ret = drv._rpc("DOMAIN_RENAME", {"dom": handles.to_wire(dom), "new_name": new_name,
                                     "flags": flags})
    if ret["retcode"] == 0:
        dom._name = new_name
    return int(ret["retcode"])


# ---- the domain ID kept in the handle, as libvirt's remote driver keeps it ---------------


def create(drv: RemoteDriver, dom: virDomain) -> int:
    """virDomainCreate (remoteDomainCreate): DOMAIN_CREATE returns nothing, so the guest's
    new ID is learned with a DOMAIN_LOOKUP_BY_UUID and stored in the handle."""
    drv._rpc("DOMAIN_CREATE", {"dom": handles.to_wire(dom)})
    ret = drv._rpc("DOMAIN_LOOKUP_BY_UUID", {"uuid": handles.uuid_bytes(dom._uuid)})
    dom._id = int(ret["dom"]["id"])
    return 0


def create_with_flags(drv: RemoteDriver, dom: virDomain, flags: int) -> int:
    """virDomainCreateWithFlags: the reply's domain updates the handle's ID (libvirt's
    generated client, "SPECIAL" in gendispatch.pl); libvirt-python returns 0."""
    ret = drv._rpc("DOMAIN_CREATE_WITH_FLAGS", {"dom": handles.to_wire(dom), "flags": flags})
    dom._id = int(ret["dom"]["id"])
    return 0


def destroy(drv: RemoteDriver, dom: virDomain) -> int:
    """virDomainDestroy, Save and ManagedSave reset the handle's ID to -1 on success (the
    generated client's "SPECIAL" case; DestroyFlags and SaveFlags do not)."""
    drv._rpc("DOMAIN_DESTROY", {"dom": handles.to_wire(dom)})
    dom._id = -1
    return 0


def save(drv: RemoteDriver, dom: virDomain, to: str) -> int:
    drv._rpc("DOMAIN_SAVE", {"dom": handles.to_wire(dom), "to": to})
    dom._id = -1
    return 0


def managed_save(drv: RemoteDriver, dom: virDomain, flags: int) -> int:
    drv._rpc("DOMAIN_MANAGED_SAVE", {"dom": handles.to_wire(dom), "flags": flags})
    dom._id = -1
    return 0
