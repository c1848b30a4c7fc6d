"""Real virt-admin 9.0 against pyvirtd's admin socket, side by side with a real libvirtd.

Each command line runs against a private libvirtd and against pyvirtd, both started by the
test with the same settings (sockets in temporary directories, the log written to a file
in each one's base directory); stdout, stderr and the exit status must be the same once
the two base directories are written alike. The lines go in order and change the daemons
as they go (thread pools, client limits, log filters and outputs), so later lines also
check that earlier changes took effect the same way. Then, with a client of each daemon's
read-only socket connected, the client listing, ``client-info`` and ``client-disconnect``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from interop.test_remote_client_libvirtd import LIBVIRTD, Libvirtd
from unit.daemon.support import Pyvirtd

VIRT_ADMIN = shutil.which("virt-admin")
VIRSH = shutil.which("virsh")

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(VIRT_ADMIN is None or not os.access(LIBVIRTD, os.X_OK),
                       reason="needs virt-admin and libvirtd (libvirt-clients, "
                              "libvirt-daemon)"),
]

COMMANDS = [
    "version",
    "srv-list",
    "srv-threadpool-info libvirtd",
    "srv-threadpool-info admin",
    "srv-clients-info libvirtd",
    "srv-clients-info admin",
    "daemon-log-filters",
    "daemon-log-outputs",
    "srv-threadpool-info nope",
    "srv-clients-list nope",
    "client-info admin 99",
    "client-info nope 1",
    "client-disconnect admin 99",
    "client-disconnect nope 1",
    "srv-threadpool-set libvirtd --max-workers 3 --min-workers 2",
    "srv-threadpool-info libvirtd",
    "srv-threadpool-set libvirtd --min-workers 9",
    "srv-threadpool-set libvirtd --max-workers 0",
    "srv-threadpool-set nope --max-workers 4",
    "srv-threadpool-set libvirtd --prio-workers 2",
    "srv-threadpool-set libvirtd --max-workers 30 --min-workers 7",
    "srv-threadpool-info libvirtd",
    "srv-clients-set libvirtd --max-clients 10",
    "srv-clients-set libvirtd --max-clients 30 --max-unauth-clients 25",
    "srv-clients-info libvirtd",
    "srv-clients-set libvirtd --max-unauth-clients 40",
    "srv-clients-set nope --max-clients 10",
    "srv-clients-set admin --max-clients 3",
    "srv-clients-info admin",
    "daemon-log-filters 1:qemu",
    "daemon-log-filters",
    "daemon-log-filters '1:qemu 3:+rpc 4:util'",
    "daemon-log-filters",
    "daemon-log-filters 9:x",
    "daemon-log-filters x",
    "daemon-log-filters 1:+",
    "daemon-log-filters --filters ''",
    "daemon-log-filters",
    "daemon-log-outputs 5:stderr",
    "daemon-log-outputs 1:bogus",
    "daemon-log-outputs 1:stderr:x",
    "daemon-log-outputs 1:file",
    "daemon-log-outputs x",
    "daemon-log-outputs '2:file:BASE/second.log 3:file:BASE/daemon.log 4:stderr'",
    "daemon-log-outputs",
    "server-update-tls libvirtd",
    "server-update-tls admin",
    "server-update-tls nope",
    "daemon-timeout --timeout 0",
]


class Peer:
    """One daemon as virt-admin sees it: its admin socket and base directory."""

    def __init__(self, base: Path, run: Path) -> None:
        self.base = base
        self.run = run

    def admin(self, line: str) -> tuple[int, str, str]:
        uri = f"libvirtd:///system?socket={self.run}/libvirt-admin-sock"
        line = line.replace("BASE", str(self.base))
        proc = subprocess.run(f"{VIRT_ADMIN} -c '{uri}' {line}", shell=True,
                              capture_output=True, text=True, timeout=30)
        return proc.returncode, self.neutral(proc.stdout), self.neutral(proc.stderr)

    def neutral(self, text: str) -> str:
        return text.replace(str(self.run), "RUN").replace(str(self.base), "BASE")


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Peer, Peer]]:
    real = Libvirtd(tmp_path_factory.mktemp("libvirtd"))
    # the same log output in each one's base directory
    real.config.write_text(real.config.read_text().replace(
        "libvirtd.log", "daemon.log"))
    real.start()
    base = tmp_path_factory.mktemp("pyvirtd")
    ours = Pyvirtd(base, config=f'log_outputs = "3:file:{base}/daemon.log"\n')
    try:
        ours.start()
        yield Peer(real.base, real.run), Peer(ours.root, ours.root / "run")
    finally:
        ours.stop()
        real.stop()


def test_commands_match_libvirtd(peers: tuple[Peer, Peer]) -> None:
    real, ours = peers
    mismatches = []
    for line in COMMANDS:
        want, got = real.admin(line), ours.admin(line)
        if line == "srv-list":
            # libvirtd keeps its servers in a hash table with a per-process random seed:
            # their order changes from one run to the next
            want, got = _server_names(want), _server_names(got)
        if want != got and line.startswith("srv-clients-info"):
            # the previous virt-admin's disconnection may still be on its way (either
            # daemon): the count of connected clients settles in a moment
            time.sleep(0.5)
            want, got = real.admin(line), ours.admin(line)
        if want != got:
            mismatches.append(f"{line}\n  libvirtd: {want}\n  pyvirtd:  {got}")
    assert not mismatches, "\n".join(mismatches)
    # both logged to the second file once the outputs named it (a warning or worse)
    for peer in peers:
        assert (peer.base / "second.log").exists()


def _server_names(result: tuple[int, str, str]) -> tuple[int, list[str], str]:
    """srv-list's table as its header and the sorted names (the ids number the rows)."""
    code, out, err = result
    lines = out.splitlines()
    return code, lines[:2] + sorted(line.split()[1] for line in lines[2:] if line.strip()), err


@pytest.mark.skipif(VIRSH is None, reason="needs virsh")
def test_client_listing_info_and_disconnect(peers: tuple[Peer, Peer]) -> None:
    seen = []
    for peer in peers:
        holder = subprocess.Popen(
            [VIRSH, "-c", f"test+unix:///default?socket={peer.run}/libvirt-sock-ro", "event",
             "--all", "--timeout", "20"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            listed = ""
            deadline = time.monotonic() + 15
            while "unix" not in listed and time.monotonic() < deadline:
                time.sleep(0.1)
                _, listed, _ = peer.admin("srv-clients-list libvirtd")
            ids = re.findall(r"^ (\d+) +unix ", listed, re.M)
            assert len(ids) == 1, listed
            stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d{4}"
            listing = re.sub(stamp, "TIME", re.sub(r"^ \d+ ", " ID ", listed, flags=re.M))
            rc, info, err = peer.admin(f"client-info libvirtd {ids[0]}")
            info = re.sub(stamp, "TIME", info.replace(f": {holder.pid}\n", ": PID\n"))
            info = re.sub(r"^id( +): \d+$", r"id\1: ID", info, flags=re.M)
            gone = peer.admin(f"client-disconnect libvirtd {ids[0]}")
            assert holder.wait(15) != 0       # virsh saw its connection dropped
            after = peer.admin("srv-clients-list libvirtd")
            seen.append((listing, rc, info, err, gone[0], gone[2],
                         gone[1].replace(ids[0], "ID"), after))
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait()
    assert seen[0] == seen[1]
    assert "readonly       : yes" in seen[0][2] and "unix_process_id: PID" in seen[0][2]
