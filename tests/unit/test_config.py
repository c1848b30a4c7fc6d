"""libvirt conf syntax and the client config file.

Error texts and line numbers were checked against libvirt 9.0 by feeding each text to the
real library as its libvirt.conf.
"""

from __future__ import annotations

import pathlib

import pytest

from pyvirt import constants as c
from pyvirt.config import (
    MEMORY_NAME,
    ConfFile,
    client_config_path,
    client_config_paths,
    load_client_config,
    parse_conf,
    read_conf,
    read_conf_file,
)
from pyvirt.errors import libvirtError

VALUE_TABLE: list[tuple[str, dict[str, object]]] = [
    ("", {}),
    ("# only a comment", {}),
    ("\n\n# c\n\n", {}),
    ('uri_default = "qemu:///system"', {"uri_default": "qemu:///system"}),
    ("a = 'single'", {"a": "single"}),
    ('a = "it\'s"', {"a": "it's"}),
    ("a = 'say \"hi\"'", {"a": 'say "hi"'}),
    ('a = """multi\nline"""', {"a": "multi\nline"}),
    ('a = """has "quotes" inside"""', {"a": 'has "quotes" inside'}),
    ('a = ""', {"a": ""}),
    ("a = 1", {"a": 1}),
    ("a = +7", {"a": 7}),
    ("a = -12", {"a": -12}),
    ("a = 0", {"a": 0}),
    ("a = 18446744073709551615", {"a": 18446744073709551615}),
    ("a = []", {"a": []}),
    ("a = [ ]", {"a": []}),
    ('a = [ "x" ]', {"a": ["x"]}),
    ('a = [ "x", "y", ]', {"a": ["x", "y"]}),
    ('a = [\n  "x",\n\n  "y"\n]', {"a": ["x", "y"]}),
    ('a = [ "x", 1, [ "n" ] ]', {"a": ["x", 1, ["n"]]}),
    ("a = 1; b = 2", {"a": 1, "b": 2}),
    ("a = 1;\nb = 2;", {"a": 1, "b": 2}),
    ("a = 1 # trailing comment\nb = 2", {"a": 1, "b": 2}),
    ("  \t a\t=\t1  ", {"a": 1}),
    ("a = 1\r\nb = 2\r\n", {"a": 1, "b": 2}),
    ("a_1 = 1\nB2 = 2", {"a_1": 1, "B2": 2}),
    ("a = 1\na = 2", {"a": 1}),  # the first setting wins, as libvirt looks up
    (
        'uri_aliases = [\n  "hail=qemu+ssh://root@hail.cloud.example.com/system",\n'
        '  "sleet=qemu+ssh://root@sleet.cloud.example.com/system",\n]\n',
        {
            "uri_aliases": [
                "hail=qemu+ssh://root@hail.cloud.example.com/system",
                "sleet=qemu+ssh://root@sleet.cloud.example.com/system",
            ]
        },
    ),
]


@pytest.mark.parametrize("text,values", VALUE_TABLE, ids=[repr(t)[:40] for t, _ in VALUE_TABLE])
def test_values(text: str, values: dict[str, object]) -> None:
    assert parse_conf(text) == values


def test_order_is_kept() -> None:
    assert list(parse_conf("z = 1\na = 2\nm = 3")) == ["z", "a", "m"]


# text -> (line, what): libvirt's "FILE:LINE: what"
ERROR_TABLE = [
    ("a = 1 b = 2\n", 1, "expecting a separator"),
    ('a = "x\n', 1, "unterminated string"),
    ("a = 'x", 1, "unterminated string"),
    ('\n\n# c\na = [ "x" "y" ]\n', 4, "expecting a separator in list"),
    ('a = [ "x", \n', 2, "expecting a value"),
    ('a = [ "x"', 1, "list is not closed with ]"),
    ("1a = 1\n", 1, "expecting a name"),
    ("_a = 1\n", 1, "expecting a name"),
    ("a 1\n", 1, "expecting an assignment"),
    ("a-b = 1\n", 1, "expecting an assignment"),
    ("a = \n", 1, "expecting a value"),
    ("a =", 1, "expecting a value"),
    ("a = -\n", 1, "unterminated number"),
    ("a = abc\n", 1, "expecting a value"),
    ("a = 12abc\n", 1, "expecting a separator"),
    ("   ", 1, "expecting a name"),
    ("a = 1; b = 2\nc = '''x'''\n", 2, "expecting a separator"),
    ('a = """multi\nline"""\nb = ]\n', 3, "expecting a value"),
    ('a = """unterminated\n\n', 1, "unterminated string"),
    ("a = 'x' # trailing\n\n\n\nb = [ 'y' ,, ]\n", 5, "expecting a value"),
]


@pytest.mark.parametrize(
    "text,line,what", ERROR_TABLE, ids=[repr(t)[:40] for t, _, _ in ERROR_TABLE]
)
def test_syntax_errors(text: str, line: int, what: str) -> None:
    with pytest.raises(libvirtError) as info:
        read_conf(text, "/etc/libvirt/libvirt.conf")
    err = info.value
    assert err.get_error_code() == c.VIR_ERR_CONF_SYNTAX
    assert err.get_error_domain() == c.VIR_FROM_CONF
    assert str(err) == (
        f"configuration file syntax error: /etc/libvirt/libvirt.conf:{line}: {what}"
    )


def test_memory_name_in_errors() -> None:
    with pytest.raises(libvirtError) as info:
        parse_conf("a = ")
    assert str(info.value) == f"configuration file syntax error: {MEMORY_NAME}:1: expecting a value"


# --- typed getters -------------------------------------------------------------------------

GETTERS_TEXT = """
s = "str"
n = 5
neg = -5
zero_neg = -0
big = 4294967296
huge = 18446744073709551616
b0 = 0
b1 = 1
b2 = 2
lst = [ "a", "b" ]
mixed = [ "a", 1 ]
"""


@pytest.fixture
def conf() -> ConfFile:
    return read_conf(GETTERS_TEXT, "/etc/pyvirt/pyvirtd.conf")


def _err(conf: ConfFile, getter: str, name: str) -> tuple[int | None, int | None, str]:
    with pytest.raises(libvirtError) as info:
        getattr(conf, getter)(name)
    return info.value.get_error_code(), info.value.get_error_domain(), str(info.value)


def test_getters(conf: ConfFile) -> None:
    assert conf.get_string("s") == "str"
    assert conf.get_string("absent") is None
    assert conf.get_int("n") == 5 and conf.get_int("neg") == -5
    assert conf.get_uint("n") == 5
    assert conf.get_llong("big") == 4294967296
    assert conf.get_ullong("big") == 4294967296
    assert conf.get_bool("b0") is False and conf.get_bool("b1") is True
    assert conf.get_bool("absent") is None
    assert conf.get_string_list("lst") == ["a", "b"]
    assert conf.get_string_list("s", compat_string=True) == ["str"]
    assert "s" in conf and "absent" not in conf
    assert conf.get("n") == 5


F = "/etc/pyvirt/pyvirtd.conf"
IE = c.VIR_ERR_INTERNAL_ERROR
GETTER_ERRORS = [
    ("get_string", "n", IE, f"internal error: {F}: expected a string for 'n' parameter"),
    ("get_string_list", "s", IE, f"internal error: {F}: expected a string list for 's' parameter"),
    ("get_string_list", "mixed", c.VIR_ERR_CONF_SYNTAX,
     f"configuration file syntax error: {F}: expected a string list for 'mixed' parameter"),
    ("get_bool", "s", IE, f"internal error: {F}: expected a bool for 's' parameter"),
    ("get_bool", "zero_neg", IE, f"internal error: {F}: expected a bool for 'zero_neg' parameter"),
    ("get_bool", "b2", IE, f"internal error: {F}: value for 'b2' parameter must be 0 or 1"),
    ("get_int", "s", IE, f"internal error: {F}: expected a signed integer for 's' parameter"),
    ("get_int", "big", IE,
     f"internal error: {F}: value for 'big' parameter must be in range -2147483648:2147483647"),
    ("get_uint", "neg", IE,
     f"internal error: {F}: expected an unsigned integer for 'neg' parameter"),
    ("get_uint", "big", IE,
     f"internal error: {F}: value for 'big' parameter must be in range 0:4294967295"),
    ("get_ullong", "huge", IE,
     f"internal error: {F}: value for 'huge' parameter must be in range 0:18446744073709551615"),
]  # fmt: skip


@pytest.mark.parametrize("getter,name,code,message", GETTER_ERRORS)
def test_getter_errors(conf: ConfFile, getter: str, name: str, code: int, message: str) -> None:
    assert _err(conf, getter, name) == (code, c.VIR_FROM_CONF, message)


def test_string_list_compat_message(conf: ConfFile) -> None:
    with pytest.raises(libvirtError) as info:
        conf.get_string_list("n", compat_string=True)
    assert str(info.value) == (
        f"internal error: {F}: expected a string or string list for 'n' parameter"
    )


# --- files and the client config -----------------------------------------------------------


def test_read_conf_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "x.conf"
    path.write_text('a = "b"\n')
    conf = read_conf_file(str(path))
    assert conf.filename == str(path) and conf.values == {"a": "b"}
    path.write_text("a = \n")
    with pytest.raises(libvirtError) as info:
        read_conf_file(str(path))
    assert f"{path}:1: expecting a value" in str(info.value)


def test_read_missing_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(libvirtError) as info:
        read_conf_file(str(tmp_path / "missing.conf"))
    assert info.value.get_error_code() == c.VIR_ERR_SYSTEM_ERROR
    assert str(info.value) == (
        f"Failed to open file '{tmp_path / 'missing.conf'}': No such file or directory"
    )


def test_paths_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYVIRT_CONF", raising=False)
    monkeypatch.setattr("os.geteuid", lambda: 0)
    assert client_config_paths() == ["/etc/pyvirt/libvirt.conf", "/etc/libvirt/libvirt.conf"]


def test_paths_user(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.delenv("PYVIRT_CONF", raising=False)
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert client_config_paths() == [
        f"{tmp_path}/pyvirt/libvirt.conf",
        f"{tmp_path}/libvirt/libvirt.conf",
    ]
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", "/home/u")
    assert client_config_paths()[0] == "/home/u/.config/pyvirt/libvirt.conf"


def test_pyvirt_file_before_libvirt_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.delenv("PYVIRT_CONF", raising=False)
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert client_config_path() is None
    assert load_client_config().values == {}
    (tmp_path / "libvirt").mkdir()
    (tmp_path / "libvirt" / "libvirt.conf").write_text('uri_default = "test:///default"\n')
    assert client_config_path() == f"{tmp_path}/libvirt/libvirt.conf"
    assert load_client_config().get_string("uri_default") == "test:///default"
    (tmp_path / "pyvirt").mkdir()
    (tmp_path / "pyvirt" / "libvirt.conf").write_text('uri_default = "qemu:///session"\n')
    assert load_client_config().get_string("uri_default") == "qemu:///session"


def test_pyvirt_conf_env(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "mine.conf"
    path.write_text('uri_default = "lxc:///"\n')
    monkeypatch.setenv("PYVIRT_CONF", str(path))
    assert client_config_paths() == [str(path)]
    conf = load_client_config()
    assert conf.filename == str(path)
    assert conf.get_string("uri_default") == "lxc:///"
    # An explicit file that does not exist means "no config", handy to isolate tests.
    monkeypatch.setenv("PYVIRT_CONF", str(tmp_path / "absent.conf"))
    assert load_client_config().values == {}
