#!/usr/bin/env python3
"""Storage volumes: clone of a 1 GiB sparse qcow2 (with 64 MiB of data in it) and
upload/download throughput of a 256 MiB raw volume, pyvirt's storage driver
(qemu:///embed, in the calling process), the same driver behind pyvirtd, and real
libvirt's (a private libvirtd, run as 'nobody' in session mode with everything in a
temporary directory); both daemons are driven by libvirt-python in /usr/bin/python3.

    .venv/bin/python bench/storage_volumes.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MiB = 1024 * 1024
TRANSFER = 256 * MiB
LIBVIRTD = "/usr/sbin/libvirtd"
STORAGE_SO = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_storage.so"


def measure(lib: Any, uri: str, workdir: str, rounds: int) -> dict[str, float]:
    """The figures for one implementation (``lib``: pyvirt or libvirt-python)."""
    conn = lib.open(uri)
    pool = conn.storagePoolCreateXML(
        f"<pool type='dir'><name>bench</name><target><path>{workdir}/pool</path></target>"
        "</pool>", lib.VIR_STORAGE_POOL_CREATE_WITH_BUILD)
    try:
        src = pool.createXML("<volume><name>src.qcow2</name><capacity unit='GiB'>1</capacity>"
                             "<target><format type='qcow2'/></target></volume>", 0)
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 64M", src.path()],
                       check=True, capture_output=True)
        pool.refresh(0)
        src = pool.storageVolLookupByName("src.qcow2")
        clone_s = []
        for i in range(rounds):
            start = time.perf_counter()
            vol = pool.createXMLFrom(f"<volume><name>clone{i}.qcow2</name><capacity>0"
                                     "</capacity><target><format type='qcow2'/></target>"
                                     "</volume>", src, 0)
            clone_s.append(time.perf_counter() - start)
            vol.delete(0)
        raw = pool.createXML(f"<volume><name>t.img</name><capacity>{TRANSFER}</capacity>"
                             "</volume>", 0)
        view = memoryview(os.urandom(MiB) * (TRANSFER // MiB))
        pos = 0
        got = 0

        def give(_st: Any, n: int, _o: Any) -> bytes:
            nonlocal pos
            chunk = bytes(view[pos:pos + n])
            pos += len(chunk)
            return chunk

        def take(_st: Any, data: bytes, _o: Any) -> int:
            nonlocal got
            got += len(data)
            return len(data)

        up, down = [], []
        for _ in range(rounds):
            st = conn.newStream(0)
            start = time.perf_counter()
            raw.upload(st, 0, TRANSFER, 0)
            pos = 0
            st.sendAll(give, None)
            st.finish()
            up.append(time.perf_counter() - start)
            got = 0
            st = conn.newStream(0)
            start = time.perf_counter()
            raw.download(st, 0, TRANSFER, 0)
            st.recvAll(take, None)
            st.finish()
            down.append(time.perf_counter() - start)
            assert got == TRANSFER
        return {"clone_s": min(clone_s), "upload_mibs": TRANSFER / MiB / min(up),
                "download_mibs": TRANSFER / MiB / min(down)}
    finally:
        for vol in pool.listAllVolumes(0):
            vol.delete(0)
        pool.destroy()
        conn.close()


def run_peer(uri: str, workdir: str, rounds: int) -> dict[str, float]:
    """The measurement through real libvirt-python (/usr/bin/python3) against ``uri``."""
    out = subprocess.run(["/usr/bin/python3", __file__, "--peer", uri, "--workdir", workdir,
                          "--rounds", str(rounds)], capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_pyvirtd(base: str, rounds: int) -> dict[str, float] | None:
    """The same client (libvirt-python) against pyvirtd's storage driver: both columns
    then cross a daemon's socket (None without libvirt-python)."""
    probe = subprocess.run(["/usr/bin/python3", "-c", "import libvirt"], check=False,
                           capture_output=True)
    if probe.returncode != 0:
        return None
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from peers import Pyvirtd

    daemon = Pyvirtd(Path(base))
    try:
        os.makedirs(os.path.join(base, "work"))
        return run_peer(f"storage+unix:///system?socket={daemon.sock}",
                        os.path.join(base, "work"), rounds)
    finally:
        daemon.stop()


def run_libvirtd(base: str, rounds: int) -> dict[str, float] | None:
    """The same measurement against a private real libvirtd (None when not possible)."""
    if not (os.access(LIBVIRTD, os.X_OK) and os.path.exists(STORAGE_SO)
            and os.path.exists("/usr/bin/python3") and os.geteuid() == 0):
        return None
    probe = subprocess.run(["/usr/bin/python3", "-c", "import libvirt"], check=False,
                           capture_output=True)
    if probe.returncode != 0:
        return None
    for sub in ("drivers", "home", "run", "work"):
        os.makedirs(os.path.join(base, sub))
    os.symlink(STORAGE_SO, os.path.join(base, "drivers", os.path.basename(STORAGE_SO)))
    shutil.chown(base, "nobody")
    for sub in ("drivers", "home", "run", "work"):
        shutil.chown(os.path.join(base, sub), "nobody")
    env = dict(os.environ, HOME=f"{base}/home", XDG_CONFIG_HOME=f"{base}/home/.config",
               XDG_CACHE_HOME=f"{base}/home/.cache", XDG_RUNTIME_DIR=f"{base}/run",
               LIBVIRT_DRIVER_DIR=f"{base}/drivers")
    daemon = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               LIBVIRTD, "--timeout", "600"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = f"{base}/run/libvirt/libvirt-sock"
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(sock):
            if time.monotonic() > deadline or daemon.poll() is not None:
                return None
            time.sleep(0.05)
        return run_peer(f"storage+unix:///session?socket={sock}", f"{base}/work", rounds)
    finally:
        daemon.terminate()
        try:
            daemon.wait(15)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peer", help=argparse.SUPPRESS)  # libvirt-python side (internal)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        import libvirt

        print(json.dumps(measure(libvirt, args.peer, args.workdir, args.rounds)))
        return
    import pyvirt

    with tempfile.TemporaryDirectory(prefix="pyvirt-bench-") as tmp:
        os.chmod(tmp, 0o755)
        ours = measure(pyvirt, f"qemu:///embed?root={tmp}/root", tmp, args.rounds)
        daemon = run_pyvirtd(os.path.join(tmp, "pyvirtd"), args.rounds)
        theirs = run_libvirtd(os.path.join(tmp, "libvirtd"), args.rounds)
    print(f"{'':32} {'pyvirt':>12} {'pyvirtd':>12} {'libvirtd 9.0':>12}")
    rows = (("clone 1 GiB sparse qcow2 (s)", "clone_s", "{:.3f}"),
            (f"upload {TRANSFER // MiB} MiB (MiB/s)", "upload_mibs", "{:.0f}"),
            (f"download {TRANSFER // MiB} MiB (MiB/s)", "download_mibs", "{:.0f}"))
    for label, key, form in rows:
        served = form.format(daemon[key]) if daemon else "n/a"
        peer = form.format(theirs[key]) if theirs else "n/a"
        print(f"{label:32} {form.format(ours[key]):>12} {served:>12} {peer:>12}")
    print("(pyvirt: the driver in the calling process; pyvirtd and libvirtd: the same client, "
          "libvirt-python, through the daemon's unix socket, so transfers cross its RPC)")
    if theirs is None:
        print("(real libvirt: needs root, libvirtd, its storage driver and python3-libvirt)",
              file=sys.stderr)


if __name__ == "__main__":
    main()
