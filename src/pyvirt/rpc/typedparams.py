"""Typed parameters: their type codes, the value arm of each, and the type libvirt declares
for each field name it knows.

A typed parameter travels as ``{"field": name, "value": {"type": T, arm: v}}``. Python
values do not say whether 5 is an INT or a ULLONG, so both ends look the field up here:
the daemon for the values its drivers return, the remote client for arguments of calls
with no getter to learn types from. :func:`declared_type` is that lookup (exact names from
libvirt's public headers and its drivers, then name patterns); None means the field is not
known and the caller decides from the value.
"""

from __future__ import annotations

import re

from pyvirt import constants as c

INT = c.VIR_TYPED_PARAM_INT
UINT = c.VIR_TYPED_PARAM_UINT
LLONG = c.VIR_TYPED_PARAM_LLONG
ULLONG = c.VIR_TYPED_PARAM_ULLONG
DOUBLE = c.VIR_TYPED_PARAM_DOUBLE
BOOLEAN = c.VIR_TYPED_PARAM_BOOLEAN
STRING = c.VIR_TYPED_PARAM_STRING
ARMS = {INT: "i", UINT: "ui", LLONG: "l", ULLONG: "ul", DOUBLE: "d", BOOLEAN: "b", STRING: "s"}

# The types libvirt gives typed parameters it returns (include/libvirt/libvirt-domain.h and
# the drivers that fill them), for the fields whose type a Python value cannot tell:
# exact names, then patterns. Anything else gets the narrowest type for its value.
RETURNED_TYPES: dict[str, int] = {
    "state.state": INT, "state.reason": INT,
    "vcpu.current": UINT, "vcpu.maximum": UINT,
    "net.count": UINT, "block.count": UINT,
    "cpu_shares": ULLONG, "vcpu_period": ULLONG, "vcpu_quota": LLONG,
    "emulator_period": ULLONG, "emulator_quota": LLONG,
    "global_period": ULLONG, "global_quota": LLONG,
    "iothread_period": ULLONG, "iothread_quota": LLONG,
    "hard_limit": ULLONG, "soft_limit": ULLONG,
    "swap_hard_limit": ULLONG, "min_guarantee": ULLONG,
    "weight": UINT, "numa_mode": INT,
    "cpu_time": ULLONG, "user_time": ULLONG, "system_time": ULLONG,
    "vcpu_time": ULLONG,
    # virDomainGetJobStats (the other job figures are ULLONG: patterns below)
    "operation": INT, "auto_converge_throttle": INT,
}
PATTERNS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"vcpu\.\d+\.state"), INT),
    (re.compile(r"(cpu|balloon|vcpu\.\d+|net\.\d+|block\.\d+|perf|dirtyrate)\..*"),
     ULLONG),
    (re.compile(r"(total|read|write|size)_(bytes|iops)_sec(_max(_length)?)?"), ULLONG),
    (re.compile(r"(rd|wr|flush)_(operations|bytes|total_times)|errs"), LLONG),
    (re.compile(r"time_(elapsed|elapsed_net|remaining)|downtime(_net)?|setup_time|"
                r"(data|memory|disk|compression)_[a-z_]+"), ULLONG),
)

# Parameters of calls without a getter to learn types from (libvirt's public headers).
ARGUMENT_TYPES: dict[str, int] = {
    # migration (VIR_MIGRATE_PARAM_*)
    "migrate_uri": STRING, "destination_name": STRING, "destination_xml": STRING,
    "persistent_xml": STRING, "bandwidth": ULLONG, "bandwidth.postcopy": ULLONG,
    "graphics_uri": STRING, "listen_address": STRING, "migrate_disks": STRING,
    "disks_port": INT, "disks_uri": STRING, "compression": STRING,
    "compression.mt.level": INT, "compression.mt.threads": INT,
    "compression.mt.dthreads": INT, "compression.xbzrle.cache": ULLONG,
    "compression.zlib.level": INT, "compression.zstd.level": INT,
    "auto_converge.initial": INT, "auto_converge.increment": INT,
    "parallel.connections": INT, "tls.destination": STRING,
    # block copy (VIR_DOMAIN_BLOCK_COPY_*)
    "granularity": UINT, "buf-size": ULLONG,
    # IOThread parameters (VIR_DOMAIN_IOTHREAD_*)
    "poll_max_ns": ULLONG, "poll_grow": UINT, "poll_shrink": UINT,
    "thread_pool_min": INT, "thread_pool_max": INT,
    # save / restore (VIR_DOMAIN_SAVE_PARAM_*)
    "file": STRING, "dxml": STRING,
    # launch security state (VIR_DOMAIN_LAUNCH_SECURITY_SEV_SECRET*)
    "sev-secret": STRING, "sev-secret-header": STRING, "sev-secret-set-address": ULLONG,
    # connection identity (VIR_CONNECT_IDENTITY_*)
    "user-name": STRING, "unix-user-id": ULLONG, "group-name": STRING,
    "unix-group-id": ULLONG, "process-id": LLONG, "process-time": ULLONG,
    "sasl-user-name": STRING, "x509-distinguished-name": STRING, "selinux-context": STRING,
}
FIELD_TYPES = {**RETURNED_TYPES, **ARGUMENT_TYPES}


def declared_type(field: str) -> int | None:
    """The type libvirt gives ``field``, or None when it is not known here."""
    kind = FIELD_TYPES.get(field)
    if kind is not None:
        return kind
    for pattern, pattern_kind in PATTERNS:
        if pattern.fullmatch(field):
            return pattern_kind
    return None
