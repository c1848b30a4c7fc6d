"""virsh's "Secret" group (tools/virsh-secret.c): defining, listing and undefining secrets,
their values and their events."""

from __future__ import annotations

from pyvirt import libvirtError
from pyvirt.virsh.ctl import CommandFailed
from pyvirt.virsh.registry import Opt, OptType, command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.virsh.ctl import Args, Ctl

GROUP = "secret"

# VIR_CONNECT_LIST_SECRETS_* (libvirt's ABI values)
_LIST_EPHEMERAL = 1 << 0
_LIST_NO_EPHEMERAL = 1 << 1
_LIST_PRIVATE = 1 << 2
_LIST_NO_PRIVATE = 1 << 3
_SECRET_DEFINE_VALIDATE = 1
_ERR_NO_SUPPORT = 3
_USAGE_TYPES = ("none", "volume", "ceph", "iscsi", "tls", "vtpm")


def _secret_opt() -> Opt:
    return Opt("secret", OptType.DATA, "secret UUID", required=True, completer="secret")


def _fail(ctl: Ctl, message: str, exc: libvirtError) -> bool:
    ctl.error(message)
    ctl.report_libvirt_error(exc)
    return False


def _glib_base64_decode(text: str) -> bytes:
    """g_base64_decode: characters outside the alphabet are skipped, decoding stops at the
    first '=' and a trailing partial group yields what bits it holds."""
    import base64

    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    kept = "".join(ch for ch in text.split("=", 1)[0] if ch in alphabet)
    extra = len(kept) % 4
    if extra == 1:
        kept = kept[:-1]
    elif extra:
        kept += "=" * (4 - extra)
    return base64.b64decode(kept)


@command("secret-define", GROUP, "define or modify a secret from an XML file",
         "Define or modify a secret.", (
             Opt("file", OptType.DATA, "file containing secret attributes in XML",
                 required=True),
             Opt("validate", OptType.BOOL, "validate the XML against the schema"),
         ))
def cmd_secret_define(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.pool import read_xml_file

    path = args.string("file") or ""
    flags = _SECRET_DEFINE_VALIDATE if args.bool("validate") else 0
    xml = read_xml_file(ctl, path)
    try:
        secret = ctl.conn.secretDefineXML(xml, flags)
    except libvirtError as exc:
        return _fail(ctl, f"Failed to set attributes from {path}", exc)
    ctl.print_extra(f"Secret {secret.UUIDString()} created")
    return True


@command("secret-dumpxml", GROUP, "secret attributes in XML",
         "Output attributes of a secret as an XML dump to stdout.", (
             _secret_opt(),
             Opt("xpath", OptType.STRING, "xpath expression to filter the XML document",
                 named_only=True),
             Opt("wrap", OptType.BOOL, "wrap xpath results in an common root element"),
         ))
def cmd_secret_dumpxml(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.network import dump_object_xml

    secret = ctl.lookup_secret(args)
    return dump_object_xml(ctl, args, "secret", lambda: secret.XMLDesc(0))


# ---- secret-event ------------------------------------------------------------------------------

_SECRET_EVENTS = ("lifecycle", "value-changed")
_LIFECYCLE = ("Defined", "Undefined")


@command("secret-event", GROUP, "Secret Events",
         "List event types, or wait for secret events to occur", (
             Opt("secret", OptType.STRING, "filter by secret name or uuid", completer="secret"),
             Opt("event", OptType.STRING, "which event type to wait for"),
             Opt("loop", OptType.BOOL, "loop until timeout or interrupt, rather than one-shot"),
             Opt("timeout", OptType.INT, "timeout seconds"),
             Opt("list", OptType.BOOL, "list valid event types"),
             Opt("timestamp", OptType.BOOL, "show timestamp for each printed event"),
         ))
def cmd_secret_event(ctl: Ctl, args: Args) -> bool:
    from pyvirt.virsh.commands.events import (
        EventPrinter,
        chosen_event,
        event_timeout_ms,
        watch_events,
    )

    event_name = chosen_event(ctl, args, _SECRET_EVENTS)
    if event_name is None:
        return True
    printer = EventPrinter(ctl, args.bool("loop"), args.bool("timestamp"))
    timeout = event_timeout_ms(args)
    secret = None
    if args.has("secret"):
        try:
            secret = ctl.lookup_secret(args)
        except CommandFailed:
            pass  # virsh watches every secret then

    def lifecycle(conn: Any, sec: Any, event: int, detail: int, opaque: Any) -> None:
        what = _LIFECYCLE[event] if 0 <= event < len(_LIFECYCLE) else "unknown"
        printer.emit(f"event 'lifecycle' for secret {sec.UUIDString()}: {what}\n")

    def generic(conn: Any, sec: Any, opaque: Any) -> None:
        printer.emit(f"event '{event_name}' for secret {sec.UUIDString()}\n")

    conn = ctl.conn
    event_id = _SECRET_EVENTS.index(event_name)
    return watch_events(ctl, printer, timeout,
                        lambda: conn.secretEventRegisterAny(
                            secret, event_id, lifecycle if event_id == 0 else generic, None),
                        conn.secretEventDeregisterAny)


@command("secret-get-value", GROUP, "Output a secret value",
         "Output a secret value to stdout.", (
             _secret_opt(),
             Opt("plain", OptType.BOOL, "get value without converting to base64"),
         ))
def cmd_secret_get_value(ctl: Ctl, args: Args) -> bool:
    import base64

    secret = ctl.lookup_secret(args)
    value = secret.value(0)
    if isinstance(value, str):
        value = value.encode()
    if args.bool("plain"):
        ctl.flush()
        buffer = getattr(ctl.out, "buffer", None)
        if buffer is not None:
            buffer.write(bytes(value))
            buffer.flush()
        else:
            ctl.write(bytes(value).decode("utf-8", errors="surrogateescape"))
        return True
    ctl.print(base64.b64encode(bytes(value)).decode("ascii"))
    return True


@command("secret-list", GROUP, "list secrets", "Returns a list of secrets", (
    Opt("ephemeral", OptType.BOOL, "list ephemeral secrets"),
    Opt("no-ephemeral", OptType.BOOL, "list non-ephemeral secrets"),
    Opt("private", OptType.BOOL, "list private secrets"),
    Opt("no-private", OptType.BOOL, "list non-private secrets"),
))
def cmd_secret_list(ctl: Ctl, args: Args) -> bool:
    flags = 0
    for name, bit in (("ephemeral", _LIST_EPHEMERAL), ("no-ephemeral", _LIST_NO_EPHEMERAL),
                      ("private", _LIST_PRIVATE), ("no-private", _LIST_NO_PRIVATE)):
        if args.bool(name):
            flags |= bit
    conn = ctl.conn
    try:
        secrets = list(conn.listAllSecrets(flags))
    except libvirtError as exc:
        if exc.get_error_code() != _ERR_NO_SUPPORT:
            return _fail(ctl, "Failed to list node secrets", exc)
        # virsh's fallback to the pre-0.10.2 calls
        ctl.reset_error()
        if flags:
            ctl.error("Filtering is not supported by this libvirt")
            return False
        try:
            count = conn.numOfSecrets()
        except libvirtError as exc2:
            return _fail(ctl, "Failed to count secrets", exc2)
        secrets = []
        if count:
            try:
                uuids = conn.listSecrets()
            except libvirtError as exc2:
                return _fail(ctl, "Failed to list secrets", exc2)
            for uuid in uuids:
                try:
                    secrets.append(conn.secretLookupByUUIDString(uuid))
                except libvirtError:
                    continue
    secrets.sort(key=lambda s: s.UUIDString().lower())
    rows = []
    for sec in secrets:
        usage_type = sec.usageType()
        if usage_type:
            word = _USAGE_TYPES[usage_type] if 0 <= usage_type < len(_USAGE_TYPES) else ""
            rows.append([sec.UUIDString(), f"{word} {sec.usageID()}"])
        else:
            rows.append([sec.UUIDString(), "Unused"])
    ctl.print_table(["UUID", "Usage"], rows)
    return True


@command("secret-set-value", GROUP, "set a secret value", "Set a secret value.", (
    _secret_opt(),
    Opt("file", OptType.STRING, "read secret from file", named_only=True),
    Opt("plain", OptType.BOOL, "read the secret from file without converting from base64"),
    Opt("interactive", OptType.BOOL, "read the secret from the terminal"),
    Opt("base64", OptType.STRING, "base64-encoded secret value"),
))
def cmd_secret_set_value(ctl: Ctl, args: Args) -> bool:
    ctl.exclusive(args, "file", "base64")
    ctl.exclusive(args, "plain", "base64")
    ctl.exclusive(args, "interactive", "base64")
    ctl.exclusive(args, "interactive", "plain")
    ctl.exclusive(args, "interactive", "file")
    plain = args.bool("plain")
    secret = ctl.lookup_secret(args)
    encoded = args.string("base64")
    filename = args.string("file")
    value: bytes
    if encoded is not None:
        ctl.error("Passing secret value as command-line argument is insecure!")
        value = encoded.encode()
    elif filename is not None:
        value = _read_secret_file(filename)
    elif args.bool("interactive"):
        import getpass

        ctl.print("Enter new value for secret:", end="")
        ctl.flush()
        try:
            value = getpass.getpass("").encode()
        except (EOFError, OSError):
            ctl.error("Failed to read secret")
            return False
        plain = True
    else:
        ctl.error("Input secret value is missing")
        return False
    if not plain:
        value = _glib_base64_decode(value.decode("latin-1"))
    try:
        secret.setValue(value, 0)
    except libvirtError as exc:
        return _fail(ctl, "Failed to set secret value", exc)
    ctl.print_extra("Secret value set")
    return True


def _read_secret_file(path: str) -> bytes:
    """virFileReadAll with virsh's 1024-byte cap for secret files."""
    from pyvirt import constants as c
    from pyvirt.errors import make_error, report

    try:
        with open(path, "rb") as fh:
            data = fh.read(1025)
    except OSError as exc:
        report(make_error(c.VIR_ERR_SYSTEM_ERROR,
                          f"Failed to open file '{path}': {exc.strerror}"))
        raise CommandFailed() from None
    if len(data) > 1024:
        report(make_error(c.VIR_ERR_INTERNAL_ERROR, f"File '{path}' is too large"))
        raise CommandFailed()
    return data


@command("secret-undefine", GROUP, "undefine a secret", "Undefine a secret.", (
    _secret_opt(),
))
def cmd_secret_undefine(ctl: Ctl, args: Args) -> bool:
    secret = ctl.lookup_secret(args)
    uuid = args.string("secret")
    try:
        secret.undefine()
    except libvirtError as exc:
        return _fail(ctl, f"Failed to delete secret {uuid}", exc)
    ctl.print_extra(f"Secret {uuid} deleted")
    return True
