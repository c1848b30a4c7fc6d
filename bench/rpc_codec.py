#!/usr/bin/env python3
"""Benchmark: encode + decode of representative RPC messages with pyvirt.rpc.

For each message (a whole frame: header, body, length word) it measures building the frame
from Python values and decoding it back (frame reader + body), with the codec's three modes:
closures only (what a short-lived client runs), compiled (what a busy daemon runs after a
procedure's first few dozen calls) and the default tiered codec. A measurement, not a test:
it never fails on a slow figure.

Messages: DOMAIN_LOOKUP_BY_NAME reply, DOMAIN_GET_INFO call and reply,
CONNECT_LIST_ALL_DOMAINS reply with 100 domains, a typed-parameter reply (16 parameters).

Usage: bench/rpc_codec.py [--seconds S]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from pyvirt.rpc import message, protocol, xdr  # noqa: E402

UUID = bytes.fromhex("6695eb01f6a4830479aa97f2502e193f")
DOM = {"name": "test", "uuid": UUID, "id": 1}


def cases() -> list[tuple[str, str, str, object]]:
    doms = [{"name": f"guest-{i:03d}", "uuid": bytes([i]) * 16, "id": i} for i in range(100)]
    params = [{"field": f"param_{i}", "value": {"type": 4, "ul": i * 1000}} for i in range(15)]
    params.append({"field": "name", "value": {"type": 7, "s": "a string parameter"}})
    return [
        ("lookupByName reply", "DOMAIN_LOOKUP_BY_NAME", "reply", {"dom": DOM}),
        ("getInfo call", "DOMAIN_GET_INFO", "call", {"dom": DOM}),
        ("getInfo reply", "DOMAIN_GET_INFO", "reply",
         {"state": 1, "maxMem": 8388608, "memory": 2097152, "nrVirtCpu": 2,
          "cpuTime": 1152921504606846976}),
        ("listAllDomains reply, 100 domains", "CONNECT_LIST_ALL_DOMAINS", "reply",
         {"domains": doms, "ret": 100}),
        ("typed params reply, 16 params", "DOMAIN_GET_MEMORY_PARAMETERS", "reply",
         {"params": params, "nparams": 16}),
    ]


def measure(proc: protocol.Procedure, kind: str, value: object, seconds: float) -> tuple[
        float, float, int]:
    """(encode µs, decode µs, frame bytes) per message."""
    build = proc.call if kind == "call" else proc.reply
    codec = proc.args if kind == "call" else proc.ret
    assert codec is not None
    frame = build(7, value)
    reader = message.FrameReader()

    def rate(fn: object) -> float:
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            for _ in range(200):
                fn()  # type: ignore[operator]
            count += 200
            now = time.perf_counter()
            if now >= deadline:
                return (now - start) / count * 1e6

    def encode() -> None:
        build(7, value)

    def decode() -> None:
        (msg,) = reader.feed(frame)
        codec.decode_from(msg.payload)

    for _ in range(100):  # warm up (and let the tiered codec compile)
        encode()
        decode()
    return rate(encode), rate(decode), len(frame)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args()
    modes = (("closures", None), ("compiled", 0), ("tiered", xdr.Codec.COMPILE_AFTER))
    print(f"{'message':38} {'bytes':>6}  " + "  ".join(
        f"{name + ' enc/dec µs':>22}" for name, _ in modes))
    for label, proc_name, kind, value in cases():
        figures = []
        size = 0
        for _, after in modes:
            xdr.TypeTable.compile_after = after
            protocol._tables.clear()
            protocol._programs.clear()
            remote = protocol.program("REMOTE")
            assert remote is not None
            enc, dec, size = measure(remote.procedure(proc_name), kind, value, args.seconds)
            figures.append(f"{enc:10.2f} /{dec:10.2f}")
        print(f"{label:38} {size:6d}  " + "  ".join(f"{f:>22}" for f in figures))
    # Building a codec: what the first use of a procedure costs.
    xdr.TypeTable.compile_after = None
    start = time.perf_counter()
    table = protocol.tables("remote")
    for name in table.types:
        xdr.TypeTable(table.types).codec(name)
    closures = (time.perf_counter() - start) / len(table.types) * 1e6
    start = time.perf_counter()
    sample = list(table.types)[:100]
    for name in sample:
        xdr._Compiler(table).decoder(name, name)
        xdr._Compiler(table).encoder(name, name)
    compiled = (time.perf_counter() - start) / len(sample) * 1e6
    print(f"building a codec: closures {closures:.0f} µs, compiled {compiled:.0f} µs "
          f"(per type, both directions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
