"""The state one pyvirsh run shares with every command: connection, options, output, errors.

Handlers get a ``Ctl`` and the ``Args`` of their command. They print with ``ctl.print`` and
fail by returning False or raising ``CommandError`` (message printed as "error: ..."),
``CommandFailed`` (message already printed) or ``pyvirt.libvirtError``. After a failure the
framework prints the last libvirt error, as virsh's vshReportError does, so a handler that
recovers from a libvirt error on purpose calls ``ctl.reset_error()``.
"""

from __future__ import annotations

import os
import sys

from pyvirt import errors as _errors
from pyvirt.virsh.registry import CommandDef, Opt, OptType

TYPE_CHECKING = False
if TYPE_CHECKING:
    import builtins
    from collections.abc import Iterator
    from typing import Any, TextIO

    import pyvirt

# virsh-util.h's lookup flags
BY_ID = 1 << 1
BY_UUID = 1 << 2
BY_NAME = 1 << 3
BY_MAC = 1 << 4
BY_ALL = BY_ID | BY_UUID | BY_NAME


class CommandError(Exception):
    """The command fails; the framework prints "error: <message>", then ``cause`` (a libvirt
    error virsh would also report, e.g. from parsing a size) if there is one."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause


class CommandFailed(Exception):
    """The command fails; its message has already been printed."""


class _KeepaliveRefused(Exception):
    """virConnectSetKeepAlive answered 1 (not supported there) when -k/-K asked for it."""


# What strtol accepts before the digits (C's isspace), for the parsers below; they avoid
# the re module, which would add ~6 ms to every pyvirsh start-up.
_C_SPACE = " \t\n\v\f\r"
_DIGITS = frozenset("0123456789")


def _leading_number(text: str, signs: str) -> tuple[str, str, str] | None:
    """Split ``text`` as strtol sees it: (sign, digits, rest), or None without digits.
    ``signs`` are the sign characters accepted."""
    body = text.lstrip(_C_SPACE)
    sign = body[:1] if body[:1] and body[:1] in signs else ""
    body = body[len(sign):]
    end = 0
    while end < len(body) and body[end] in _DIGITS:
        end += 1
    if end == 0:
        return None
    return sign, body[:end], body[end:]


def parse_number(text: str, *, signed: bool = True, bits: int = 32,
                 wrap: bool = False) -> int | None:
    """virStrToLong_{i,ui,uip,l,ul,ulp,ll,ull,ullp}: a whole-string base-10 integer, or None.

    Unsigned parsing with ``wrap`` takes "-1" as the all-ones value (strtoul's wrap);
    without it a minus sign is refused ("p" variants).
    """
    parts = _leading_number(text, "+-")
    if parts is None or parts[2]:
        return None
    value = int(parts[1])
    negative = parts[0] == "-"
    if signed:
        if negative:
            value = -value
        if not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
            return None
        return value
    if negative:
        if not wrap:
            return None if value != 0 else 0
        if value > (1 << bits) - 1:
            return None
        return ((1 << bits) - value) % (1 << bits)
    if value > (1 << bits) - 1:
        return None
    return value


_SCALES = "kmgtpe"


def scale_integer(value: int, suffix: str, scale: int, limit: int) -> int | None:
    """virScaleInteger: apply a unit suffix (b, k/KiB/KB, M, G, T, P, E) or ``scale``."""
    if not suffix:
        mult = scale
    elif suffix[0].lower() == "b":
        if suffix.lower() not in ("b", "byte", "bytes"):
            return None
        mult = 1
    else:
        if len(suffix) == 1 or suffix[1:].lower() == "ib":
            base = 1024
        elif suffix[1].lower() == "b" and len(suffix) == 2:
            base = 1000
        else:
            return None
        idx = _SCALES.find(suffix[0].lower())
        if idx < 0:
            return None
        mult = base ** (idx + 1)
    if value and value > limit // mult:
        return None
    return value * mult


_UNIT_SCALE = {"b": 1, "bytes": 1, "kib": 1024, "k": 1024, "mib": 1024**2, "m": 1024**2,
               "gib": 1024**3, "g": 1024**3}


class Args:
    """The parsed options of one command (virsh's vshCmd options)."""

    def __init__(self, cmd: CommandDef, opts: list[tuple[Opt, str | None]]) -> None:
        self.cmd = cmd
        self.opts = opts

    def __repr__(self) -> str:
        return f"Args({self.cmd.name}, {[(o.name, v) for o, v in self.opts]})"

    def _find(self, name: str) -> tuple[Opt, str | None] | None:
        for opt, value in self.opts:
            if opt.name == name:
                return opt, value
        return None

    def has(self, name: str) -> builtins.bool:
        """Whether option ``name`` was given at all (vshCommandOptBool)."""
        return self._find(name) is not None

    def bool(self, name: str) -> builtins.bool:
        """Whether boolean option ``--name`` was given."""
        return self._find(name) is not None

    def raw(self, name: str) -> str | None:
        """The value exactly as given (no empty-string check); None when absent."""
        found = self._find(name)
        return None if found is None else found[1]

    def string(self, name: str) -> str | None:
        """vshCommandOptStringReq: the value, None when absent; an empty value is refused
        (CommandError "Failed to get option 'x': Option argument is empty") unless the
        option is empty_ok."""
        found = self._find(name)
        if found is None:
            opt = self.cmd.option(name)
            if opt is not None and opt.required:
                raise CommandError(
                    f"Failed to get option '{name}': Mandatory option not present")
            return None
        opt, value = found
        if not value and not opt.empty_ok:
            raise CommandError(f"Failed to get option '{name}': Option argument is empty")
        return value or ""

    def string_quiet(self, name: str) -> str | None:
        """vshCommandOptStringQuiet: the value, or None when absent or empty (not empty_ok)."""
        found = self._find(name)
        if found is None:
            return None
        opt, value = found
        if not value and not opt.empty_ok:
            return None
        return value or ""

    def _number(self, name: str, default: builtins.int | None, **kw: Any) -> builtins.int | None:
        found = self._find(name)
        if found is None:
            return default
        text = found[1] or ""
        value = parse_number(text, **kw)
        if value is None:
            raise CommandError(
                f"Numeric value '{text}' for <{name}> option is malformed or out of range")
        return value

    def int(self, name: str, default: builtins.int | None = None) -> builtins.int | None:
        """vshCommandOptInt: a signed 32-bit number; CommandError with virsh's text when
        malformed."""
        return self._number(name, default, signed=True, bits=32)

    def uint(self, name: str, default: builtins.int | None = None, *,
             wrap: builtins.bool = False) -> builtins.int | None:
        """vshCommandOptUInt (negative refused) / vshCommandOptUIntWrap (``wrap``)."""
        return self._number(name, default, signed=False, bits=32, wrap=wrap)

    def long(self, name: str, default: builtins.int | None = None) -> builtins.int | None:
        """vshCommandOptLongLong: a signed 64-bit number."""
        return self._number(name, default, signed=True, bits=64)

    def ulong(self, name: str, default: builtins.int | None = None, *,
              wrap: builtins.bool = False) -> builtins.int | None:
        """vshCommandOptUL / vshCommandOptULongLong(Wrap): an unsigned 64-bit number."""
        return self._number(name, default, signed=False, bits=64, wrap=wrap)

    def scaled(self, name: str, default_unit: str = "KiB", default: builtins.int | None = None, *,
               maximum: builtins.int = (1 << 64) - 1) -> builtins.int | None:
        """vshCommandOptScaledInt: a number with an optional unit suffix, in bytes; a bare
        number is in ``default_unit`` ("B", "KiB", "MiB", "GiB")."""
        found = self._find(name)
        if found is None:
            return default
        text = found[1] or ""
        parts = _leading_number(text, "+")
        value = None
        if parts is not None:
            value = scale_integer(int(parts[1]), parts[2],
                                  _UNIT_SCALE[default_unit.lower()], maximum)
        if value is None:
            raise CommandError(f"Scaled numeric value '{text}' for <{name}> option is "
                               "malformed or out of range",
                               scale_error(text, _UNIT_SCALE[default_unit.lower()], maximum))
        return value

    def argv(self, name: str) -> list[str]:
        """Every value of ARGV option ``name``, in order."""
        return [v or "" for o, v in self.opts if o.name == name]


class Ctl:
    """virsh's vshControl + virshControl: one per pyvirsh process."""

    def __init__(self, *, uri: str | None = None, readonly: bool = False, quiet: bool = False,
                 debug_level: int = 4, timing: bool = False, escape: str = "^]",
                 keepalive_interval: int = -1, keepalive_count: int = -1,
                 logfile: str | None = None, stdout: TextIO | None = None,
                 stderr: TextIO | None = None) -> None:
        self.uri = uri  # the connection name (virsh's connname); None = pyvirt's default
        self.readonly = readonly
        self.quiet = quiet
        self.debug_level = debug_level
        self.timing = timing
        self.escape = escape
        self.keepalive_interval = keepalive_interval
        self.keepalive_count = keepalive_count
        self.logfile = logfile
        self.imode = False  # interactive mode (cd works, quit ends it)
        self.out = stdout if stdout is not None else sys.stdout
        self.err = stderr if stderr is not None else sys.stderr
        self._conn: pyvirt.virConnect | None = None
        self._saved_error: BaseException | None = None  # vsh.c's last_error
        self._disconnected = False
        self._log: TextIO | None = None

    # ---- connection -------------------------------------------------------------------

    @property
    def conn(self) -> pyvirt.virConnect:
        """The connection, opened on first use (virshConnectionHandler)."""
        if self._conn is None or self._disconnected:
            self.reconnect()
        assert self._conn is not None
        return self._conn

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def _open(self, name: str | None, readonly: bool) -> pyvirt.virConnect:
        import pyvirt

        if readonly:
            return pyvirt.openReadOnly(name)
        return pyvirt.open(name)

    def reconnect(self, name: str | None = None, readonly: bool = False,
                  force: bool = False) -> None:
        """virshReconnect: (re)open the connection to ``name`` (default: the current one);
        prints virsh's message and raises CommandFailed when that fails."""
        import pyvirt

        if not readonly and name is None:
            readonly = self.readonly
        connected = self._conn is not None
        if self._conn is not None:
            try:
                self._conn.close()
            except pyvirt.libvirtError:
                self.error("Failed to disconnect from the hypervisor")
            self._conn = None
        try:
            self._conn = self._open(name if name is not None else self.uri, readonly)
            self._setup_keepalive()
        except (pyvirt.libvirtError, _KeepaliveRefused) as exc:
            if self._saved_error is None and not isinstance(exc, _KeepaliveRefused):
                self.save_error(exc)
            if self._disconnected:
                self.error("Failed to reconnect to the hypervisor")
            else:
                self.error("failed to connect to the hypervisor")
            raise CommandFailed() from None
        if name is not None:
            self.uri = name
        self.readonly = readonly
        if connected and not force:
            self.error("Reconnected to the hypervisor")
        self._disconnected = False

    def _setup_keepalive(self) -> None:
        """virshConnect's keepalive: 5 s x 6 by default; a failure matters only when -k/-K
        asked for it (then the connection is dropped)."""
        import pyvirt

        assert self._conn is not None
        forced = self.keepalive_interval >= 0 or self.keepalive_count >= 0
        interval = self.keepalive_interval if self.keepalive_interval >= 0 else 5
        count = self.keepalive_count if self.keepalive_count >= 0 else 6
        if interval <= 0:
            return
        try:
            ok = self._conn.setKeepAlive(interval, count) == 0
        except pyvirt.libvirtError as exc:
            self.save_error(exc)
            ok = False
        if ok:
            return
        if not forced:
            self.debug(1, "Failed to setup keepalive on connection\n")
            self.reset_error()
            return
        self.error("Cannot setup keepalive on connection as requested, disconnecting")
        conn, self._conn = self._conn, None
        try:
            conn.close()
        except pyvirt.libvirtError:
            pass
        raise _KeepaliveRefused()

    def ensure_connection(self) -> None:
        """What virsh does before a command that needs a connection: connect if needed,
        then check the connection is alive ("no valid connection" otherwise)."""
        conn = self.conn
        try:
            alive = conn.isAlive()
        except Exception:  # noqa: BLE001 - an unusable connection is reported below
            alive = 0
        if not alive:
            self.error("no valid connection")
            raise CommandFailed()
        self.reset_error()

    def note_failure(self) -> None:
        """After a failed command: a connection-level error marks us disconnected so the
        next command reconnects (vshCommandRun's automatic catch)."""
        from pyvirt import constants as c

        saved = self._saved_error
        err = getattr(saved, "err", None) or _errors.last_error()
        if err is None:
            return
        code, domain = err[0], err[1]
        if (code == c.VIR_ERR_SYSTEM_ERROR and domain == c.VIR_FROM_REMOTE) or code in (
                c.VIR_ERR_RPC, c.VIR_ERR_NO_CONNECT, c.VIR_ERR_INVALID_CONN):
            self._disconnected = True

    def close(self) -> None:
        """virshDeinit's disconnect."""
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - virsh only reports it
                self.error("Failed to disconnect from the hypervisor")
            self._conn = None
        _errors.reset_last_error()
        if self._log is not None:
            self._log.close()
            self._log = None

    # ---- output -----------------------------------------------------------------------

    def print(self, text: str = "", end: str = "\n") -> None:
        """Print to stdout (vshPrint)."""
        self.write(text + end)

    def print_extra(self, text: str = "", end: str = "\n") -> None:
        """Print to stdout unless --quiet (vshPrintExtra)."""
        if not self.quiet:
            self.write(text + end)

    def write(self, text: str) -> None:
        """Raw stdout write. A closed pipe (``pyvirsh list | head -1``) silences stdout
        instead of failing the command: virsh ignores SIGPIPE and its write errors."""
        try:
            self.out.write(text)
        except BrokenPipeError:
            self.silence_stdout()

    def flush(self) -> None:
        try:
            self.out.flush()
        except BrokenPipeError:
            self.silence_stdout()

    def silence_stdout(self) -> None:
        """Send the rest of stdout to /dev/null (the reader has gone)."""
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.out.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # io.UnsupportedOperation: not a real file
            pass

    def error(self, message: str) -> None:
        """Print "error: <message>" on stderr (vshError)."""
        self.flush()
        self.err.write(f"error: {message}\n")
        self.err.flush()
        self.log(4, message)

    def debug(self, level: int, message: str) -> None:
        """vshDebug: printed on stdout when ``level`` >= the debug level (-d)."""
        if level < self.debug_level:
            return
        self.log(level, message)
        self.write(message)
        self.flush()

    def log(self, level: int, message: str) -> None:
        """vshOutputLogFile: "[YYYY.MM.DD HH:MM:SS pyvirsh PID] LEVEL message" to -l FILE."""
        if self._log is None:
            return
        import time

        name = {0: "DEBUG", 1: "INFO", 2: "INFO", 3: "WARNING", 4: "ERROR"}.get(level, "DEBUG")
        stamp = time.strftime("%Y.%m.%d %H:%M:%S")
        self._log.write(f"[{stamp} pyvirsh {os.getpid()}] {name} {message.rstrip(chr(10))}\n")
        self._log.flush()

    def open_log(self, path: str) -> None:
        """vshOpenLogFile."""
        try:
            self._log = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        except OSError:
            self.error("failed to open the log file. check the log file path")
            raise SystemExit(1) from None

    def reset_error(self) -> None:
        """vshResetLibvirtError: forget the last libvirt error (on graceful fallbacks)."""
        self._saved_error = None
        _errors.reset_last_error()

    def save_error(self, exc: BaseException) -> None:
        """vshSaveLibvirtError: keep ``exc`` as the error the framework reports if the
        command fails (a handler that catches a libvirtError and then returns False)."""
        self._saved_error = exc

    def report_libvirt_error(self, exc: BaseException | None = None) -> None:
        """vshReportError: print the libvirt error (``exc``, else the one saved, else the
        library's last error) as "error: <message>", then forget it."""
        message: str | None = None
        if exc is None:
            exc = self._saved_error
        if exc is not None and hasattr(exc, "get_error_message"):
            message = exc.get_error_message() or str(exc)
        elif exc is not None:
            message = str(exc)
        else:
            err = _errors.last_error()
            if err is not None and err[0] != 0:
                message = err[2] or "unknown error"
        if message is not None:
            self.error(message)
        self.reset_error()

    def exclusive(self, args: Args, name1: str, name2: str) -> None:
        """VSH_EXCLUSIVE_OPTIONS: raise CommandError when both options are given."""
        if args.has(name1) and args.has(name2):
            raise CommandError(f"Options --{name1} and --{name2} are mutually exclusive")

    def require(self, args: Args, name1: str, name2: str) -> None:
        """VSH_REQUIRE_OPTION: ``--name1`` needs ``--name2``."""
        if args.has(name1) and not args.has(name2):
            raise CommandError(f"Option --{name2} is required by option --{name1}")

    def table(self, headers: list[str], rows: list[list[str]]) -> str:
        """virsh's vsh-table layout of ``rows`` under ``headers`` (the text ends in a
        newline); as vshTablePrintToStdout, --quiet drops the header and its dashes."""
        from pyvirt.virsh.table import render

        return render(headers, rows, header=not self.quiet)

    def print_table(self, headers: list[str], rows: list[list[str]]) -> None:
        """Print ``ctl.table(headers, rows)`` (vshTablePrintToStdout)."""
        self.print(self.table(headers, rows), end="")

    def json(self, obj: Any) -> None:
        """Print ``obj`` as JSON (sorted keys, 2-space indent) for --json."""
        import json

        self.print(json.dumps(obj, indent=2, sort_keys=True))

    # ---- lookups ----------------------------------------------------------------------

    def _value(self, args: Args, opt: str) -> str:
        value = args.string(opt)
        if value is None:
            raise CommandError(f"Failed to get option '{opt}': Mandatory option not present")
        return value

    def lookup_domain(self, args: Args, opt: str = "domain", by: int = BY_ALL) -> Any:
        """virshCommandOptDomainBy: by id (an integer >= 0), then uuid (36 characters),
        then name; on failure prints "failed to get domain 'x'" and raises CommandFailed."""
        name = self._value(args, opt)
        self.debug(1, f"{args.cmd.name}: found option <{opt}>: {name}\n")
        return self.lookup_domain_name(name, by, args.cmd.name)

    def lookup_domain_name(self, name: str, by: int = BY_ALL, cmdname: str = "") -> Any:
        """virshLookupDomainInternal for a name already in hand."""
        import pyvirt

        conn = self.conn
        dom = None
        if by & BY_ID:
            num = parse_number(name, signed=True, bits=32)
            if num is not None and num >= 0:
                self.debug(0, f"{cmdname}: <domain> looks like ID\n")
                try:
                    dom = conn.lookupByID(num)
                except pyvirt.libvirtError:
                    pass
        if dom is None and by & BY_UUID and len(name) == 36:
            self.debug(0, f"{cmdname}: <domain> trying as domain UUID\n")
            try:
                dom = conn.lookupByUUIDString(name)
            except pyvirt.libvirtError:
                pass
        if dom is None and by & BY_NAME:
            self.debug(0, f"{cmdname}: <domain> trying as domain NAME\n")
            try:
                dom = conn.lookupByName(name)
            except pyvirt.libvirtError:
                pass
        self.reset_error()
        if dom is None:
            self.error(f"failed to get domain '{name}'")
            raise CommandFailed()
        return dom

    def _uuid_or_name(self, kind: str, name: str, by_uuid: Any, by_name: Any,
                      by: int) -> Any:
        import pyvirt

        obj = None
        if by & BY_UUID and len(name) == 36:
            try:
                obj = by_uuid(name)
            except pyvirt.libvirtError as exc:
                self.save_error(exc)
        if obj is None and by & BY_NAME:
            try:
                obj = by_name(name)
            except pyvirt.libvirtError as exc:
                self.save_error(exc)
        if obj is None:
            # the libvirt error stays recorded: virsh prints it after this line
            self.error(f"failed to get {kind} '{name}'")
            raise CommandFailed()
        return obj

    def lookup_network(self, args: Args, opt: str = "network",
                       by: int = BY_UUID | BY_NAME) -> Any:
        """virshCommandOptNetworkBy: uuid (36 characters), then name."""
        conn = self.conn
        return self._uuid_or_name("network", self._value(args, opt),
                                  conn.networkLookupByUUIDString, conn.networkLookupByName, by)

    def lookup_pool(self, args: Args, opt: str = "pool", by: int = BY_UUID | BY_NAME) -> Any:
        """virshCommandOptPoolBy: uuid (36 characters), then name."""
        conn = self.conn
        return self._uuid_or_name("pool", self._value(args, opt),
                                  conn.storagePoolLookupByUUIDString,
                                  conn.storagePoolLookupByName, by)

    def lookup_volume(self, args: Args, opt: str = "vol", pool_opt: str | None = "pool",
                      by: int = BY_UUID | BY_NAME) -> Any:
        """virshCommandOptVolBy: by name in --pool when given (the pool must be active), else
        by key, then by path; checks the volume is in the given pool."""
        import pyvirt

        name = self._value(args, opt)
        pool = None
        if pool_opt is not None and args.string(pool_opt) is not None:
            pool = self.lookup_pool(args, pool_opt, by)
            if pool.isActive() != 1:
                self.error(f"pool '{args.string(pool_opt)}' is not active")
                raise CommandFailed()
        conn = self.conn
        vol = None
        if pool is not None and by & BY_NAME:
            try:
                vol = pool.storageVolLookupByName(name)
            except pyvirt.libvirtError as exc:
                self.save_error(exc)
        if vol is None and by & BY_UUID:
            try:
                vol = conn.storageVolLookupByKey(name)
            except pyvirt.libvirtError as exc:
                self.save_error(exc)
        if vol is None and by & BY_UUID:
            try:
                vol = conn.storageVolLookupByPath(name)
            except pyvirt.libvirtError as exc:
                self.save_error(exc)
        if vol is None:
            if pool is not None or pool_opt is None:
                self.error(f"failed to get vol '{name}'")
            else:
                self.error(f"failed to get vol '{name}', specifying --{pool_opt} might help")
            raise CommandFailed()
        self.reset_error()
        if pool is not None:
            try:
                volpool = vol.storagePoolLookupByVolume()
            except pyvirt.libvirtError:
                volpool = None
            if volpool is not None and volpool.name() != pool.name():
                self.reset_error()
                self.error(f"Requested volume '{name}' is not in pool '{pool.name()}'")
                raise CommandFailed()
        return vol

    def lookup_snapshot(self, args: Args, dom: Any, opt: str = "snapshotname") -> Any:
        """A snapshot of ``dom`` by name (``--current`` handling stays with the command)."""
        name = self._value(args, opt)
        return dom.snapshotLookupByName(name, 0)

    def lookup_interface(self, args: Args, opt: str = "interface",
                         by: int = BY_NAME | BY_MAC) -> Any:
        """virshCommandOptInterfaceBy: by MAC when the value parses as one, else by name."""
        import pyvirt

        name = self._value(args, opt)
        conn = self.conn
        import re

        # virMacAddrParse: six ':'-separated bytes of one or two hex digits, the last
        # followed by the end or any character up to ' '
        is_mac = re.fullmatch(r"(?:[0-9A-Fa-f]{1,2}:){5}[0-9A-Fa-f]{1,2}(?:[\x00-\x20].*)?",
                              name, re.DOTALL) is not None
        iface = None
        try:
            if not is_mac and by & BY_NAME:
                iface = conn.interfaceLookupByName(name)
            elif is_mac and by & BY_MAC:
                iface = conn.interfaceLookupByMACString(name)
        except pyvirt.libvirtError as exc:
            self.save_error(exc)
        if iface is None:
            self.error(f"failed to get interface '{name}'")
            raise CommandFailed()
        return iface

    def lookup_nodedev(self, args: Args, opt: str = "device") -> Any:
        """A node device by name."""
        import pyvirt

        name = self._value(args, opt)
        try:
            return self.conn.nodeDeviceLookupByName(name)
        except pyvirt.libvirtError as exc:
            self.save_error(exc)
            self.error(f"Could not find matching device '{name}'")
            raise CommandFailed() from None

    def lookup_secret(self, args: Args, opt: str = "secret") -> Any:
        """virshCommandOptSecret: by UUID."""
        import pyvirt

        name = self._value(args, opt)
        try:
            return self.conn.secretLookupByUUIDString(name)
        except pyvirt.libvirtError as exc:
            self.save_error(exc)
            self.error(f"failed to get secret '{name}'")
            raise CommandFailed() from None


def iter_bool_opts(cmd: CommandDef) -> Iterator[Opt]:
    """The BOOL options of ``cmd`` (for completers and help)."""
    return (o for o in cmd.opts if o.type is OptType.BOOL)


def scale_error(text: str, default_scale: int, limit: int) -> BaseException | None:
    """The libvirt error virScaleInteger leaves for ``text`` (an unknown suffix, or a value
    over ``limit``); None when the number itself is malformed (no libvirt error then)."""
    from pyvirt import constants as c
    from pyvirt.errors import make_error

    parts = _leading_number(text, "+")
    if parts is None:
        return None
    value, suffix = int(parts[1]), parts[2]
    if value >= 1 << 64:
        return None  # strtoull itself failed: virsh reports nothing more
    low = suffix.lower()
    if not suffix:
        scale = default_scale
    elif low in ("b", "byte", "bytes"):
        scale = 1
    else:
        if len(suffix) == 1 or low[1:] == "ib":
            base = 1024
        elif len(suffix) == 2 and low[1] == "b":
            base = 1000
        else:
            base = 0
        power = "kmgtpe".find(low[0]) + 1
        if not base or not power:
            return make_error(c.VIR_ERR_INVALID_ARG, f"unknown suffix '{suffix}'")
        scale = base ** power
    if value and value > limit // scale:
        return make_error(c.VIR_ERR_OVERFLOW, f"value too large: {value}{suffix}")
    return None
