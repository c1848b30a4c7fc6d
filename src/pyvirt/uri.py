"""Connection URIs: parsing, formatting, aliases and the default URI.

libvirt parses URIs with libxml2 (RFC 3986, 2.9.x character classes) and formats them back
with ``xmlSaveUri``; both are reproduced here so ``str(parse_uri(s))`` equals what
``virConnectGetURI`` reports for ``s`` (for example ``test:///a:b`` comes back as
``test:///a%3Ab``, and ``qemu://h:0/x`` as ``qemu://h/x``).

Error behaviour follows ``virConnectOpen``, in libvirt's order:

==========================================  =======================  =============
input                                       code                     domain
==========================================  =======================  =============
not RFC 3986 (``://x``, spaces, bad ``%``)  VIR_ERR_INTERNAL_ERROR   VIR_FROM_URI
no scheme (``not-a-valid-libvirt-uri``)     VIR_ERR_NO_CONNECT       VIR_FROM_NONE
``qemu://system`` (missing slash)           VIR_ERR_INTERNAL_ERROR   VIR_FROM_NONE
``/embed`` without ``root=``                VIR_ERR_INVALID_ARG      VIR_FROM_URI
``/embed`` with a relative root             VIR_ERR_CONFIG_UNSUPPORTED VIR_FROM_NONE
unknown transport (``qemu+foo://``)         VIR_ERR_INVALID_ARG      VIR_FROM_REMOTE
``+unix`` with a host                       VIR_ERR_INVALID_ARG      VIR_FROM_REMOTE
==========================================  =======================  =============

Ports are accepted up to INT_MAX as libxml2 does (``qemu://h:99999/system`` parses; the
transport fails later when it resolves the service), so pyvirt fails where libvirt fails.

Known differences, both libxml2 defects not worth copying: an empty user (``qemu://@h/x``)
is "" here, where libxml2 takes the rest of the URI as the user; a host that decodes to ""
(``qemu://%00/x``) is None here, "" in libvirt.
"""

from __future__ import annotations

import os

from pyvirt import constants as c
from pyvirt.config import ConfFile, load_client_config
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

# --- character classes (libxml2 2.9 / RFC 3986) --------------------------------------------

_ALPHA = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGIT = "0123456789"
_HEX = _DIGIT + "abcdefABCDEF"
_UNRESERVED = frozenset(_ALPHA + _DIGIT + "-._~")
_SUB_DELIMS = frozenset("!$&'()*+,;=")
_PCHAR = _UNRESERVED | _SUB_DELIMS | frozenset(":@")
_PCHAR_NC = _PCHAR - {":"}
_USERINFO = _UNRESERVED | _SUB_DELIMS | {":"}
_REG_NAME = _UNRESERVED | _SUB_DELIMS
_QUERY = _PCHAR | frozenset("/?")
_FRAGMENT = _QUERY | frozenset("[]")  # libxml2 lets brackets through in fragments
_SCHEME_REST = frozenset(_ALPHA + _DIGIT + "+-.")

# What xmlSaveUri writes unescaped, per component (RFC 2396 "unreserved" has more marks).
_SAVE_UNRESERVED = frozenset(_ALPHA + _DIGIT + "-_.!~*'()")
_SAVE_RESERVED = frozenset(";/?:@&=+$,[]")
_SAVE_PATH = _SAVE_UNRESERVED | frozenset("/;@&=+$,")
_SAVE_USER = _SAVE_UNRESERVED | frozenset(";:&=+$,")
_SAVE_FRAGMENT = _SAVE_UNRESERVED | _SAVE_RESERVED
# g_string_append_uri_escaped(..., NULL, FALSE): used for parameter values sent to a daemon.
_PARAM_SAFE = _UNRESERVED

INT_MAX = 2**31 - 1

# The remote driver's transports (remote_sockets.c), in libvirt's order for its message.
TRANSPORTS = ("tls", "unix", "ssh", "libssh2", "ext", "tcp", "libssh")
_DEFAULT_PORTS = {"tcp": 16509, "tls": 16514, "ssh": 22, "libssh": 22, "libssh2": 22}

# Query parameters the remote driver consumes itself and does not pass on to the daemon
# (doRemoteOpen); matched case-insensitively, as libvirt does.
CLIENT_PARAMS = (
    "name", "command", "socket", "auth", "sshauth", "netcat", "keyfile", "pkipath",
    "known_hosts", "known_hosts_verify", "tls_priority", "mode", "proxy",
    "no_sanity", "no_verify", "no_tty", "authfile",
)  # fmt: skip

# libvirt 9.0's alias name characters (viruri.c): no '.'.
_ALIAS_CHARS = frozenset(_ALPHA + _DIGIT + "_-")


# --- low-level syntax ----------------------------------------------------------------------


class _Parts:
    """The pieces of a URI as split, before any is decoded."""

    # A plain class, not a dataclass: importing dataclasses (and inspect) costs ~15 ms of
    # every pyvirsh start-up.
    __slots__ = ("scheme", "user", "server", "port", "path", "query", "fragment")

    def __init__(
        self,
        scheme: str | None = None,
        user: str | None = None,
        server: str | None = None,
        port: int = 0,
        path: str | None = None,
        query: str | None = None,
        fragment: str | None = None,
    ) -> None:
        self.scheme = scheme
        self.user = user
        self.server = server
        self.port = port
        self.path = path
        self.query = query
        self.fragment = fragment


def _unescape(text: str) -> str:
    """Percent-decode (xmlURIUnescapeString): bytes, then UTF-8; stray bytes survive as
    surrogates so formatting gives them back unchanged."""
    if "%" not in text:
        return text
    out = bytearray()
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "%" and i + 2 < n and text[i + 1] in _HEX and text[i + 2] in _HEX:
            out.append(int(text[i + 1 : i + 3], 16))
            i += 3
        else:
            out += ch.encode("utf-8", "surrogateescape")
            i += 1
    # C strings end at the first NUL: "%00" truncates the component, as in libvirt.
    return out.decode("utf-8", "surrogateescape").split("\x00", 1)[0]


def _escape(text: str, safe: frozenset[str]) -> str:
    out = []
    for ch in text:
        if ch in safe:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogateescape"))
    return "".join(out)


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def scan(self, allowed: frozenset[str]) -> str:
        """Consume characters of ``allowed`` and valid %XX escapes; return the raw run."""
        text, start, n = self.text, self.pos, len(self.text)
        i = start
        while i < n:
            ch = text[i]
            if ch in allowed:
                i += 1
            elif ch == "%" and i + 2 < n and text[i + 1] in _HEX and text[i + 2] in _HEX:
                i += 3
            else:
                break
        self.pos = i
        return text[start:i]


def _parse_authority(s: _Scanner, parts: _Parts) -> bool:
    start = s.pos
    user = s.scan(_USERINFO)
    if s.peek() == "@":
        parts.user = _unescape(user)
        s.pos += 1
    else:
        s.pos = start
    if s.peek() == "[":
        end = s.text.find("]", s.pos)
        if end < 0:
            return False
        host = s.text[s.pos : end + 1]
        s.pos = end + 1
    else:
        host = s.scan(_REG_NAME)
    parts.server = _unescape(host) if host else None
    if s.peek() == ":":
        s.pos += 1
        digits_start = s.pos
        while s.peek() and s.peek() in _DIGIT:
            s.pos += 1
        digits = s.text[digits_start : s.pos]
        if not digits or int(digits) > INT_MAX:
            return False
        parts.port = int(digits)
    return True


def _parse_path_and_rest(s: _Scanner, parts: _Parts, first_segment: frozenset[str]) -> bool:
    """Path (after any authority), then ``?query`` and ``#fragment``; True if the whole
    text was consumed."""
    path = s.scan(first_segment) if first_segment else ""
    while s.peek() == "/":
        s.pos += 1
        path += "/" + s.scan(_PCHAR)
    if path:
        parts.path = _unescape(path)
    if s.peek() == "?":
        s.pos += 1
        parts.query = s.scan(_QUERY)
    if s.peek() == "#":
        s.pos += 1
        parts.fragment = _unescape(s.scan(_FRAGMENT))
    return s.pos == len(s.text)


def _split(text: str) -> _Parts | None:
    """RFC 3986 URI-reference as libxml2 2.9 parses it: an absolute URI first, else a
    relative reference; None when neither consumes the whole text."""
    # Absolute: scheme ":" hier-part.
    parts = _Parts()
    s = _Scanner(text)
    if text[:1] and text[0] in _ALPHA:
        s.pos = 1
        while s.peek() and s.peek() in _SCHEME_REST:
            s.pos += 1
        if s.peek() == ":":
            parts.scheme = text[: s.pos]
            s.pos += 1
            if text.startswith("//", s.pos):
                s.pos += 2
                if _parse_authority(s, parts) and _parse_path_and_rest(s, parts, frozenset()):
                    return parts
            elif _parse_path_and_rest(s, parts, _PCHAR):
                return parts
    # Relative reference: no scheme; the first segment may not contain ':'.
    parts = _Parts()
    s = _Scanner(text)
    if text.startswith("//"):
        s.pos = 2
        if _parse_authority(s, parts) and _parse_path_and_rest(s, parts, frozenset()):
            return parts
        return None
    if _parse_path_and_rest(s, parts, _PCHAR_NC):
        return parts
    return None


def _parse_params(query: str | None) -> list[tuple[str, str]]:
    """virURIParseParams, quirks included: '&' separates, ';' only when the rest has no
    '&'; "name" means value ""; "=value" is dropped; '+' stays '+'."""
    params: list[tuple[str, str]] = []
    if not query:
        return params
    rest = query
    while rest:
        end = rest.find("&")
        if end < 0:
            end = rest.find(";")
        if end < 0:
            end = len(rest)
        item = rest[:end]
        rest = rest[end + 1 :] if end < len(rest) else ""
        if not item:
            continue
        name, eq, value = item.partition("=")
        if eq and not name:
            continue
        params.append((_unescape(name), _unescape(value)))
    return params


def format_params(params: Iterable[tuple[str, str]]) -> str | None:
    """A query string for ``params`` as virURIFormatParams builds it for the daemon:
    names as they are, values percent-encoded; None when there are none."""
    items = [f"{name}={_escape(value, _PARAM_SAFE)}" for name, value in params]
    return "&".join(items) if items else None


def _format(parts: _Parts) -> str:
    """virURIFormat: xmlSaveUri plus libvirt's IPv6 brackets and "//" for local URIs."""
    out = []
    if parts.scheme is not None:
        out.append(parts.scheme + ":")
    server = parts.server
    if server is not None and ":" in server:
        server = f"[{server}]"
    port = parts.port
    if server is None and not port:
        port = -1  # libvirt's trick to get "//" for scheme:///path
    if server is not None or port == -1:
        out.append("//")
        if parts.user is not None:
            out.append(_escape(parts.user, _SAVE_USER) + "@")
        if server is not None:
            out.append(server)
        if port > 0:
            out.append(f":{port}")
    path = parts.path
    if path:
        if (
            parts.scheme == "file" and len(path) >= 3 and path[0] == "/"
            and path[1] in _ALPHA and path[2] == ":"
        ):  # fmt: skip
            # xmlSaveUri keeps the colon of a Windows drive in file:///c:/...
            out.append(path[:3])
            path = path[3:]
        out.append(_escape(path, _SAVE_PATH))
    if parts.query is not None:
        out.append("?" + parts.query)
    if parts.fragment is not None:
        out.append("#" + _escape(parts.fragment, _SAVE_FRAGMENT))
    return "".join(out)


def _strip_ipv6_brackets(server: str | None) -> str | None:
    # virStringStripIPv6Brackets: only when there is a ':' inside.
    if server and server[0] == "[" and server[-1] == "]" and ":" in server:
        return server[1:-1]
    return server


# --- the public URI type -------------------------------------------------------------------


class ConnectURI:
    """A parsed connection URI. ``host`` is unbracketed (``::1``); ``port`` is None when
    absent or 0; ``path`` is "" when absent; ``query`` is the raw text after '?' (None when
    there is no '?'); ``params`` are its decoded (name, value) pairs in order. Immutable
    (assigning an attribute raises AttributeError)."""

    # A plain immutable class rather than a frozen dataclass: see _Parts.
    __slots__ = ("scheme", "user", "host", "port", "path", "query", "fragment", "params")

    scheme: str
    user: str | None
    host: str | None
    port: int | None
    path: str
    query: str | None
    fragment: str | None
    params: list[tuple[str, str]]

    def __init__(
        self,
        scheme: str,
        user: str | None = None,
        host: str | None = None,
        port: int | None = None,
        path: str = "",
        query: str | None = None,
        fragment: str | None = None,
        params: list[tuple[str, str]] | None = None,
    ) -> None:
        init = object.__setattr__
        init(self, "scheme", scheme)
        init(self, "user", user)
        init(self, "host", host)
        init(self, "port", port)
        init(self, "path", path)
        init(self, "query", query)
        init(self, "fragment", fragment)
        init(self, "params", [] if params is None else params)

    def _fields(self) -> tuple[object, ...]:
        return (self.scheme, self.user, self.host, self.port, self.path, self.query,
                self.fragment, self.params)  # fmt: skip

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, ConnectURI)
        return self._fields() == other._fields()

    def __repr__(self) -> str:
        return (
            f"ConnectURI(scheme={self.scheme!r}, user={self.user!r}, host={self.host!r}, "
            f"port={self.port!r}, path={self.path!r}, query={self.query!r}, "
            f"fragment={self.fragment!r}, params={self.params!r})"
        )

    def _replace(self, **changes: object) -> ConnectURI:
        values = dict(zip(self.__slots__, self._fields(), strict=True))
        values.update(changes)
        return ConnectURI(**values)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return _format(
            _Parts(self.scheme, self.user, self.host, self.port or 0, self.path or None,
                   self.query, self.fragment)
        )  # fmt: skip

    def __hash__(self) -> int:
        return hash(str(self))

    @property
    def driver(self) -> str:
        """The hypervisor driver name: the scheme up to any '+'."""
        return self.scheme.split("+", 1)[0]

    @property
    def transport(self) -> str | None:
        """The remote transport after '+', lower-cased; None when the scheme has none."""
        _, plus, transport = self.scheme.partition("+")
        return transport.lower() if plus else None

    @property
    def is_local(self) -> bool:
        """True for URIs a local driver serves: no host and either no transport or the
        unix transport."""
        return self.host is None and self.transport in (None, "unix")

    @property
    def is_embed(self) -> bool:
        """``driver:///embed?root=DIR``: run the driver in-process."""
        return self.path == "/embed"

    @property
    def embed_root(self) -> str | None:
        return self.param("root") if self.is_embed else None

    def param(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name`` (exact name, as virURIGetParam)."""
        for key, value in self.params:
            if key == name:
                return value
        return default

    def client_params(self) -> dict[str, str]:
        """The remote driver's own options (CLIENT_PARAMS) present in the query, keyed by
        lower-case name; the last occurrence wins, as in libvirt."""
        found: dict[str, str] = {}
        for key, value in self.params:
            if key.lower() in CLIENT_PARAMS:
                found[key.lower()] = value
        return found

    def with_params(self, *pairs: tuple[str, str], **kwargs: str) -> ConnectURI:
        """A copy with parameters set: an existing parameter of the same name is replaced
        in place (later duplicates dropped), a new one is appended. The query is rebuilt
        the way the remote driver rebuilds it (values percent-encoded)."""
        updates = list(pairs) + list(kwargs.items())
        params = list(self.params)
        for name, value in updates:
            index = next((i for i, (k, _) in enumerate(params) if k == name), None)
            if index is None:
                params.append((name, value))
            else:
                params[index] = (name, value)
                params[index + 1 :] = [p for p in params[index + 1 :] if p[0] != name]
        return self._replace(params=params, query=format_params(params))

    def without_params(self, names: Iterable[str] = CLIENT_PARAMS) -> ConnectURI:
        """A copy without the parameters named (case-insensitively; by default the remote
        driver's client-only ones), the query rebuilt as with_params does."""
        drop = {n.lower() for n in names}
        params = [(k, v) for k, v in self.params if k.lower() not in drop]
        return self._replace(params=params, query=format_params(params))

    def remote_name(self) -> str:
        """The URI the remote driver asks the daemon to open (doRemoteOpen): the ``name``
        parameter if given; "" for ``remote`` schemes (the daemon probes); otherwise
        ``driver:///path?params`` without host, user, port, transport and client-only
        parameters."""
        name = self.client_params().get("name")
        if name is not None:
            return name
        if self.scheme == "remote" or self.scheme.startswith("remote+"):
            return ""
        stripped = self.without_params()
        return _format(
            _Parts(self.driver, None, None, 0, self.path or None, stripped.query, self.fragment)
        )


def transport_default_port(transport: str | None) -> int | None:
    """The port a transport connects to when the URI names none: tcp 16509, tls 16514,
    ssh/libssh/libssh2 22; None for unix and ext (no port). A URI without transport but
    with a host uses tls."""
    return _DEFAULT_PORTS.get((transport or "").lower())


def split_scheme(uri: ConnectURI) -> tuple[str, str]:
    """(driver, transport) as the remote driver decides them (remoteSplitURIScheme): the
    transport is tls for a URI with a host and no '+', unix for a local one. Raises
    libvirt's errors for an unknown transport or unix with a host."""
    transport = uri.transport
    if transport is None:
        return uri.driver, "tls" if uri.host is not None else "unix"
    if transport not in TRANSPORTS:
        raise_error(
            c.VIR_ERR_INVALID_ARG,
            "remote_open: transport in URL not recognised "
            "(should be tls|unix|ssh|ext|tcp|libssh2|libssh)",
            domain=c.VIR_FROM_REMOTE,
        )
    if transport == "unix" and uri.host is not None:
        raise_error(
            c.VIR_ERR_INVALID_ARG,
            f"using unix socket and remote server '{uri.host}' is not supported.",
            domain=c.VIR_FROM_REMOTE,
        )
    return uri.driver, transport


def parse_uri(text: str, *, name: str | None = None) -> ConnectURI:
    """Parse a connection URI and check it as virConnectOpen does before it picks a driver
    (see the table in the module docstring). ``name`` is what the caller asked for before
    alias resolution, used in the no-scheme message as libvirt does."""
    parts = _split(text)
    if parts is None:
        # libxml2 does not say what failed, neither does libvirt.
        raise_error(c.VIR_ERR_INTERNAL_ERROR, f"Unable to parse URI {text}", domain=c.VIR_FROM_URI)
    server = parts.server if parts.server else None
    uri = ConnectURI(
        scheme=parts.scheme or "",
        user=parts.user,
        host=_strip_ipv6_brackets(server),
        port=parts.port if server is not None and parts.port else None,
        path=parts.path or "",
        query=parts.query,
        fragment=parts.fragment,
        params=_parse_params(parts.query),
    )
    if parts.scheme is None:
        shown = text if name is None else name
        raise_error(
            c.VIR_ERR_NO_CONNECT,
            f"URI '{shown}' does not include a driver name",
            domain=c.VIR_FROM_NONE,
        )
    _check_missing_slash(text, uri)
    if uri.is_embed:
        _check_embed(uri)
    if "+" in uri.scheme:
        split_scheme(uri)
    return uri


def _check_missing_slash(text: str, uri: ConnectURI) -> None:
    # "qemu://system" parses with host "system": say what was probably meant.
    if uri.host is None or uri.scheme not in ("qemu", "vbox", "vz"):
        return
    if uri.host in ("session", "system"):
        raise_error(
            c.VIR_ERR_INTERNAL_ERROR,
            f"invalid URI {text} (maybe you want {uri.scheme}:///{uri.host})",
            domain=c.VIR_FROM_NONE,
        )


def _check_embed(uri: ConnectURI) -> None:
    if not uri.scheme or any(ch not in "abcdefghijklmnopqrstuvwxyz" for ch in uri.scheme):
        raise_error(
            c.VIR_ERR_NO_CONNECT,
            f"URI scheme '{uri.scheme}' for embedded driver is not valid",
            domain=c.VIR_FROM_NONE,
        )
    root = uri.param("root")
    if root is None:
        raise_error(c.VIR_ERR_INVALID_ARG, "Missing URI parameter 'root'", domain=c.VIR_FROM_URI)
    if not os.path.isabs(root):
        raise_error(
            c.VIR_ERR_CONFIG_UNSUPPORTED, "root path must be absolute", domain=c.VIR_FROM_NONE
        )


# --- default URI and aliases ---------------------------------------------------------------


def probe_default_uri() -> str:
    """pyvirt's answer when nothing names a URI. libvirt probes its drivers (or lets the
    daemon choose); pyvirt picks qemu: ``qemu:///system`` for root, ``qemu:///session``
    for other users."""
    return "qemu:///system" if os.geteuid() == 0 else "qemu:///session"


def default_uri(config: ConfFile | None = None) -> str:
    """The URI to open when none is given: ``$LIBVIRT_DEFAULT_URI`` if set and not empty,
    else ``uri_default`` from the client config, else probe_default_uri()."""
    env = os.environ.get("LIBVIRT_DEFAULT_URI")
    if env:
        return env
    conf = load_client_config() if config is None else config
    configured = conf.get_string("uri_default")
    if configured is not None:
        return configured
    return probe_default_uri()


def resolve_alias(name: str, config: ConfFile) -> str | None:
    """The target of alias ``name`` in ``uri_aliases``, or None. Entries are checked in
    order up to the match, with libvirt's errors for a malformed one."""
    aliases = config.get_string_list("uri_aliases")
    if not aliases:
        return None
    for entry in aliases:
        alias, eq, target = entry.partition("=")
        if not eq:
            raise_error(
                c.VIR_ERR_CONF_SYNTAX,
                f"Malformed 'uri_aliases' config entry '{entry}', expected 'alias=uri://host/path'",
                domain=c.VIR_FROM_URI,
            )
        if any(ch not in _ALIAS_CHARS for ch in alias):
            raise_error(
                c.VIR_ERR_CONF_SYNTAX,
                f"Malformed 'uri_aliases' config entry '{entry}', "
                "aliases may only contain 'a-Z, 0-9, _, -'",
                domain=c.VIR_FROM_URI,
            )
        if alias == name:
            return target
    return None


def resolve_uri(
    name: str | None,
    readonly: bool = False,
    *,
    no_aliases: bool = False,
    config: ConfFile | None = None,
) -> str:
    """The URI string virConnectOpen would go on to parse for ``name``:

    * "" or None: the default URI (see default_uri);
    * ``xen`` (any case) and ``xen://`` become ``xen:///system`` (libvirt's back-compat);
    * then, unless ``no_aliases`` (VIR_CONNECT_NO_ALIASES), a name equal to an alias in
      ``uri_aliases`` becomes its target; the default URI may itself be an alias.

    ``readonly`` does not change the answer (libvirt chooses a read-only socket, not a
    different URI); it is accepted so callers can pass their flags through. ``config``
    overrides load_client_config(). Raises libvirtError for a broken config file.
    """
    del readonly
    conf = load_client_config() if config is None else config
    if name is not None and name.lower() == "xen":
        name = "xen:///system"
    if name == "xen://":
        name = "xen:///system"
    uristr = name if name else default_uri(conf)
    if not no_aliases:
        target = resolve_alias(uristr, conf)
        if target is not None:
            uristr = target
    return uristr


def open_uri(
    name: str | None, *, no_aliases: bool = False, config: ConfFile | None = None
) -> ConnectURI:
    """resolve_uri() then parse_uri(), with libvirt's messages naming what was asked."""
    return parse_uri(resolve_uri(name, no_aliases=no_aliases, config=config), name=name)
