"""The table-driven stubs: every procedure yields a driver method, each method takes the
arguments pyvirt's API layer passes it, the adaptation table names real procedures and
fields, conversions round-trip, and every event message becomes the right event record."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from pyvirt.drivers.remote import convert as cv
from pyvirt.drivers.remote import events as ev
from pyvirt.drivers.remote import stubs
from pyvirt.drivers.remote.driver import RemoteDriver
from pyvirt.events.types import event_class
from pyvirt.rpc import protocol

API = Path(stubs.__file__).resolve().parents[2] / "api"
# Entry points RemoteDriver implements itself, and those that pass file descriptors
# (no FD passing yet) or compose other calls (client-side migration).
EXPLICIT = {name for name, value in vars(RemoteDriver).items() if callable(value)}
NOT_STUBS = {"connectOpen", "connectClose", "connectSupportsFeature"}


def api_calls() -> dict[str, int]:
    """Driver method -> number of arguments pyvirt's API layer passes (handle included)."""
    calls: dict[str, int] = {}
    for path in API.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Attribute)
                    and node.func.value.attr == "_drv"):
                calls[node.func.attr] = len(node.args)
    return calls


def procedures() -> list[Any]:
    out = []
    for name in ("REMOTE", "QEMU", "LXC"):
        prog = protocol.program(name)
        assert prog is not None
        out += [p for p in prog.procedures.values() if p.method and not p.is_event]
    return out


def test_every_procedure_has_a_stub() -> None:
    missing = []
    for proc in procedures():
        method = proc.method
        if method in EXPLICIT or method in NOT_STUBS:
            continue
        stub = stubs.build(method)
        if stub is None and proc.fds is None and proc.stream is None:
            missing.append(method)
    assert not missing


def test_stub_arity_matches_the_api_layer() -> None:
    wrong = []
    for method, nargs in sorted(api_calls().items()):
        adapt = stubs.ADAPT.get(method)
        if method in EXPLICIT or (adapt is not None and adapt.custom):
            continue
        proc = stubs.procedure_for(method, adapt)
        if proc is None or proc.fds is not None:
            continue
        plan = stubs.Plan(method, proc, adapt)
        if plan.arity != nargs:
            wrong.append(f"{method}: API passes {nargs}, the stub takes {plan.arity}")
    assert not wrong, "\n".join(wrong)


def test_adaptation_table_names_real_things() -> None:
    for method, adapt in stubs.ADAPT.items():
        if adapt.custom:
            from pyvirt.drivers.remote import custom

            assert callable(getattr(custom, adapt.custom))
            continue
        proc = stubs.procedure_for(method, adapt)
        assert proc is not None, method
        fields = {n for n, _ in stubs.struct_fields(proc, proc.args_type)}
        assert set(adapt.fill) <= fields, method
        for other in (adapt.count, adapt.types_from):
            assert other is None or stubs.build(other) is not None, (method, other)


def test_unknown_method_is_not_supported() -> None:
    assert stubs.build("domainNoSuchThing") is None


def test_typed_params_round_trip() -> None:
    wire = [{"field": "weight", "value": {"type": cv.UINT, "ui": 50}},
            {"field": "on", "value": {"type": cv.BOOLEAN, "b": 1}},
            {"field": "name", "value": {"type": cv.STRING, "s": "x"}}]
    as_dict = cv.params_from_wire(wire)
    assert as_dict == {"weight": 50, "on": True, "name": "x"}
    assert cv.params_to_wire(as_dict, cv.param_types(wire)) == wire
    # fixed types for the calls without a getter, Python types for the rest
    assert cv.params_to_wire({"bandwidth": 5, "x": -1, "y": 1.5}) == [
        {"field": "bandwidth", "value": {"type": cv.ULLONG, "ul": 5}},
        {"field": "x", "value": {"type": cv.LLONG, "l": -1}},
        {"field": "y", "value": {"type": cv.DOUBLE, "d": 1.5}}]
    with pytest.raises(Exception, match="not supported"):
        cv.params_to_wire({"nope": 1}, {"weight": cv.UINT})


def test_char_arrays_and_cpumaps() -> None:
    assert cv.chars_to_str([116, 101, 115, 116, 0, 0]) == "test"
    assert cv.chars_to_str([0]) == ""
    assert cv.cpumap_to_bytes((True, False, True, False, False, False, False, False, True)) == \
        b"\x05\x01"
    assert cv.cpumap_bools(b"\x05\x01", 0, 2, 9) == (True, False, True, False, False, False,
                                                     False, False, True)
    assert cv.maplen(9) == 2


def sample(prog: Any, spec: Any) -> Any:
    """Some value of an XDR type spec (for building message bodies)."""
    if isinstance(spec, str):
        if spec in ("int", "uint", "hyper", "uhyper", "char", "uchar", "short", "ushort"):
            return 1
        if spec == "double":
            return 1.0
        types = prog.module.TYPES
        if spec not in types:
            types = protocol.REMOTE.module.TYPES
        spec = types[spec]
        kind = spec[0]
        if kind == "string":
            return "s"
        if kind == "fixed_opaque":
            return bytes(spec[1])
        if kind == "optional":
            return None
        if kind == "enum":
            return spec[1][0][1]
        if kind == "union":
            return {"type": 2, "ui": 1}
        if kind == "struct":
            return {n: sample(prog, t) for n, t in spec[1]}
    head = spec[0]
    if head in ("array",):
        return [sample(prog, spec[1])]
    if head == "fixed_array":
        return [sample(prog, spec[1])] * spec[2]
    if head == "opaque":
        return b"x"
    raise AssertionError(spec)


@pytest.mark.parametrize("proc_name", sorted(ev.EVENT_PROCS))
def test_every_event_message_decodes(proc_name: str) -> None:
    proc = protocol.REMOTE.procedure(proc_name)
    body = sample(protocol.REMOTE, proc.msg_type)
    frame_body = proc.decode_msg(proc.encode_msg(body))
    remote_id, event = ev.decode(proc_name, frame_body)  # type: ignore[misc]
    family, event_id = ev.EVENT_PROCS[proc_name]
    assert type(event) is event_class(family, event_id)
    assert remote_id == (1 if "callbackID" in body else -1)
    event.callback_args(_FakeConn())     # what a callback would get builds


class _FakeConn:
    def __getattr__(self, name: str) -> Any:
        return lambda *args: (name, args)
