"""The QEMU driver's view of its emulators and of the host: the QMP probe of a QEMU binary
(cached on disk), a real probe that KVM runs guest code, and the two capabilities documents
(virConnectGetCapabilities, virConnectGetDomainCapabilities) in libvirt 9.0's format.

``probe_emulator(binary, cache_dir)``
    Starts ``binary -S -no-user-config -nodefaults -nographic -machine none,accel=tcg`` with
    a private QMP socket, asks it who it is and what it has (version, target, machines, CPU
    models, every QOM type, commands, the QAPI schema's display types, the ``max`` CPU's
    Hyper-V properties), quits it, and runs ``probe_kvm``; when KVM works, a second session
    with ``accel=kvm`` lists the CPU models usable under KVM. The result is cached as JSON in
    ``cache_dir/capabilities/`` keyed by the binary's (st_mtime_ns, st_size), the probe format
    and the state of /dev/kvm and the kernel, and reused while the key matches.

``probe_kvm(binary)``
    Boots a 64 KiB BIOS image (below) under ``-accel kvm``: real mode, protected mode, a
    timed loop of 1.5 million instructions, long mode with paging, a page fault taken and
    resumed, a timer interrupt through the PIC; the guest leaves through isa-debug-exit with
    status 99 only when all of it ran. Each stage prints a character on an isa-debugcon
    port, read with its arrival time: a failure says where guest code stopped, and a loop
    that takes seconds (a host that emulates guest instructions, as nested KVM was seen to
    do, where a Linux guest then needs minutes to boot) counts as KVM not working.

``host_capabilities_xml(emulators)`` / ``domain_capabilities_xml(caps, arch, machine,
virttype)``
    Build ``pyvirt.conf.capabilities`` / ``pyvirt.conf.domcaps`` models from probes and the
    host (/proc, /sys, firmware descriptors) and format them.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

from pyvirt import constants as c
from pyvirt.drivers.qemu.emulator import EmulatorCaps, MachineType
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import Any

    from pyvirt.conf.capabilities import CacheBank, HostCPU, NumaCell, NumaCPU
    from pyvirt.conf.domcaps import DomainCapabilities

# Bump when the probe collects something new or differently: older cache files are re-probed.
PROBE_FORMAT = 2

QMP_START_TIMEOUT = 5.0  # QEMU up and its monitor answering
QMP_COMMAND_TIMEOUT = 5.0  # any one command
QMP_SESSION_TIMEOUT = 15.0  # the whole session, start to quit
QUIT_WAIT = 2.0  # after quit, before the process is killed
KILL_WAIT = 5.0

# ---- architectures --------------------------------------------------------------------------

# libvirt's architectures (virArch order, which is also the order of <guest> elements) with
# their word sizes.
ARCH_WORDSIZE = {
    "alpha": 64, "armv6l": 32, "armv7l": 32, "armv7b": 32, "aarch64": 64, "cris": 32,
    "i686": 32, "ia64": 64, "lm32": 32, "m68k": 32, "microblaze": 32, "microblazeel": 32,
    "mips": 32, "mipsel": 32, "mips64": 64, "mips64el": 64, "openrisc": 32, "parisc": 32,
    "parisc64": 64, "ppc": 32, "ppcle": 32, "ppc64": 64, "ppc64le": 64, "ppcemb": 32,
    "riscv32": 32, "riscv64": 64, "s390": 32, "s390x": 64, "sh4": 32, "sh4eb": 64,
    "sparc": 32, "sparc64": 64, "unicore32": 32, "x86_64": 64, "xtensa": 32, "xtensaeb": 32,
}
ARCH_ORDER = {name: i for i, name in enumerate(ARCH_WORDSIZE)}
# QEMU target names that differ from libvirt's arch names.
QEMU_TARGET_ARCH = {"i386": "i686", "arm": "armv7l", "or1k": "openrisc"}
# The machine libvirt makes the default (first) one, ahead of QEMU's own default.
PREFERRED_MACHINE = {
    "alpha": "clipper", "armv6l": "integratorcp", "armv7l": "integratorcp",
    "armv7b": "integratorcp", "aarch64": "integratorcp", "cris": "axis-dev88", "i686": "pc",
    "lm32": "lm32-evr", "m68k": "mcf5208evb", "microblaze": "petalogix-s3adsp1800",
    "microblazeel": "petalogix-s3adsp1800", "mips": "malta", "mipsel": "malta",
    "mips64": "malta", "mips64el": "malta", "openrisc": "or1k-sim", "ppc": "g3beige",
    "ppcle": "g3beige", "ppc64": "pseries", "ppc64le": "pseries", "ppcemb": "bamboo",
    "riscv32": "spike_v1.10", "riscv64": "spike_v1.10", "s390x": "s390-ccw-virtio",
    "sh4": "shix", "sh4eb": "shix", "sparc": "SS-5", "sparc64": "sun4u", "unicore32": "puv3",
    "x86_64": "pc", "xtensa": "sim", "xtensaeb": "sim",
}
# virDomainVirtType names, in enum order.
VIRT_TYPES = ("none", "qemu", "kqemu", "kvm", "xen", "lxc", "uml", "openvz", "test", "vmware",
              "hyperv", "vbox", "phyp", "parallels", "bhyve", "vz", "hvf")


def _is_x86(arch: str) -> bool:
    return arch in ("i686", "x86_64")


def _arch_family(arch: str) -> str:
    """The group within which an emulator may serve another arch (libvirt lets an x86
    emulator serve both x86 arches, and likewise for ppc, arm and s390)."""
    if _is_x86(arch):
        return "x86"
    for prefix in ("ppc", "arm", "s390"):
        if arch.startswith(prefix):
            return prefix
    if arch == "aarch64":
        return "arm"
    return arch


def host_arch() -> str:
    machine = os.uname().machine
    return {"i386": "i686", "i486": "i686", "i586": "i686", "amd64": "x86_64",
            "arm64": "aarch64"}.get(machine, machine)


# ---- running sync code around asyncio ----------------------------------------------------------


def _run_async(factory: Callable[[], Awaitable[Any]]) -> Any:
    """``asyncio.run`` the coroutine ``factory()`` makes; from a thread that already runs an
    event loop (the daemon), in a helper thread so that loop is not re-entered."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_as_coroutine(factory))
    box: dict[str, Any] = {}

    def runner() -> None:
        try:
            box["result"] = asyncio.run(_as_coroutine(factory))
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=runner, name="pyvirt-qemu-probe", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("result")


async def _as_coroutine(factory: Callable[[], Awaitable[Any]]) -> Any:
    return await factory()


# ---- the QMP probe -----------------------------------------------------------------------------


class ProbeError(Exception):
    """The probe could not get an answer out of the binary (the message says why)."""


def _end_process(proc: subprocess.Popen[bytes], grace: float) -> None:
    """Wait ``grace`` seconds for ``proc`` to exit, then kill it (by its PID) and reap it."""
    try:
        proc.wait(timeout=grace)
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        proc.kill()
    except OSError:
        pass
    try:
        proc.wait(timeout=KILL_WAIT)
    except subprocess.TimeoutExpired:
        pass


def _stderr_tail(path: str, limit: int = 400) -> str:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace").strip()
    return text[-limit:]


async def _qmp_talk(sock: str, proc: subprocess.Popen[bytes],
                    commands: list[tuple[str, dict[str, Any] | None]]) -> dict[str, Any]:
    """Connect to QEMU's monitor at ``sock`` (retrying until it listens), run ``commands``
    and quit. A command QEMU refuses maps to None; a monitor that never answers raises."""
    from qemu.qmp import ExecuteError, QMPClient

    client = QMPClient("pyvirt-probe")
    deadline = time.monotonic() + QMP_START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise ProbeError(f"QEMU exited with status {proc.returncode} before its monitor "
                             "answered")
        if not os.path.exists(sock):  # QEMU has not created it yet: no failed connect to log
            if time.monotonic() >= deadline:
                raise ProbeError("no answer from the QMP monitor: no socket")
            await asyncio.sleep(0.01)
            continue
        try:
            await asyncio.wait_for(client.connect(sock), max(deadline - time.monotonic(), 0.1))
            break
        except Exception as exc:  # not listening yet (or a timeout)
            if time.monotonic() >= deadline:
                raise ProbeError(f"no answer from the QMP monitor: {exc}") from None
            await asyncio.sleep(0.01)
    results: dict[str, Any] = {}
    try:
        for name, args in commands:
            try:
                results[name] = await asyncio.wait_for(client.execute(name, args),
                                                       QMP_COMMAND_TIMEOUT)
            except ExecuteError:
                results[name] = None
        try:
            await asyncio.wait_for(client.execute("quit"), QMP_COMMAND_TIMEOUT)
        except Exception:  # the monitor may close before the reply: quit happened
            pass
    finally:
        try:
            await asyncio.wait_for(client.disconnect(), QMP_COMMAND_TIMEOUT)
        except Exception:  # EOF after quit is normal
            pass
    return results


def _qmp_session(binary: str, accel: str,
                 commands: list[tuple[str, dict[str, Any] | None]]) -> dict[str, Any]:
    """One QEMU process, one QMP conversation; the process always ends (quit, or killed by
    its PID after a timeout) and its private directory is removed."""
    tmp = tempfile.mkdtemp(prefix="pyvirt-qemu-probe-")
    sock = os.path.join(tmp, "qmp.sock")
    errpath = os.path.join(tmp, "stderr")
    argv = [binary, "-S", "-no-user-config", "-nodefaults", "-nographic",
            "-machine", f"none,accel={accel}", "-qmp", f"unix:{sock},server=on,wait=off"]
    proc: subprocess.Popen[bytes] | None = None
    try:
        with open(errpath, "wb") as err:
            try:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=err, cwd=tmp,
                                        close_fds=True)
            except OSError as exc:
                raise ProbeError(f"cannot run {binary}: {exc.strerror}") from None
        started = proc

        async def talk() -> dict[str, Any]:
            return await asyncio.wait_for(_qmp_talk(sock, started, commands),
                                          QMP_SESSION_TIMEOUT)

        try:
            result: dict[str, Any] = _run_async(talk)
        except ProbeError as exc:
            _end_process(started, 0.5)
            tail = _stderr_tail(errpath)
            raise ProbeError(f"{exc}{': ' + tail if tail else ''}") from None
        except TimeoutError:
            raise ProbeError(f"QEMU did not answer within {QMP_SESSION_TIMEOUT:g}s") from None
        except Exception as exc:  # the monitor went away mid-conversation, or worse
            tail = _stderr_tail(errpath)
            raise ProbeError(f"QMP conversation failed: {exc!r}"
                             f"{': ' + tail if tail else ''}") from None
        return result
    finally:
        if proc is not None:
            _end_process(proc, QUIT_WAIT)
        shutil.rmtree(tmp, ignore_errors=True)


def _qapi_index(schema: list[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in schema or [] if "name" in entry}


def _qapi_node(index: dict[str, dict[str, Any]], path: str) -> dict[str, Any] | None:
    """Follow ``command/arg-type|ret-type/member/+variant/...`` through the introspected QAPI
    schema (arrays are looked through); the node reached, or None."""
    parts = path.split("/")
    node = index.get(parts[0])
    if node is None or node.get("meta-type") != "command" or len(parts) < 2:
        return node
    node = index.get(node.get(parts[1], ""))
    for part in parts[2:]:
        while node is not None and node.get("meta-type") == "array":
            node = index.get(node.get("element-type", ""))
        if node is None:
            return None
        if part.startswith("+"):
            found = next((v for v in node.get("variants", []) if v.get("case") == part[1:]),
                         None)
        else:
            found = next((m for m in node.get("members", []) if m.get("name") == part), None)
        if found is None:
            return None
        node = index.get(found.get("type", ""))
    return node


def _qapi_has(index: dict[str, dict[str, Any]], path: str) -> bool:
    parts = path.split("/")
    if len(parts) <= 2:
        return _qapi_node(index, path) is not None
    parent = _qapi_node(index, "/".join(parts[:-1]))
    while parent is not None and parent.get("meta-type") == "array":
        parent = index.get(parent.get("element-type", ""))
    if parent is None:
        return False
    last = parts[-1]
    if last.startswith("+"):
        return any(v.get("case") == last[1:] for v in parent.get("variants", []))
    return any(m.get("name") == last for m in parent.get("members", []))


def _parse_probe(binary: str, answers: dict[str, Any]) -> EmulatorCaps:
    version = answers.get("query-version") or {}
    qv = version.get("qemu", {})
    target = (answers.get("query-target") or {}).get("arch", "")
    arch = QEMU_TARGET_ARCH.get(target, target)
    caps = EmulatorCaps(binary, arch,
                        int(qv.get("major", 0)) * 1_000_000 + int(qv.get("minor", 0)) * 1_000
                        + int(qv.get("micro", 0)),
                        str(version.get("package", "")).strip())
    machines = []
    preferred = PREFERRED_MACHINE.get(arch)
    preferred_index = default_index = -1
    for entry in answers.get("query-machines") or []:
        name = entry.get("name")
        if not name or name == "none":
            continue
        mach = MachineType(name, entry.get("alias"), bool(entry.get("is-default")),
                           int(entry.get("cpu-max", 1)), bool(entry.get("deprecated")))
        machines.append(mach)
        if preferred and preferred in (mach.name, mach.alias):
            preferred_index = len(machines) - 1
        if mach.is_default:
            default_index = len(machines) - 1
    first = preferred_index if preferred_index >= 0 else default_index
    if first > 0:  # libvirt's order: its preferred machine first, the others as QEMU lists them
        machines.insert(0, machines.pop(first))
    caps.machines = machines
    defs = answers.get("query-cpu-definitions") or []
    caps.cpu_models = [d["name"] for d in defs if "name" in d]
    caps.cpu_blockers = {d["name"]: list(d.get("unavailable-features") or [])
                         for d in defs if "name" in d}
    caps.cpu_deprecated = sorted(d["name"] for d in defs if d.get("deprecated"))
    caps.devices = {t["name"] for t in answers.get("qom-list-types") or [] if "name" in t}
    caps.commands = {cmd["name"] for cmd in answers.get("query-commands") or []
                     if "name" in cmd}
    caps.flags = _derive_flags(caps, _qapi_index(answers.get("query-qmp-schema")))
    expansion = (answers.get("query-cpu-model-expansion") or {}).get("model", {})
    caps.hyperv_features = _hyperv_features(expansion.get("props") or {})
    return caps


def _derive_flags(caps: EmulatorCaps, schema: dict[str, dict[str, Any]]) -> set[str]:
    """Abilities that are neither a QOM type nor a command, named as libvirt's QEMU_CAPS_*
    flags are (lower case, dashes)."""
    flags: set[str] = set()
    display = _qapi_node(schema, "query-display-options/ret-type")
    for variant in (display or {}).get("variants", []):
        case = variant.get("case")
        if case in ("sdl", "egl-headless", "dbus", "gtk", "curses", "cocoa", "spice-app"):
            flags.add("display-" + case)
    if "query-vnc" in caps.commands:
        flags.add("vnc")
    if "query-spice" in caps.commands:
        flags.add("spice")
    if ("blockdev-reopen" in caps.commands and _qapi_has(
            schema, "migrate-set-parameters/arg-type/block-bitmap-mapping/bitmaps/transform")):
        flags.add("incremental-backup")
    if any(name.endswith("-pci-transitional") for name in caps.devices):
        flags.add("virtio-pci-transitional")
    return flags


# Hyper-V enlightenments libvirt knows (virDomainHyperv names, in its enum order), keyed by the
# QEMU property that reports them.
_HYPERV = (("relaxed", "hv-relaxed"), ("vapic", "hv-vapic"), ("spinlocks", "hv-spinlocks"),
           ("vpindex", "hv-vpindex"), ("runtime", "hv-runtime"), ("synic", "hv-synic"),
           ("stimer", "hv-stimer"), ("reset", "hv-reset"), ("vendor_id", "hv-vendor-id"),
           ("frequencies", "hv-frequencies"), ("reenlightenment", "hv-reenlightenment"),
           ("tlbflush", "hv-tlbflush"), ("ipi", "hv-ipi"), ("evmcs", "hv-evmcs"),
           ("avic", "hv-avic"))


def _hyperv_features(props: dict[str, Any]) -> list[str]:
    names = []
    for name, prop in _HYPERV:
        value = props.get(prop)
        if value is True or (isinstance(value, int) and not isinstance(value, bool)
                             and value > 0) or isinstance(value, str):
            names.append(name)
    return names


_TCG_COMMANDS: list[tuple[str, dict[str, Any] | None]] = [
    ("query-version", None),
    ("query-target", None),
    ("query-machines", None),
    ("query-cpu-definitions", None),
    ("qom-list-types", {"abstract": True}),
    ("query-commands", None),
    ("query-qmp-schema", None),
    # The "max" CPU's properties: its hv-* ones are the Hyper-V enlightenments (x86 only;
    # elsewhere QEMU refuses and the answer is None).
    ("query-cpu-model-expansion", {"type": "full", "model": {"name": "max"}}),
]
_KVM_COMMANDS: list[tuple[str, dict[str, Any] | None]] = [("query-cpu-definitions", None)]


def _probe_uncached(binary: str) -> EmulatorCaps:
    answers = _qmp_session(binary, "tcg", _TCG_COMMANDS)
    caps = _parse_probe(binary, answers)
    if _is_x86(caps.arch):
        caps.kvm, caps.kvm_reason = probe_kvm(binary)
    else:
        caps.kvm, caps.kvm_reason = False, f"the KVM probe guest is x86 code, not {caps.arch}"
    if caps.kvm:
        try:
            kvm_answers = _qmp_session(binary, "kvm", _KVM_COMMANDS)
        except ProbeError as exc:
            caps.kvm, caps.kvm_reason = False, f"QMP probe with accel=kvm failed: {exc}"
        else:
            defs = kvm_answers.get("query-cpu-definitions") or []
            caps.kvm_cpu_models = [d["name"] for d in defs if "name" in d]
            caps.kvm_cpu_blockers = {d["name"]: list(d.get("unavailable-features") or [])
                                     for d in defs if "name" in d}
    return caps


# ---- the cache -----------------------------------------------------------------------------------


def cache_path(binary: str, cache_dir: str) -> str:
    """Where the probe of ``binary`` is cached: its path with every character other than
    letters, digits, '.', '-' and '_' (the slashes first of all) turned into '_'."""
    name = "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in binary.lstrip("/"))
    return os.path.join(cache_dir, "capabilities", (name or "_") + ".json")


def _kvm_state() -> str:
    """What the KVM verdict depends on besides the binary: /dev/kvm's identity and the
    running kernel (a reboot into another kernel, or a reloaded module, re-probes)."""
    try:
        st = os.stat("/dev/kvm")
        dev = f"{st.st_rdev}:{st.st_mode:o}:{st.st_uid}:{st.st_gid}"
    except OSError:
        dev = "absent"
    uname = os.uname()
    return f"{dev} {uname.release} {uname.version} {os.access('/dev/kvm', os.R_OK | os.W_OK)}"


def _cache_key(stamp: tuple[int, int]) -> dict[str, Any]:
    return {"format": PROBE_FORMAT, "stamp": list(stamp), "kvm_state": _kvm_state()}


def _read_cache(path: str, binary: str, key: dict[str, Any]) -> EmulatorCaps | None:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if data.get("key") != key or data.get("caps", {}).get("binary") != binary:
            return None
        return EmulatorCaps.from_json(data["caps"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(path: str, key: dict[str, Any], caps: EmulatorCaps) -> None:
    """Atomically: a temp file in the same directory, fsync, rename over the old one."""
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".probe-", suffix=".tmp", dir=directory)
    except OSError:
        return  # an unwritable cache costs a probe next time, nothing else
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"key": key, "caps": caps.to_json()}, fh, indent=1, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def probe_emulator(binary: str, cache_dir: str) -> EmulatorCaps:
    """What ``binary`` can do (see the module docstring); from the cache when the binary,
    the probe format and the KVM state are unchanged since the probe that wrote it.

    Raises libvirtError: VIR_ERR_SYSTEM_ERROR when the binary cannot be stat'ed,
    VIR_ERR_INTERNAL_ERROR when it does not answer the probe."""
    try:
        st = os.stat(binary)
    except OSError as exc:
        raise_error(c.VIR_ERR_SYSTEM_ERROR,
                    f"Cannot check QEMU binary {binary}: {exc.strerror}",
                    domain=c.VIR_FROM_QEMU, int1=exc.errno or 0)
    stamp = (st.st_mtime_ns, st.st_size)
    key = _cache_key(stamp)
    path = cache_path(binary, cache_dir)
    cached = _read_cache(path, binary, key)
    if cached is not None:
        return cached
    try:
        caps = _probe_uncached(binary)
    except ProbeError as exc:
        raise_error(c.VIR_ERR_INTERNAL_ERROR,
                    f"Failed to probe capabilities for {binary}: {exc}",
                    domain=c.VIR_FROM_QEMU)
    caps.stamp = stamp
    _write_cache(path, key, caps)
    return caps


# ---- the KVM probe -------------------------------------------------------------------------------

# The probe's BIOS: this code at offset 0 of a 64 KiB image mapped at 0xF0000, reached from the
# reset vector (0xFFFF0: "ljmp $0xf000, $0"); the rest of the image is HLT. GNU as source
# (assembled at address 0, BASE = 0xF0000, debug port 0x402, exit port 0xF4):
#
#   .code16                                      | .code64
#   start: cli; ds=es=ss=0; sp=0x7000; out '1'   | lm64: ss=0x10; rsp=0x7000; out '3'
#       zero 0x1000-0x7fff (rep stosl)           |     64-bit add, store at 0x5008, load,
#       page tables: PML4 0x1000 -> PDPT 0x2000  |       compare; out '4'
#                                                |     lock cmpxchg16b on 0x5010 (Linux's
#                                                |       slab allocator uses it early; nested
#                                                |       KVM was seen to retry it forever),
#                                                |       check ZF and memory; out 'X'
#         -> PD 0x3000: 0-2M as one 2M page;     |     IDT at 0x6000: #PF (14) -> pf_handler,
#         PDPT[3] -> PD 0x4000: the local APIC   |       vector 0x20 -> timer_handler; lidt
#         page 0xFEE00000 (2M, uncached)         |     read 0x40000000 (unmapped): #PF;
#       lgdtl %cs:gdtr; CR0.PE = 1               |       pf_handler checks CR2, resumes at
#       ljmpl $0x08, $(BASE + pm32)              |       after_pf; out '5'
#   .code32                                      |     APIC: SVR = 0x1FF, LVT LINT0 = ExtINT
#   pm32: ds=es=ss=0x10; esp=0x7000; out '2'     |     8259 PICs: IRQ0 -> vector 0x20, others
#       the timed loop: eax += ecx for ecx =     |       masked; PIT channel 0, mode 2, 100 Hz
#         500000..1 (add, dec, jnz), compare     |     sti; hlt loop
#         with 446198416, store at 0x5000, load, |   timer_handler: out '6'; exit 0x31
#         compare; out 'C'                       |
#       CPUID 0x80000001.EDX bit 29 (long mode)  |
#         absent: out 'P', exit 0x31 (i386)      |
#       CR4.PAE; CR3 = 0x1000; EFER.LME;         |
#       CR0.PG; ljmpl $0x18, $(BASE + lm64)      |
#   GDT: null, 0x08 code32, 0x10 data, 0x18 code64, all with the accessed bit set (a CPU
#   setting it would write to ROM, which nested KVM was seen to retry forever); exit value
#   0x31 -> QEMU status 99, 0x20 (a wrong result) -> 65.
_KVM_PROBE_CODE = bytes.fromhex(
    "fa31c08ed88ec08ed0bc0070ba0204b031eebf00106631c0b9001c66f3ab66c70600100320000066c706"
    "00200330000066c70600308300000066c70618200340000066c706b84f9b00e0fe2e660f0116a0020f20"
    "c06683c8010f22c066ea64000f00080066b810008ed88ec08ed0bc0070000066ba0204b032eeb920a107"
    "0031c001c84975fb3d9072981a755ca3005000003b0500500000754fb043eeb8000000800fa23d010000"
    "807243b8010000800fa20fbae21d73360f20e083c8200f22e0b8001000000f22d8b9800000c00f320d00"
    "0100000f300f20c00d000000800f22c0eafa000f001800b020e6f4f466ba0204b050eeb031e6f4f466b8"
    "10008ed048c7c40070000066ba0204b033ee48b889674523010000004801c048bb12cf8a460200000048"
    "39d80f85250100004889042508500000483b1c25085000000f850f01000066ba0204b034ee48c7c71050"
    "000048c7070100000048c747080200000048c7c00100000048c7c20200000048c7c30300000048c7c104"
    "000000f0480fc70f0f85cb00000048833f030f85c100000048837f08040f85b600000066ba0204b058ee"
    "bf0e000000b82a020f00e8a5000000bf20000000b847020f00e8960000000f011c25a6020f0048c7c600"
    "000040488b06eb7d66ba0204b035eebf0000e0fec787f0000000ff010000c7875003000000070000b011"
    "e620e6a0b020e621b028e6a1b004e621b002e6a1b001e621e6a1b0fee621b0ffe6a1b034e643b09ce640"
    "b02ee640fbf4ebfd0f20d0483d00000040751e48c7c0d6010f0048894424084883c40848cf66ba0204b0"
    "36eeb031e6f4f4b020e6f4f4c1e70481c70060000066890766c74702180066c74704008ec1e810668947"
    "0648c7470800000000c30000000000000000ffff0000009bcf00ffff00000093cf00ffff0000009baf00"
    "1f0080020f00ff0f0060000000000000"
)
KVM_PROBE_STAGES = {
    "1": "real mode", "2": "protected mode", "C": "1.5 million instructions computed",
    "P": "no long mode (done)", "3": "long mode with paging",
    "4": "64-bit arithmetic and memory", "X": "a locked cmpxchg16b",
    "5": "a page fault handled", "6": "a timer interrupt delivered",
}
KVM_PROBE_STAGE_ORDER = "12C34X56"
KVM_PROBE_OK_STATUS = 99  # isa-debug-exit: (0x31 << 1) | 1
# Between stages "2" and "C" the guest runs 1.5 million instructions (a 500,000-round loop of
# three). Hardware virtualization does that in about a millisecond and TCG in a few; a host
# that emulates guest instructions one by one (seen with nested KVM) needs seconds, and a
# real guest then takes minutes to boot: KVM is refused above this many seconds.
KVM_PROBE_LOOP_INSTRUCTIONS = 1_500_000
KVM_PROBE_LOOP_LIMIT = 0.5


def kvm_probe_bios() -> bytes:
    """The 64 KiB BIOS image ``probe_kvm`` boots."""
    image = bytearray(b"\xf4" * 0x10000)
    image[:len(_KVM_PROBE_CODE)] = _KVM_PROBE_CODE
    image[0xFFF0:0xFFF5] = b"\xea\x00\x00\x00\xf0"  # ljmp $0xf000, $0x0000
    return bytes(image)


def _stage_text(stages: str) -> str:
    if not stages:
        return "no guest code ran"
    last = stages[-1]
    text = "last stage reached: " + KVM_PROBE_STAGES.get(last, repr(last))
    index = KVM_PROBE_STAGE_ORDER.find(last)
    if 0 <= index < len(KVM_PROBE_STAGE_ORDER) - 1:
        text += "; stuck before: " + KVM_PROBE_STAGES[KVM_PROBE_STAGE_ORDER[index + 1]]
    return text


def _run_timed(argv: list[str], cwd: str, timeout: float,
               give_up: Callable[[list[tuple[str, float]], float], bool] | None = None
               ) -> tuple[int | None, list[tuple[str, float]], str]:
    """Run ``argv`` (its debug console on stdout) for at most ``timeout`` seconds, or until
    ``give_up(seen, elapsed)`` says so: its exit status (None: killed), each console
    character with the time it arrived, and the tail of its stderr."""
    import selectors

    errpath = os.path.join(cwd, "stderr")
    with open(errpath, "wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=err, cwd=cwd, close_fds=True)
    started = time.monotonic()
    deadline = started + timeout
    seen: list[tuple[str, float]] = []
    gave_up = False
    assert proc.stdout is not None
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or (give_up is not None
                                 and give_up(seen, time.monotonic() - started)):
                    gave_up = True
                    break
                if not sel.select(min(left, 0.05)):
                    continue
                data = os.read(proc.stdout.fileno(), 256)
                if not data:
                    break  # EOF: QEMU is exiting
                now = time.monotonic() - started
                seen.extend((ch, now) for ch in data.decode("ascii", "replace"))
        status: int | None = None
        if not gave_up:  # EOF on the console: QEMU is on its way out
            try:
                status = proc.wait(timeout=max(min(deadline - time.monotonic(), 2.0), 0.05))
            except subprocess.TimeoutExpired:
                pass
    finally:
        if proc.returncode is None:
            _end_process(proc, 0)
        proc.stdout.close()
    return status, seen, _stderr_tail(errpath)


def kvm_probe_verdict(status: int | None, seen: list[tuple[str, float]], stderr_tail: str,
                      timeout: float) -> tuple[bool, str]:
    """Judge a run of the probe guest: its exit status (None: killed at ``timeout``), the
    stage characters it printed with their arrival times, the end of QEMU's stderr."""
    stages = "".join(ch for ch, _ in seen)
    at = dict((ch, when) for ch, when in reversed(seen))  # first arrival of each
    slow = (f"KVM runs guest code, but {KVM_PROBE_LOOP_INSTRUCTIONS / 1e6:g} million "
            "instructions took {took} ({rate} million per second; hardware virtualization "
            "runs thousands of millions): the host emulates guest instructions, a real "
            "guest would take minutes to boot")
    if status is None and "2" in at and "C" not in at:
        ceiling = KVM_PROBE_LOOP_INSTRUCTIONS / 1e6 / KVM_PROBE_LOOP_LIMIT
        return False, slow.format(took=f"more than {KVM_PROBE_LOOP_LIMIT:g}s",
                                  rate=f"under {ceiling:g}")
    if status is None:
        return False, (f"KVM guest code did not finish within {timeout:g}s "
                       f"({_stage_text(stages)})")
    if status != KVM_PROBE_OK_STATUS:
        detail = f"; {stderr_tail}" if stderr_tail else ""
        return False, (f"the KVM probe guest ended with status {status}, not "
                       f"{KVM_PROBE_OK_STATUS} ({_stage_text(stages)}){detail}")
    loop = at["C"] - at["2"] if "2" in at and "C" in at else None
    if loop is None:
        return False, f"the KVM probe guest skipped its timed loop (stages: {stages!r})"
    if loop > KVM_PROBE_LOOP_LIMIT:
        return False, slow.format(took=f"{loop:.2f}s",
                                  rate=f"{KVM_PROBE_LOOP_INSTRUCTIONS / loop / 1e6:.1f}")
    ran = ", ".join(KVM_PROBE_STAGES[s] for s in stages if s in KVM_PROBE_STAGES)
    return True, f"KVM ran guest code: {ran} (the timed loop in {loop:.3f}s)"


def probe_kvm(binary: str, timeout: float = 10.0) -> tuple[bool, str]:
    """Whether KVM really runs guest code here, and why not when it does not.

    A /dev/kvm that exists and opens, and a ``query-kvm`` that says enabled, do not prove it:
    this boots ``kvm_probe_bios()`` under ``-accel kvm`` and wants exit status 99 within
    ``timeout`` seconds (the QEMU process is killed by its PID after that), and the guest's
    1.5 million instruction loop done within ``KVM_PROBE_LOOP_LIMIT`` seconds."""
    if not os.path.exists("/dev/kvm"):
        return False, "/dev/kvm does not exist"
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return False, f"cannot open /dev/kvm: {exc.strerror}"
    os.close(fd)
    tmp = tempfile.mkdtemp(prefix="pyvirt-kvm-probe-")
    try:
        bios = os.path.join(tmp, "probe.bin")
        with open(bios, "wb") as fh:
            fh.write(kvm_probe_bios())
        argv = [binary, "-accel", "kvm", "-machine", "pc", "-m", "16", "-nodefaults",
                "-no-user-config", "-display", "none", "-no-reboot",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-chardev", "stdio,id=stages,signal=off",
                "-device", "isa-debugcon,iobase=0x402,chardev=stages",
                "-bios", bios]
        def loop_too_slow(seen: list[tuple[str, float]], elapsed: float) -> bool:
            start = next((when for ch, when in seen if ch == "2"), None)
            return (start is not None and elapsed - start > KVM_PROBE_LOOP_LIMIT
                    and all(ch != "C" for ch, _ in seen))

        try:
            status, seen, tail = _run_timed(argv, tmp, timeout, loop_too_slow)
        except OSError as exc:
            return False, f"cannot run {binary}: {exc.strerror}"
        return kvm_probe_verdict(status, seen, tail, timeout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- the host ------------------------------------------------------------------------------------

_SYS_CPU = "/sys/devices/system/cpu"
_SYS_NODE = "/sys/devices/system/node"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return None


def _read_int(path: str) -> int | None:
    text = _read(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _parse_cpulist(text: str | None) -> list[int]:
    cpus: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            cpus.update(range(int(lo), int(hi or lo) + 1))
        except ValueError:
            continue
    return sorted(cpus)


def format_cpulist(cpus: list[int]) -> str:
    """libvirt's bitmap string: ranges joined by commas ("0-3,8")."""
    parts: list[str] = []
    ordered = sorted(set(cpus))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def _cpuinfo() -> dict[str, str]:
    """The first processor's block of /proc/cpuinfo."""
    info: dict[str, str] = {}
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if not line.strip():
            if info:
                break
            continue
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    return info


_VENDORS = {"GenuineIntel": "Intel", "AuthenticAMD": "AMD", "HygonGenuine": "Hygon",
            "CentaurHauls": "VIA", "  Shanghai  ": "Zhaoxin"}

_host_uuid: str | None = None


def host_uuid() -> str:
    """The host's SMBIOS UUID when it has a usable one, else one made up for this process
    (libvirt does the same)."""
    global _host_uuid
    if _host_uuid is None:
        import uuid

        text = (_read("/sys/class/dmi/id/product_uuid") or "").lower()
        digits = text.replace("-", "")
        if len(digits) == 32 and len(set(digits)) > 1 and all(
                ch in "0123456789abcdef" for ch in digits):
            _host_uuid = str(uuid.UUID(digits))
        else:
            _host_uuid = str(uuid.uuid4())
    return _host_uuid


def set_host_uuid(text: str | None, source: str = "smbios") -> None:
    """libvirtd.conf's ``host_uuid`` (a fixed UUID) or ``host_uuid_source`` ("smbios",
    the default, or "machine-id": /etc/machine-id) for this process's drivers."""
    import uuid

    global _host_uuid
    if text is None and source == "machine-id":
        text = (_read("/etc/machine-id") or "").strip()
    if text is None:
        return
    try:
        value = uuid.UUID(text)
    except ValueError:
        value = None
    # libvirt also refuses a UUID of one repeated digit (virUUIDIsValid)
    if value is None or len(set(value.hex)) <= 1:
        raise_error(c.VIR_ERR_CONFIG_UNSUPPORTED, f"invalid host UUID: {text}",
                    domain=c.VIR_FROM_CONF)
    _host_uuid = str(value)


def _online_cpus() -> list[int]:
    online = _read(os.path.join(_SYS_CPU, "online"))
    if online:
        return _parse_cpulist(online)
    return list(range(os.cpu_count() or 1))


def _numa_nodes() -> list[int]:
    online = _read(os.path.join(_SYS_NODE, "online"))
    return _parse_cpulist(online) if online else []


def _topology(cpu: int) -> tuple[int, int, int, str] | None:
    base = os.path.join(_SYS_CPU, f"cpu{cpu}", "topology")
    socket = _read_int(os.path.join(base, "physical_package_id"))
    core = _read_int(os.path.join(base, "core_id"))
    if socket is None or core is None:
        return None
    die = _read_int(os.path.join(base, "die_id")) or 0
    siblings = format_cpulist(_parse_cpulist(_read(os.path.join(base, "thread_siblings_list"))))
    return max(socket, 0), max(die, 0), core, siblings or str(cpu)


def _host_cpu(arch: str) -> HostCPU:
    from pyvirt.conf.capabilities import CPUTopology, HostCPU

    cpu = HostCPU(arch=arch)
    info = _cpuinfo()
    if _is_x86(arch):
        cpu.vendor = _VENDORS.get(info.get("vendor_id", ""), None)
        try:
            cpu.microcode = int(info.get("microcode", "0"), 0) or None
        except ValueError:
            pass
        try:
            cpu.signature = (int(info["cpu family"]), int(info["model"]),
                             int(info["stepping"]))
        except (KeyError, ValueError):
            pass
        sizes = info.get("address sizes", "")
        if "bits physical" in sizes:
            try:
                cpu.maxphysaddr = ("emulate", int(sizes.split()[0]))
            except ValueError:
                pass
    # Topology per NUMA node, as libvirt's nodeinfo counts it.
    tops = [t for t in (_topology(n) for n in _online_cpus()) if t is not None]
    if tops:
        nodes = max(len(_numa_nodes()), 1)
        packages = {t[0] for t in tops}
        dies = {(t[0], t[1]) for t in tops}
        cores = {(t[0], t[1], t[2]) for t in tops}
        threads = max(sum(1 for t in tops if (t[0], t[1], t[2]) == core) for core in cores)
        cpu.topology = CPUTopology(
            sockets=max(len(packages) // nodes, 1),
            dies=max(len(dies) // len(packages), 1),
            cores=max(len(cores) // len(dies), 1),
            threads=threads,
        )
    cpu.pages = _page_sizes()
    return cpu


def _page_sizes() -> list[int]:
    sizes = [os.sysconf("SC_PAGE_SIZE") // 1024]
    try:
        names = os.listdir("/sys/kernel/mm/hugepages")
    except OSError:
        names = []
    for name in names:
        if name.startswith("hugepages-") and name.endswith("kB"):
            try:
                sizes.append(int(name[len("hugepages-"):-2]))
            except ValueError:
                continue
    return sorted(set(sizes))


def _meminfo_kib(path: str, key: str) -> int:
    for line in (_read(path) or "").splitlines():
        fields = line.replace(":", " ").split()
        # "MemTotal: N kB" or, per node, "Node 0 MemTotal: N kB"
        if key in fields:
            try:
                return int(fields[fields.index(key) + 1])
            except (IndexError, ValueError):
                return 0
    return 0


def _numa_cells(page_sizes: list[int]) -> list[NumaCell]:
    from pyvirt.conf.capabilities import NumaCell

    nodes = _numa_nodes()
    cells: list[NumaCell] = []
    if not nodes:  # no NUMA in this kernel: one cell with everything, as libvirt fakes it
        cpus = [_numa_cpu(n) for n in _online_cpus()]
        memory = _meminfo_kib("/proc/meminfo", "MemTotal")
        cells.append(NumaCell(id=0, memory_kib=memory, cpus=cpus,
                              pages=_node_pages(None, memory, page_sizes)))
        return cells
    for node in nodes:
        base = os.path.join(_SYS_NODE, f"node{node}")
        cpus = [_numa_cpu(n) for n in _parse_cpulist(_read(os.path.join(base, "cpulist")))]
        memory = _meminfo_kib(os.path.join(base, "meminfo"), "MemTotal")
        distances: list[tuple[int, int]] = []
        values = (_read(os.path.join(base, "distance")) or "").split()
        for other, value in zip(nodes, values):
            try:
                distances.append((other, int(value)))
            except ValueError:
                continue
        cells.append(NumaCell(id=node, memory_kib=memory, cpus=cpus, distances=distances,
                              pages=_node_pages(node, memory, page_sizes)))
    return cells


def _numa_cpu(cpu: int) -> NumaCPU:
    from pyvirt.conf.capabilities import NumaCPU

    topo = _topology(cpu)
    if topo is None:
        return NumaCPU(id=cpu)
    return NumaCPU(id=cpu, socket_id=topo[0], die_id=topo[1], core_id=topo[2],
                   siblings=topo[3])


def _node_pages(node: int | None, memory_kib: int,
                page_sizes: list[int]) -> list[tuple[int, int]]:
    """(size KiB, pages) per page size: huge pages as configured in the pool, the system
    page size for the rest of the node's memory."""
    huge: list[tuple[int, int]] = []
    for size in page_sizes[1:]:
        if node is None:
            path = f"/sys/kernel/mm/hugepages/hugepages-{size}kB/nr_hugepages"
        else:
            path = os.path.join(_SYS_NODE, f"node{node}", "hugepages",
                                f"hugepages-{size}kB", "nr_hugepages")
        huge.append((size, _read_int(path) or 0))
    base = page_sizes[0] if page_sizes else 4
    rest = memory_kib - sum(size * count for size, count in huge)
    return [(base, max(rest, 0) // base)] + huge


def _cache_banks() -> list[CacheBank]:
    """Level 3+ caches from sysfs, one bank per (level, id, type), with the CPUs sharing it."""
    from pyvirt.conf.capabilities import CacheBank

    banks: dict[tuple[int, int, str], CacheBank] = {}
    kinds = {"Unified": "both", "Instruction": "code", "Data": "data"}
    for cpu in _online_cpus():
        base = os.path.join(_SYS_CPU, f"cpu{cpu}", "cache")
        try:
            entries = sorted(e for e in os.listdir(base) if e.startswith("index"))
        except OSError:
            continue
        for entry in entries:
            path = os.path.join(base, entry)
            level = _read_int(os.path.join(path, "level"))
            bank_id = _read_int(os.path.join(path, "id"))
            kind = kinds.get(_read(os.path.join(path, "type")) or "")
            size_text = _read(os.path.join(path, "size"))
            shared = _read(os.path.join(path, "shared_cpu_list"))
            if (level is None or level < 3 or bank_id is None or kind is None
                    or not size_text or shared is None):
                continue
            key = (level, bank_id, kind)
            if key in banks:
                continue
            size, unit = _pretty_size(_scaled_bytes(size_text))
            banks[key] = CacheBank(id=bank_id, level=level, type=kind, size=size, unit=unit,
                                   cpus=format_cpulist(_parse_cpulist(shared)))
    return [banks[k] for k in sorted(banks, key=lambda k: (k[0], k[1]))]


def _scaled_bytes(text: str) -> int:
    units = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
    text = text.strip()
    scale = units.get(text[-1:].upper(), 1)
    digits = text[:-1] if text[-1:].upper() in units else text
    try:
        return int(digits) * scale
    except ValueError:
        return 0


def _pretty_size(value: int) -> tuple[int, str]:
    """The largest unit that divides ``value`` bytes exactly (libvirt's virFormatIntPretty)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value == 0 or value % 1024 or unit == "PiB":
            return value, unit
        value //= 1024
    return value, "EiB"


def _host_has_iommu() -> bool:
    try:
        return bool(os.listdir("/sys/kernel/iommu_groups"))
    except OSError:
        return False


def host_capabilities_xml(emulators: list[EmulatorCaps], *,
                          arch: str | None = None, uuid: str | None = None) -> str:
    """virConnectGetCapabilities for the QEMU driver: the host (``arch`` and ``uuid`` default
    to the real ones) and one <guest> per emulator arch. On an x86_64 host an x86_64
    emulator also serves i686 guests when no i386 one was given, as in libvirt."""
    from pyvirt.conf.capabilities import Capabilities, Machine

    arch = arch or host_arch()
    caps = Capabilities.new(arch, offline_migrate=True, live_migrate=True)
    host = caps.host
    host.uuid = uuid or host_uuid()
    host.cpu = _host_cpu(arch)
    host.power_management = []  # libvirt asks logind or pm-utils; neither is asked here
    host.iommu = _host_has_iommu()
    host.migrate_transports = ["tcp", "rdma"]
    host.numa_cells = _numa_cells(host.cpu.pages)
    host.cache_banks = _cache_banks()
    host.add_secmodel("none", "0")

    serving: dict[str, EmulatorCaps] = {}
    for emu in emulators:
        if emu.arch in ARCH_WORDSIZE:
            serving.setdefault(emu.arch, emu)
    if arch == "x86_64" and "x86_64" in serving and "i686" not in serving:
        serving["i686"] = serving["x86_64"]
    for guest_arch in sorted(serving, key=lambda a: ARCH_ORDER.get(a, len(ARCH_ORDER))):
        emu = serving[guest_arch]
        machines: list[Machine] = []
        for mach in emu.machines:
            if mach.alias:
                if not any(m.name == mach.name for m in machines):
                    machines.append(Machine(mach.name, max_cpus=mach.cpu_max,
                                            deprecated=mach.deprecated))
                machines.append(Machine(mach.alias, canonical=mach.name, max_cpus=mach.cpu_max,
                                        deprecated=mach.deprecated))
            else:
                machines.append(Machine(mach.name, max_cpus=mach.cpu_max,
                                        deprecated=mach.deprecated))
        guest = caps.add_guest("hvm", guest_arch, ARCH_WORDSIZE[guest_arch], emu.binary,
                               machines)
        guest.add_feature("cpuselection")
        guest.add_feature("deviceboot")
        guest.add_feature("disksnapshot", default=True, toggle=False)
        guest.add_domain("qemu")
        if emu.kvm:
            guest.add_domain("kvm")
        if _is_x86(guest_arch) or guest_arch == "aarch64":
            guest.add_feature("acpi", default=True, toggle=True)
        if _is_x86(guest_arch):
            guest.add_feature("apic", default=True, toggle=False)
        if guest_arch == "i686":
            guest.add_feature("pae")
            guest.add_feature("nonpae")
    return caps.to_xml()


# ---- domain capabilities -----------------------------------------------------------------------

# DEFAULT_LOADER_NVRAM of libvirt's build: used when no firmware descriptor matches.
DEFAULT_LOADERS = ("/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_CODE.secboot.fd",
                   "/usr/share/AAVMF/AAVMF_CODE.fd", "/usr/share/AAVMF/AAVMF32_CODE.fd")


def firmware_descriptor_dirs() -> list[str]:
    """QEMU's firmware descriptor directories, lowest priority first."""
    dirs = ["/usr/share/qemu/firmware", "/etc/qemu/firmware"]
    if os.geteuid() != 0:
        config = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
        dirs.append(os.path.join(config, "qemu", "firmware"))
    return dirs


def firmware_descriptors(dirs: list[str] | None = None) -> list[dict[str, Any]]:
    """The parsed *.json descriptors, by file name; a name in a later directory overrides
    (an empty file masks) the same name in an earlier one."""
    chosen: dict[str, str] = {}
    for directory in dirs if dirs is not None else firmware_descriptor_dirs():
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if name.endswith(".json"):
                chosen[name] = os.path.join(directory, name)
    result: list[dict[str, Any]] = []
    for name in sorted(chosen):
        path = chosen[name]
        try:
            if os.path.getsize(path) == 0:
                continue
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            result.append(data)
    return result


def _firmware_matches(desc: dict[str, Any], machine: str, arch: str) -> bool:
    from fnmatch import fnmatchcase

    for target in desc.get("targets") or []:
        target_arch = QEMU_TARGET_ARCH.get(target.get("architecture", ""),
                                           target.get("architecture", ""))
        if target_arch != arch:
            continue
        if any(fnmatchcase(machine, pattern) for pattern in target.get("machines") or []):
            return True
    return False


def _fill_os(dcaps: DomainCapabilities, machine: str, arch: str,
             descriptors: list[dict[str, Any]] | None) -> None:
    from pyvirt.conf.domcaps import CapsBlock

    if descriptors is None:
        descriptors = firmware_descriptors()
    kinds: set[str] = set()
    secure = False
    loaders: list[str] = []
    for desc in descriptors:
        if not _firmware_matches(desc, machine, arch):
            continue
        interfaces = desc.get("interface-types") or []
        if "uefi" in interfaces:
            kinds.add("efi")
        if "bios" in interfaces:
            kinds.add("bios")
        if "requires-smm" in (desc.get("features") or []):
            secure = True
        mapping = desc.get("mapping") or {}
        if mapping.get("device") == "flash":
            path = (mapping.get("executable") or {}).get("filename")
        elif mapping.get("device") == "memory":
            path = mapping.get("filename")
        else:
            path = None
        if path and path not in loaders:
            loaders.append(path)
    if not loaders:
        loaders = list(DEFAULT_LOADERS)
    dcaps.os.supported = True
    dcaps.os.enum("firmware", [k for k in ("bios", "efi") if k in kinds])
    loader = dcaps.os.children.setdefault("loader", CapsBlock(supported=True))
    loader.values = [path for path in loaders if os.path.exists(path)]
    loader.enum("type", ["rom", "pflash"])
    loader.enum("readonly", ["yes", "no"])
    loader.enum("secure", ["yes", "no"] if secure else ["no"])


def _kvm_max_vcpus() -> int | None:
    """KVM_CAP_MAX_VCPUS (else KVM_CAP_NR_VCPUS) from /dev/kvm."""
    import fcntl

    kvm_check_extension = 0xAE03
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        for cap in (66, 9):  # KVM_CAP_MAX_VCPUS, KVM_CAP_NR_VCPUS
            try:
                value = fcntl.ioctl(fd, kvm_check_extension, cap)
            except OSError:
                continue
            if value > 0:
                return int(value)
        return None
    finally:
        os.close(fd)


_swtpm_versions: list[str] | None = None


def _swtpm_tpm_versions() -> list[str] | None:
    """TPM versions swtpm_setup can create (None: no swtpm on this host)."""
    global _swtpm_versions
    if _swtpm_versions is None:
        if not shutil.which("swtpm") or not shutil.which("swtpm_setup"):
            return None
        versions: list[str] = []
        try:
            out = subprocess.run(["swtpm_setup", "--print-capabilities"],
                                 capture_output=True, timeout=5, check=False,
                                 stdin=subprocess.DEVNULL).stdout
            features = json.loads(out or b"{}").get("features") or []
        except (OSError, ValueError, subprocess.TimeoutExpired, AttributeError):
            features = []
        if "tpm-1.2" in features:
            versions.append("1.2")
        if "tpm-2.0" in features:
            versions.append("2.0")
        _swtpm_versions = versions
    return _swtpm_versions


def _is_i440fx(machine: str, arch: str) -> bool:
    return _is_x86(arch) and (machine == "pc" or machine.startswith(
        ("pc-0.", "pc-1.", "pc-i440fx-", "rhel")))


def _vfio_usable() -> bool:
    return os.path.exists("/dev/vfio/vfio") and _host_has_iommu()


def _fill_devices(dcaps: DomainCapabilities, caps: EmulatorCaps, machine: str) -> None:
    has = caps.has_device
    flags = caps.flags
    arch = dcaps.arch
    pseries = arch.startswith("ppc64") and machine.startswith("pseries")

    disk = dcaps.device("disk")
    disk.supported = True
    disk.enum("diskDevice", ["disk", "cdrom"] + ([] if pseries else ["floppy"]) + ["lun"])
    bus = []
    if _is_i440fx(machine, arch) or machine in ("malta", "sun4u", "g3beige"):
        bus.append("ide")
    if not pseries:
        bus.append("fdc")
    bus += ["scsi", "virtio"]
    if has("usb-storage"):
        bus.append("usb")
    if has("ich9-ahci"):
        bus.append("sata")
    disk.enum("bus", bus)
    transitional = "virtio-pci-transitional" in flags
    disk.enum("model", ["virtio"] + (["virtio-transitional", "virtio-non-transitional"]
                                     if transitional else []))

    graphics = dcaps.device("graphics")
    graphics.supported = True
    graphics.enum("type", [name for name, ok in (
        ("sdl", "display-sdl" in flags), ("vnc", "vnc" in flags),
        ("spice", "spice" in flags), ("egl-headless", "display-egl-headless" in flags),
        ("dbus", "display-dbus" in flags)) if ok])

    video = dcaps.device("video")
    video.supported = True
    video.enum("modelType", [name for name, ok in (
        ("vga", has("VGA")), ("cirrus", has("cirrus-vga")), ("vmvga", has("vmware-svga")),
        ("qxl", has("qxl")), ("virtio", has("virtio-gpu-pci") or has("virtio-gpu-device")),
        ("none", True), ("bochs", has("bochs-display")), ("ramfb", has("ramfb"))) if ok])

    hostdev = dcaps.device("hostdev")
    hostdev.supported = True
    hostdev.enum("mode", ["subsystem"])
    hostdev.enum("startupPolicy", ["default", "mandatory", "requisite", "optional"])
    usb = any(has(name) for name in ("piix3-usb-uhci", "piix4-usb-uhci", "usb-ehci",
                                     "ich9-usb-ehci1", "vt82c686b-usb-uhci", "pci-ohci",
                                     "nec-usb-xhci", "qemu-xhci"))
    hostdev.enum("subsysType", (["usb"] if usb else []) + ["pci", "scsi"])
    hostdev.enum("capsType", [])
    hostdev.enum("pciBackend", ["default", "vfio"] if _vfio_usable() and has("vfio-pci")
                 else [])

    rng = dcaps.device("rng")
    rng.supported = True
    virtio_rng = any(has(n) for n in ("virtio-rng-pci", "virtio-rng-ccw", "virtio-rng-device"))
    rng.enum("model", (["virtio"] if virtio_rng else []) + (
        ["virtio-transitional", "virtio-non-transitional"] if virtio_rng and transitional
        else []))
    rng.enum("backendModel", [name for name, ok in (
        ("random", has("rng-random")), ("egd", has("rng-egd")),
        ("builtin", has("rng-builtin"))) if ok])

    filesystem = dcaps.device("filesystem")
    filesystem.supported = True
    filesystem.enum("driverType", ["path", "handle"] + (
        ["virtiofs"] if has("vhost-user-fs-device") else []))

    tpm = dcaps.device("tpm")
    models = [name for name, ok in (
        ("tpm-tis", has("tpm-tis")), ("tpm-crb", has("tpm-crb")),
        ("tpm-spapr", has("tpm-spapr")), ("spapr-tpm-proxy", has("spapr-tpm-proxy"))) if ok]
    tpm.supported = bool(models)
    tpm.enum("model", models)
    backends = ["passthrough"] if has("tpm-passthrough") else []
    versions = _swtpm_tpm_versions() if models else None
    if versions is not None and has("tpm-emulator"):
        backends += ["emulator", "external"]
    tpm.enum("backendModel", backends)
    if versions:
        tpm.enum("backendVersion", versions)

    redirdev = dcaps.device("redirdev")
    redirdev.supported = has("usb-redir")
    if redirdev.supported:
        redirdev.enum("bus", ["usb"])

    channel = dcaps.device("channel")
    channel.supported = True
    channel.enum("type", ["pty", "unix"] + (["spicevmc"] if "spice" in flags else []))


def _fill_cpu(dcaps: DomainCapabilities, caps: EmulatorCaps, virttype: str) -> None:
    from pyvirt.conf.domcaps import CPUModel

    kvm = virttype == "kvm"
    names = caps.kvm_cpu_models if kvm else caps.cpu_models
    blockers = caps.kvm_cpu_blockers if kvm else caps.cpu_blockers
    cpu = dcaps.cpu
    if kvm:
        cpu.host_passthrough = True
        cpu.host_passthrough_migratable = ["on", "off"]
    if "max" in names:
        cpu.maximum = True
        cpu.maximum_migratable = ["on", "off"]
    deprecated = set(caps.cpu_deprecated)
    models = []
    for name in names:
        if name in ("host", "max", "base") or _is_versioned_model(name):
            continue
        if name not in blockers:
            usable = "unknown"
        else:
            usable = "no" if blockers[name] else "yes"
        models.append(CPUModel(name, usable, deprecated=name in deprecated))
    cpu.custom_models = models


def _is_versioned_model(name: str) -> bool:
    """QEMU's versioned CPU model aliases ("EPYC-v2"), which libvirt does not list."""
    base, sep, version = name.rpartition("-v")
    return bool(sep and base and version.isdigit())


def domain_capabilities_xml(caps: EmulatorCaps, arch: str | None = None,
                            machine: str | None = None, virttype: str | None = None, *,
                            firmware: list[dict[str, Any]] | None = None) -> str:
    """virConnectGetDomainCapabilities for the emulator ``caps`` describes.

    ``arch`` defaults to the host's, ``virttype`` to kvm when KVM works (else qemu),
    ``machine`` to libvirt's preferred machine; aliases resolve to the canonical machine.
    ``firmware`` replaces the firmware descriptors read from disk (for tests). Errors as
    libvirt's: VIR_ERR_INVALID_ARG for an unknown virttype or arch, an arch the emulator
    cannot serve, an accelerator it lacks, a machine it does not have."""
    from pyvirt.conf.domcaps import DomainCapabilities

    if virttype is not None and virttype not in VIRT_TYPES:
        raise_error(c.VIR_ERR_INVALID_ARG, f"unknown virttype: {virttype}",
                    domain=c.VIR_FROM_QEMU)
    if arch is not None and arch not in ARCH_WORDSIZE:
        raise_error(c.VIR_ERR_INVALID_ARG, f"unknown architecture: {arch}",
                    domain=c.VIR_FROM_QEMU)
    arch = arch or host_arch()
    if caps.arch != arch and _arch_family(caps.arch) != _arch_family(arch):
        raise_error(c.VIR_ERR_INVALID_ARG,
                    f"architecture from emulator '{caps.arch}' doesn't match given "
                    f"architecture '{arch}'", domain=c.VIR_FROM_QEMU)
    caps_type = "kvm" if caps.kvm else "qemu"
    if virttype is None or virttype == "none":
        virttype = caps_type
    if virttype != "qemu" and caps_type == "qemu":
        accel = virttype if virttype in ("kvm", "hvf") else "tcg"
        raise_error(c.VIR_ERR_INVALID_ARG,
                    f"the accel '{accel}' is not supported by '{caps.binary}' on this host",
                    domain=c.VIR_FROM_QEMU)
    if machine is not None:
        alias = next((m for m in caps.machines if m.alias == machine), None)
        canonical = alias.name if alias is not None else machine
        found = next((m for m in caps.machines if m.name == canonical), None)
        if found is None:
            raise_error(c.VIR_ERR_INVALID_ARG,
                        f"the machine '{canonical}' is not supported by emulator "
                        f"'{caps.binary}'", domain=c.VIR_FROM_QEMU)
    else:
        found = caps.machines[0] if caps.machines else None
    dcaps = DomainCapabilities(path=caps.binary, virt_type=virttype, arch=arch,
                               machine=found.name if found else None)
    max_vcpus = found.cpu_max if found else 0
    if virttype == "kvm":
        limit = _kvm_max_vcpus()
        if limit:
            max_vcpus = min(max_vcpus, limit)
    dcaps.max_vcpus = max_vcpus
    dcaps.iothreads = caps.has_device("iothread")
    _fill_os(dcaps, dcaps.machine or "", arch, firmware)
    _fill_cpu(dcaps, caps, virttype)
    dcaps.memory_backing.supported = True
    dcaps.memory_backing.enum("sourceType", ["file", "anonymous"] + (
        ["memfd"] if caps.has_device("memory-backend-memfd") else []))
    _fill_devices(dcaps, caps, dcaps.machine or "")
    dcaps.gic.supported = False  # only ARM "virt" machines have one
    dcaps.features["vmcoreinfo"] = caps.has_device("vmcoreinfo")
    dcaps.features["genid"] = caps.has_device("vmgenid")
    dcaps.features["backingStoreInput"] = True
    dcaps.features["backup"] = "incremental-backup" in caps.flags
    if arch.startswith("s390"):
        dcaps.features["s390-pv"] = False
    if _is_x86(arch) and caps.hyperv_features:
        from pyvirt.conf.domcaps import CapsBlock

        dcaps.hyperv = CapsBlock(supported=True)
        dcaps.hyperv.enum("features", caps.hyperv_features)
    return dcaps.to_xml()
