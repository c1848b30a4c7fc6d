"""Golden vectors: every frame captured between virsh / libvirt-python and libvirtd 9.0
(shared/vectors/rpc/*.jsonl) decodes to the recorded header and body and re-encodes to the
identical bytes, with each codec tier.

Explained exceptions (counted, not failures):
* frames marked ``body_malformed`` (raw_client_errors: a CONNECT_OPEN with a cut-off name,
  and one with no arguments at all sent as program version 2): the header round-trips, the
  body must fail to decode;
* calls to a procedure or program libvirt does not have (raw_client_errors: proc 9999,
  prog 0x12345678): the header round-trips, there is no body type to decode with.
Stream data (body type ``raw``) is compared byte for byte like everything else.
"""

from __future__ import annotations

import json

import pytest

from pyvirt.rpc import message, protocol
from pyvirt.rpc.xdr import TypeTable, XDRError
from shared_data import RPC_VECTORS

VECTORS = RPC_VECTORS
MODES = {"closures": None, "compiled": 0, "tiered": TypeTable.compile_after}


def jsonable(value: object) -> object:
    """The vectors' JSON form of a decoded value (opaque as lowercase hex)."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def load() -> list[tuple[str, dict]]:
    records = []
    for path in sorted(VECTORS.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                records.append((path.stem, json.loads(line)))
    return records


def reencode(msg: message.Message, body_type: str, body: object) -> bytes:
    if body_type == "raw":
        payload = body
    elif body_type == "void":
        payload = b""
    elif body_type == "remote_error":
        payload = message.error_codec().encode(body)
    elif body_type == "virNetStreamHole":
        payload = message.hole_codec().encode(body)
    else:
        prog = protocol.program(msg.prog)
        assert prog is not None
        payload = prog.codec(body_type).encode(body)
    nfds = msg.nfds if msg.type in message.WITH_FDS else None
    return message.encode_frame(*msg.header, payload, nfds)  # type: ignore[arg-type]


def check(name: str, rec: dict) -> str:
    """'ok', or the reason an explained exception applies; raises on a real failure."""
    frame = bytes.fromhex(rec["hex"])
    d = rec["decoded"]
    msg = message.decode_frame(frame)
    assert msg.header == (d["prog"], d["vers"], d["proc"], d["type"], d["serial"], d["status"])
    assert d["len"] == len(frame)
    assert msg.encode() == frame
    proc = protocol.lookup(msg.prog, msg.proc)
    if d.get("proc_name") is not None:
        assert proc is not None and proc.const_name == d["proc_name"]
    if d.get("body_malformed"):
        with pytest.raises(XDRError):
            protocol.decode_body(msg)
        return "deliberately malformed body"
    if proc is None and d["body_type"] == "void" and msg.type == message.CALL:
        return "unknown program or procedure"
    body_type, body = protocol.decode_body(msg)
    assert body_type == d["body_type"]
    if body_type == "raw":
        assert len(body) == d["body_len"]
    else:
        assert jsonable(body) == d.get("body")
    assert reencode(msg, body_type, body) == frame
    return "ok"


@pytest.mark.skipif(not VECTORS.is_dir(), reason="shared/vectors/rpc is not present")
@pytest.mark.parametrize("mode", list(MODES))
def test_every_vector_round_trips(mode: str) -> None:
    old = TypeTable.compile_after
    TypeTable.compile_after = MODES[mode]
    protocol._tables.clear()
    protocol._programs.clear()
    message._codecs.clear()
    try:
        decoded = 0
        failed: list[str] = []
        explained: dict[str, int] = {}
        for name, rec in load():
            try:
                outcome = check(name, rec)
            except (AssertionError, XDRError, KeyError) as exc:
                failed.append(f"{name}: {rec['decoded'].get('proc_name')}: {exc!r}"[:300])
                continue
            decoded += 1
            if outcome != "ok":
                explained[outcome] = explained.get(outcome, 0) + 1
        print(f"\nrpc-vectors ({mode}): {decoded} decoded, {len(failed)} failed; explained: "
              + ", ".join(f"{n} {reason}" for reason, n in sorted(explained.items())))
        assert not failed, "\n".join(failed)
        assert decoded > 1000
        assert explained == {"deliberately malformed body": 2,
                             "unknown program or procedure": 2}
    finally:
        TypeTable.compile_after = old
        protocol._tables.clear()
        protocol._programs.clear()
        message._codecs.clear()


@pytest.mark.skipif(not VECTORS.is_dir(), reason="shared/vectors/rpc is not present")
def test_frame_reader_splits_a_whole_conversation() -> None:
    """Each file's frames of one direction, concatenated and fed in odd-sized pieces, come
    back as the same messages."""
    for path in sorted(VECTORS.glob("*.jsonl")):
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for direction in ("c2s", "s2c"):
            frames = [bytes.fromhex(r["hex"]) for r in records if r["dir"] == direction]
            stream = b"".join(frames)
            reader = message.FrameReader()
            got: list[message.Message] = []
            for start in range(0, len(stream), 1000):
                got += reader.feed(stream[start:start + 1000])
            reader.close()
            assert [m.encode() for m in got] == frames, path.name
