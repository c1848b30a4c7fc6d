"""Flag combinations refused by libvirt's public API before the driver (its wording)."""

from __future__ import annotations

import pytest

import pyvirt as libvirt
from pyvirt.api.flag_rules import FLAG_RULES


@pytest.fixture
def dom():  # type: ignore[no-untyped-def]
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    conn = libvirt.open("test:///default")
    yield conn.lookupByName("test")
    conn.close()
    libvirt.registerErrorHandler(None, None)


def test_table_names_real_flags() -> None:
    for rules in FLAG_RULES.values():
        for _rule, first, second in rules:
            for name in (first, *second.split("|")):
                assert isinstance(getattr(libvirt, name.strip()), int)


def test_exclusive_save_flags(dom, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(libvirt.libvirtError) as info:
        dom.saveFlags(str(tmp_path / "s.img"), None,
                      libvirt.VIR_DOMAIN_SAVE_RUNNING | libvirt.VIR_DOMAIN_SAVE_PAUSED)
    exc = info.value
    assert exc.get_error_code() == libvirt.VIR_ERR_INVALID_ARG
    assert exc.get_error_domain() == libvirt.VIR_FROM_DOMAIN
    assert str(exc) == ("Flags 'VIR_DOMAIN_SAVE_RUNNING' and 'VIR_DOMAIN_SAVE_PAUSED' "
                        "are mutually exclusive")
    assert dom.isActive() == 1  # nothing happened


def test_required_flag(dom) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(libvirt.libvirtError) as info:
        dom.setVcpusFlags(1, libvirt.VIR_DOMAIN_VCPU_MAXIMUM)
    assert str(info.value) == (
        "Flag 'VIR_DOMAIN_AFFECT_CONFIG' is required by flag 'VIR_DOMAIN_VCPU_MAXIMUM'")


def test_snapshot_revert_flags(dom) -> None:  # type: ignore[no-untyped-def]
    snap = dom.snapshotCreateXML("<domainsnapshot><name>s</name></domainsnapshot>")
    with pytest.raises(libvirt.libvirtError) as info:
        snap.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN
                    | libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY)
    assert info.value.get_error_domain() == libvirt.VIR_FROM_DOMAIN_SNAPSHOT
    assert "are mutually exclusive" in str(info.value)
    snap.delete()
