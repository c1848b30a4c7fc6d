"""QEMU driver benchmark: pyvirt beside real libvirt's QEMU driver, same guest XML, same host.

For each implementation, N rounds of: createXML (API call until it returns with the guest
running), time from that call to the guest's serial banner, suspend+resume pairs (once the
guest has settled for a second after its banner), destroy of the running guest. Both run
their driver in-process on ``qemu:///embed?root=DIR`` (real libvirt through
/usr/bin/python3's libvirt module, when installed). The floor for the banner:
the same guest from a bare qemu-system-x86_64 command line.

Usage: python bench/qemu_lifecycle.py [-n ROUNDS] [--pairs N]
(``--impl pyvirt|libvirt|bare`` runs one side and prints JSON; the default runs all three.)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MARKER = b"PYVIRT-GUEST-READY"
QEMU = "/usr/bin/qemu-system-x86_64"
SETTLE_SECONDS = 1.0

# The guest the floor (bare QEMU, below) also runs: serial console only, no default USB
# controller or balloon, so that the three columns boot the same machine.
XML = """<domain type='qemu'>
  <name>bench</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 quiet</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <devices>
    <emulator>{qemu}</emulator>
    <controller type='usb' model='none'/>
    <serial type='file'><source path='{log}'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
"""


def guest_files() -> tuple[str, str]:
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "build-test-guest.py")],
                         check=True, capture_output=True, text=True).stdout
    paths = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return paths["kernel"], paths["initrd"]


def wait_marker(log: Path, t0: float, timeout: float = 120.0) -> float:
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        try:
            if MARKER in log.read_bytes():
                return time.perf_counter() - t0
        except FileNotFoundError:
            pass
        time.sleep(0.002)
    raise TimeoutError("no banner")


def run_api(impl: str, rounds: int, pairs: int, kernel: str, initrd: str) -> dict[str, list[float]]:
    if impl == "pyvirt":
        sys.path.insert(0, str(REPO / "src"))
        import pyvirt as lv
    else:
        import libvirt as lv  # type: ignore[no-redef]
    lv.virEventRegisterDefaultImpl()

    def loop() -> None:
        while True:
            lv.virEventRunDefaultImpl()

    threading.Thread(target=loop, daemon=True).start()
    out: dict[str, list[float]] = {"create": [], "banner": [], "suspend_resume": [],
                                   "destroy": []}
    with tempfile.TemporaryDirectory(prefix=f"bench-{impl}-") as tmp:
        root = Path(tmp) / "root"
        conn = lv.open(f"qemu:///embed?root={root}")
        for i in range(rounds + 1):  # round 0 warms caches (capabilities probe)
            log = Path(tmp) / f"serial{i}.log"
            xml = XML.format(kernel=kernel, initrd=initrd, qemu=QEMU, log=log)
            t0 = time.perf_counter()
            dom = conn.createXML(xml, 0)
            created = time.perf_counter() - t0
            banner = wait_marker(log, t0)
            # The guest's init is still busy right after its banner: let it settle, so
            # that the pairs time the monitor round trips of a running guest, not its boot.
            time.sleep(SETTLE_SECONDS)
            t1 = time.perf_counter()
            for _ in range(pairs):
                dom.suspend()
                dom.resume()
            pair = (time.perf_counter() - t1) / pairs
            t2 = time.perf_counter()
            dom.destroy()
            destroyed = time.perf_counter() - t2
            if i:
                out["create"].append(created)
                out["banner"].append(banner)
                out["suspend_resume"].append(pair)
                out["destroy"].append(destroyed)
        conn.close()
    return out


def run_bare(rounds: int, kernel: str, initrd: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"banner": []}
    with tempfile.TemporaryDirectory(prefix="bench-bare-") as tmp:
        for i in range(rounds + 1):
            log = Path(tmp) / f"serial{i}.log"
            t0 = time.perf_counter()
            proc = subprocess.Popen([QEMU, "-machine", "pc,accel=tcg", "-m", "256",
                                     "-nodefaults", "-display", "none",
                                     "-chardev", f"file,id=s0,path={log}",
                                     "-device", "isa-serial,chardev=s0",
                                     "-kernel", kernel, "-initrd", initrd,
                                     "-append", "console=ttyS0 quiet"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                banner = wait_marker(log, t0)
            finally:
                proc.kill()
                proc.wait()
            if i:
                out["banner"].append(banner)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--rounds", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=50)
    ap.add_argument("--impl", choices=("pyvirt", "libvirt", "bare"))
    ap.add_argument("--kernel")
    ap.add_argument("--initrd")
    opts = ap.parse_args()
    kernel, initrd = (opts.kernel, opts.initrd) if opts.kernel else guest_files()
    if opts.impl == "bare":
        print(json.dumps(run_bare(opts.rounds, kernel, initrd)))
        return 0
    if opts.impl:
        print(json.dumps(run_api(opts.impl, opts.rounds, opts.pairs, kernel, initrd)))
        return 0

    venv_python = REPO / ".venv" / "bin" / "python"
    sides = {"pyvirt": [str(venv_python if venv_python.exists() else sys.executable)],
             "bare QEMU": [sys.executable]}
    system_python = shutil.which("python3", path="/usr/bin")
    if system_python and subprocess.run([system_python, "-c", "import libvirt"],
                                        capture_output=True).returncode == 0:
        sides["libvirt 9.0"] = [system_python]
    results: dict[str, dict[str, list[float]]] = {}
    shared = tempfile.mkdtemp(prefix="bench-guest-")
    os.chmod(shared, 0o755)
    if os.geteuid() == 0:
        os.chown(shared, 65534, 65534)  # libvirt's side runs as nobody (below)
    for src in (kernel, initrd):
        shutil.copy(src, shared)
        os.chmod(os.path.join(shared, os.path.basename(src)), 0o644)
    files = ["--kernel", os.path.join(shared, os.path.basename(kernel)),
             "--initrd", os.path.join(shared, os.path.basename(initrd))]
    # The sides take turns, one round each, so that a drift in the machine's speed (TCG
    # boot times swing by a tenth between minutes here) hits them alike.
    for _ in range(opts.rounds):
        for label, python in sides.items():
            impl = {"pyvirt": "pyvirt", "bare QEMU": "bare", "libvirt 9.0": "libvirt"}[label]
            prefix: list[str] = []
            env = dict(os.environ)
            if impl == "libvirt" and os.geteuid() == 0:
                # libvirt's embedded driver as root wants its packaged "libvirt-qemu" user;
                # as an unprivileged user (nobody) it runs QEMU as that user, like pyvirt as
                # root.
                prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
                env.update(HOME=shared, XDG_RUNTIME_DIR=shared, XDG_CACHE_HOME=shared,
                           XDG_CONFIG_HOME=shared)
            proc = subprocess.run([*prefix, *python, __file__, "--impl", impl, "-n", "1",
                                   "--pairs", str(opts.pairs), *files],
                                  capture_output=True, text=True, env=env, cwd="/")
            if proc.returncode != 0:
                print(f"{label}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            got = json.loads(proc.stdout.strip().splitlines()[-1])
            for key, values in got.items():
                results.setdefault(label, {}).setdefault(key, []).extend(values)
    shutil.rmtree(shared, ignore_errors=True)
    print(f"rounds: {opts.rounds}, suspend+resume pairs per round: {opts.pairs} "
          "(median of rounds, milliseconds)")
    labels = [label for label in sides if label in results]
    print(f"{'':24}" + "".join(f"{label:>14}" for label in labels))
    for key, title in (("create", "createXML"), ("banner", "serial banner"),
                       ("suspend_resume", "suspend+resume pair"), ("destroy", "destroy")):
        cells = []
        for label in labels:
            values = results[label].get(key)
            cells.append(f"{statistics.median(values) * 1000:>14.2f}" if values
                         else f"{'-':>14}")
        print(f"{title:24}" + "".join(cells))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
