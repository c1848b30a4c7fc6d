"""virDomainMigrate*: the client-side half of migration (libvirt's libvirt-domain.c).

libvirt runs a managed migration from the library: the source connection's driver begins,
the destination's prepares, the source performs, the destination finishes and the source
confirms, each passing a cookie to the next (pyvirt.drivers.qemu.migration has the
drivers' side). :func:`migrate_version3` is that sequence, with libvirt's error handling
(a failed Perform still gets Finish and Confirm, told it was cancelled, so the source guest
runs again and the destination's is discarded). Peer-to-peer migration
(``VIR_MIGRATE_PEER2PEER``, :func:`migrate_unmanaged`) hands the whole sequence to the
source driver, which connects to the destination itself.

Only version 3 with extensible parameters is spoken (what libvirt's own QEMU driver and
pyvirt's offer); the older forms of the API are turned into parameters.
"""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.api._common import invalid_arg
from pyvirt.errors import libvirtError, raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.api.connect import virConnect
    from pyvirt.api.domain import virDomain

# virDrvFeature
FEATURE_MIGRATION_P2P = 4
FEATURE_MIGRATION_DIRECT = 5
FEATURE_MIGRATE_CHANGE_PROTECTION = 7
FEATURE_MIGRATION_OFFLINE = 12
FEATURE_MIGRATION_PARAMS = 13


def supports_feature(conn: virConnect, feature: int) -> bool:
    """VIR_DRV_SUPPORTS_FEATURE: False when the driver cannot say."""
    drv = conn._drv
    if not drv.supports("connectSupportsFeature"):
        return False
    return bool(drv.connectSupportsFeature(conn, feature))


def compat_params(dname: str | None = None, uri: str | None = None, bandwidth: int = 0,
                  dxml: str | None = None) -> dict[str, Any]:
    """The old APIs' arguments as migration parameters."""
    params: dict[str, Any] = {}
    if uri:
        params[c.VIR_MIGRATE_PARAM_URI] = uri
    if dname:
        params[c.VIR_MIGRATE_PARAM_DEST_NAME] = dname
    if dxml:
        params[c.VIR_MIGRATE_PARAM_DEST_XML] = dxml
    if bandwidth:
        params[c.VIR_MIGRATE_PARAM_BANDWIDTH] = bandwidth
    return params


def _exclusive(api: str, flags: int, first: int, second: int, names: tuple[str, str]) -> None:
    if flags & first and flags & second:
        invalid_arg(api, f"Flags '{names[0]}' and '{names[1]}' are mutually exclusive",
                    "flags")


def _common_checks(api: str, flags: int) -> None:
    _exclusive(api, flags, c.VIR_MIGRATE_NON_SHARED_DISK, c.VIR_MIGRATE_NON_SHARED_INC,
               ("VIR_MIGRATE_NON_SHARED_DISK", "VIR_MIGRATE_NON_SHARED_INC"))
    if flags & c.VIR_MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES and not flags & (
            c.VIR_MIGRATE_NON_SHARED_DISK | c.VIR_MIGRATE_NON_SHARED_INC):
        invalid_arg(api, "Flag 'VIR_MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES' requires flag "
                    "'VIR_MIGRATE_NON_SHARED_DISK | VIR_MIGRATE_NON_SHARED_INC'", "flags")


def _check_offline(src: virConnect, dconn: virConnect | None, flags: int) -> None:
    if not flags & c.VIR_MIGRATE_OFFLINE:
        return
    if not supports_feature(src, FEATURE_MIGRATION_OFFLINE):
        raise_error(c.VIR_ERR_ARGUMENT_UNSUPPORTED,
                    "offline migration is not supported by the source host")
    if dconn is not None and not supports_feature(dconn, FEATURE_MIGRATION_OFFLINE):
        raise_error(c.VIR_ERR_ARGUMENT_UNSUPPORTED,
                    "offline migration is not supported by the destination host")


def migrate3(dom: virDomain, dconn: virConnect, params: dict[str, Any], flags: int,
             api: str = "virDomainMigrate3") -> virDomain:
    """virDomainMigrate3 (and the managed path of the older forms, named by ``api``): a
    managed migration to the connection ``dconn``."""
    _common_checks(api, flags)
    if flags & c.VIR_MIGRATE_PEER2PEER:
        invalid_arg(api, "use virDomainMigrateToURI3 for peer-to-peer migration", "flags")
    if flags & c.VIR_MIGRATE_TUNNELLED:
        invalid_arg(api, "cannot perform tunnelled migration without using peer2peer flag",
                    "flags")
    _check_offline(dom._conn, dconn, flags)
    if flags & c.VIR_MIGRATE_CHANGE_PROTECTION and not supports_feature(
            dom._conn, FEATURE_MIGRATE_CHANGE_PROTECTION):
        raise_error(c.VIR_ERR_ARGUMENT_UNSUPPORTED, "cannot enforce change protection")
    flags &= ~c.VIR_MIGRATE_CHANGE_PROTECTION
    if not (supports_feature(dom._conn, FEATURE_MIGRATION_PARAMS)
            and supports_feature(dconn, FEATURE_MIGRATION_PARAMS)):
        raise_error(c.VIR_ERR_NO_SUPPORT, api)
    return migrate_version3(dom, dconn, params, flags)


def migrate_version3(dom: virDomain, dconn: virConnect, params: dict[str, Any],
                     flags: int) -> virDomain:
    """virDomainMigrateVersion3Full with parameters: Begin, Prepare, Perform, Finish,
    Confirm (see the module docstring). Also the peer-to-peer path of a source driver."""
    src = dom._conn._drv
    dst = dconn._drv
    params = dict(params)
    protection = (c.VIR_MIGRATE_CHANGE_PROTECTION
                  if supports_feature(dom._conn, FEATURE_MIGRATE_CHANGE_PROTECTION) else 0)
    cookie, dom_xml = src.domainMigrateBegin3Params(dom, params, flags | protection)
    state = dom.state(0)[0]
    if state == c.VIR_DOMAIN_PAUSED and not flags & c.VIR_MIGRATE_POSTCOPY_RESUME:
        flags |= c.VIR_MIGRATE_PAUSED
    destflags = flags & ~(c.VIR_MIGRATE_ABORT_ON_ERROR | c.VIR_MIGRATE_AUTO_CONVERGE)
    params[c.VIR_MIGRATE_PARAM_DEST_XML] = dom_xml
    failure: libvirtError | None = None
    cancelled = True
    notify_source = True
    ddom = None
    try:
        cookie, uri_out = dst.domainMigratePrepare3Params(dconn, params, cookie, destflags)
    except libvirtError as exc:
        if not protection:
            raise
        # Begin took a migration job on the source: Confirm releases it
        failure, cookie = exc, b""
    if failure is None:
        if uri_out:
            params[c.VIR_MIGRATE_PARAM_URI] = uri_out
        if flags & c.VIR_MIGRATE_OFFLINE:
            cookie, cancelled = b"", False
        elif not params.get(c.VIR_MIGRATE_PARAM_URI):
            failure = _error(c.VIR_ERR_INTERNAL_ERROR, "domainMigratePrepare3 did not set uri")
        else:
            try:
                cookie = src.domainMigratePerform3Params(dom, None, params, cookie,
                                                         flags | protection)
                cancelled = False
            except libvirtError as exc:
                failure, cookie = exc, b""
                notify_source = False   # Perform failed: the source knows already
        params.setdefault(c.VIR_MIGRATE_PARAM_DEST_NAME, dom.name())
        try:
            ddom, cookie = dst.domainMigrateFinish3Params(dconn, params, cookie, destflags,
                                                          int(cancelled))
        except libvirtError as exc:
            ddom, cookie = None, b""
            if failure is None:
                failure = exc
        cancelled = ddom is None
    if notify_source:
        try:
            src.domainMigrateConfirm3Params(dom, params, cookie, flags | protection,
                                            int(cancelled))
        except libvirtError:
            pass   # libvirt: the guest is probably left paused on the source
    if failure is not None:
        raise failure
    if ddom is None:
        raise _error(c.VIR_ERR_OPERATION_FAILED, "migration failed")
    return ddom


def _error(code: int, detail: str) -> libvirtError:
    from pyvirt.errors import make_error

    return make_error(code, detail)


def _check_not_local(api: str, dconnuri: str) -> None:
    """virDomainMigrateCheckNotLocal: a peer-to-peer URI naming this host is a mistake,
    unless it is an explicit unix socket."""
    from pyvirt.uri import parse_uri

    uri = parse_uri(dconnuri)
    unix_socket = ("+" in uri.scheme and uri.scheme.split("+", 1)[1] == "unix"
                   and any(name == "socket" for name, _ in uri.params))
    if (uri.host and uri.host.startswith("localhost")) or (not uri.host and not unix_socket):
        invalid_arg(api, "Attempt to migrate guest to the same host", dconnuri)


def migrate_unmanaged(dom: virDomain, dconnuri: str | None, params: dict[str, Any],
                      flags: int, api: str = "virDomainMigrateToURI3") -> int:
    """virDomainMigrateToURI3 (and the older forms): peer-to-peer, or direct."""
    _exclusive(api, flags, c.VIR_MIGRATE_TUNNELLED, c.VIR_MIGRATE_PARALLEL,
               ("VIR_MIGRATE_TUNNELLED", "VIR_MIGRATE_PARALLEL"))
    _common_checks(api, flags)
    _check_offline(dom._conn, None, flags)
    if flags & c.VIR_MIGRATE_PEER2PEER:
        if not supports_feature(dom._conn, FEATURE_MIGRATION_P2P):
            raise_error(c.VIR_ERR_ARGUMENT_UNSUPPORTED,
                        "p2p migration is not supported by the source host")
        if not dconnuri:
            invalid_arg(api, "dconnuri in virDomainMigrateToURI3 must not be NULL",
                        "dconnuri")
        assert dconnuri is not None
        _check_not_local(api, dconnuri)
        if not supports_feature(dom._conn, FEATURE_MIGRATION_PARAMS):
            raise_error(c.VIR_ERR_NO_SUPPORT, api)
        dom._conn._drv.domainMigratePerform3Params(dom, dconnuri, params, b"", flags)
        return 0
    if not supports_feature(dom._conn, FEATURE_MIGRATION_DIRECT):
        raise_error(c.VIR_ERR_ARGUMENT_UNSUPPORTED,
                    "direct migration is not supported by the source host")
    dom._conn._drv.domainMigratePerform3Params(dom, None, params, b"", flags)
    return 0


def migrate(dom: virDomain, dconn: virConnect, flags: int, params: dict[str, Any],
            api: str) -> virDomain:
    """virDomainMigrate and virDomainMigrate2: peer-to-peer to ``dconn``'s URI (or to the
    ``uri`` argument, which is then a connection URI), else managed."""
    if flags & c.VIR_MIGRATE_PEER2PEER:
        _common_checks(api, flags)
        _check_offline(dom._conn, dconn, flags)
        p2p = dict(params)
        dconnuri = p2p.pop(c.VIR_MIGRATE_PARAM_URI, None) or dconn.getURI()
        migrate_unmanaged(dom, dconnuri, p2p, flags, api)
        return dconn.lookupByName(params.get(c.VIR_MIGRATE_PARAM_DEST_NAME) or dom.name())
    return migrate3(dom, dconn, params, flags, api)
