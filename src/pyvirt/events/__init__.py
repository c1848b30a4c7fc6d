"""Events: the event loop indirection and default loop (``loop``), typed event records
(``types``), and the per-driver event state that queues and dispatches them (``state``).

Submodules are imported on demand; ``pyvirt`` itself only needs ``loop``.
"""
