"""Network filters on test:///: libvirt 9.0's test driver has no nwfilter driver.

Its connect driver table sets ``nwfilterDriver = NULL``, so every virNWFilter* call on a
test connection fails with VIR_ERR_NO_SUPPORT; the mixin defines no entry point and the
central NO_SUPPORT rule in ``Driver.__getattr__`` answers for it.
"""

from __future__ import annotations


class TestNWFilters:
    """Mixin of TestDriver for the nwfilter family (deliberately empty, see module doc)."""

    def _init_nwfilters(self) -> None:
        """No nwfilter state: test:/// has no nwfilter driver."""
