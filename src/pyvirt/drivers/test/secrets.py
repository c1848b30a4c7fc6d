"""Secrets on test:///: libvirt 9.0's test driver has no secret driver.

Its connect driver table sets ``secretDriver = NULL``, so every virSecret* call on a test
connection fails with VIR_ERR_NO_SUPPORT ("this function is not supported by the connection
driver: virSecretDefineXML"). The mixin therefore defines no entry point: the central
NO_SUPPORT rule in ``Driver.__getattr__`` gives exactly libvirt's error.
"""

from __future__ import annotations


class TestSecrets:
    """Mixin of TestDriver for the secret family (deliberately empty, see module doc)."""

    def _init_secrets(self) -> None:
        """No secret state: test:/// has no secret driver."""
