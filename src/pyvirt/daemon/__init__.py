"""pyvirtd: the daemon side of libvirt's wire protocol.

Real libvirt clients (virsh, libvirt-python, anything on the C library) and pyvirt's
remote driver reach pyvirt's drivers through it.

``config``    libvirtd.conf's keys and defaults, and where sockets and pid file live.
``server``    the Daemon: listeners (unix read-write / read-only, optional TCP), clients,
              worker threads, driver connections, shutdown.
``client``    one client connection: framing, state, libvirtd's answers to bad input,
              keepalive, and the procedures the daemon answers itself (open, close, auth,
              feature probes, event registration).
``dispatch``  every other procedure, from the protocol table to the driver entry point,
              with read-only enforcement and the shape adaptations as data.
``adapt``     wire values <-> libvirt-python-shaped values, derived from the XDR types.
``events``    event relay: registrations and events as MESSAGE frames.
``main``      the ``pyvirtd`` command line.
"""
