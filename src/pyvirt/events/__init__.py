"""Events: the event loop indirection and default loop (``loop``), typed event records
(``types``), and the per-driver event state that queues and dispatches them (``state``).

Submodules are imported on demand; ``pyvirt`` itself only needs ``loop``.
"""

# The event families, in libvirt's order (kept here so that the event state need not import
# the record classes of ``types`` to check a family name).
FAMILIES = ("domain", "network", "storage_pool", "node_device", "secret")
