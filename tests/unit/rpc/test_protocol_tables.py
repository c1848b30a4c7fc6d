"""The generated protocol tables: reproducible from libvirt's source (drift test), complete,
and consistent with the protocol reference written for this project."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

from pyvirt._api_names import PUBLIC_FUNCTIONS
from pyvirt.rpc import protocol
from shared_data import RPC_PROCEDURES_TSV

TOP = Path(__file__).resolve().parents[3]
REFERENCE = RPC_PROCEDURES_TSV


def _generator():
    spec = importlib.util.spec_from_file_location(
        "gen_rpc_protocol", TOP / "scripts" / "gen_rpc_protocol.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_modules_match_libvirt_source() -> None:
    gen = _generator()
    source = gen.default_source()
    if source is None:
        pytest.skip("libvirt's source is not unpacked (scripts/xml_roundtrip.py fetches it)")
    out = gen.generate(source)
    assert sorted(out) == ["_programs", "admin", "keepalive", "lxc", "net", "qemu", "remote"]
    for module, text in out.items():
        path = TOP / "src" / "pyvirt" / "rpc" / "protocol" / f"{module}.py"
        assert path.read_text() == text, f"{path.name} differs: run scripts/gen_rpc_protocol.py"


def test_programs_and_counts() -> None:
    counts = {}
    for name, number in (("REMOTE", 0x20008086), ("QEMU", 0x20008087), ("LXC", 0x00068000),
                         ("KEEPALIVE", 0x6B656570), ("ADMIN", 0x06900690)):
        prog = protocol.program(name)
        assert prog is not None and prog.number == number and prog.version == 1
        assert protocol.program(number) is prog
        counts[name] = len(prog.procedures)
        # Procedure numbers run 1..N without gaps.
        assert sorted(prog.procedures) == list(range(1, len(prog.procedures) + 1))
    assert counts == {"REMOTE": 443, "QEMU": 7, "LXC": 1, "KEEPALIVE": 2, "ADMIN": 19}
    assert protocol.program(0x12345678) is None and protocol.program("NOPE") is None
    assert protocol.lookup(0x20008086, 9999) is None


def test_every_type_and_procedure_codec_builds() -> None:
    for name in ("REMOTE", "QEMU", "LXC", "ADMIN", "KEEPALIVE"):
        prog = protocol.program(name)
        assert prog is not None
        for type_name in prog.module.TYPES:
            prog.codec(type_name)
        for proc in prog.procedures.values():
            for codec in (proc.args, proc.ret, proc.msg):
                assert codec is None or codec.min_size >= 0


def test_lookups_and_api_names() -> None:
    remote = protocol.REMOTE
    info = remote.procedure("virDomainGetInfo")
    assert info is remote.procedure(16) is remote.procedure("DOMAIN_GET_INFO")
    assert info is remote.procedure("REMOTE_PROC_DOMAIN_GET_INFO")
    assert (info.const_name, info.method, info.priority, info.readonly) == (
        "REMOTE_PROC_DOMAIN_GET_INFO", "domainGetInfo", "low", "yes")
    assert (info.args_type, info.ret_type, info.msg_type) == (
        "remote_domain_get_info_args", "remote_domain_get_info_ret", None)
    with pytest.raises(KeyError):
        remote.procedure("virNoSuchThing")
    assert remote.procedure("virConnectDomainEventRegisterAny").number == 316
    assert remote.procedure("DOMAIN_DESTROY").high_priority
    assert remote.procedure("DOMAIN_SUSPEND").readonly == "no"
    assert remote.procedure("DOMAIN_GET_XML_DESC").readonly == "flags"
    assert remote.procedure("STORAGE_VOL_UPLOAD").stream == "write"
    assert remote.procedure("STORAGE_VOL_UPLOAD").sparse_flag == 1
    assert remote.procedure("STORAGE_VOL_DOWNLOAD").stream == "read"
    assert remote.procedure("DOMAIN_OPEN_CONSOLE").stream == "both"
    assert remote.procedure("DOMAIN_MIGRATE_PREPARE_TUNNEL3_PARAMS").stream == "write"
    assert remote.procedure("DOMAIN_OPEN_GRAPHICS_FD").fds == "out"
    assert remote.procedure("DOMAIN_EVENT_CALLBACK_LIFECYCLE").is_event
    assert remote.procedure("AUTH_LIST").api is None
    # Driver method names follow pyvirt.drivers.base (virNWFilter* -> nwfilter*).
    assert remote.procedure("NWFILTER_LOOKUP_BY_NAME").method == "nwfilterLookupByName"
    assert remote.procedure("NWFILTER_BINDING_DELETE").method == "nwfilterBindingDelete"
    from pyvirt.drivers.base import entry_point_api_name

    for proc in remote.procedures.values():
        if proc.method is not None:
            assert entry_point_api_name(proc.method) == proc.api
    qemu = protocol.QEMU
    assert qemu.procedure(1).api == "virDomainQemuMonitorCommand"
    assert qemu.procedure(4).api == "virConnectDomainQemuMonitorEventRegister"
    assert protocol.LXC.procedure(1).api == "virDomainLxcOpenNamespace"
    assert protocol.ADMIN.procedure(6).api == "virAdmServerGetThreadPoolParameters"
    # Every call of the public programs names a public (or internal) libvirt function.
    missing = [p.const_name for prog in (remote, qemu, protocol.LXC)
               for p in prog.procedures.values()
               if not p.is_event and p.api is None and not p.name.startswith("AUTH_")]
    assert missing == []
    public = [p.api for p in remote.procedures.values() if p.api in PUBLIC_FUNCTIONS]
    assert len(public) > 350


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared/reference is not present")
def test_tables_agree_with_the_reference_tsv() -> None:
    rows = list(csv.DictReader(REFERENCE.open(), delimiter="\t"))
    assert len(rows) == 472
    for row in rows:
        prog = protocol.program(row["program"])
        assert prog is not None
        proc = prog.procedure(int(row["number"]))
        assert proc.const_name == row["name"]
        assert proc.priority == (row["priority"] or "low") or row["kind"] != "call"
        kind = "call" if not proc.is_event else (
            "message" if row["program"] == "KEEPALIVE" else "event-message")
        assert kind == row["kind"], row["name"]
        if row["readonly_ok"] in ("yes", "no", "flags"):
            assert proc.readonly == row["readonly_ok"], row["name"]
        if row["acl"]:
            assert " ".join(proc.acl) == row["acl"], row["name"]
        expected_stream = row["stream"].split(";")[0].split(" ")[0] or None
        if proc.stream != "both":
            assert proc.stream == expected_stream, row["name"]
