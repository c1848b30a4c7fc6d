"""libvirt's wire protocol: XDR codec, protocol tables, message framing.

Modules (import the one you need; this package imports nothing):

``pyvirt.rpc.xdr``       XDR type specs compiled to codecs; the ``XDRError`` tree.
``pyvirt.rpc.protocol``  the programs (REMOTE, QEMU, LXC, KEEPALIVE, ADMIN) as tables generated
                         from libvirt's ``.x`` files by scripts/gen_rpc_protocol.py: every type,
                         every procedure with its number, argument/return/event types,
                         priority, read-only rule, stream direction, FD passing, public API
                         name and driver method name.
``pyvirt.rpc.message``   frames: header, length word, FD count, ``FrameReader``,
                         ``remote_error`` <-> libvirtError, stream holes, libvirt's limits.
``pyvirt.rpc.handles``   ``remote_nonnull_domain`` & co. <-> pyvirt handles.

Python values: a struct is a dict of its fields (a tuple or list in field order is also
accepted when encoding), ``str`` for strings, ``bytes`` for opaque data and UUIDs, lists for
arrays (``char`` arrays are lists of ints: see ``xdr.chars_to_str``), ``None`` for an absent
optional, ``{"type": 7, "s": "x"}`` for a typed-parameter value (union: discriminant and arm).

A client making a call::

    from pyvirt.rpc import message, protocol

    remote = protocol.program("REMOTE")           # or protocol.REMOTE
    proc = remote.procedure("virDomainLookupByName")   # or 23, or "DOMAIN_LOOKUP_BY_NAME"
    sock.sendall(proc.call(serial, {"name": "test"}))
    reader = message.FrameReader()
    for msg in reader.feed(sock.recv(reader.wanted or 65536)):
        if msg.type == message.REPLY and msg.serial == serial:
            ret = proc.decode_reply(msg)          # raises the server's libvirtError
            dom = handles.from_wire(conn, "domain", ret["dom"])
        elif msg.type == message.MESSAGE:         # an event or a keepalive PING
            event = protocol.lookup(msg.prog, msg.proc)
            body = event.decode_msg(msg.payload)

A server dispatching a call::

    for msg in reader.feed(data):
        if msg.type not in (message.CALL, message.CALL_WITH_FDS):
            ...                                   # streams, keepalive
        proc = protocol.lookup(msg.prog, msg.proc)
        if proc is None:                          # libvirtd: "unknown procedure: N" (or
            body = message.rpc_error_body(        # "Cannot find program P version V")
                f"unknown procedure: {msg.proc}")
            reply = message.encode_frame(msg.prog, msg.vers, msg.proc, message.REPLY,
                                         msg.serial, message.ERROR,
                                         message.error_codec().encode(body))
        else:
            try:
                args = proc.decode_args(msg.payload)   # XDRError: "Unable to decode
            except XDRError:                           #  message payload" (rpc_error_body)
                ...
            try:
                ret = getattr(driver, proc.method)(...)   # proc.api = "virDomainGetInfo"
                reply = proc.reply(msg.serial, ret)
            except libvirtError as exc:
                reply = proc.error_reply(msg.serial, exc)

``proc.readonly`` says whether a read-only connection may call it ("yes", "no", or "flags":
refused for some flag values), ``proc.priority`` whether it may run on a high-priority
worker, ``proc.stream`` whether it opens a stream and which way data flows, ``proc.fds``
whether it passes file descriptors.

Events: ``remote.procedure("DOMAIN_EVENT_CALLBACK_LIFECYCLE").event({"callbackID": 27,
"msg": {"dom": dom_wire, "event": 3, "detail": 0}})`` is the MESSAGE frame (serial 1, as
libvirtd sends); keepalive is ``protocol.program("KEEPALIVE").procedure("PING").event()``
(serial 0).

Streams: data is ``message.encode_frame(prog, vers, proc, message.STREAM, serial,
message.CONTINUE, data)`` with the opening call's prog/proc/serial, raw and unpadded (chunks
of at most ``message.LEGACY_PAYLOAD_MAX``); an empty CONTINUE is end of data, OK finishes,
ERROR aborts (client) or fails (server, with ``message.encode_error(exc)``); holes are
STREAM_HOLE frames with ``message.encode_hole(length)``. ``protocol.decode_body(msg)`` decodes
any frame by libvirt's rules (used by the golden-vector tests and handy for logging).
"""
