"""Keepalive: PING answered with PONG; the daemon pings a client that asked for keepalive
and drops it when it stops answering (vectors keepalive_client / keepalive_server)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from pyvirt.rpc import message as m
from unit.daemon.support import VECTORS, InProcessDaemon, RawClient


def _frames(name: str) -> tuple[bytes, bytes]:
    ping = pong = b""
    for line in (VECTORS / f"{name}.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["decoded"]["proc_name"] == "KEEPALIVE_PROC_PING":
            ping = bytes.fromhex(rec["hex"])
        elif rec["decoded"]["proc_name"] == "KEEPALIVE_PROC_PONG":
            pong = bytes.fromhex(rec["hex"])
    return ping, pong


def test_ping_gets_pong(daemon: InProcessDaemon) -> None:
    ping, pong = _frames("keepalive_client")
    with RawClient(daemon.rw) as client:
        client.send(ping)
        assert client.recv().encode() == pong
        client.open()   # before and after open alike
        client.send(ping)
        assert client.recv().encode() == pong


def test_daemon_pings_then_drops_silent_client(tmp_path: Path) -> None:
    ping, pong = _frames("keepalive_server")
    with InProcessDaemon(tmp_path, keepalive_interval=1, keepalive_count=2) as d:
        with RawClient(d.rw) as quiet:
            # No feature probe: never pinged.
            quiet.open()
            quiet.sock.settimeout(1.5)
            try:
                quiet.recv()
                raise AssertionError("pinged without asking for keepalive")
            except TimeoutError:
                pass
        with RawClient(d.rw) as client:
            client.result("AUTH_LIST")
            assert client.result("CONNECT_SUPPORTS_FEATURE", {"feature": 10}) == {
                "supported": 1}
            client.result("CONNECT_OPEN", {"name": "test:///default", "flags": 0})
            start = time.monotonic()
            msg = client.recv()
            assert msg.encode() == ping
            assert 0.8 <= time.monotonic() - start <= 2.5
            client.send(pong)                      # alive: the count starts again
            assert client.recv().encode() == ping
            # Now silent: two more PINGs, then the daemon hangs up.
            assert client.recv().encode() == ping
            assert client.closed_by_peer(timeout=5)


def test_keepalive_disabled_by_interval(tmp_path: Path) -> None:
    with InProcessDaemon(tmp_path, keepalive_interval=-1) as d, RawClient(d.rw) as client:
        assert client.result("CONNECT_SUPPORTS_FEATURE", {"feature": 10}) == {"supported": 1}
        client.sock.settimeout(1.5)
        try:
            msg = client.recv()
        except TimeoutError:
            msg = None
        assert msg is None or msg.type != m.MESSAGE
