"""The libvirt article's example, run unchanged against pyvirt aliased as libvirt."""

from __future__ import annotations

import pytest

import pyvirt as libvirt


def test_article_example_states_and_cleanup(capsys: pytest.CaptureFixture[str]) -> None:
    conn = libvirt.open("test:///default")
    try:
        seen_states = []
        for dom_id in conn.listDomainsID():
            dom = conn.lookupByID(dom_id)
            print(dom.name(), dom.info()[0])
            seen_states.append(dom.info()[0])
            dom.suspend()
            seen_states.append(dom.info()[0])
            dom.resume()
            seen_states.append(dom.info()[0])
            dom.destroy()

        assert seen_states == [1, 3, 1]
        assert capsys.readouterr().out == "test 1\n"
        # The guest is gone: no running domain is left, and its id no longer resolves.
        assert conn.listDomainsID() == []
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
        with pytest.raises(libvirt.libvirtError) as info:
            conn.lookupByID(1)
        assert info.value.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN
    finally:
        libvirt.registerErrorHandler(None, None)
        conn.close()
