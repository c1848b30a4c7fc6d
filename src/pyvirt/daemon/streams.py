"""Streams: the data of a console, a screenshot, a volume upload or download, carried as
STREAM frames with the opening call's program, procedure and serial.

The opening call runs like any other (pyvirt.daemon.dispatch) with a fresh
pyvirt.api.stream.virStream handed to the driver, which attaches its backend (a pty, bytes
in memory, a file window). Once the reply is out, a :class:`DaemonStream` moves the data,
on threads of its own since backends block (a console waits for the guest):

* server -> client (screenshot, download, console output): a pump thread reads the backend
  and sends STREAM CONTINUE frames of at most 256 KiB (STREAM_HOLE frames for holes on a
  stream opened with the procedure's sparse flag), then an empty CONTINUE at end of data.
  It waits while the client's connection is not writable, so a slow reader holds the
  pump back instead of filling the daemon's memory;
* client -> server (upload, console input): data, holes, finish and abort frames are
  queued, in order, to a writer thread. A finish (STREAM OK) finishes the backend and is
  confirmed with an empty STREAM OK (REPLY ERROR if finishing failed); an abort (STREAM
  ERROR) aborts it and is confirmed likewise. A failure of the backend ends the stream
  with STREAM ERROR carrying the error, as libvirtd does.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from pyvirt import constants as c
from pyvirt.errors import libvirtError, make_error
from pyvirt.rpc import message as m

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.api.stream import virStream
    from pyvirt.daemon.client import ClientSession
    from pyvirt.rpc.protocol import Procedure

log = logging.getLogger(__name__)

# Where libvirt-python-shaped drivers take the stream among a call's arguments.
STREAM_ARG_INDEX = {
    "DOMAIN_SCREENSHOT": 1,          # (dom, stream, screen, flags)
    "DOMAIN_OPEN_CONSOLE": 2,        # (dom, dev_name, stream, flags)
    "DOMAIN_OPEN_CHANNEL": 2,        # (dom, name, stream, flags)
    "STORAGE_VOL_UPLOAD": 1,         # (vol, stream, offset, length, flags)
    "STORAGE_VOL_DOWNLOAD": 1,       # (vol, stream, offset, length, flags)
}
CHUNK = m.LEGACY_PAYLOAD_MAX
_AT_HOLE = -3
_FINISH, _ABORT, _DATA, _HOLE = "finish", "abort", "data", "hole"


class DaemonStream:
    """One open stream of a client (see the module docstring)."""

    def __init__(self, session: ClientSession, proc: Procedure, serial: int, st: virStream,
                 sparse: bool) -> None:
        self.session = session
        self.proc = proc
        self.serial = serial
        self.st = st
        self.sparse = sparse
        self.closed = threading.Event()
        self._ops: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._pump: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<DaemonStream {self.proc.name} serial={self.serial}>"

    def start(self) -> None:
        name = f"pyvirtd-stream-{self.session.id}-{self.serial}"
        self._writer = threading.Thread(target=self._write_loop, name=name + "-in",
                                        daemon=True)
        self._writer.start()
        if self.proc.stream in ("read", "both"):
            self._pump = threading.Thread(target=self._pump_loop, name=name + "-out",
                                          daemon=True)
            self._pump.start()

    # ---- frames -------------------------------------------------------------------------

    def _frame(self, mtype: int, status: int, payload: bytes = b"") -> bytes:
        return m.encode_frame(self.proc.program.number, self.proc.program.version,
                              self.proc.number, mtype, self.serial, status, payload)

    def _send(self, frame: bytes) -> None:
        self.session.send_threadsafe(frame)

    def _fail(self, exc: BaseException) -> None:
        """The stream failed on our side: STREAM ERROR with the error, then it is gone."""
        if self.closed.is_set():
            return
        self.closed.set()
        self._send(self._frame(m.STREAM, m.ERROR, m.encode_error(exc)))
        self._abort_backend()
        self.session.stream_done(self)

    def _abort_backend(self) -> None:
        try:
            self.st.abort()
        except libvirtError:
            pass

    # ---- from the client (event loop thread) ---------------------------------------------

    def on_message(self, msg: m.Message) -> None:
        if self.closed.is_set():
            return
        if msg.type == m.STREAM_HOLE:
            if not self.sparse:
                self._fail(make_error(c.VIR_ERR_RPC, "Unexpected stream hole",
                                      domain=c.VIR_FROM_RPC))
                self.session.close()
                return
            try:
                length, _flags = m.decode_hole(msg.payload)
            except m.ProtocolError as exc:
                self._fail(exc.to_libvirt_error())
                return
            self._ops.put((_HOLE, length))
        elif msg.status == m.CONTINUE:
            if msg.payload:
                self._ops.put((_DATA, msg.payload))
        elif msg.status == m.OK:
            self._ops.put((_FINISH, None))
        else:
            self._ops.put((_ABORT, None))

    def close(self) -> None:
        """The client is gone: abort (any thread)."""
        if not self.closed.is_set():
            self.closed.set()
            self._ops.put((_ABORT, None))

    # ---- threads ------------------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            op, value = self._ops.get()
            if op == _DATA or op == _HOLE:
                if self.closed.is_set():
                    continue
                try:
                    if op == _DATA:
                        self.st.send(value)
                    else:
                        self.st.sendHole(value)
                except libvirtError as exc:
                    self._fail(exc)
                continue
            # finish or abort: the stream ends here
            already_closed = self.closed.is_set()
            self.closed.set()
            if op == _FINISH:
                try:
                    self.st.finish()
                except libvirtError as exc:
                    if not already_closed:
                        self._send(self.proc.error_reply(self.serial, exc))
                else:
                    if not already_closed:
                        self._send(self._frame(m.STREAM, m.OK))
            else:
                self._abort_backend()
                if not already_closed:
                    self._send(self._frame(m.STREAM, m.OK))
            self.session.stream_done(self)
            return

    def _pump_loop(self) -> None:
        writable = self.session.writable
        while not self.closed.is_set():
            while not writable.wait(0.5):
                if self.closed.is_set():
                    return
            try:
                if self.sparse:
                    got = self.st.recvFlags(CHUNK, 1)   # VIR_STREAM_RECV_STOP_AT_HOLE
                    if got == _AT_HOLE:
                        length = self.st.recvHole()
                        self._send(self._frame(m.STREAM_HOLE, m.CONTINUE,
                                               m.encode_hole(length)))
                        continue
                else:
                    got = self.st.recv(CHUNK)
            except libvirtError as exc:
                if not self.closed.is_set():
                    self._fail(exc)
                return
            if self.closed.is_set():
                return
            if not isinstance(got, bytes):
                time.sleep(0.05)         # would block: try again shortly
                continue
            self._send(self._frame(m.STREAM, m.CONTINUE, got))
            if not got:
                return                   # end of data: the client finishes the stream
