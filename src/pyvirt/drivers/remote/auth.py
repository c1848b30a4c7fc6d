"""The remote driver's SASL login (libvirt's remoteAuthSASL) and its credential sources.

Credentials come first from libvirt's client ``auth.conf`` (:class:`AuthConfig`: the file
named by ``$LIBVIRT_AUTH_FILE``, else the URI's ``?authfile=``, else
``$XDG_CONFIG_HOME/libvirt/auth.conf``, else ``/etc/libvirt/auth.conf``)::

    [credentials-admin]
    authname=fred
    password=secret

    [auth-libvirt-host.example.com]     (or [auth-libvirt-default])
    credentials=admin

and for whatever is missing from the application's openAuth callback (VIR_CRED_AUTHNAME,
VIR_CRED_PASSPHRASE), all asked in one call as libvirt does.

The exchange: AUTH_SASL_INIT gives the server's mechanisms; the client takes the best one it
has (pyvirt.rpc.sasl: SCRAM-SHA-256, SCRAM-SHA-1, PLAIN) that the channel allows (none of
them on plain TCP, where libvirt wants a mechanism with its own security layer), or the one
``?auth=sasl.MECH`` names; then AUTH_SASL_START and AUTH_SASL_STEP until both sides are
done, the client always checking the server's last word (SCRAM's server signature).
"""

from __future__ import annotations

import configparser
import os

from pyvirt import constants as c
from pyvirt.errors import raise_error
from pyvirt.rpc.protocol import program
from pyvirt.rpc.sasl import MECHANISMS, SASLError, client_mechanism, usable
from pyvirt.rpc.xdr import chars_to_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

    from pyvirt.rpc.protocol import Procedure

    Call = Callable[[Procedure, Any], Any]

# libvirt's SASL security strength a plain TCP connection needs
TCP_MIN_SSF = 56
# cyrus's prompts for the credentials SCRAM and PLAIN need
_PROMPTS = {c.VIR_CRED_AUTHNAME: "Please enter your authentication name",
            c.VIR_CRED_PASSPHRASE: "Please enter your password"}
_CONF_NAMES = {c.VIR_CRED_AUTHNAME: "authname", c.VIR_CRED_PASSPHRASE: "password"}


def _fail(message: str) -> NoReturn:
    raise_error(c.VIR_ERR_AUTH_FAILED, message, domain=c.VIR_FROM_REMOTE)


# ---- auth.conf ----------------------------------------------------------------------------------


def auth_config_path(params: dict[str, str]) -> str | None:
    """virAuthGetConfigFilePathURI."""
    env = os.environ.get("LIBVIRT_AUTH_FILE")
    if env:
        return env
    if params.get("authfile"):
        return params["authfile"]
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(
        os.path.expanduser("~"), ".config")
    for path in (os.path.join(config_home, "libvirt", "auth.conf"), "/etc/libvirt/auth.conf"):
        if os.access(path, os.R_OK):
            return path
    return None


class AuthConfig:
    """libvirt's auth.conf (a GKeyFile): ``[auth-SERVICE-HOST]`` groups name a
    ``[credentials-NAME]`` group holding ``username``, ``authname``, ``password``, ``realm``."""

    def __init__(self, path: str, text: str | None = None) -> None:
        self.path = path
        self._parser = configparser.ConfigParser(interpolation=None, strict=False,
                                                 delimiters=("=",), comment_prefixes=("#",))
        self._parser.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            if text is None:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            self._parser.read_string(text, path)
        except (OSError, configparser.Error):
            # libvirt: an unreadable or unparsable file fails the connection
            _fail("Failed to collect auth credentials")

    def lookup(self, service: str, hostname: str | None, credname: str) -> str | None:
        """virAuthConfigLookup."""
        group = f"auth-{service}-{hostname or 'localhost'}"
        if not self._parser.has_section(group):
            group = f"auth-{service}-default"
            if not self._parser.has_section(group):
                return None
        creds = self._parser.get(group, "credentials", fallback=None)
        if creds is None:
            raise_error(c.VIR_ERR_CONF_SYNTAX, domain=c.VIR_FROM_NONE,
                        detail=f"Missing item 'credentials' in group '{group}' in "
                               f"'{self.path}'")
        if not self._parser.has_section(f"credentials-{creds}"):
            raise_error(c.VIR_ERR_CONF_SYNTAX, domain=c.VIR_FROM_NONE,
                        detail=f"Missing group 'credentials-{creds}' referenced from group "
                               f"'{group}' in '{self.path}'")
        return self._parser.get(f"credentials-{creds}", credname, fallback=None)


def collect_credentials(wanted: list[int], auth: Any, hostname: str | None,
                        params: dict[str, str]) -> dict[int, str]:
    """remoteAuthInteract: values from auth.conf, the rest from the openAuth callback
    ``auth = [credtypes, callback, opaque]`` in one call."""
    found: dict[int, str] = {}
    path = auth_config_path(params)
    if path is not None and os.path.exists(path):
        config = AuthConfig(path)
        for cred in wanted:
            value = config.lookup("libvirt", hostname, _CONF_NAMES[cred])
            if value is not None:
                found[cred] = value
    missing = [cred for cred in wanted if cred not in found]
    if not missing:
        return found
    callback = auth[1] if auth and len(auth) > 1 else None
    if callback is None or any(cred not in (auth[0] or []) for cred in missing):
        _fail("No authentication callback available")
    asked: list[list[Any]] = [[cred, _PROMPTS[cred], "", "", None] for cred in missing]
    ret = callback(asked, auth[2] if len(auth) > 2 else None)
    if isinstance(ret, int) and ret < 0 or any(entry[4] is None for entry in asked):
        _fail("Failed to collect auth credentials")
    for entry in asked:
        found[entry[0]] = str(entry[4])
    return found


# ---- the exchange -------------------------------------------------------------------------------


def _proc(name: str) -> Procedure:
    remote = program("REMOTE")
    assert remote is not None
    return remote.procedure(name)


def _server_data(ret: Any) -> bytes | None:
    return None if ret["nil"] else chars_to_bytes(ret["data"])


def _args(data: bytes | None) -> dict[str, Any]:
    return {"nil": int(data is None), "data": data or b""}


def choose_mechanism(mechlist: str, secure: bool, wantmech: str | None) -> str:
    """The mechanism cyrus's client would pick: ``wantmech`` if the server lists it, else
    the best of pyvirt's that the server offers and the channel allows."""
    offered = [m.strip().upper() for m in mechlist.replace(" ", ",").split(",") if m.strip()]
    if wantmech:
        if wantmech not in mechlist:   # libvirt's strstr
            _fail(f"SASL mechanism {wantmech} not supported by server")
        offered = [wantmech.upper()]
    min_ssf = 0 if secure else TCP_MIN_SSF
    for mech in MECHANISMS:
        if mech in offered and usable(mech, secure, min_ssf):
            return mech
    _fail("Failed to start SASL negotiation: -4 (SASL(-4): no mechanism available: "
          "No worthy mechs found)")


def authenticate(call: Call, auth: Any, *, hostname: str | None, secure: bool,
                 params: dict[str, str], wantmech: str | None = None) -> str:
    """Log in with SASL over ``call`` (the connection's call(proc, args)); the mechanism
    used. Errors are libvirtError (the server's "authentication failed" as it sent it)."""
    mechlist = call(_proc("AUTH_SASL_INIT"), None)["mechlist"]
    mech_name = choose_mechanism(mechlist, secure, wantmech)
    creds = collect_credentials([c.VIR_CRED_AUTHNAME, c.VIR_CRED_PASSPHRASE], auth,
                                hostname, params)
    mech = client_mechanism(mech_name, creds[c.VIR_CRED_AUTHNAME],
                            creds[c.VIR_CRED_PASSPHRASE])
    try:
        out = mech.start()
    except SASLError as exc:
        _fail(f"Failed to start SASL negotiation: -1 (SASL(-1): generic failure: {exc})")
    ret = call(_proc("AUTH_SASL_START"), {"mech": mech_name, **_args(out)})
    complete, serverin = ret["complete"], _server_data(ret)
    # Even when the server is done the client checks its last message (mutual auth).
    while not (complete and mech.complete):
        try:
            out = mech.step(serverin)
        except SASLError as exc:
            _fail(f"Failed to step SASL negotiation: -13 (SASL(-13): authentication "
                  f"failure: {exc})")
        if complete and mech.complete:
            break
        ret = call(_proc("AUTH_SASL_STEP"), _args(out))
        complete, serverin = ret["complete"], _server_data(ret)
    return mech_name
