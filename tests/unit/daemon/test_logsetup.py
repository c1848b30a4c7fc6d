"""pyvirtd's log settings in libvirt's syntax: parsing and its error texts, the format
virt-admin shows, which records the filters keep, and libvirt's default output choice."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pyvirt import constants as c
from pyvirt.daemon import logsetup
from pyvirt.errors import libvirtError


@pytest.mark.parametrize(("text", "message"), [
    ("stderr", "Malformed format for log output 'stderr'"),
    ("0:stderr", "Invalid log priority '0' for log output '0:stderr'"),
    ("x:stderr", "Invalid log priority 'x' for log output 'x:stderr'"),
    ("1:tape", "Invalid log destination 'tape' for log output '1:tape'"),
    ("1:stderr:x", "Log output '1:stderr:x' does not meet the format requirements for "
                   "destination type 'stderr'"),
    ("1:syslog", "Log output '1:syslog' does not meet the format requirements for "
                 "destination type 'syslog'"),
])
def test_bad_outputs(text: str, message: str) -> None:
    with pytest.raises(libvirtError) as err:
        logsetup.parse_outputs(text)
    assert err.value.get_error_code() == c.VIR_ERR_INVALID_ARG
    assert str(err.value) == f"invalid argument: {message}"


@pytest.mark.parametrize(("text", "message"), [
    ("qemu", "Malformed format for filter 'qemu'"),
    ("5:qemu", "Invalid priority '5' for filter '5:qemu'"),
    ("1:+", "Invalid match string '+'"),
])
def test_bad_filters(text: str, message: str) -> None:
    with pytest.raises(libvirtError) as err:
        logsetup.parse_filters(text)
    assert str(err.value) == f"invalid argument: {message}"


def test_formats_as_libvirt_shows_them() -> None:
    outputs = logsetup.parse_outputs("  2:stderr 1:file:/tmp/a.log 3:stderr 1:syslog:pv ")
    # a later output to the same destination replaces the earlier one
    assert logsetup.format_outputs(outputs) == "1:file:/tmp/a.log 3:stderr 1:syslog:pv"
    filters = logsetup.parse_filters("1:qemu 3:+rpc")
    assert logsetup.format_filters(filters) == "1:*qemu* 3:*rpc* "


def test_filters_choose_before_the_default_level(tmp_path: Path) -> None:
    settings = logsetup.LogSettings(3, "3:stderr")
    settings.set_filters("1:drivers.q?mu 4:daemon")
    selector = logsetup._Selector(settings)

    def kept(name: str, level: int) -> bool:
        return selector.filter(logging.LogRecord(name, level, "f", 1, "m", None, None))

    assert kept("pyvirt.drivers.qemu.monitor", logging.DEBUG)
    assert not kept("pyvirt.daemon.client", logging.WARNING)    # its filter wants errors
    assert kept("pyvirt.daemon.client", logging.ERROR)
    assert not kept("pyvirt.storage", logging.INFO)             # no filter: the default
    assert kept("pyvirt.storage", logging.WARNING)
    settings.close()


def test_default_output(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(logsetup, "JOURNALD_SOCKET", str(tmp_path / "no-journal"))
    assert logsetup.default_output(3, detached=False, log_dir="/x") == "3:stderr"
    assert logsetup.default_output(2, detached=True, log_dir="/x") == "2:file:/x/pyvirtd.log"
    (tmp_path / "no-journal").touch()
    monkeypatch.setattr(logsetup, "JOURNALD_SOCKET", str(tmp_path / "no-journal"))
    assert logsetup.default_output(1, detached=True, log_dir="/x") == "2:journald"
