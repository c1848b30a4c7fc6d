"""The QEMU guest agent (qemu-ga) protocol, spoken over the guest's agent channel
(``<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/>``).

The agent answers QMP-like JSON commands, one per line. Because a previous client may have
left half an exchange in the channel, every session starts with ``guest-sync-delimited``:
the client sends a 0xFF byte and a random id; the agent answers 0xFF then the id, and
everything before that answer is discarded. ``guest-shutdown`` gives no answer (the guest is
going down), as in libvirt's qemuAgentShutdown.
"""

from __future__ import annotations

import json
import os
import random
import socket
import time

from pyvirt import constants as c
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.conf.domain import DomainDef

AGENT_CHANNEL = "org.qemu.guest_agent.0"
SYNC_TIMEOUT = 5.0


def agent_socket(defn: DomainDef) -> str | None:
    """The host path of the guest agent channel of a live definition, if it has one."""
    for chan in defn.devices.channels:
        if chan.target_type == "virtio" and chan.target_name == AGENT_CHANNEL \
                and chan.type == "unix" and chan.source.path:
            return chan.source.path
    return None


def _unresponsive() -> None:
    raise_error(c.VIR_ERR_AGENT_UNRESPONSIVE,
                "QEMU guest agent is not connected", domain=c.VIR_FROM_QEMU)


class AgentSession:
    """One synchronised exchange with the agent."""

    def __init__(self, path: str, timeout: float = SYNC_TIMEOUT) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self._buf = b""
        dir_fd = -1
        target = path
        if len(os.fsencode(path)) > 107:  # too long for sun_path: go through the directory
            dir_fd = os.open(os.path.dirname(path), os.O_PATH | os.O_CLOEXEC)
            target = f"/proc/self/fd/{dir_fd}/{os.path.basename(path)}"
        try:
            self.sock.connect(target)
        except OSError:
            self.sock.close()
            _unresponsive()
        finally:
            if dir_fd >= 0:
                os.close(dir_fd)
        try:
            self._sync()
        except BaseException:
            self.sock.close()
            raise

    def _send(self, payload: dict[str, Any], delimited: bool = False) -> None:
        data = json.dumps(payload).encode() + b"\n"
        self.sock.sendall((b"\xff" if delimited else b"") + data)

    def _read_line(self) -> bytes:
        while b"\n" not in self._buf:
            try:
                chunk = self.sock.recv(4096)
            except (TimeoutError, OSError):
                _unresponsive()
            if not chunk:
                _unresponsive()
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def _sync(self) -> None:
        ident = random.randrange(1, 2**31)
        self._send({"execute": "guest-sync-delimited", "arguments": {"id": ident}},
                   delimited=True)
        deadline = time.monotonic() + SYNC_TIMEOUT
        while time.monotonic() < deadline:
            line = self._read_line()
            if b"\xff" in line:
                line = line[line.rindex(b"\xff") + 1:]
            try:
                reply = json.loads(line)
            except ValueError:
                continue
            if isinstance(reply, dict) and reply.get("return") == ident:
                return
        _unresponsive()

    def execute(self, command: str, arguments: dict[str, Any] | None = None,
                expect_reply: bool = True) -> Any:
        msg: dict[str, Any] = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self._send(msg)
        if not expect_reply:
            return None
        reply = json.loads(self._read_line())
        if "error" in reply:
            raise_error(c.VIR_ERR_INTERNAL_ERROR,
                        f"unable to execute QEMU agent command '{command}': "
                        f"{reply['error'].get('desc', '')}", domain=c.VIR_FROM_QEMU)
        return reply.get("return")

    def close(self) -> None:
        self.sock.close()


def guest_shutdown(path: str, mode: str) -> None:
    """Ask the agent to power the guest off ("powerdown") or reboot it ("reboot")."""
    session = AgentSession(path)
    try:
        session.execute("guest-shutdown", {"mode": mode}, expect_reply=False)
    finally:
        session.close()
