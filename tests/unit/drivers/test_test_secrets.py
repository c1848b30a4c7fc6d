"""test:/// has no secret or nwfilter driver in libvirt 9.0: every call is NO_SUPPORT."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import pyvirt
from pyvirt import constants as c


@pytest.fixture
def conn() -> Iterator[pyvirt.virConnect]:
    pyvirt.registerErrorHandler(lambda *_: None, None)
    connection = pyvirt.open("test:///default")
    yield connection
    connection.close()


@pytest.mark.parametrize("call, api, domain", [
    (lambda cn: cn.listAllSecrets(), "virConnectListAllSecrets", c.VIR_FROM_SECRET),
    (lambda cn: cn.listSecrets(), "virConnectNumOfSecrets", c.VIR_FROM_SECRET),
    (lambda cn: cn.numOfSecrets(), "virConnectNumOfSecrets", c.VIR_FROM_SECRET),
    (lambda cn: cn.secretDefineXML("<secret/>"), "virSecretDefineXML", c.VIR_FROM_SECRET),
    (lambda cn: cn.secretLookupByUsage(c.VIR_SECRET_USAGE_TYPE_VOLUME, "/x"),
     "virSecretLookupByUsage", c.VIR_FROM_SECRET),
    (lambda cn: cn.secretLookupByUUIDString("dd8fe884-6c02-601e-7551-cca97df1c5df"),
     "virSecretLookupByUUID", c.VIR_FROM_SECRET),
    (lambda cn: cn.listAllNWFilters(), "virConnectListAllNWFilters", c.VIR_FROM_NWFILTER),
    (lambda cn: cn.nwfilterDefineXML("<filter/>"), "virNWFilterDefineXML",
     c.VIR_FROM_NWFILTER),
])
def test_no_support(conn: pyvirt.virConnect, call, api: str, domain: int) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(pyvirt.libvirtError) as info:
        call(conn)
    err = info.value
    assert (err.get_error_code(), err.get_error_domain(), str(err)) == (
        c.VIR_ERR_NO_SUPPORT, domain,
        f"this function is not supported by the connection driver: {api}")
