"""pyvirtd's log settings in libvirt's terms: ``log_level``, ``log_filters``, ``log_outputs``.

libvirt describes logging with three settings (libvirtd.conf, or virt-admin
``daemon-log-filters`` / ``daemon-log-outputs`` while the daemon runs):

* a default priority, 1 debug, 2 info, 3 warning, 4 error (``log_level``, default 3);
* filters, ``"PRIO:MATCH ..."``: a message whose source name matches the glob ``*MATCH*``
  (``*`` and ``?`` as wildcards) is kept when its priority is at least PRIO, whatever the
  default (the first matching filter decides). pyvirt's source names are its logger names
  (``pyvirt.drivers.qemu.monitor``), so ``"1:qemu"`` turns on debug messages of the QEMU
  driver;
* outputs, ``"PRIO:stderr"``, ``"PRIO:journald"``, ``"PRIO:syslog:IDENT"``,
  ``"PRIO:file:PATH"``, each taking the kept messages of at least its PRIO. Empty means
  the default output: journald when its socket is there (and stdin is not a terminal, or
  the daemon runs detached), else a log file when detached, else stderr.

Parsing checks and error texts are libvirt's (src/util/virlog.c), so a bad setting is
refused with the same message, and the current settings are written back in libvirt's
format. Everything is applied to Python's ``logging``: the root logger's handlers are the
outputs, and one filter on each handler applies the filters and default priority.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import socket
import sys
import threading

from pyvirt import constants as c
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from pyvirt.daemon.config import DaemonConfig

PRIORITY_LEVELS = {1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
DESTINATIONS = ("stderr", "syslog", "file", "journald")
JOURNALD_SOCKET = "/run/systemd/journal/socket"
FORMAT = "%(asctime)s pyvirtd[%(process)d]: %(levelname)s %(name)s: %(message)s"


def _bad(text: str) -> None:
    raise_error(c.VIR_ERR_INVALID_ARG, text, domain=c.VIR_FROM_NONE)


def parse_level(value: int) -> int:
    if value not in PRIORITY_LEVELS:
        _bad(f"Failed to set logging priority, argument '{value}' is invalid")
    return value


def _entries(text: str, what: str, prio_what: str) -> Iterator[tuple[str, int, list[str]]]:
    """The space-separated entries of a filter or output setting, each checked for
    ``PRIO:REST`` (libvirt's wording names ``what`` and ``prio_what``): (entry, priority,
    the fields after the priority)."""
    for item in text.split(" "):
        if not item:
            continue   # runs of spaces are allowed
        tokens = item.split(":")
        if len(tokens) < 2:
            _bad(f"Malformed format for {what} '{item}'")
        if not (tokens[0].isdigit() and int(tokens[0]) in PRIORITY_LEVELS):
            _bad(f"Invalid {prio_what} '{tokens[0]}' for {what} '{item}'")
        yield item, int(tokens[0]), tokens[1:]


def parse_outputs(text: str) -> list[tuple[int, str, str | None]]:
    """``"3:stderr 1:file:/x.log"`` as (priority, destination, data), a later output to
    the same destination replacing an earlier one."""
    outputs: list[tuple[int, str, str | None]] = []
    for item, prio, fields in _entries(text, "log output", "log priority"):
        dest = fields[0]
        if dest not in DESTINATIONS:
            _bad(f"Invalid log destination '{dest}' for log output '{item}'")
        wanted = 1 if dest in ("stderr", "journald") else 2
        if len(fields) != wanted:
            _bad(f"Log output '{item}' does not meet the format requirements for "
                 f"destination type '{dest}'")
        data = fields[1] if wanted == 2 else None
        if dest == "file" and data is not None:
            data = os.path.abspath(data)
        outputs = [o for o in outputs if (o[1], o[2]) != (dest, data)]
        outputs.append((prio, dest, data))
    return outputs


def parse_filters(text: str) -> list[tuple[int, str]]:
    """``"1:qemu 3:daemon"`` as (priority, glob) pairs, the globs as libvirt keeps them
    (``*qemu*``)."""
    filters = []
    for _item, prio, fields in _entries(text, "filter", "priority"):
        match = fields[0][1:] if fields[0].startswith("+") else fields[0]
        if not match:
            _bad(f"Invalid match string '{fields[0]}'")
        filters.append((prio, f"*{match}*"))
    return filters


def glob_regex(pattern: str) -> re.Pattern[str]:
    """GLib's simple patterns: ``*`` any run, ``?`` any one character, nothing else."""
    parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.DOTALL)


def format_outputs(outputs: list[tuple[int, str, str | None]]) -> str:
    return " ".join(f"{p}:{d}:{x}" if x is not None else f"{p}:{d}" for p, d, x in outputs)


def format_filters(filters: list[tuple[int, str]]) -> str:
    return "".join(f"{p}:{m} " for p, m in filters)


class _Selector(logging.Filter):
    """Keeps a record when the first filter matching its source allows it, or else when
    it reaches the default priority."""

    def __init__(self, settings: LogSettings) -> None:
        super().__init__()
        self.settings = settings

    def filter(self, record: logging.LogRecord) -> bool:
        settings = self.settings
        for prio, regex in settings.matchers:
            if regex.fullmatch(record.name):
                return record.levelno >= PRIORITY_LEVELS[prio]
        return record.levelno >= PRIORITY_LEVELS[settings.level]


class _JournaldHandler(logging.Handler):
    """journald's native protocol: one datagram of KEY=value lines a message."""

    _SYSLOG_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4,
                        logging.ERROR: 3, logging.CRITICAL: 2}

    def __init__(self) -> None:
        super().__init__()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def emit(self, record: logging.LogRecord) -> None:
        message = self.format(record).replace("\n", " ")
        prio = self._SYSLOG_PRIORITY.get(record.levelno, 6)
        data = (f"MESSAGE={message}\nPRIORITY={prio}\nSYSLOG_IDENTIFIER=pyvirtd\n"
                f"LIBVIRT_SOURCE={record.name}\n").encode(errors="replace")
        try:
            self.sock.sendto(data, JOURNALD_SOCKET)
        except OSError:
            pass   # as libvirt: a journald that is gone does not stop the daemon

    def close(self) -> None:
        self.sock.close()
        super().close()


class LogSettings:
    """The daemon's current level, filters and outputs, applied to ``logging``."""

    def __init__(self, level: int, default_output: str) -> None:
        self.level = level
        self.default_output = default_output
        self.filters: list[tuple[int, str]] = []
        self.matchers: list[tuple[int, re.Pattern[str]]] = []
        self.outputs: list[tuple[int, str, str | None]] = []
        self._handlers: list[logging.Handler] = []
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: DaemonConfig, detached: bool) -> LogSettings:
        """The configured settings, checked but not applied (see :meth:`apply`)."""
        settings = cls(config.log_level,
                       default_output(config.log_level, detached, log_dir(config)))
        settings._use_filters(parse_filters(config.log_filters or ""), apply=False)
        settings.outputs = parse_outputs(config.log_outputs or settings.default_output)
        return settings

    def apply(self) -> None:
        """Make Python's logging follow these settings (the daemon process does this)."""
        self.set_outputs(format_outputs(self.outputs))
        self._use_filters(self.filters)

    def set_filters(self, text: str | None) -> None:
        self._use_filters(parse_filters(text) if text else [])

    def _use_filters(self, filters: list[tuple[int, str]], apply: bool = True) -> None:
        with self._lock:
            self.filters = filters
            self.matchers = [(prio, glob_regex(glob)) for prio, glob in filters]
            if apply:
                self._apply_root_level()

    def set_outputs(self, text: str | None) -> None:
        outputs = parse_outputs(text or self.default_output)
        handlers = [self._handler(output) for output in outputs]
        with self._lock:
            root = logging.getLogger()
            old, self._handlers = self._handlers, handlers
            for handler in old:
                root.removeHandler(handler)
                handler.close()
            for handler in handlers:
                root.addHandler(handler)
            self.outputs = outputs
            self._apply_root_level()

    def outputs_text(self) -> str:
        return format_outputs(self.outputs)

    def filters_text(self) -> str:
        return format_filters(self.filters)

    def _apply_root_level(self) -> None:
        # the root logger lets through the least that some filter or the default wants, so
        # that calls below every setting cost nothing more than a level check
        lowest = min([self.level, *(p for p, _ in self.filters)])
        logging.getLogger().setLevel(PRIORITY_LEVELS[lowest])

    def _handler(self, output: tuple[int, str, str | None]) -> logging.Handler:
        prio, dest, data = output
        handler: logging.Handler
        if dest == "stderr":
            handler = logging.StreamHandler(sys.stderr)
        elif dest == "file":
            assert data is not None
            try:
                os.makedirs(os.path.dirname(data), mode=0o700, exist_ok=True)
                handler = logging.FileHandler(data)
            except OSError as exc:
                raise_error(c.VIR_ERR_SYSTEM_ERROR, f"failed to open {data}: {exc.strerror}",
                            domain=c.VIR_FROM_NONE)
        elif dest == "syslog":
            handler = _syslog_handler(data or "pyvirtd")
        else:
            handler = _JournaldHandler()
        handler.setLevel(PRIORITY_LEVELS[prio])
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s" if dest in (
            "syslog", "journald") else FORMAT))
        handler.addFilter(_Selector(self))
        return handler

    def close(self) -> None:
        root = logging.getLogger()
        for handler in self._handlers:
            root.removeHandler(handler)
            handler.close()
        self._handlers = []


def _syslog_handler(ident: str) -> logging.Handler:
    try:
        handler = logging.handlers.SysLogHandler(address="/dev/log")
    except OSError:
        # no syslog daemon: as openlog(), messages are dropped
        return logging.NullHandler()
    handler.ident = ident + ": "
    return handler


def default_output(level: int, detached: bool, log_dir: str) -> str:
    """libvirt's choice of output when none is configured (virLogSetDefaultOutput)."""
    journald = os.access(JOURNALD_SOCKET, os.W_OK)
    if journald and (detached or not os.isatty(0)):
        return f"{max(level, 2)}:journald"
    if detached:
        return f"{level}:file:{os.path.join(log_dir, 'pyvirtd.log')}"
    return f"{level}:stderr"


def log_dir(config: DaemonConfig) -> str:
    """Where a detached daemon's default log file goes (libvirt: /var/log/libvirt, or the
    user's cache directory)."""
    if config.root:
        return os.path.join(os.path.abspath(config.root), "log")
    if os.geteuid() == 0:
        return "/var/log/pyvirt"
    from pyvirt.rundirs import user_cache_dir

    return user_cache_dir()
