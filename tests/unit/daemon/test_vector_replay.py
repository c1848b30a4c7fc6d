"""virsh and libvirt-python sessions captured against libvirtd 9.0 (shared/vectors/rpc),
replayed against pyvirtd: every reply must decode to the same body libvirtd sent, apart
from values that differ between any two runs (host name, CPU time, domain ids, the UUID
a new domain gets, callback IDs).

The client's frames are sent as captured, except that object UUIDs libvirtd made up
(a defined domain's) are replaced by the ones pyvirtd made up, so that later calls name
the same object."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pyvirt.rpc import message as m
from pyvirt.rpc import protocol
from unit.daemon.support import VECTORS, Pyvirtd, RawClient

# Sessions of one connection to test:///default (the others have their own tests: streams,
# keepalive timing, several connections, qemu:///session, the admin socket).
REPLAYED = ("list_all", "dominfo", "dumpxml", "suspend", "domstate_paused", "resume",
            "domstate", "net_list", "pool_list", "vol_list", "vol_ops", "nodeinfo",
            "capabilities", "define_undefine", "missing_domain", "error_resume_running",
            "python_session", "snapshot", "typed_params", "version_info",
            "qemu_program_error", "readonly_socket", "readonly_socket_server_denial")
# State the capture found: "test" paused by an earlier command, or paused and resumed
# (its state reason is then "unpaused").
PAUSED_BEFORE = {"domstate_paused", "resume"}
RESUMED_BEFORE = {"list_all", "domstate", "typed_params", "readonly_socket",
                  "readonly_socket_server_denial", "snapshot"}
READONLY_SOCKET = {"readonly_socket", "readonly_socket_server_denial"}
VOLATILE = {"hostname", "cpuTime", "id", "callbackID", "cpu_time"}


def jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def normalise(value: Any, uuids: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("<"):
        return re.sub(r"<creationTime>\d+</creationTime>|(<domain [^>]*) id='\d+'", r"\1",
                      value)
    if isinstance(value, dict):
        return {k: None if k in VOLATILE else
                uuids.get(v, v) if k == "uuid" else normalise(v, uuids)
                for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, uuids) for v in value]
    return value


def learn_uuids(want: Any, got: Any, uuids: dict[str, str]) -> None:
    """Pair the UUIDs libvirtd and pyvirtd gave the same object."""
    if isinstance(want, dict) and isinstance(got, dict):
        for k, v in want.items():
            if k == "uuid" and isinstance(v, str) and v != got.get(k):
                uuids[v] = got[k]
            else:
                learn_uuids(v, got.get(k), uuids)
    elif isinstance(want, list) and isinstance(got, list):
        for a, b in zip(want, got):
            learn_uuids(a, b, uuids)


def rewrite_call(frame: bytes, uuids: dict[str, str]) -> bytes:
    msg = m.decode_frame(frame)
    proc = protocol.lookup(msg.prog, msg.proc)
    if not uuids or proc is None or proc.args is None:
        return frame
    args = jsonable(proc.decode_args(msg.payload))
    text = json.dumps(args)
    for old, new in uuids.items():
        text = text.replace(old, new)
    if text == json.dumps(args):
        return frame
    codec = proc.program.types
    value = _unhex(json.loads(text), proc.program.types.lookup(proc.args_type), codec)
    return proc.call(msg.serial, value)


def _unhex(value: Any, spec: Any, table: Any) -> Any:
    """JSON form back to codec values (hex strings of opaque types to bytes)."""
    while isinstance(spec, str):
        try:
            spec = table.lookup(spec)
        except KeyError:
            return value
    kind = spec[0]
    if kind in ("opaque", "fixed_opaque"):
        return bytes.fromhex(value)
    if kind == "optional":
        return None if value is None else _unhex(value, spec[1], table)
    if kind in ("array", "fixed_array"):
        return [_unhex(v, spec[1], table) for v in value]
    if kind == "struct":
        return {name: _unhex(value[name], fspec, table) for name, fspec in spec[1]}
    return value


def records(name: str) -> list[dict[str, Any]]:
    path = VECTORS / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("name", REPLAYED)
def test_replay(name: str, pyvirtd: Pyvirtd) -> None:
    recs = records(name)
    replies = {r["decoded"]["serial"]: r for r in recs
               if r["dir"] == "s2c" and r["decoded"]["type"] == m.REPLY}
    d = pyvirtd
    with RawClient(d.rw).open() as holder:
        dom = holder.result("DOMAIN_LOOKUP_BY_NAME", {"name": "test"})["dom"]
        if name in PAUSED_BEFORE | RESUMED_BEFORE:
            holder.result("DOMAIN_SUSPEND", {"dom": dom})
        if name in RESUMED_BEFORE:
            holder.result("DOMAIN_RESUME", {"dom": dom})
        path = d.ro if name in READONLY_SOCKET else d.rw
        uuids: dict[str, str] = {}
        compared = 0
        with RawClient(path) as client:
            for rec in recs:
                if rec["dir"] != "c2s":
                    continue
                dec = rec["decoded"]
                client.send(rewrite_call(bytes.fromhex(rec["hex"]), uuids))
                if dec["type"] != m.CALL:
                    continue
                want_rec = replies[dec["serial"]]
                got = client.reply(dec["serial"])
                want = want_rec["decoded"]
                assert (got.prog, got.proc, got.status) == (
                    want["prog"], want["proc"], want["status"]), (dec, got, want.get("body"))
                _, body = protocol.decode_body(got)
                got_body = jsonable(body)
                learn_uuids(want.get("body"), got_body, uuids)
                assert normalise(got_body, {}) == normalise(want.get("body"), uuids), dec
                compared += 1
        assert compared == len(replies)
