"""pyvirsh: virsh 9.0's commands, options, output and interactive shell over pyvirt.

Layout: ``registry`` (command table), ``parser`` (virsh's grammar), ``ctl`` (connection,
options, output and lookups shared by commands), ``main`` (global options, entry point),
``shell`` (interactive mode), ``table`` (vsh-table layout), ``commands/`` (one module per
virsh command group). The package imports nothing at import time, to keep start-up fast.
"""
