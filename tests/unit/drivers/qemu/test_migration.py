"""The QEMU driver's migration pieces that need no QEMU: the cookie and its checks, the
migration URIs, the shared-storage safety rule, and the parameter and flag checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyvirt import constants as c
from pyvirt.conf.domain import DomainDef
from pyvirt.drivers.qemu import migration as mig
from pyvirt.drivers.qemu.domain import QemuDomain
from pyvirt.errors import libvirtError

HOST_A = "00000000-0000-4000-8000-00000000000a"
HOST_B = "00000000-0000-4000-8000-00000000000b"


def _error(fn: object) -> tuple[int, str]:
    with pytest.raises(libvirtError) as err:
        fn()  # type: ignore[operator]
    return err.value.get_error_code(), str(err.value)


def test_cookie_round_trip_and_checks() -> None:
    persistent = "<domain type='qemu'><name>g</name></domain>"
    data = mig.Cookie("g", "u-1", "hosta", HOST_A, persistent).to_bytes()
    assert data.endswith(b"\0") and data.startswith(b"<qemu-migration><name>g</name>")
    cookie = mig.Cookie.parse(data, HOST_B)
    assert cookie is not None
    assert (cookie.name, cookie.uuid, cookie.hostname, cookie.hostuuid) == (
        "g", "u-1", "hosta", HOST_A)
    assert cookie.persistent_xml is not None and "<name>g</name>" in cookie.persistent_xml
    assert mig.Cookie.parse(b"", HOST_B) is None
    assert _error(lambda: mig.Cookie.parse(data, HOST_A)) == (
        c.VIR_ERR_INTERNAL_ERROR,
        f"internal error: Attempt to migrate guest to the same host {HOST_A}")
    assert _error(lambda: mig.Cookie.parse(b"<qemu-migration><name>g</name>"
                                           b"</qemu-migration>\0", HOST_B)) == (
        c.VIR_ERR_INTERNAL_ERROR, "internal error: missing uuid element in migration data")


@pytest.mark.parametrize(("uri", "host", "port", "qemu"), [
    ("tcp://127.0.0.1", "127.0.0.1", None, "tcp:127.0.0.1"),
    ("tcp://127.0.0.1:49200", "127.0.0.1", 49200, "tcp:127.0.0.1:49200"),
    ("tcp:host.example:49153", "host.example", 49153, "tcp:host.example:49153"),
    ("tcp://[::1]:49152", "::1", 49152, "tcp:[::1]:49152"),
])
def test_migration_uris(uri: str, host: str, port: int | None, qemu: str) -> None:
    assert mig._uri_host_port(uri) == (host, port)
    assert mig._qemu_uri(uri) == qemu


def test_unsupported_uri_scheme() -> None:
    assert _error(lambda: mig._uri_host_port("rdma://h")) == (
        c.VIR_ERR_ARGUMENT_UNSUPPORTED,
        "argument unsupported: unsupported scheme rdma in migration URI rdma://h")


def _domain(disks: str) -> QemuDomain:
    return QemuDomain(DomainDef.from_xml(
        f"<domain type='qemu'><name>g</name><memory>65536</memory><os><type>hvm</type>"
        f"</os><devices>{disks}</devices></domain>"))


def test_local_disks_are_unsafe_unless_readonly_or_flagged(tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    image.write_bytes(b"\0" * 512)
    writable = _domain(f"<disk type='file' device='disk'><source file='{image}'/>"
                       "<target dev='vda' bus='virtio'/></disk>")
    assert _error(lambda: mig._check_safe(writable, 0)) == (
        c.VIR_ERR_MIGRATE_UNSAFE, "Unsafe migration: Migration without shared storage is "
                                  "unsafe")
    mig._check_safe(writable, c.VIR_MIGRATE_UNSAFE)
    mig._check_safe(writable, c.VIR_MIGRATE_OFFLINE)
    readonly = _domain(f"<disk type='file' device='disk'><source file='{image}'/>"
                       "<target dev='vda' bus='virtio'/><readonly/></disk>")
    mig._check_safe(readonly, 0)
    cdrom = _domain("<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/>"
                    "<readonly/></disk>")
    mig._check_safe(cdrom, 0)


def test_unknown_parameters_are_refused() -> None:
    mig._check_params({c.VIR_MIGRATE_PARAM_URI: "tcp://h", c.VIR_MIGRATE_PARAM_BANDWIDTH: 5})
    assert _error(lambda: mig._check_params({"parallel.connections": 4})) == (
        c.VIR_ERR_ARGUMENT_UNSUPPORTED,
        "argument unsupported: parameter 'parallel.connections' not supported")
