"""The dispatcher's tables: every procedure has a plan, every adaptation names a real
procedure, read-only rules follow the protocol table."""

from __future__ import annotations

import pytest

from pyvirt import constants as c
from pyvirt.api.connect import virConnect
from pyvirt.daemon import adapt, client, dispatch, events
from pyvirt.drivers.test import driver as test_driver
from pyvirt.errors import libvirtError
from pyvirt.rpc import protocol

PROGRAMS = ("REMOTE", "QEMU", "LXC")


def _procs() -> list[protocol.Procedure]:
    out = []
    for name in PROGRAMS:
        prog = protocol.program(name)
        assert prog is not None
        out.extend(p for p in prog.procedures.values() if not p.is_event)
    return out


def test_every_procedure_has_a_plan() -> None:
    for proc in _procs():
        if proc.method is None:
            continue
        plan = dispatch.plan(proc)
        assert plan.method
        assert len(plan.arg_names) == len(plan.arg_convs)


def test_tables_name_real_procedures() -> None:
    names = {p.name for p in protocol.REMOTE.procedures.values()}
    for table in (dispatch.ARG_ADAPT, dispatch.RET_ADAPT, dispatch.CALL_ADAPT,
                  dispatch.READONLY_FLAGS, dispatch.METHOD_NAMES, client.LOCAL):
        assert set(table) <= names, set(table) - names
    for name in dispatch.READONLY_FLAGS:
        assert protocol.REMOTE.procedure(name).readonly == "flags"
    flagged = {p.name for p in protocol.REMOTE.procedures.values() if p.readonly == "flags"}
    assert flagged == set(dispatch.READONLY_FLAGS)
    for proc_name in [*events.CALLBACK_PROCS.values(), *events.LEGACY_PROCS.values()]:
        assert protocol.REMOTE.procedure(proc_name).is_event


def test_readonly_refusals() -> None:
    conn = virConnect("test:///default", test_driver.TestDriver.open_default(), True)
    dom = {"name": "test", "uuid": bytes.fromhex("6695eb01f6a4830479aa97f2502e193f"), "id": 1}
    suspend = dispatch.plan(protocol.REMOTE.procedure("DOMAIN_SUSPEND"))
    with pytest.raises(libvirtError) as info:
        suspend.run(conn, {"dom": dom}, readonly=True)
    assert info.value.err[:3] == (c.VIR_ERR_OPERATION_DENIED, c.VIR_FROM_DOMAIN,
                                  "operation forbidden: read only access prevents "
                                  "virDomainSuspend")
    xml = dispatch.plan(protocol.REMOTE.procedure("DOMAIN_GET_XML_DESC"))
    assert xml.run(conn, {"dom": dom, "flags": 0}, readonly=True)["xml"].startswith("<domain")
    for flags in (c.VIR_DOMAIN_XML_SECURE, c.VIR_DOMAIN_XML_MIGRATABLE):
        with pytest.raises(libvirtError, match="virDomainGetXMLDesc with secure flag"):
            xml.run(conn, {"dom": dom, "flags": flags}, readonly=True)
    ifaddr = dispatch.plan(protocol.REMOTE.procedure("DOMAIN_INTERFACE_ADDRESSES"))
    with pytest.raises(libvirtError, match="read only access prevents"):
        ifaddr.run(conn, {"dom": dom, "source": 1, "flags": 0}, readonly=True)
    assert ifaddr.run(conn, {"dom": dom, "source": 0, "flags": 0}, readonly=True)["ifaces"]


def test_typed_params() -> None:
    wire = adapt.params_to_wire({"weight": 50, "state.state": 1, "neg": -1, "big": 1 << 40,
                                 "flag": True, "s": "x", "d": 0.5, "cpu_shares": 3})
    kinds = {p["field"]: p["value"]["type"] for p in wire}
    assert kinds == {"weight": 2, "state.state": 1, "neg": 1, "big": 4, "flag": 6, "s": 7,
                     "d": 5, "cpu_shares": 4}
    assert adapt.params_to_wire({"s": "x", "n": 1}, strings=False) == [
        {"field": "n", "value": {"type": 2, "ui": 1}}]
    back = adapt.params_from_wire(wire)
    assert back["flag"] is True and back["s"] == "x" and back["big"] == 1 << 40
    twice = adapt.params_from_wire([{"field": "d", "value": {"type": 7, "s": "a"}},
                                    {"field": "d", "value": {"type": 7, "s": "b"}}])
    assert twice == {"d": ["a", "b"]}


def test_chars_and_bits() -> None:
    assert adapt.chars_to_wire("ab") == [97, 98, 0]
    assert adapt.chars_to_wire("i686", 8) == [105, 54, 56, 54, 0, 0, 0, 0]
    assert adapt.chars_from_wire([97, 98, 0, 99]) == "ab"
    assert adapt.bits_to_bytes((True, False, True, False, False, False, False, False, True),
                               3) == b"\x05\x01\x00"
    assert adapt.bytes_to_bits(b"\x05", 4) == (True, False, True, False)


def test_ret_shapes() -> None:
    conn = virConnect("test:///default", test_driver.TestDriver.open_default(), False)
    listall = dispatch.plan(protocol.REMOTE.procedure("CONNECT_LIST_ALL_DOMAINS"))
    assert listall.run(conn, {"need_results": 0, "flags": 0}, False) == {"domains": [],
                                                                          "ret": 1}
    got = listall.run(conn, {"need_results": 1, "flags": 0}, False)
    assert got["ret"] == 1 and got["domains"][0]["name"] == "test"
    names = dispatch.plan(protocol.REMOTE.procedure("CONNECT_LIST_DEFINED_DOMAINS"))
    assert names.run(conn, {"maxnames": 0}, False) == {"names": []}
    info = dispatch.plan(protocol.REMOTE.procedure("NODE_GET_INFO")).run(conn, None, False)
    assert info["memory"] == 3 * 1024 * 1024 and len(info["model"]) == 32
