"""pyvirsh: virsh 9.0's commands, options, output and interactive shell over pyvirt.

Layout: ``registry`` (command table), ``parser`` (virsh's grammar), ``ctl`` (connection,
options, output and lookups shared by commands), ``main`` (global options, entry point),
``shell`` (interactive mode), ``table`` (vsh-table layout), ``commands/`` (one module per
virsh command group). The package imports nothing at import time, to keep start-up fast.

A command, as a group module writes it::

    from pyvirt.virsh.ctl import BY_ID, BY_UUID, Args, Ctl
    from pyvirt.virsh.registry import Opt, OptType, command

    @command("domname", "domain", "convert a domain id or UUID to domain name", "",
             [Opt("domain", OptType.DATA, "domain id or uuid", required=True,
                  completer="domain")])
    def cmd_domname(ctl: Ctl, args: Args) -> bool:
        dom = ctl.lookup_domain(args, by=BY_ID | BY_UUID)  # prints virsh's error, raises
        ctl.print(dom.name())
        return True

The framework parses the line, connects (unless ``no_connect``), calls the handler, prints
"error: ..." for CommandError and the libvirt error after a failure, then virsh's blank
line after each command (not with -q). ``--help`` on any command is handled for it.
"""
