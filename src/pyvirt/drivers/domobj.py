"""Rules every hypervisor driver applies to its domain objects the same way (libvirt's
virdomainobjlist.c and the generic parts of virdomainobj): list filters and the
live/config "modification impact" of a call's flags."""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.api.connect import virConnect
    from pyvirt.api.domain import virDomain

LIVE = c.VIR_DOMAIN_AFFECT_LIVE
CONFIG = c.VIR_DOMAIN_AFFECT_CONFIG

# Every VIR_CONNECT_LIST_DOMAINS_* filter bit.
LIST_FILTERS_ALL = 0
for _name, _value in vars(c).items():
    if _name.startswith("VIR_CONNECT_LIST_DOMAINS_"):
        LIST_FILTERS_ALL |= _value

_STATE_FILTERS = (c.VIR_CONNECT_LIST_DOMAINS_RUNNING | c.VIR_CONNECT_LIST_DOMAINS_PAUSED
                  | c.VIR_CONNECT_LIST_DOMAINS_SHUTOFF | c.VIR_CONNECT_LIST_DOMAINS_OTHER)


def list_filter_match(flags: int, *, active: bool, persistent: bool, managed_save: bool,
                      autostart: bool, has_snapshot: bool, has_checkpoint: bool,
                      state: int) -> bool:
    """virDomainObjListFilter: whether a domain with these properties passes ``flags``."""
    for yes, no, value in (
        (c.VIR_CONNECT_LIST_DOMAINS_ACTIVE, c.VIR_CONNECT_LIST_DOMAINS_INACTIVE, active),
        (c.VIR_CONNECT_LIST_DOMAINS_PERSISTENT, c.VIR_CONNECT_LIST_DOMAINS_TRANSIENT,
         persistent),
        (c.VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE, c.VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE,
         managed_save),
        (c.VIR_CONNECT_LIST_DOMAINS_AUTOSTART, c.VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART,
         autostart),
        (c.VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT, c.VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT,
         has_snapshot),
        (c.VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT, c.VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT,
         has_checkpoint),
    ):
        if flags & (yes | no) and not ((flags & yes and value) or (flags & no and not value)):
            return False
    if flags & _STATE_FILTERS:
        if state == c.VIR_DOMAIN_RUNNING:
            return bool(flags & c.VIR_CONNECT_LIST_DOMAINS_RUNNING)
        if state == c.VIR_DOMAIN_PAUSED:
            return bool(flags & c.VIR_CONNECT_LIST_DOMAINS_PAUSED)
        if state == c.VIR_DOMAIN_SHUTOFF:
            return bool(flags & c.VIR_CONNECT_LIST_DOMAINS_SHUTOFF)
        return bool(flags & c.VIR_CONNECT_LIST_DOMAINS_OTHER)
    return True


def modification_impact(flags: int, *, active: bool, persistent: bool) -> int:
    """virDomainObjUpdateModificationImpact: ``flags`` with AFFECT_CURRENT resolved to
    LIVE or CONFIG; refuses LIVE on an inactive domain and CONFIG on a transient one."""
    if not flags & (LIVE | CONFIG):
        flags |= LIVE if active else CONFIG
    if flags & LIVE and not active:
        raise_error(c.VIR_ERR_OPERATION_INVALID, "domain is not running",
                    domain=c.VIR_FROM_DOMAIN)
    if flags & CONFIG and not persistent:
        raise_error(c.VIR_ERR_OPERATION_INVALID,
                    "transient domains do not have any persistent config",
                    domain=c.VIR_FROM_DOMAIN)
    return flags


EVENT_ID_MAX = max(v for k, v in vars(c).items() if k.startswith("VIR_DOMAIN_EVENT_ID_"))


class DomainEventEntryPoints:
    """virConnectDomainEvent(De)Register(Any) for a driver whose events go through
    ``self.events`` (an events.state.EventState)."""

    events: Any
    error_domain: int

    def connectDomainEventRegisterAny(self, conn: virConnect, dom: virDomain | None,  # noqa: N802
                                      event_id: int, cb: Any, opaque: Any) -> int:
        if event_id < 0 or event_id > EVENT_ID_MAX:
            raise_error(c.VIR_ERR_INVALID_ARG, f"unsupported event ID {event_id}",
                        domain=self.error_domain)
        result: int = self.events.register_domain(conn, dom, event_id, cb, opaque)
        return result

    def connectDomainEventDeregisterAny(self, conn: virConnect, callback_id: int) -> int:  # noqa: N802
        self.events.deregister(conn, callback_id)
        return 0

    def connectDomainEventRegister(self, conn: virConnect, cb: Any, opaque: Any) -> int:  # noqa: N802
        self.events.register_domain_legacy(conn, cb, opaque)
        return 0

    def connectDomainEventDeregister(self, conn: virConnect, cb: Any) -> int:  # noqa: N802
        self.events.deregister_domain_legacy(conn, cb)
        return 0
