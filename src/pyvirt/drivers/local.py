"""Connection entry points every in-process (local) driver answers the same way."""

from __future__ import annotations

from pyvirt import constants as c

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.api.connect import virConnect


class LocalConnectionEntryPoints:
    """A connection served in this process: secure (no network in between), never
    encrypted, alive while open; the library version and URI of the connection."""

    def connectGetLibVersion(self, conn: virConnect) -> int:  # noqa: N802
        return c.LIBVIR_VERSION_NUMBER

    def connectGetURI(self, conn: virConnect) -> str:  # noqa: N802
        return conn._uri

    def connectGetHostname(self, conn: virConnect) -> str:  # noqa: N802
        import socket

        return socket.gethostname()

    def connectIsSecure(self, conn: virConnect) -> int:  # noqa: N802
        return 1

    def connectIsEncrypted(self, conn: virConnect) -> int:  # noqa: N802
        return 0

    def connectIsAlive(self, conn: virConnect) -> int:  # noqa: N802
        return 1
