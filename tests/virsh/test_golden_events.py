"""Tests for the "Domain Events" group.

One virsh process cannot both wait for events and cause them, so the golden comparisons
with real virsh cover the paths that need no event (--list, option errors, the timeout
path "events received: 0"); delivery and virsh's text for each event are checked in-process
against pyvirt's test driver and against the formats of tools/virsh-domain-event.c.
"""

from __future__ import annotations

import io
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

import pyvirt
from pyvirt import constants as c

DEFAULT = "test:///default"

CASES: list[str] = [
    "event --list",
    "event",
    "event --all --timeout 1",
    "event --event lifecycle --timeout 1",
    "event --event lifecycle --timeout 1 --timestamp",
    "event --event reboot --domain test --timeout 1",
    "event --event nope",
    "event --all --event lifecycle",
    "event --list --all",
    "event --list --event lifecycle",
    "event --all --timeout 0",
    "event --all --timeout abc",
    "event --all --timeout -1",
    "event --all --timeout 3000000",
    "event --all --domain nope --timeout 1",
    "event --all --loop --timeout 1; list",
    "event --all --loop --timeout 1 --domain 1",
    "-q event --all --timeout 1",
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("where", ["default", "testnode"])
def test_event_matches_virsh(both, testnode_uri, where: str, case: str) -> None:
    uri = DEFAULT if where == "default" else testnode_uri
    argv = ["-q", "-c", uri, case[3:]] if case.startswith("-q ") else ["-c", uri, case]
    ours, theirs = both(*argv)
    assert (ours.stdout, ours.stderr, ours.status) == (
        theirs.stdout, theirs.stderr, theirs.status)


def test_event_help_matches_virsh(pyvirsh, real_virsh) -> None:
    for name in ("event", "events"):
        ours, theirs = pyvirsh("help", name), real_virsh("help", name)
        assert (ours.stdout, ours.stderr, ours.status) == (
            theirs.stdout, theirs.stderr, theirs.status)


def _interrupt(argv: list[str]) -> tuple[str, int]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    out, _err = proc.communicate(timeout=10)
    return out, proc.returncode


def test_ctrl_c_matches_virsh(real_virsh) -> None:
    real_virsh("--version")  # skips when virsh is absent
    args = ["-c", DEFAULT, "event --all --loop"]
    ours = _interrupt([sys.executable, "-m", "pyvirt.virsh", *args])
    theirs = _interrupt(["/usr/bin/virsh", *args])
    assert ours == theirs == ("event loop interrupted\nevents received: 0\n\n", 1)


# ---- delivery, in-process ----------------------------------------------------------------

def _run_event_command(line_args: list[tuple[str, str | None]], action: Any,
                       uri: str = DEFAULT) -> tuple[str, bool]:
    """Run ``event`` with ``line_args`` on a Ctl writing to a buffer, while ``action(conn)``
    changes the domain from a timer thread on the same connection."""
    from pyvirt.virsh import registry
    from pyvirt.virsh.ctl import Args, Ctl

    cmd = registry.resolve("event")
    assert cmd is not None
    out = io.StringIO()
    ctl = Ctl(uri=uri, stdout=out)
    opts = [(cmd.option(name), value) for name, value in line_args]
    args = Args(cmd, [(o, v) for o, v in opts if o is not None])
    timer = threading.Timer(0.2, action, (ctl.conn,))
    timer.start()
    try:
        ok = bool(cmd.handler(ctl, args))
    finally:
        timer.join()
        ctl.close()
    return out.getvalue(), ok


def test_event_one_shot_lifecycle() -> None:
    out, ok = _run_event_command(
        [("event", "lifecycle"), ("timeout", "5")],
        lambda conn: conn.lookupByName("test").suspend())
    assert ok
    assert out == ("event 'lifecycle' for domain 'test': Suspended Paused\n"
                   "events received: 1\n")


def test_event_loop_all_with_timestamp() -> None:
    def act(conn: Any) -> None:
        dom = conn.lookupByName("test")
        dom.suspend()
        dom.resume()
        dom.destroy()

    out, ok = _run_event_command([("all", None), ("loop", None), ("timeout", "1"),
                                  ("timestamp", None)], act)
    assert ok
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000: "
    assert re.fullmatch(
        f"{stamp}event 'lifecycle' for domain 'test': Suspended Paused\n"
        f"{stamp}event 'lifecycle' for domain 'test': Resumed Unpaused\n"
        f"{stamp}event 'lifecycle' for domain 'test': Stopped Destroyed\n"
        "event loop timed out\nevents received: 3\n", out), out


def test_event_domain_filter(testnode_uri: str) -> None:
    def act(conn: Any) -> None:
        conn.lookupByName("fc4").suspend()
        conn.lookupByName("fv0").suspend()

    out, ok = _run_event_command([("all", None), ("loop", None), ("timeout", "1"),
                                  ("domain", "fv0")], act, uri=testnode_uri)
    assert ok
    assert out == ("event 'lifecycle' for domain 'fv0': Suspended Paused\n"
                   "event loop timed out\nevents received: 1\n")


# ---- virsh's text for each event -----------------------------------------------------------

TEXTS: list[tuple[int, tuple[Any, ...], str]] = [
    (c.VIR_DOMAIN_EVENT_ID_LIFECYCLE, (c.VIR_DOMAIN_EVENT_STOPPED, 1),
     "event 'lifecycle' for domain 'd': Stopped Destroyed\n"),
    (c.VIR_DOMAIN_EVENT_ID_LIFECYCLE, (c.VIR_DOMAIN_EVENT_DEFINED, 9),
     "event 'lifecycle' for domain 'd': Defined unknown\n"),
    (c.VIR_DOMAIN_EVENT_ID_LIFECYCLE, (99, 0),
     "event 'lifecycle' for domain 'd': unknown unknown\n"),
    (c.VIR_DOMAIN_EVENT_ID_REBOOT, (), "event 'reboot' for domain 'd'\n"),
    (c.VIR_DOMAIN_EVENT_ID_RTC_CHANGE, (-3600,), "event 'rtc-change' for domain 'd': -3600\n"),
    (c.VIR_DOMAIN_EVENT_ID_WATCHDOG, (3,), "event 'watchdog' for domain 'd': poweroff\n"),
    (c.VIR_DOMAIN_EVENT_ID_IO_ERROR, ("/a", "virtio-disk0", 1),
     "event 'io-error' for domain 'd': /a (virtio-disk0) pause\n"),
    (c.VIR_DOMAIN_EVENT_ID_GRAPHICS,
     (0, {"family": 0, "node": "127.0.0.1", "service": "5900"},
      {"family": 1, "node": "::1", "service": "4000"}, "vnc", [("x509dname", "CN=a")]),
     "event 'graphics' for domain 'd': connect local[IPv4 127.0.0.1 5900] "
     "remote[IPv6 ::1 4000] vnc\n\tx509dname=CN=a\n"),
    (c.VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON, ("/a", "ide0", 2, "enospc"),
     "event 'io-error-reason' for domain 'd': /a (ide0) report due to enospc\n"),
    (c.VIR_DOMAIN_EVENT_ID_CONTROL_ERROR, (), "event 'control-error' for domain 'd'\n"),
    (c.VIR_DOMAIN_EVENT_ID_BLOCK_JOB, ("/a", 2, 3),
     "event 'block-job' for domain 'd': Block Copy for /a ready\n"),
    (c.VIR_DOMAIN_EVENT_ID_DISK_CHANGE, (None, "/b", "cd0", 0),
     "event 'disk-change' for domain 'd' disk cd0: <null> -> /b: changed\n"),
    (c.VIR_DOMAIN_EVENT_ID_TRAY_CHANGE, ("cd0", 1),
     "event 'tray-change' for domain 'd' disk cd0: closed\n"),
    (c.VIR_DOMAIN_EVENT_ID_PMWAKEUP, (0,), "event 'pm-wakeup' for domain 'd'\n"),
    (c.VIR_DOMAIN_EVENT_ID_PMSUSPEND, (0,), "event 'pm-suspend' for domain 'd'\n"),
    (c.VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE, (1024,),
     "event 'balloon-change' for domain 'd': 1024KiB\n"),
    (c.VIR_DOMAIN_EVENT_ID_PMSUSPEND_DISK, (0,), "event 'pm-suspend-disk' for domain 'd'\n"),
    (c.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, ("net0",),
     "event 'device-removed' for domain 'd': net0\n"),
    (c.VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2, ("vda", 3, 0),
     "event 'block-job-2' for domain 'd': Block Commit for vda completed\n"),
    (c.VIR_DOMAIN_EVENT_ID_TUNABLE, ({"cputune.vcpu0": "0-1", "blkdeviotune.weight": 5,
                                      "x.ratio": 0.5, "x.flag": True},),
     "event 'tunable' for domain 'd':\n\tcputune.vcpu0: 0-1\n\tblkdeviotune.weight: 5\n"
     "\tx.ratio: 0.5\n\tx.flag: 1\n"),
    (c.VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE, (1, 2),
     "event 'agent-lifecycle' for domain 'd': state: 'connected' reason: 'channel event'\n"),
    (c.VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE, (7, 7),
     "event 'agent-lifecycle' for domain 'd': state: 'unsupported value' reason: "
     "'unsupported value'\n"),
    (c.VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, ("net1",),
     "event 'device-added' for domain 'd': net1\n"),
    (c.VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION, (4,),
     "event 'migration-iteration' for domain 'd': iteration: '4'\n"),
    (c.VIR_DOMAIN_EVENT_ID_JOB_COMPLETED, ({"time_elapsed": 10},),
     "event 'job-completed' for domain 'd':\n\ttime_elapsed: 10\n"),
    (c.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED, ("hostdev0",),
     "event 'device-removal-failed' for domain 'd': hostdev0\n"),
    (c.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, (2, "http://x/"),
     "event 'metadata-change' for domain 'd': type element, uri http://x/\n"),
    (c.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, (1, None),
     "event 'metadata-change' for domain 'd': type title, uri <null>\n"),
    (c.VIR_DOMAIN_EVENT_ID_BLOCK_THRESHOLD, ("vda", None, 100, 5),
     "event 'block-threshold' for domain 'd': dev: vda(<null>) 100 5\n"),
    (c.VIR_DOMAIN_EVENT_ID_MEMORY_FAILURE, (1, 2, c.VIR_DOMAIN_MEMORY_FAILURE_RECURSIVE),
     "event 'memory-failure' for domain 'd':\nrecipient: guest\naction: fatal\nflags:\n"
     "\taction required: 0\n\trecursive: 1\n"),
    (c.VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE, ("dimm0", 4096),
     "event 'memory-device-size-change' for domain 'd':\nalias: dimm0\nsize: 4096\n"),
]


@pytest.mark.parametrize("event_id,payload,text", TEXTS)
def test_event_text(event_id: int, payload: tuple[Any, ...], text: str) -> None:
    from pyvirt.virsh.commands.events import domain_event_text

    assert domain_event_text(event_id, "d", payload) == text


def test_every_event_id_has_a_name() -> None:
    from pyvirt.virsh.commands.events import DOMAIN_EVENTS

    assert len(DOMAIN_EVENTS) == c.VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE + 1


def test_printer_one_shot_ignores_later_events() -> None:
    from pyvirt.virsh.commands.events import EventPrinter
    from pyvirt.virsh.ctl import Ctl

    out = io.StringIO()
    printer = EventPrinter(Ctl(stdout=out), loop=False, timestamp=False)
    printer.emit("a\n")
    printer.emit("b\n")
    assert (out.getvalue(), printer.count, printer.done) == ("a\n", 1, True)


def test_run_event_loop_times_out() -> None:
    from pyvirt.virsh.commands.events import EventPrinter, run_event_loop
    from pyvirt.virsh.ctl import Ctl

    pyvirt.virEventRegisterDefaultImpl()
    printer = EventPrinter(Ctl(stdout=io.StringIO()), loop=True, timestamp=False)
    start = time.monotonic()
    assert run_event_loop(printer.ctl, printer, 200) == "timeout"
    assert 0.15 < time.monotonic() - start < 2
