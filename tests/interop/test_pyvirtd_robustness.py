"""A pyvirtd process under abuse while real libvirt-python keeps using it: garbage,
truncated and oversized frames, wrong programs and versions, unknown procedures, thousands
of random frames, clients that vanish mid-call or flood without reading. The daemon must
answer as libvirtd does (vector raw_client_errors), never crash or stall, and the
well-behaved client must not see a single error."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.rpc import message as m
from pyvirt.rpc import protocol
from unit.daemon.support import VECTORS, Pyvirtd, RawClient, error_of

PYTHON = "/usr/bin/python3"
REMOTE = protocol.REMOTE

pytestmark = [pytest.mark.interop,
              pytest.mark.skipif(not os.access(PYTHON, os.X_OK), reason="no /usr/bin/python3")]

WELL_BEHAVED = """
import json, sys, time, libvirt
c = libvirt.open(sys.argv[1])
calls = errors = 0
deadline = time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        d = c.lookupByName("test")
        assert d.info()[0] == 1
        c.listAllDomains()
        calls += 3
    except Exception as e:
        errors += 1
        print(repr(e), file=sys.stderr)
print(json.dumps([calls, errors]))
"""


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Pyvirtd]:
    with Pyvirtd(tmp_path) as d:
        yield d
    log = d.log_text()
    assert "Traceback" not in log, log


def _abuse(d: Pyvirtd, fifo: Path, stop: threading.Event, failures: list[str]) -> None:
    rng = random.Random(11)
    procs = list(REMOTE.procedures.values())
    open_call = REMOTE.procedure("CONNECT_OPEN").call(0, {"name": "test:///default",
                                                          "flags": 0})
    rounds = 0
    while not stop.is_set() or rounds < 3:
        rounds += 1
        try:
            # garbage, then fatal length words
            for data in (bytes(rng.randrange(256) for _ in range(300)), b"\xff" * 8,
                         (m.FRAME_MAX + 1).to_bytes(4, "big"), b"\0\0\0\x03"):
                with RawClient(d.rw, timeout=5) as c:
                    c.send(data)
            # truncated frames, dropped half-way
            for cut in (1, 5, 27, len(open_call) - 1):
                with RawClient(d.rw) as c:
                    c.send(open_call[:cut])
            # wrong program / version / unknown procedure: libvirtd's answers
            with RawClient(d.rw) as c:
                c.open()
                for prog, vers, proc, text in (
                        (0x12345678, 1, 1, "Cannot find program 305419896 version 1"),
                        (REMOTE.number, 2, 1, "Cannot find program 536903814 version 2"),
                        (REMOTE.number, 1, 9999, "unknown procedure: 9999")):
                    c.send(m.encode_frame(prog, vers, proc, m.CALL, 5, m.OK, b""))
                    if error_of(c.reply(5))["message"] != text:
                        failures.append(text)
            # random frames
            with RawClient(d.rw, timeout=5) as c:
                for _ in range(300):
                    proc = rng.choice(procs)
                    payload = bytes(rng.randrange(256) for _ in range(rng.randrange(60)))
                    c.send(m.encode_frame(rng.choice((REMOTE.number, 0x20008087)), 1,
                                          proc.number, rng.choice((0, 0, 2, 3)),
                                          rng.randrange(1 << 31), rng.choice((0, 2)),
                                          payload))
            # a client gone in the middle of a call stuck in the driver
            c = RawClient(d.rw).open()
            c.send(REMOTE.procedure("DOMAIN_SAVE_IMAGE_GET_XML_DESC").call(
                7, {"file": str(fifo), "flags": 0}))
            time.sleep(0.05)
            c.close()
            fd = os.open(fifo, os.O_WRONLY)
            os.write(fd, b"junk")
            os.close(fd)
        except (OSError, EOFError):
            pass
        except Exception as exc:  # noqa: BLE001
            failures.append(repr(exc))


def test_abuse_while_a_real_client_works(daemon: Pyvirtd, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    good = subprocess.Popen([PYTHON, "-c", textwrap.dedent(WELL_BEHAVED), daemon.uri(), "8"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stop = threading.Event()
    failures: list[str] = []
    abusers = [threading.Thread(target=_abuse, args=(daemon, fifo, stop, failures))]
    for t in abusers:
        t.start()
    out, err = good.communicate(timeout=60)
    stop.set()
    for t in abusers:
        t.join(60)
    calls, errors = json.loads(out)
    assert errors == 0, err
    assert calls > 100
    assert failures == []
    assert daemon.alive()
    with RawClient(daemon.rw).open() as c:
        assert c.result("CONNECT_GET_TYPE") == {"type": "TEST"}


def test_raw_client_errors_vector(daemon: Pyvirtd, tmp_path: Path) -> None:
    """libvirtd's exact answers, from the pyvirtd process (polkit socket as captured)."""
    with Pyvirtd(tmp_path / "polkit", config='auth_unix_rw = "polkit"\n') as d, \
            RawClient(d.rw) as client:
        records = [json.loads(line) for line in
                   (VECTORS / "raw_client_errors.jsonl").read_text().splitlines()]
        replies = {(r["decoded"]["serial"], r["decoded"]["proc"]): bytes.fromhex(r["hex"])
                   for r in records if r["dir"] == "s2c"}
        for rec in records:
            if rec["dir"] != "c2s":
                continue
            client.send(bytes.fromhex(rec["hex"]))
            key = (rec["decoded"]["serial"], rec["decoded"]["proc"])
            if key not in replies:
                continue
            got = client.reply(key[0])
            if rec["decoded"]["proc_name"] == "REMOTE_PROC_CONNECT_GET_HOSTNAME" and \
                    got.status == m.OK:
                continue
            assert got.encode() == replies[key]


def test_flooding_client_is_bounded(daemon: Pyvirtd) -> None:
    """A client that sends calls and never reads: the daemon stops reading it (its
    replies wait in a bounded buffer), and others are served meanwhile."""
    flood = socket.socket(socket.AF_UNIX)
    flood.connect(daemon.rw)
    flood.setblocking(False)
    call = REMOTE.procedure("CONNECT_GET_CAPABILITIES").call(1)
    frames = REMOTE.procedure("AUTH_LIST").call(0) + REMOTE.procedure("CONNECT_OPEN").call(
        0, {"name": "test:///default", "flags": 0})
    sent = 0
    flood.sendall(frames)
    deadline = time.monotonic() + 10
    blocked = False
    while time.monotonic() < deadline:
        try:
            sent += flood.send(call * 100)
        except BlockingIOError:
            blocked = True        # the daemon stopped reading us
            break
    assert blocked
    with RawClient(daemon.rw).open() as other:
        for _ in range(20):
            assert other.result("DOMAIN_LOOKUP_BY_NAME", {"name": "test"})
    rss_kib = int(next(line.split()[1] for line in
                       Path(f"/proc/{daemon.proc.pid}/status").read_text().splitlines()
                       if line.startswith("VmRSS:")))   # type: ignore[union-attr]
    assert rss_kib < 400 * 1024
    flood.close()
    assert daemon.alive()
