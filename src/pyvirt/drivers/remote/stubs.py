"""The client stubs: every procedure of the protocol tables as a driver method, built from the
table on first use.

A stub takes the driver method's arguments (libvirt-python's: an object handle or the
connection first, then the C function's arguments), encodes the procedure's ``_args`` struct,
sends the CALL, decodes the REPLY and converts the ``_ret`` struct to libvirt-python's shape.
Everything is derived from the procedure's field types:

* arguments, in wire order: a field of a handle type takes the method's first argument when it
  is the object the method is called on (``remote_nonnull_domain`` <- the virDomain), else
  the next one; the connection is not sent; ``need_results`` is 1; UUIDs, typed parameters,
  CPU maps and optional handles are converted by type;
* results: no ``_ret`` -> 0; one field -> that value (handles -> pyvirt handles, typed
  parameters -> dict, ``char`` arrays -> str); a list with its count (``ret``) -> the list;
  several fields -> a list in wire order (libvirt-python's "info" lists).

What libvirt-python or libvirt's public API does differently is stated in :data:`ADAPT`,
the small explicit adaptation table, as data: the procedure when the method name does not say
it, wire fields the caller does not pass (``fill``), list calls that count first (``count``:
libvirt-python asks ``virConnectNumOfX`` before ``virConnectListX``), getters that ask for
the number of typed parameters first (``nparams``), getters preceded by libvirt's
TYPED_PARAM_STRING feature probe (``string_okay``), setters that learn parameter types from
their getter (``types_from``), result shapes (``ret``), and the few calls that need code
(``custom``, functions in pyvirt.drivers.remote.custom).
"""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.drivers.base import entry_point_api_name
from pyvirt.drivers.remote import convert as cv
from pyvirt.rpc import handles

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.drivers.remote.driver import RemoteDriver
    from pyvirt.rpc.protocol import Procedure

    Stub = Callable[..., Any]


class Adapt:
    """One row of the adaptation table (see the module docstring)."""

    __slots__ = ("proc", "program", "fill", "count", "nparams", "string_okay", "types_from",
                 "ret", "stream", "custom")

    def __init__(self, proc: str | None = None, *, program: str = "REMOTE",
                 fill: dict[str, Any] | None = None, count: str | None = None,
                 nparams: str | None = None, string_okay: bool = False,
                 types_from: str | None = None, ret: str | Callable[..., Any] | None = None,
                 stream: int | None = None, custom: str | None = None) -> None:
        self.proc = proc
        self.program = program
        self.fill = fill or {}
        self.count = count
        self.nparams = nparams
        self.string_okay = string_okay
        self.types_from = types_from
        self.ret = ret
        self.stream = stream
        self.custom = custom


A = Adapt
_PROBE = "probe"   # nparams: ask with nparams = 0 first, as the C callers do
_NO_PARAMS = object()   # a counted getter found nothing to fetch
_MEM_STATS = c.VIR_DOMAIN_MEMORY_STAT_NR

ADAPT: dict[str, Adapt] = {
    # -- lists of names / IDs: libvirt-python counts first, then lists that many ---------
    "connectListDomainsID": A("CONNECT_LIST_DOMAINS", count="connectNumOfDomains"),
    "connectListDefinedDomains": A(count="connectNumOfDefinedDomains"),
    "connectListNetworks": A(count="connectNumOfNetworks"),
    "connectListDefinedNetworks": A(count="connectNumOfDefinedNetworks"),
    "connectListStoragePools": A(count="connectNumOfStoragePools"),
    "connectListDefinedStoragePools": A(count="connectNumOfDefinedStoragePools"),
    "connectListInterfaces": A(count="connectNumOfInterfaces"),
    "connectListDefinedInterfaces": A(count="connectNumOfDefinedInterfaces"),
    "connectListSecrets": A(count="connectNumOfSecrets"),
    "connectListNWFilters": A(count="connectNumOfNWFilters"),
    "storagePoolListVolumes": A(count="storagePoolNumOfVolumes"),
    "nodeListDevices": A(count="nodeNumOfDevices"),
    "nodeDeviceListCaps": A(count="nodeDeviceNumOfCaps"),
    "domainSnapshotListNames": A(count="domainSnapshotNum"),
    "domainSnapshotListChildrenNames": A(count="domainSnapshotNumChildren"),
    # -- typed-parameter getters (count first, TYPED_PARAM_STRING probe per C call) -------
    "domainGetSchedulerParameters": A(nparams="domainGetSchedulerType"),
    "domainGetSchedulerParametersFlags": A(nparams="domainGetSchedulerType",
                                           string_okay=True),
    "domainGetMemoryParameters": A(nparams=_PROBE, string_okay=True),
    "domainGetNumaParameters": A(nparams=_PROBE, string_okay=True),
    "domainGetBlkioParameters": A(nparams=_PROBE, string_okay=True),
    "domainGetInterfaceParameters": A(nparams=_PROBE, string_okay=True),
    "domainGetBlockIoTune": A(nparams=_PROBE, string_okay=True),
    "domainBlockStatsFlags": A(nparams=_PROBE, string_okay=True),
    "nodeGetMemoryParameters": A(nparams=_PROBE, string_okay=True),
    "networkPortGetParameters": A(nparams=_PROBE),
    "nodeGetCPUStats": A(nparams=_PROBE, ret="stats"),
    "nodeGetMemoryStats": A(nparams=_PROBE, ret="stats"),
    "domainGetLaunchSecurityInfo": A(string_okay=True),
    "nodeGetSEVInfo": A(fill={"nparams": 64}, string_okay=True),
    "domainGetJobStats": A(ret="job_stats"),
    # -- setters: parameter types from the getter, as libvirt-python does -----------------
    "domainSetSchedulerParameters": A(types_from="domainGetSchedulerParameters"),
    "domainSetSchedulerParametersFlags": A(types_from="domainGetSchedulerParametersFlags"),
    "domainSetMemoryParameters": A(types_from="domainGetMemoryParameters"),
    "domainSetNumaParameters": A(types_from="domainGetNumaParameters"),
    "domainSetBlkioParameters": A(types_from="domainGetBlkioParameters"),
    "domainSetInterfaceParameters": A(types_from="domainGetInterfaceParameters"),
    "domainSetBlockIoTune": A(types_from="domainGetBlockIoTune"),
    "domainSetPerfEvents": A(types_from="domainGetPerfEvents"),
    "nodeSetMemoryParameters": A(types_from="nodeGetMemoryParameters"),
    "networkPortSetParameters": A(types_from="networkPortGetParameters"),
    # -- result shapes ----------------------------------------------------------------------
    "domainBlockStats": A(ret="tuple"),
    "domainInterfaceStats": A(ret="tuple"),
    "domainGetSchedulerType": A(ret="tuple"),
    "domainGetTime": A(ret="dict"),
    "domainGetBlockInfo": A(ret=lambda r: [r["capacity"], r["allocation"], r["physical"]]),
    "domainGetBlockJobInfo": A(ret="block_job"),
    "domainMemoryStats": A(fill={"maxStats": _MEM_STATS, "flags": 0}, ret="memory_stats"),
    "nodeGetInfo": A(ret="node_info"),
    "domainGetSecurityLabel": A(ret="label"),
    "domainGetSecurityLabelList": A(ret="labels"),
    "domainGetDiskErrors": A(nparams="errors", ret="disk_errors"),
    "domainGetFSInfo": A(ret="fsinfo"),
    "domainInterfaceAddresses": A(ret="iface_addrs"),
    "networkGetDHCPLeases": A(ret="leases"),
    "nodeGetCPUMap": A(fill={"need_map": 1, "need_online": 1}, ret="cpumap"),
    "domainGetIOThreadInfo": A(ret="iothreads"),
    "connectGetAllDomainStats": A(fill={"doms": []}, ret="domain_stats"),
    "domainListGetStats": A("CONNECT_GET_ALL_DOMAIN_STATS", ret="domain_stats"),
    # -- arguments libvirt-python passes differently -----------------------------------
    "domainSendKey": A(custom="send_key"),
    "domainSetTime": A(custom="set_time"),
    "domainGetVcpus": A(custom="get_vcpus"),
    "domainGetVcpuPinInfo": A(custom="vcpu_pin_info"),
    "domainGetEmulatorPinInfo": A(custom="emulator_pin_info"),
    "domainGetCPUStats": A(custom="cpu_stats"),
    "nodeGetFreePages": A(custom="free_pages"),
    "nodeAllocPages": A(custom="alloc_pages"),
    "domainRename": A(custom="rename"),
    # -- calls that keep the handle's domain ID current, as libvirt's remote driver ------
    "domainCreate": A(custom="create"),
    "domainCreateWithFlags": A(custom="create_with_flags"),
    "domainDestroy": A(custom="destroy"),
    "domainSave": A(custom="save"),
    "domainManagedSave": A(custom="managed_save"),
    # -- streams: the virStream is a Python argument, not a wire field -----------------
    "domainScreenshot": A(stream=1),
    "storageVolUpload": A(stream=1),
    "storageVolDownload": A(stream=1),
    "domainOpenConsole": A(stream=2),
    "domainOpenChannel": A(stream=2),
}

# Node device procedures name the device by its name; these take the connection instead.
_NODEDEV_FROM_CONN = frozenset(("nodeDeviceLookupByName", "nodeDeviceCreateXML",
                                "nodeDeviceDefineXML", "nodeDeviceLookupSCSIHostByWWN"))
# Count fields a "count" list call fills with the number it got.
_COUNT_FIELDS = ("maxnames", "maxids", "maxuuids")

_HANDLE_PREFIX = "remote_nonnull_"
_HANDLE_KINDS = frozenset(("domain", "network", "network_port", "nwfilter", "nwfilter_binding",
                           "interface", "storage_pool", "storage_vol", "node_device", "secret",
                           "domain_checkpoint", "domain_snapshot"))


def _handle_kind(ftype: Any) -> str | None:
    if isinstance(ftype, str) and ftype.startswith(_HANDLE_PREFIX):
        kind = ftype[len(_HANDLE_PREFIX):]
        if kind in _HANDLE_KINDS:
            return kind
    return None


def _optional_kind(ftype: Any) -> str | None:
    if isinstance(ftype, str) and ftype.startswith("remote_"):
        kind = ftype[len("remote_"):]
        if kind in _HANDLE_KINDS:
            return kind
    return None


def struct_fields(proc: Procedure, type_name: str | None) -> tuple[tuple[str, Any], ...]:
    """The (name, type) fields of a procedure's body struct."""
    if type_name is None:
        return ()
    prog = proc.program
    spec = prog.module.TYPES.get(type_name)
    if spec is None:
        from pyvirt.rpc.protocol import program as get_program

        remote = get_program("REMOTE")
        assert remote is not None
        spec = remote.module.TYPES[type_name]
    assert spec[0] == "struct", (type_name, spec)
    fields: tuple[tuple[str, Any], ...] = spec[1]
    return fields


def procedure_for(method: str, adapt: Adapt | None) -> Procedure | None:
    """The procedure a driver method maps to (None if no procedure implements it)."""
    from pyvirt.rpc.protocol import program

    prog = program(adapt.program if adapt else "REMOTE")
    assert prog is not None
    if adapt is not None and adapt.proc is not None:
        return prog.procedure(adapt.proc)
    api = entry_point_api_name(method)
    for name in ("REMOTE", "QEMU", "LXC"):
        prog = program(name)
        assert prog is not None
        proc = prog.by_api.get(api)
        if proc is not None and not proc.is_event:
            return proc
    return None


# ---- argument encoders -------------------------------------------------------------------


def _enc_handle(value: Any) -> Any:
    return handles.to_wire(value)


def _enc_optional_handle(value: Any) -> Any:
    return None if value is None else handles.to_wire(value)


def _enc_uuid(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return handles.uuid_bytes(value)


def _enc_string_list(value: Any) -> list[str]:
    return [] if value is None else list(value)


def _enc_handle_list(value: Any) -> list[Any]:
    return [handles.to_wire(h) for h in value or ()]


def _enc_opaque(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return cv.cpumap_to_bytes(value)


def _encoder(ftype: Any) -> Callable[[Any], Any] | None:
    if _handle_kind(ftype):
        return _enc_handle
    if _optional_kind(ftype):
        return _enc_optional_handle
    if ftype == "remote_uuid":
        return _enc_uuid
    if isinstance(ftype, tuple):
        if ftype[0] == "array" and ftype[1] == "remote_typed_param":
            return cv.params_to_wire
        if ftype[0] == "array" and ftype[1] == "remote_nonnull_string":
            return _enc_string_list
        if ftype[0] == "array" and _handle_kind(ftype[1]):
            return _enc_handle_list
        if ftype[0] == "opaque":
            return _enc_opaque
    return None


# ---- result converters -------------------------------------------------------------------


def _dec_handle(kind: str) -> Callable[[Any, Any], Any]:
    def conv(conn: Any, value: Any) -> Any:
        return handles.from_wire(conn, kind, value)
    return conv


def _dec_optional_handle(kind: str) -> Callable[[Any, Any], Any]:
    def conv(conn: Any, value: Any) -> Any:
        return None if value is None else handles.from_wire(conn, kind, value)
    return conv


def _dec_handle_list(kind: str) -> Callable[[Any, Any], Any]:
    def conv(conn: Any, value: Any) -> Any:
        return [handles.from_wire(conn, kind, x) for x in value]
    return conv


def _dec_params(conn: Any, value: Any) -> Any:
    return cv.params_from_wire(value)


def _dec_chars(conn: Any, value: Any) -> Any:
    return cv.chars_to_str(value)


def _decoder(ftype: Any) -> Callable[[Any, Any], Any] | None:
    """conv(conn, value) for a result field, None for values passed as they are."""
    kind = _handle_kind(ftype)
    if kind is not None:
        return _dec_handle(kind)
    kind = _optional_kind(ftype)
    if kind is not None:
        return _dec_optional_handle(kind)
    if isinstance(ftype, tuple):
        head = ftype[0]
        if head == "array" or head == "fixed_array":
            elem = ftype[1]
            if elem == "remote_typed_param":
                return _dec_params
            if elem == "char":
                return _dec_chars
            kind = _handle_kind(elem)
            if kind is not None:
                return _dec_handle_list(kind)
    return None


def _generic_result(fields: tuple[tuple[str, Any], ...]) -> Callable[[Any, Any], Any]:
    if not fields:
        return lambda conn, ret: 0
    convs = [(_decoder(t), name) for name, t in fields]
    if len(fields) == 1 or (len(fields) == 2 and fields[1][0] in ("ret", "nparams")):
        conv, name = convs[0]
        if conv is None:
            return lambda conn, ret: ret[name]
        return lambda conn, ret: conv(conn, ret[name])

    def as_list(conn: Any, ret: dict[str, Any]) -> list[Any]:
        return [ret[n] if f is None else f(conn, ret[n]) for f, n in convs]

    return as_list


def _ret_tuple(conn: Any, ret: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(ret.values())


def _ret_dict(conn: Any, ret: dict[str, Any]) -> dict[str, Any]:
    return dict(ret)


def _ret_stats(conn: Any, ret: dict[str, Any]) -> dict[str, int]:
    return {p["field"]: p["value"] for p in ret["params"]}


def _ret_job_stats(conn: Any, ret: dict[str, Any]) -> dict[str, Any]:
    out = {"type": ret["type"]}
    out.update(cv.params_from_wire(ret["params"]))
    return out


def _ret_block_job(conn: Any, ret: dict[str, Any]) -> dict[str, Any]:
    if not ret["found"]:
        return {}
    return {"type": ret["type"], "bandwidth": ret["bandwidth"], "cur": ret["cur"],
            "end": ret["end"]}


def _ret_memory_stats(conn: Any, ret: dict[str, Any]) -> dict[str, int]:
    names = cv.MEMORY_STAT_NAMES
    return {names[s["tag"]]: s["val"] for s in ret["stats"] if s["tag"] in names}


def _ret_node_info(conn: Any, ret: dict[str, Any]) -> list[Any]:
    # libvirt-python reports memory in MiB
    return [cv.chars_to_str(ret["model"]), ret["memory"] >> 10, ret["cpus"], ret["mhz"],
            ret["nodes"], ret["sockets"], ret["cores"], ret["threads"]]


def _ret_label(conn: Any, ret: dict[str, Any]) -> list[Any]:
    return [cv.chars_to_str(ret["label"]), bool(ret["enforcing"])]


def _ret_labels(conn: Any, ret: dict[str, Any]) -> list[list[Any]]:
    return [[cv.chars_to_str(x["label"]), bool(x["enforcing"])] for x in ret["labels"]]


def _ret_disk_errors(conn: Any, ret: dict[str, Any]) -> dict[str, int]:
    return {e["disk"]: e["error"] for e in ret["errors"]}


def _ret_fsinfo(conn: Any, ret: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(f["mountpoint"], f["name"], f["fstype"], list(f["dev_aliases"]))
            for f in ret["info"]]


def _ret_iface_addrs(conn: Any, ret: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for iface in ret["ifaces"]:
        out[iface["name"]] = {
            "hwaddr": iface["hwaddr"],
            "addrs": [{"type": a["type"], "addr": a["addr"], "prefix": a["prefix"]}
                      for a in iface["addrs"]] or None,
        }
    return out


def _ret_leases(conn: Any, ret: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(lease) for lease in ret["leases"]]


def _ret_cpumap(conn: Any, ret: dict[str, Any]) -> tuple[int, list[bool], int]:
    n = ret["ret"]
    return (n, list(cv.cpumap_bools(ret["cpumap"], 0, cv.maplen(n), n)), ret["online"])


def _ret_iothreads(conn: Any, ret: dict[str, Any]) -> list[tuple[int, list[bool]]]:
    out = []
    for info in ret["info"]:
        cpumap = info["cpumap"]
        out.append((info["iothread_id"],
                    list(cv.cpumap_bools(cpumap, 0, len(cpumap), len(cpumap) * 8))))
    return out


def _ret_domain_stats(conn: Any, ret: dict[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
    return [(handles.from_wire(conn, "domain", rec["dom"]), cv.params_from_wire(rec["params"]))
            for rec in ret["retStats"]]


_RESULTS: dict[str, Callable[[Any, Any], Any]] = {
    "tuple": _ret_tuple, "dict": _ret_dict, "stats": _ret_stats,
    "job_stats": _ret_job_stats, "block_job": _ret_block_job,
    "memory_stats": _ret_memory_stats, "node_info": _ret_node_info, "label": _ret_label,
    "labels": _ret_labels,
    "disk_errors": _ret_disk_errors, "fsinfo": _ret_fsinfo, "iface_addrs": _ret_iface_addrs,
    "leases": _ret_leases, "cpumap": _ret_cpumap, "iothreads": _ret_iothreads,
    "domain_stats": _ret_domain_stats,
}


# ---- building a stub ---------------------------------------------------------------------


class Plan:
    """How one method maps onto its procedure: for each wire field, where its value comes
    from (an index into the method's arguments, or a fixed value) and its encoder."""

    __slots__ = ("method", "proc", "adapt", "fields", "arity", "typed_index", "count_field",
                 "nparams_field", "result")

    def __init__(self, method: str, proc: Procedure, adapt: Adapt | None) -> None:
        self.method = method
        self.proc = proc
        self.adapt = adapt
        fill = adapt.fill if adapt else {}
        stream_index = adapt.stream if adapt else None
        wire = struct_fields(proc, proc.args_type)
        plan: list[tuple[str, int, Any, Callable[[Any], Any] | None]] = []
        index = 1    # the first argument is the connection unless it is the object
        self.count_field: str | None = None
        self.nparams_field: str | None = None
        self.typed_index: int | None = None
        for pos, (name, ftype) in enumerate(wire):
            if pos == 0 and _handle_kind(ftype):
                plan.append((name, 0, None, _enc_handle))
                continue
            if (pos == 0 and name == "name" and method.startswith("nodeDevice")
                    and method not in _NODEDEV_FROM_CONN):
                plan.append((name, 0, None, _node_device_name))
                continue
            if name in fill:
                plan.append((name, -1, fill[name], None))
                continue
            if name == "need_results":
                plan.append((name, -1, 1, None))
                continue
            if adapt is not None and adapt.count and name in _COUNT_FIELDS:
                self.count_field = name
                plan.append((name, -1, 0, None))
                continue
            if adapt is not None and adapt.nparams and name in ("nparams", "maxerrors"):
                self.nparams_field = name
                plan.append((name, -1, 0, None))
                continue
            if index == stream_index:
                index += 1
            enc = _encoder(ftype)
            if enc is cv.params_to_wire:
                self.typed_index = index
            plan.append((name, index, None, enc))
            index += 1
        if stream_index is not None and index == stream_index:
            index += 1
        self.fields = tuple(plan)
        self.arity = index
        ret_fields = struct_fields(proc, proc.ret_type)
        kind = adapt.ret if adapt else None
        if kind is None:
            self.result = _generic_result(ret_fields)
        elif callable(kind):
            func = kind
            self.result = lambda conn, ret: func(ret)
        else:
            self.result = _RESULTS[kind]

    def args(self, pyargs: tuple[Any, ...]) -> dict[str, Any] | None:
        if not self.fields:
            return None
        out = {}
        for name, index, value, enc in self.fields:
            if index >= 0:
                value = pyargs[index]
                if enc is not None:
                    value = enc(value)
            out[name] = value
        return out


def _node_device_name(dev: Any) -> str:
    return str(dev._name)


def _conn_of(first: Any) -> Any:
    return getattr(first, "_conn", first)


def build(method: str) -> Stub | None:
    """The driver method ``method`` as a function ``(driver, *args)``; None when no
    procedure implements it."""
    adapt = ADAPT.get(method)
    if adapt is not None and adapt.custom is not None:
        from pyvirt.drivers.remote import custom

        func: Stub = getattr(custom, adapt.custom)
        return func
    proc = procedure_for(method, adapt)
    if proc is None or proc.fds is not None:
        return None
    if proc.stream is not None and (adapt is None or adapt.stream is None):
        return None  # tunnelled migration's streams: client-side migration is not done yet
    plan = Plan(method, proc, adapt)
    if proc.stream is not None:
        return _stream_stub(plan)
    if adapt is None:
        return _simple_stub(plan)
    return _adapted_stub(plan)


def _simple_stub(plan: Plan) -> Stub:
    proc = plan.proc
    make_args = plan.args
    result = plan.result
    fields = plan.fields
    if len(fields) == 1 and fields[0][1] >= 0:
        # the most common shape: one argument (a handle or a name)
        name, index, _, enc = fields[0]
        if enc is None:
            def one(drv: RemoteDriver, *pyargs: Any) -> Any:
                ret = drv._conn.call(proc, {name: pyargs[index]})
                return result(_conn_of(pyargs[0]), ret)
            return one

        def one_enc(drv: RemoteDriver, *pyargs: Any) -> Any:
            ret = drv._conn.call(proc, {name: enc(pyargs[index])})
            return result(_conn_of(pyargs[0]), ret)
        return one_enc

    def stub(drv: RemoteDriver, *pyargs: Any) -> Any:
        ret = drv._conn.call(proc, make_args(pyargs))
        return result(_conn_of(pyargs[0]), ret)

    return stub


def _adapted_stub(plan: Plan) -> Stub:
    adapt = plan.adapt
    assert adapt is not None
    result = plan.result

    def stub(drv: RemoteDriver, *pyargs: Any) -> Any:
        conn = _conn_of(pyargs[0])
        if adapt.count is not None:
            count = getattr(drv, adapt.count)(*pyargs)
            if not count:
                return []
        args = plan.args(pyargs)
        if adapt.types_from is not None and plan.typed_index is not None:
            getter = [a for i, a in enumerate(pyargs) if i != plan.typed_index]
            raw = drv._raw(adapt.types_from, *getter)
            types = cv.param_types(raw["params"]) if raw is not None else {}
            assert args is not None
            for name, index, _, _enc in plan.fields:
                if index == plan.typed_index:
                    args[name] = cv.params_to_wire(pyargs[index], types)
        if adapt.count is not None:
            assert args is not None and plan.count_field is not None
            args[plan.count_field] = count
        ret = _call_counted(drv, plan, args, pyargs)
        if ret is _NO_PARAMS:
            return {}
        return result(conn, ret)

    return stub


def _call_counted(drv: RemoteDriver, plan: Plan, args: dict[str, Any] | None,
                  pyargs: tuple[Any, ...]) -> Any:
    """One call, or two for getters that ask how many parameters there are first;
    ``_NO_PARAMS`` when there are none."""
    adapt = plan.adapt
    proc = plan.proc
    assert adapt is not None
    nparams = adapt.nparams
    if nparams is not None:
        assert args is not None and plan.nparams_field is not None
        if nparams == _PROBE or nparams == "errors":
            if adapt.string_okay:
                _add_string_okay(drv, args)
            first = drv._conn.call(proc, args)
            count = first["nparams"] if nparams == _PROBE else first["nerrors"]
        else:
            count = getattr(drv, nparams)(*pyargs[:1])[1]
        if not count:
            return _NO_PARAMS
        args[plan.nparams_field] = count
    if adapt.string_okay:
        assert args is not None
        _add_string_okay(drv, args)
    return drv._conn.call(proc, args)


def _add_string_okay(drv: RemoteDriver, args: dict[str, Any]) -> None:
    """libvirt's public getters add VIR_TYPED_PARAM_STRING_OKAY when the driver supports
    TYPED_PARAM_STRING, asking the remote driver (one RPC) every time."""
    args["flags"] = args["flags"] & ~c.VIR_TYPED_PARAM_STRING_OKAY
    if drv._supports_feature(9):
        args["flags"] |= c.VIR_TYPED_PARAM_STRING_OKAY


def _stream_stub(plan: Plan) -> Stub:
    adapt = plan.adapt
    assert adapt is not None and adapt.stream is not None
    index = adapt.stream

    def stub(drv: RemoteDriver, *pyargs: Any) -> Any:
        return drv._open_stream(plan, pyargs, pyargs[index])

    return stub
