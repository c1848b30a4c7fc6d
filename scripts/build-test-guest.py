#!/usr/bin/env python3
"""Build the tiny test guest of the QEMU driver's integration tests: a kernel and an initramfs.

    scripts/build-test-guest.py [--force]

Output, in ``${PYVIRT_CACHE:-~/.cache/pyvirt}/guest/``:

``vmlinuz``
    Debian's cloud kernel (``linux-image-cloud-amd64`` resolved to its versioned package).
``initramfs.cpio.gz``
    busybox-static with its applet links, the kernel modules the guest needs (virtio, ACPI
    power button, evdev; dependencies from each module's ``.modinfo``), and an ``/init`` that
    mounts proc/sys/dev, sets the hostname ``pyvirt-guest``, loads the modules, starts
    ``acpid`` (power button -> ``poweroff -f``: what ``virsh shutdown`` relies on), runs
    ``udhcpc`` on eth0 when there is one (prints ``PYVIRT-GUEST-DHCP <ip>`` when bound),
    prints ``PYVIRT-GUEST-READY`` and then keeps a shell (prompt ``pyvirt-guest# ``) on the
    console, forever.
``manifest.json``
    The stamp: a later run with the same recipe (this file's hash) and intact outputs does
    nothing. ``--force`` rebuilds.

Boot it with ``-kernel vmlinuz -initrd initramfs.cpio.gz -append "console=ttyS0 quiet"``.

Packages are fetched with ``apt-get download`` into a temporary directory and unpacked with
``dpkg-deb -x``; nothing is installed on the host. ``apt-get update`` runs only when a
download fails for want of (fresh) package lists. Concurrent runs serialise on a lock file.
The last two lines on stdout are ``kernel: PATH`` and ``initrd: PATH``.
"""

from __future__ import annotations

import argparse
import fcntl
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

KERNEL_META_PACKAGE = "linux-image-cloud-amd64"
BUSYBOX_PACKAGE = "busybox-static"
HOSTNAME = "pyvirt-guest"
READY_MARKER = "PYVIRT-GUEST-READY"
TICK_MARKER = "PYVIRT-TICK"
DHCP_MARKER = "PYVIRT-GUEST-DHCP"
PROMPT = "pyvirt-guest# "

# Drivers the guest may need, with the kernel config symbol that builds them. Built-in (=y)
# and absent ones are skipped; modules (=m) go into the initramfs with their dependencies.
WANTED_MODULES: tuple[tuple[str, str], ...] = (
    ("virtio_pci", "CONFIG_VIRTIO_PCI"),
    ("virtio_net", "CONFIG_VIRTIO_NET"),
    ("virtio_blk", "CONFIG_VIRTIO_BLK"),
    ("virtio_scsi", "CONFIG_SCSI_VIRTIO"),
    ("sd_mod", "CONFIG_BLK_DEV_SD"),
    ("virtio_console", "CONFIG_VIRTIO_CONSOLE"),
    ("virtio_balloon", "CONFIG_VIRTIO_BALLOON"),
    ("virtio_rng", "CONFIG_HW_RANDOM_VIRTIO"),
    ("button", "CONFIG_ACPI_BUTTON"),  # ACPI power button -> input event
    ("evdev", "CONFIG_INPUT_EVDEV"),  # /dev/input/event*, which acpid reads
    ("e1000", "CONFIG_E1000"),
)

# Applets /init and the tests rely on; the build fails if busybox lacks one.
REQUIRED_APPLETS = (
    "sh", "mount", "mkdir", "echo", "cat", "sleep", "poweroff", "reboot", "ip", "udhcpc",
    "ping", "insmod", "modprobe", "acpid", "ifconfig", "route", "hostname", "dmesg", "ls",
    "setsid", "cttyhack", "usleep", "stty",
)

_APT_LIST_PROBLEM = re.compile(
    r"Unable to locate package|has no installation candidate|Can't select candidate"
    r"|Failed to fetch|404\s+Not Found|Unable to fetch some archives"
)
_MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.gz", ".ko.zst")

INIT_TEMPLATE = """\
#!/bin/sh
# PID 1 of the pyvirt test guest (written by scripts/build-test-guest.py). It must never exit.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root TERM=vt100 PS1='{prompt}'
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
exec </dev/console >/dev/console 2>&1
hostname {hostname}

# Kernel modules, in dependency order.
for m in {modules}; do
    insmod "/lib/modules/{kver}/$m" || echo "{hostname}: insmod $m failed"
done
ip link set lo up

# ACPI power button (virsh shutdown, QMP system_powerdown) -> /etc/acpi/power -> poweroff -f
# The marker promises a press is handled: wait for acpid's pid file, written once it has opened
# the event devices.
if [ -e /dev/input/event0 ]; then
    acpid -l /var/log/acpid.log -p /run/acpid.pid
    i=0
    while [ ! -s /run/acpid.pid ] && [ $i -lt 500 ]; do usleep 10000; i=$((i + 1)); done
else
    echo "{hostname}: no /dev/input/event0, the ACPI power button is not handled"
fi

if [ -e /sys/class/net/eth0 ]; then
    ip link set eth0 up
    udhcpc -f -i eth0 -s /usr/share/udhcpc/default.script -T 1 -A 2 -x hostname:{hostname} \\
        >/var/log/udhcpc.log 2>&1 &
fi

echo {marker}

# With "pyvirt.tick" on the kernel command line: a counter kept in the guest's memory, printed
# with the guest's block devices twice a second, so that tests can see a guest pause, resume,
# continue after a restore, and notice a hot-plugged disk.
case " $(cat /proc/cmdline) " in
*" pyvirt.tick "*)
    (n=0; while :; do
        n=$((n + 1))
        echo "{tick} $n $(awk 'NR > 2 {{printf "%s ", $4}}' /proc/partitions)"
        usleep 500000
    done) &
    ;;
esac

# A minimal QEMU guest agent on the org.qemu.guest_agent.0 port, when the guest has one:
# answers guest-sync-delimited and guest-ping, and powers off or reboots on guest-shutdown,
# which is all pyvirt's shutdown/reboot --mode agent need.
for port in /sys/class/virtio-ports/*; do
    [ "$(cat "$port/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] || continue
    dev=/dev/${{port##*/}}
    # one descriptor for both directions: a virtio port opens only once at a time
    (exec 3<>"$dev"
    while :; do
        while IFS= read -r line <&3; do
            case "$line" in
            *guest-sync-delimited*)
                id=$(echo "$line" | sed -n 's/.*"id": *\\([0-9]*\\).*/\\1/p')
                printf '\\377{{"return": %s}}\\n' "$id" >&3 ;;
            *guest-sync*)
                id=$(echo "$line" | sed -n 's/.*"id": *\\([0-9]*\\).*/\\1/p')
                printf '{{"return": %s}}\\n' "$id" >&3 ;;
            *guest-ping*) echo '{{"return": {{}}}}' >&3 ;;
            *guest-shutdown*reboot*) reboot -f ;;
            *guest-shutdown*) poweroff -f ;;
            *) echo '{{"error": {{"class": "CommandNotFound", "desc": "not supported"}}}}' >&3 ;;
            esac
        done
        usleep 200000
    done) &
done

# A shell on the console for the tests to type into, respawned when it exits. A serial line has
# no window size: a wide one keeps the shell from wrapping the echo of long typed commands.
while :; do
    setsid cttyhack sh -c 'stty cols 1000 rows 50 2>/dev/null; exec sh'
    sleep 1
done
"""

UDHCPC_SCRIPT = """\
#!/bin/sh
# udhcpc event script of the pyvirt test guest: $1 is the event, the lease is in the environment.
case "$1" in
deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
bound|renew)
    ip -4 addr flush dev "$interface"
    ip -4 addr add "$ip/${{mask:-24}}" ${{broadcast:+broadcast "$broadcast"}} dev "$interface"
    for r in $router; do
        ip -4 route replace default via "$r" dev "$interface"
        break
    done
    : >/etc/resolv.conf
    [ -n "$domain" ] && echo "search $domain" >>/etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
    [ "$1" = bound ] && printf '\\n%s %s\\n' "{marker}" "$ip" >/dev/console
    ;;
esac
exit 0
"""

ACPI_POWER_SCRIPT = """\
#!/bin/sh
# acpid action for the power button: power off now (there is nothing to shut down cleanly).
echo "{hostname}: power button pressed, powering off" >/dev/console
sync
exec poweroff -f
"""


def log(msg: str) -> None:
    print(f"build-test-guest: {msg}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    base = os.environ.get("PYVIRT_CACHE") or os.path.expanduser("~/.cache/pyvirt")
    return Path(base) / "guest"


def recipe_hash() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


# --------------------------------------------------------------------------- cpio (newc)


@dataclass
class CpioWriter:
    """An archive in the SVR4 "newc" format (magic 070701), which the kernel unpacks."""

    out: io.BytesIO = field(default_factory=io.BytesIO)
    next_ino: int = 1
    seen: set[str] = field(default_factory=set)

    def _entry(self, name: str, mode: int, data: bytes = b"", nlink: int = 1,
               rdev: tuple[int, int] = (0, 0)) -> None:
        name = name.strip("/")
        if name in self.seen:
            raise ValueError(f"duplicate cpio entry {name}")
        self.seen.add(name)
        ino = 0 if name == "TRAILER!!!" else self.next_ino
        self.next_ino += 1
        encoded = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        header = b"070701" + b"".join(b"%08X" % v for v in fields)
        self.out.write(header + encoded)
        self.out.write(b"\0" * (-(len(header) + len(encoded)) % 4))
        self.out.write(data)
        self.out.write(b"\0" * (-len(data) % 4))

    def _parents(self, name: str) -> None:
        parts = name.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            parent = "/".join(parts[:i])
            if parent not in self.seen:
                self._entry(parent, stat.S_IFDIR | 0o755, nlink=2)

    def directory(self, name: str, perm: int = 0o755) -> None:
        self._parents(name)
        if name.strip("/") not in self.seen:
            self._entry(name, stat.S_IFDIR | perm, nlink=2)

    def file(self, name: str, data: bytes, perm: int = 0o644) -> None:
        self._parents(name)
        self._entry(name, stat.S_IFREG | perm, data)

    def symlink(self, name: str, target: str) -> None:
        self._parents(name)
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name: str, major: int, minor: int, perm: int = 0o600) -> None:
        self._parents(name)
        self._entry(name, stat.S_IFCHR | perm, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        data = self.out.getvalue()
        return data + b"\0" * (-len(data) % 512)


# --------------------------------------------------------------------------- packages


def run(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, text=True, capture_output=True, check=False)


def apt_download(package: str, dest: Path) -> Path:
    """`apt-get download PACKAGE` into DEST; returns the .deb. Refreshes the package lists once
    when the download fails because they are missing or stale."""
    argv = ["apt-get", "download", "-q", package]
    if os.geteuid() == 0:  # root: apt would drop to _apt, which cannot write into our temp dir
        argv[2:2] = ["-o", "APT::Sandbox::User=root"]
    before = set(dest.glob("*.deb"))
    for attempt in (1, 2):
        proc = run(argv, cwd=dest)
        if proc.returncode == 0:
            break
        output = proc.stdout + proc.stderr
        if attempt == 2 or not _APT_LIST_PROBLEM.search(output):
            raise SystemExit(f"build-test-guest: apt-get download {package} failed:\n{output}")
        log(f"apt-get download {package} failed, refreshing the package lists (apt-get update)")
        update = run(["apt-get", "update", "-q"])
        if update.returncode != 0:
            raise SystemExit("build-test-guest: apt-get update failed (root needed?):\n"
                             + update.stdout + update.stderr)
    new = sorted(set(dest.glob("*.deb")) - before)
    if len(new) != 1:
        raise SystemExit(f"build-test-guest: apt-get download {package}: expected one .deb, "
                         f"got {[p.name for p in new]}")
    return new[0]


def deb_field(deb: Path, name: str) -> str:
    proc = run(["dpkg-deb", "-f", str(deb), name])
    if proc.returncode != 0:
        raise SystemExit(f"build-test-guest: dpkg-deb -f {deb}: {proc.stderr}")
    return proc.stdout.strip()


def deb_extract(deb: Path, dest: Path) -> None:
    proc = run(["dpkg-deb", "-x", str(deb), str(dest)])
    if proc.returncode != 0:
        raise SystemExit(f"build-test-guest: dpkg-deb -x {deb}: {proc.stderr}")


def kernel_package(meta_deb: Path) -> str:
    """The versioned image package the meta package depends on, as ``name=version``."""
    depends = deb_field(meta_deb, "Depends")
    m = re.search(r"(linux-image-[0-9][^\s,|()]*)\s*(?:\(=\s*([^)\s]+)\))?", depends)
    if not m:
        raise SystemExit(f"build-test-guest: no linux-image package in Depends: {depends}")
    return f"{m.group(1)}={m.group(2)}" if m.group(2) else m.group(1)


# --------------------------------------------------------------------------- kernel modules


def module_name(path: Path) -> str:
    name = path.name
    for suffix in _MODULE_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name.replace("-", "_")


def read_module(path: Path) -> bytes:
    """A module's ELF bytes, decompressed when it ships compressed."""
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    if path.name.endswith(".zst"):
        if not shutil.which("zstd"):
            raise SystemExit(f"build-test-guest: {path.name} is zstd-compressed; install zstd")
        return subprocess.run(["zstd", "-dc", str(path)], capture_output=True,
                              check=True).stdout
    return data


def modinfo(elf: bytes) -> dict[str, list[str]]:
    """The ``key=value`` strings of an ELF64 module's ``.modinfo`` section."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        raise ValueError("not a little-endian ELF64 object")
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)

    def section(i: int) -> tuple[int, int, int]:
        name, _type, _flags, _addr, offset, size = struct.unpack_from(
            "<IIQQQQ", elf, shoff + i * shentsize)
        return name, offset, size

    _, stroff, _ = section(shstrndx)
    info: dict[str, list[str]] = {}
    for i in range(shnum):
        name, offset, size = section(i)
        end = elf.index(b"\0", stroff + name)
        if elf[stroff + name:end] != b".modinfo":
            continue
        for item in elf[offset:offset + size].split(b"\0"):
            key, sep, value = item.decode(errors="replace").partition("=")
            if sep:
                info.setdefault(key, []).append(value)
    return info


@dataclass
class Module:
    name: str
    relpath: str  # under lib/modules/<kver>/, always ending in .ko
    data: bytes
    depends: list[str]


def kernel_config(root: Path, kver: str) -> dict[str, str]:
    config: dict[str, str] = {}
    for line in (root / "boot" / f"config-{kver}").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.startswith("CONFIG_"):
            config[key] = value
    return config


def collect_modules(root: Path, kver: str) -> tuple[list[Module], list[str]]:
    """The modules to ship, in load order, and notes on the wanted drivers left out."""
    config = kernel_config(root, kver)
    moddir = root / "lib" / "modules" / kver
    index: dict[str, Path] = {}
    for path in sorted(moddir.rglob("*.ko*")):
        if path.name.endswith(_MODULE_SUFFIXES):
            index.setdefault(module_name(path), path)

    notes: list[str] = []
    loaded: dict[str, Module] = {}
    order: list[Module] = []

    def add(name: str, chain: tuple[str, ...] = ()) -> None:
        if name in loaded:
            return
        if name in chain:
            raise SystemExit(f"build-test-guest: module dependency cycle: {chain + (name,)}")
        path = index.get(name)
        if path is None:
            raise SystemExit(f"build-test-guest: module {name} not found in {moddir}")
        data = read_module(path)
        info = modinfo(data)
        deps = [d for v in info.get("depends", []) for d in v.split(",") if d]
        for v in info.get("softdep", []):  # "pre: a b post: c"
            pre = re.search(r"pre:\s*(.*?)(?:\s+post:|$)", v)
            deps += [d.replace("-", "_") for d in (pre.group(1).split() if pre else [])
                     if d.replace("-", "_") in index]
        for dep in deps:
            add(dep, chain + (name,))
        rel = str(path.relative_to(moddir))
        rel = rel[: rel.index(".ko") + 3]
        module = Module(name, rel, data, deps)
        loaded[name] = module
        order.append(module)

    for name, symbol in WANTED_MODULES:
        value = config.get(symbol)
        if value == "m":
            add(name)
        elif value == "y":
            notes.append(f"{name}: built in ({symbol}=y)")
        else:
            notes.append(f"{name}: not built by this kernel ({symbol} unset)")
    return order, notes


def modules_dep(modules: list[Module]) -> str:
    """modules.dep for busybox modprobe: each module with its transitive dependencies."""
    by_name = {m.name: m for m in modules}

    def closure(m: Module) -> Iterator[str]:
        seen: list[str] = []
        stack = list(m.depends)
        while stack:
            dep = stack.pop(0)
            if dep not in seen:
                seen.append(dep)
                stack += by_name[dep].depends
        return (by_name[d].relpath for d in seen)

    return "".join(f"{m.relpath}: {' '.join(closure(m))}".rstrip() + "\n" for m in modules)


# --------------------------------------------------------------------------- initramfs


def busybox_applets(busybox: Path) -> list[str]:
    """Applet paths relative to / ("bin/sh", "sbin/acpid", ...)."""
    proc = run([str(busybox), "--list-full"])
    if proc.returncode != 0:
        raise SystemExit(f"build-test-guest: {busybox} --list-full failed: {proc.stderr}")
    applets = [line.strip() for line in proc.stdout.splitlines() if line.strip()]
    names = {a.rsplit("/", 1)[-1] for a in applets}
    missing = [a for a in REQUIRED_APPLETS if a not in names]
    if missing:
        raise SystemExit(f"build-test-guest: busybox lacks applets {missing}")
    return applets


def build_initramfs(busybox: Path, kver: str, modules: list[Module]) -> bytes:
    cpio = CpioWriter()
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "run",
              "root", "var/log", "lib/modules"):
        cpio.directory(d)
    cpio.directory("tmp", 0o1777)
    # The kernel opens /dev/console for /init before anything is mounted.
    cpio.chardev("dev/console", 5, 1)
    cpio.chardev("dev/null", 1, 3, 0o666)

    cpio.file("bin/busybox", busybox.read_bytes(), 0o755)
    for applet in busybox_applets(busybox):
        if applet != "bin/busybox":
            cpio.symlink(applet, "/bin/busybox")

    cpio.file("etc/hostname", f"{HOSTNAME}\n".encode())
    cpio.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    cpio.file("etc/group", b"root:x:0:\n")
    cpio.file("etc/acpid.conf", b"PWRF power\nPWRB power\n")
    cpio.file("etc/acpi/power", ACPI_POWER_SCRIPT.format(hostname=HOSTNAME).encode(), 0o755)
    cpio.file("usr/share/udhcpc/default.script",
              UDHCPC_SCRIPT.format(marker=DHCP_MARKER).encode(), 0o755)
    cpio.symlink("etc/udhcpc/default.script", "/usr/share/udhcpc/default.script")

    for m in modules:
        cpio.file(f"lib/modules/{kver}/{m.relpath}", m.data)
    cpio.file(f"lib/modules/{kver}/modules.dep", modules_dep(modules).encode())

    init = INIT_TEMPLATE.format(
        prompt=PROMPT, hostname=HOSTNAME, kver=kver, marker=READY_MARKER, tick=TICK_MARKER,
        modules=" ".join(m.relpath for m in modules) or ":",
    )
    cpio.file("init", init.encode(), 0o755)

    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(cpio.finish())
    return buf.getvalue()


# --------------------------------------------------------------------------- cache


@contextmanager
def locked(path: Path) -> Iterator[None]:
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def up_to_date(out: Path) -> bool:
    try:
        manifest = json.loads((out / "manifest.json").read_text())
        if manifest.get("recipe") != recipe_hash():
            return False
        files: dict[str, int] = manifest["files"]
        return all((out / name).stat().st_size == size for name, size in files.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def build(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="pyvirt-guest-") as tmpname:
        tmp = Path(tmpname)
        os.chmod(tmp, 0o755)
        debs, kroot, bbroot = tmp / "debs", tmp / "kernel", tmp / "busybox"
        for d in (debs, kroot, bbroot):
            d.mkdir()

        meta = apt_download(KERNEL_META_PACKAGE, debs)
        image = kernel_package(meta)
        log(f"{KERNEL_META_PACKAGE} -> {image}")
        kdeb = apt_download(image, debs)
        bbdeb = apt_download(BUSYBOX_PACKAGE, debs)
        deb_extract(kdeb, kroot)
        deb_extract(bbdeb, bbroot)

        vmlinuz = sorted((kroot / "boot").glob("vmlinuz-*"))
        if len(vmlinuz) != 1:
            raise SystemExit(f"build-test-guest: expected one vmlinuz in {kdeb.name}")
        kver = vmlinuz[0].name.removeprefix("vmlinuz-")
        busybox = bbroot / "bin" / "busybox"

        modules, notes = collect_modules(kroot, kver)
        for note in notes:
            log(note)
        log("modules: " + " ".join(m.name for m in modules))
        initrd = build_initramfs(busybox, kver, modules)

        kernel = vmlinuz[0].read_bytes()
        write_atomic(out / "vmlinuz", kernel)
        write_atomic(out / "initramfs.cpio.gz", initrd)
        manifest = {
            "recipe": recipe_hash(),
            "kernel_package": f"{deb_field(kdeb, 'Package')}={deb_field(kdeb, 'Version')}",
            "kernel_release": kver,
            "busybox_package": f"{deb_field(bbdeb, 'Package')}={deb_field(bbdeb, 'Version')}",
            "modules": [m.name for m in modules],
            "files": {"vmlinuz": len(kernel), "initramfs.cpio.gz": len(initrd)},
            "sha256": {"vmlinuz": hashlib.sha256(kernel).hexdigest(),
                       "initramfs.cpio.gz": hashlib.sha256(initrd).hexdigest()},
        }
        write_atomic(out / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
        log(f"initramfs: {len(initrd)} bytes, kernel {kver}")


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(list(argv) if argv is not None else None)

    out = cache_dir()
    if args.force or not up_to_date(out):
        out.mkdir(parents=True, exist_ok=True)
        with locked(out / ".lock"):
            if args.force or not up_to_date(out):  # another run may have built it meanwhile
                build(out)
    print(f"kernel: {out / 'vmlinuz'}")
    print(f"initrd: {out / 'initramfs.cpio.gz'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
