"""Fuzzing by hand (seeded, so reproducible): garbage and mutated real frames into the frame
reader and into every procedure's decoders raise only the codec's typed errors (XDRError,
ProtocolError is one), and finish quickly: no hang, no unbounded allocation."""

from __future__ import annotations

import json
import random
import time

from pyvirt.rpc import message, protocol
from pyvirt.rpc.xdr import TypeTable, XDRError
from shared_data import RPC_VECTORS

VECTORS = RPC_VECTORS
SEED = 20240905


def _samples() -> list[bytes]:
    """Real frames when the vectors are there, else a few built here."""
    frames: list[bytes] = []
    if VECTORS.is_dir():
        for path in sorted(VECTORS.glob("*.jsonl")):
            for line in path.read_text().splitlines():
                record = json.loads(line)
                if len(record["hex"]) < 20000:
                    frames.append(bytes.fromhex(record["hex"]))
    remote = protocol.REMOTE
    dom = {"name": "test", "uuid": bytes(16), "id": 1}
    frames.append(remote.procedure("DOMAIN_LOOKUP_BY_NAME").reply(3, {"dom": dom}))
    frames.append(remote.procedure("CONNECT_LIST_ALL_DOMAINS").reply(
        4, {"domains": [dom] * 3, "ret": 3}))
    frames.append(remote.procedure("DOMAIN_GET_SCHEDULER_PARAMETERS").reply(
        5, {"params": [{"field": "weight", "value": {"type": 7, "s": "x"}}]}))
    return frames


def _mutate(rng: random.Random, frame: bytes) -> bytes:
    data = bytearray(frame)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if choice < 0.4 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif choice < 0.6 and len(data) > 4:
            # A length or count field turned huge or odd.
            pos = rng.randrange(0, len(data) - 3) & ~3
            data[pos:pos + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x00\x40\x00\x01",
                                            b"\x7f\xff\xff\xff", b"\x00\x00\x00\x05"])
        elif choice < 0.8:
            del data[rng.randrange(len(data) + 1):]
        else:
            data += rng.randbytes(rng.randint(1, 16))
    return bytes(data)


def _decode_everything(frame: bytes) -> None:
    try:
        msg = message.decode_frame(frame)
    except XDRError:
        msg = message.Message(0x20008086, 1, 1, 0, 0, 0, frame[28:])
    try:
        protocol.decode_body(msg)
    except (XDRError, KeyError):
        pass
    proc = protocol.lookup(msg.prog, msg.proc)
    if proc is not None:
        for codec in (proc.args, proc.ret, proc.msg, message.error_codec()):
            if codec is not None:
                try:
                    codec.decode(msg.payload)
                except XDRError:
                    pass


def test_mutated_frames_raise_only_typed_errors() -> None:
    rng = random.Random(SEED)
    samples = _samples()
    deadline = time.monotonic() + 60
    for i in range(3000):
        frame = _mutate(rng, rng.choice(samples))
        _decode_everything(frame)
        reader = message.FrameReader()
        try:
            for start in range(0, len(frame), 7):
                for msg in reader.feed(frame[start:start + 7]):
                    _decode_everything(msg.encode())
            reader.close()
        except XDRError:
            pass
        assert time.monotonic() < deadline, f"too slow at iteration {i}"


def test_random_bytes_into_every_procedure_decoder() -> None:
    rng = random.Random(SEED + 1)
    old = TypeTable.compile_after
    for mode in (None, 0):
        TypeTable.compile_after = mode
        protocol._tables.clear()
        protocol._programs.clear()
        try:
            for name in ("REMOTE", "QEMU", "LXC", "ADMIN"):
                prog = protocol.program(name)
                assert prog is not None
                for proc in prog.procedures.values():
                    for codec in (proc.args, proc.ret, proc.msg):
                        if codec is None:
                            continue
                        for _ in range(3):
                            garbage = rng.randbytes(rng.choice([0, 3, 4, 8, 17, 64, 300]))
                            try:
                                codec.decode(garbage)
                            except XDRError:
                                pass
        finally:
            TypeTable.compile_after = old
            protocol._tables.clear()
            protocol._programs.clear()


def test_random_byte_stream_into_the_frame_reader() -> None:
    rng = random.Random(SEED + 2)
    for _ in range(500):
        reader = message.FrameReader()
        stream = rng.randbytes(rng.randint(0, 200))
        if rng.random() < 0.5:  # a plausible length word first
            stream = rng.randint(0, 120).to_bytes(4, "big") + stream
        try:
            for start in range(0, len(stream), rng.randint(1, 50)):
                for msg in reader.feed(stream[start:start + 50]):
                    assert len(msg.payload) <= message.PAYLOAD_MAX
            reader.close()
        except XDRError as exc:
            assert isinstance(exc, message.ProtocolError)
