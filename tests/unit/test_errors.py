"""libvirtError: libvirt's codes, domains and wording; per-call errors; last-error compat."""

from __future__ import annotations

import threading

import pytest

import pyvirt
from pyvirt import constants as c
from pyvirt import errors


def test_wording_with_and_without_detail() -> None:
    assert errors.message_for(c.VIR_ERR_NO_DOMAIN) == "Domain not found"
    assert errors.message_for(c.VIR_ERR_NO_DOMAIN, "no domain with matching name 'x'") == (
        "Domain not found: no domain with matching name 'x'"
    )
    assert errors.message_for(c.VIR_ERR_NO_SUPPORT, "virDomainFoo") == (
        "this function is not supported by the connection driver: virDomainFoo"
    )


def test_raw_error_matches_libvirt_python_layout() -> None:
    with pytest.raises(errors.NoDomainError) as info:
        errors.raise_error(
            c.VIR_ERR_NO_DOMAIN, "no domain with matching name 'x'", domain=c.VIR_FROM_TEST
        )
    exc = info.value
    assert isinstance(exc, pyvirt.libvirtError)
    assert exc.get_error_code() == c.VIR_ERR_NO_DOMAIN
    assert exc.get_error_domain() == c.VIR_FROM_TEST
    assert exc.get_error_level() == c.VIR_ERR_ERROR
    assert exc.get_str1() == "Domain not found: %s"
    assert exc.get_str2() == "no domain with matching name 'x'"
    assert exc.get_int1() == -1
    assert str(exc) == "Domain not found: no domain with matching name 'x'"


def test_subclass_per_code_and_fallback() -> None:
    assert type(errors.make_error(c.VIR_ERR_OPERATION_INVALID, "x")) is errors.OperationInvalidError
    assert type(errors.make_error(c.VIR_ERR_RPC, "x")) is pyvirt.libvirtError


def test_report_sets_thread_local_last_error_and_calls_handler() -> None:
    seen: list[tuple] = []
    pyvirt.registerErrorHandler(lambda ctx, err: seen.append((ctx, err)), "ctx")
    try:
        exc = errors.make_error(c.VIR_ERR_INVALID_ARG, "bad")
        errors.report(exc)
        assert pyvirt.virGetLastError() == exc.err
        assert pyvirt.virGetLastErrorCode() == c.VIR_ERR_INVALID_ARG
        assert seen == [("ctx", exc.err)]

        other: list[object] = []
        thread = threading.Thread(target=lambda: other.append(pyvirt.virGetLastError()))
        thread.start()
        thread.join()
        assert other == [None], "last error must be per thread"
    finally:
        pyvirt.registerErrorHandler(None, None)
        pyvirt.virResetLastError()


def test_default_handler_prints_like_libvirt(capsys: pytest.CaptureFixture[str]) -> None:
    pyvirt.registerErrorHandler(None, None)
    errors.report(errors.make_error(c.VIR_ERR_NO_DOMAIN, domain=c.VIR_FROM_TEST))
    assert capsys.readouterr().err == "libvirt: Test Driver error : Domain not found\n"


def test_user_constructed_error_has_no_err() -> None:
    pyvirt.virResetLastError()
    exc = pyvirt.libvirtError("custom")
    assert str(exc) == "custom"
    assert exc.get_error_code() is None
