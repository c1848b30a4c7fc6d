"""virsh's "Domain Events" group (tools/virsh-domain-event.c): ``event``.

It also holds the event-waiting machinery every ``*-event`` command shares (virsh's
vshEventStart / vshEventWait / vshEventDone / vshEventCleanup and virsh*EventPrint):
``EventPrinter`` counts and prints event lines (one-shot or --loop, --timestamp),
``run_event_loop`` drives pyvirt's default event loop until the printer is done, the
timeout fires or Ctrl-C, and ``event_timeout_ms`` reads ``--timeout`` as virsh does.
"""

from __future__ import annotations

import time

import pyvirt
from pyvirt import constants as c
from pyvirt.virsh.ctl import CommandError
from pyvirt.virsh.registry import Opt, OptType, command, register_completer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.virsh.ctl import Args, Ctl

    Formatter = Callable[[str, str, tuple[Any, ...]], str]

GROUP = "events"

INT_MAX = 0x7FFFFFFF


def timestamp_now() -> str:
    """virTimeStringNowRaw: "YYYY-MM-DD HH:MM:SS.mmm+0000" (UTC)."""
    now = time.time()
    return (time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))
            + f".{int(now * 1000) % 1000:03d}+0000")


def event_timeout_ms(args: Args) -> int:
    """vshCommandOptTimeoutToMs: --timeout in seconds as milliseconds; 0 when absent."""
    seconds = args.uint("timeout")
    if seconds is None:
        return 0
    if seconds == 0 or seconds > INT_MAX // 1000:
        raise CommandError(
            f"Numeric value '{seconds}' for <timeout> option is malformed or out of range")
    return seconds * 1000


class EventPrinter:
    """virshEventPrint's bookkeeping: print a line per event (prefixed by the time with
    --timestamp), count them, and after the first one stop unless --loop."""

    def __init__(self, ctl: Ctl, loop: bool, timestamp: bool) -> None:
        self.ctl = ctl
        self.loop = loop
        self.timestamp = timestamp
        self.count = 0
        self.done = False

    def emit(self, text: str) -> None:
        """Print ``text`` (one or more lines, ending in a newline) as one event."""
        if not self.loop and self.count:
            return
        if self.timestamp:
            text = f"{timestamp_now()}: {text}"
        self.ctl.print(text, end="")
        self.ctl.out.flush()
        self.count += 1
        if not self.loop:
            self.done = True


def run_event_loop(ctl: Ctl, printer: EventPrinter, timeout_ms: int) -> str:
    """vshEventWait: run pyvirt's default event loop until ``printer`` is done ("done"),
    ``timeout_ms`` passes ("timeout"; 0 = no timeout) or Ctrl-C ("interrupt")."""
    expired = [False]

    def on_timeout(timer: int, opaque: Any) -> None:
        expired[0] = True

    def on_sigint(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # virsh installs its own SIGINT action for the wait: Ctrl-C must end it even when the
    # process started with SIGINT ignored (a background job)
    import signal
    import threading

    old_handler: Any = None
    if threading.current_thread() is threading.main_thread():
        old_handler = signal.signal(signal.SIGINT, on_sigint)
    timer = -1
    if timeout_ms:
        timer = pyvirt.virEventAddTimeout(timeout_ms, on_timeout, None)
    try:
        while not printer.done and not expired[0]:
            pyvirt.virEventRunDefaultImpl()
    except KeyboardInterrupt:
        return "interrupt"
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGINT, old_handler)
        if timer >= 0:
            pyvirt.virEventRemoveTimeout(timer)
    return "done" if printer.done else "timeout"


def finish_event_wait(ctl: Ctl, printer: EventPrinter, outcome: str) -> bool:
    """What virsh prints after the wait; success means at least one event arrived."""
    if outcome == "interrupt":
        ctl.print("event loop interrupted")
    elif outcome == "timeout":
        ctl.print("event loop timed out")
    ctl.print(f"events received: {printer.count}")
    return printer.count > 0


def chosen_event(ctl: Ctl, args: Args, names: tuple[str, ...]) -> str | None:
    """An object ``*-event`` command's ``--list`` (prints ``names``; None: nothing to wait
    for) or its ``--event`` name, refused as virsh does when missing or unknown."""
    if args.bool("list"):
        for name in names:
            ctl.print(name)
        return None
    event_name = args.string("event")
    if event_name is None:
        raise CommandError("either --list or --event <type> is required")
    if event_name not in names:
        raise CommandError(f"unknown event type {event_name}")
    return event_name


def watch_events(ctl: Ctl, printer: EventPrinter, timeout_ms: int,
                 register: Callable[[], int], deregister: Callable[[int], Any]) -> bool:
    """Register one callback (``register()`` gives its ID), wait as virsh does, then
    deregister it; success means at least one event arrived and cleanup worked."""
    from pyvirt.errors import libvirtError

    pyvirt.virEventRegisterDefaultImpl()
    callback_id = register()
    ok = False
    try:
        ok = finish_event_wait(ctl, printer, run_event_loop(ctl, printer, timeout_ms))
    finally:
        try:
            deregister(callback_id)
        except libvirtError:
            ok = False
    return ok


# --- virsh's words for domain event payloads ----------------------------------------------

_EVENTS = ("Defined", "Undefined", "Started", "Suspended", "Resumed", "Stopped", "Shutdown",
           "PMSuspended", "Crashed")
_DETAILS: tuple[tuple[str, ...], ...] = (
    ("Added", "Updated", "Renamed", "Snapshot"),
    ("Removed", "Renamed"),
    ("Booted", "Migrated", "Restored", "Snapshot", "Event wakeup"),
    ("Paused", "Migrated", "I/O Error", "Watchdog", "Restored", "Snapshot", "API error",
     "Post-copy", "Post-copy Error"),
    ("Unpaused", "Migrated", "Snapshot", "Post-copy", "Post-copy Error"),
    ("Shutdown", "Destroyed", "Crashed", "Migrated", "Saved", "Failed", "Snapshot"),
    ("Finished", "Finished after guest request", "Finished after host request"),
    ("Memory", "Disk"),
    ("Panicked", "Crashloaded"),
)
_WATCHDOG = ("none", "pause", "reset", "poweroff", "shutdown", "debug", "inject-nmi")
_IO_ERROR = ("none", "pause", "report")
_GRAPHICS_PHASE = ("connect", "initialize", "disconnect")
_GRAPHICS_ADDRESS = ("IPv4", "IPv6", "unix")
_BLOCK_JOB_STATUS = ("completed", "failed", "canceled", "ready")
_BLOCK_JOB_TYPE = ("Unknown job", "Block Pull", "Block Copy", "Block Commit",
                   "Active Block Commit", "Backup")
_DISK_CHANGE = ("changed", "dropped")
_TRAY_CHANGE = ("opened", "closed")
_AGENT_STATE = ("unknown", "connected", "disconnected")
_AGENT_REASON = ("unknown", "domain started", "channel event")
_METADATA_TYPE = ("description", "title", "element")
_MEMFAIL_RECIPIENT = ("hypervisor", "guest")
_MEMFAIL_ACTION = ("ignore", "inject", "fatal", "reset")


def _word(table: tuple[str, ...], value: int, default: str = "unknown") -> str:
    return table[value] if 0 <= value < len(table) else default


def _null(value: str | None) -> str:
    """NULLSTR."""
    return "<null>" if value is None else value


def typed_param_text(value: Any) -> str:
    """virTypedParameterToString for a value from a Python params dict."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def lifecycle_text(name: str, event: int, detail: int) -> str:
    details = _DETAILS[event] if 0 <= event < len(_DETAILS) else ()
    return (f"event 'lifecycle' for domain '{name}': {_word(_EVENTS, event)} "
            f"{_word(details, detail)}\n")


def _params_text(head: str, params: dict[str, Any]) -> str:
    return head + "".join(f"\t{k}: {typed_param_text(v)}\n" for k, v in params.items())


# Each formatter takes the event name, the domain name and libvirt-python's callback payload
# (the arguments between the domain and the opaque) and returns virsh's text.


def _generic(ev: str, dom: str, p: tuple[Any, ...]) -> str:
    return f"event '{ev}' for domain '{dom}'\n"


def _graphics(ev: str, dom: str, p: tuple[Any, ...]) -> str:
    phase, local, remote, auth, subject = p
    text = (f"event 'graphics' for domain '{dom}': {_word(_GRAPHICS_PHASE, phase)} "
            f"local[{_word(_GRAPHICS_ADDRESS, local['family'])} {local['node']} "
            f"{local['service']}] remote[{_word(_GRAPHICS_ADDRESS, remote['family'])} "
            f"{remote['node']} {remote['service']}] {auth}\n")
    return text + "".join(f"\t{kind}={who}\n" for kind, who in subject)


def _block_job(ev: str, dom: str, p: tuple[Any, ...]) -> str:
    disk, kind, status = p
    return (f"event '{ev}' for domain '{dom}': {_word(_BLOCK_JOB_TYPE, kind)} for {disk} "
            f"{_word(_BLOCK_JOB_STATUS, status)}\n")


def _memory_failure(ev: str, dom: str, p: tuple[Any, ...]) -> str:
    recipient, action, flags = p
    return (f"event 'memory-failure' for domain '{dom}':\n"
            f"recipient: {_word(_MEMFAIL_RECIPIENT, recipient, 'unsupported value')}\n"
            f"action: {_word(_MEMFAIL_ACTION, action, 'unsupported value')}\n"
            f"flags:\n\taction required: "
            f"{int(bool(flags & c.VIR_DOMAIN_MEMORY_FAILURE_ACTION_REQUIRED))}\n"
            f"\trecursive: {int(bool(flags & c.VIR_DOMAIN_MEMORY_FAILURE_RECURSIVE))}\n")


# virsh's virshDomainEventCallbacks, in VIR_DOMAIN_EVENT_ID_* order
DOMAIN_EVENTS: tuple[tuple[str, Formatter], ...] = (
    ("lifecycle", lambda ev, dom, p: lifecycle_text(dom, p[0], p[1])),
    ("reboot", _generic),
    ("rtc-change", lambda ev, dom, p: f"event 'rtc-change' for domain '{dom}': {p[0]}\n"),
    ("watchdog", lambda ev, dom, p:
        f"event 'watchdog' for domain '{dom}': {_word(_WATCHDOG, p[0])}\n"),
    ("io-error", lambda ev, dom, p:
        f"event 'io-error' for domain '{dom}': {p[0]} ({p[1]}) {_word(_IO_ERROR, p[2])}\n"),
    ("graphics", _graphics),
    ("io-error-reason", lambda ev, dom, p:
        f"event 'io-error-reason' for domain '{dom}': {p[0]} ({p[1]}) "
        f"{_word(_IO_ERROR, p[2])} due to {p[3]}\n"),
    ("control-error", _generic),
    ("block-job", _block_job),
    ("disk-change", lambda ev, dom, p:
        f"event 'disk-change' for domain '{dom}' disk {p[2]}: {_null(p[0])} -> "
        f"{_null(p[1])}: {_word(_DISK_CHANGE, p[3])}\n"),
    ("tray-change", lambda ev, dom, p:
        f"event 'tray-change' for domain '{dom}' disk {p[0]}: {_word(_TRAY_CHANGE, p[1])}\n"),
    ("pm-wakeup", _generic),
    ("pm-suspend", _generic),
    ("balloon-change", lambda ev, dom, p:
        f"event 'balloon-change' for domain '{dom}': {p[0]}KiB\n"),
    ("pm-suspend-disk", _generic),
    ("device-removed", lambda ev, dom, p: f"event 'device-removed' for domain '{dom}': {p[0]}\n"),
    ("block-job-2", _block_job),
    ("tunable", lambda ev, dom, p: _params_text(f"event 'tunable' for domain '{dom}':\n", p[0])),
    ("agent-lifecycle", lambda ev, dom, p:
        f"event 'agent-lifecycle' for domain '{dom}': state: "
        f"'{_word(_AGENT_STATE, p[0], 'unsupported value')}' reason: "
        f"'{_word(_AGENT_REASON, p[1], 'unsupported value')}'\n"),
    ("device-added", lambda ev, dom, p: f"event 'device-added' for domain '{dom}': {p[0]}\n"),
    ("migration-iteration", lambda ev, dom, p:
        f"event 'migration-iteration' for domain '{dom}': iteration: '{p[0]}'\n"),
    ("job-completed", lambda ev, dom, p:
        _params_text(f"event 'job-completed' for domain '{dom}':\n", p[0])),
    ("device-removal-failed", lambda ev, dom, p:
        f"event 'device-removal-failed' for domain '{dom}': {p[0]}\n"),
    ("metadata-change", lambda ev, dom, p:
        f"event 'metadata-change' for domain '{dom}': type "
        f"{_word(_METADATA_TYPE, p[0], 'unsupported value')}, uri {_null(p[1])}\n"),
    ("block-threshold", lambda ev, dom, p:
        f"event 'block-threshold' for domain '{dom}': dev: {p[0]}({_null(p[1])}) "
        f"{p[2]} {p[3]}\n"),
    ("memory-failure", _memory_failure),
    ("memory-device-size-change", lambda ev, dom, p:
        f"event 'memory-device-size-change' for domain '{dom}':\nalias: {p[0]}\n"
        f"size: {p[1]}\n"),
)


def domain_event_text(event_id: int, dom_name: str, payload: tuple[Any, ...]) -> str:
    """virsh's text for domain event ``event_id`` (VIR_DOMAIN_EVENT_ID_*) about ``dom_name``
    with libvirt-python's callback payload."""
    name, fmt = DOMAIN_EVENTS[event_id]
    return fmt(name, dom_name, payload)


register_completer("domain_event", lambda ctl, values: [name for name, _fmt in DOMAIN_EVENTS])


def _callback(printer: EventPrinter, event_id: int) -> Callable[..., None]:
    def callback(conn: Any, dom: Any, *rest: Any) -> None:
        printer.emit(domain_event_text(event_id, dom.name(), rest[:-1]))

    return callback


@command("event", GROUP, "Domain Events", "List event types, or wait for domain events to occur",
         [
             Opt("domain", OptType.STRING, "filter by domain name, id or uuid",
                 completer="domain"),
             Opt("event", OptType.STRING, "which event type to wait for", completer="domain_event"),
             Opt("all", OptType.BOOL, "wait for all events instead of just one type"),
             Opt("loop", OptType.BOOL, "loop until timeout or interrupt, rather than one-shot"),
             Opt("timeout", OptType.INT, "timeout seconds"),
             Opt("list", OptType.BOOL, "list valid event types"),
             Opt("timestamp", OptType.BOOL, "show timestamp for each printed event"),
         ])
def cmd_event(ctl: Ctl, args: Args) -> bool:
    ctl.exclusive(args, "all", "event")
    ctl.exclusive(args, "list", "all")
    ctl.exclusive(args, "list", "event")
    if args.bool("list"):
        for name, _fmt in DOMAIN_EVENTS:
            ctl.print(name)
        return True
    event_name = args.string("event")
    if event_name is None and not args.bool("all"):
        raise CommandError("one of --list, --all, or --event <type> is required")
    wanted = [i for i, (name, _fmt) in enumerate(DOMAIN_EVENTS)
              if event_name is None or name == event_name]
    if not wanted:
        raise CommandError(f"unknown event type {event_name}")
    timeout_ms = event_timeout_ms(args)
    dom = ctl.lookup_domain(args) if args.has("domain") else None

    printer = EventPrinter(ctl, args.bool("loop"), args.bool("timestamp"))
    pyvirt.virEventRegisterDefaultImpl()
    conn = ctl.conn
    ids: list[int] = []
    ok = False
    try:
        for n, event_id in enumerate(wanted):
            try:
                ids.append(conn.domainEventRegisterAny(dom, event_id,
                                                       _callback(printer, event_id), None))
            except pyvirt.libvirtError:
                # an older server knows fewer events: only the first registration matters
                if n == 0:
                    raise
                ctl.reset_error()
        ok = finish_event_wait(ctl, printer, run_event_loop(ctl, printer, timeout_ms))
    finally:
        for cid in ids:
            try:
                conn.domainEventDeregisterAny(cid)
            except pyvirt.libvirtError:
                ok = False
    return ok
