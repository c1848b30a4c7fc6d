"""pyvirt-demo: a short tour of the API, by default on the in-memory test hypervisor.

It follows the libvirt article's example: connect, walk the running domains, show each
one's state, then suspend, resume and destroy a guest, and show the node, networks and
storage pools along the way.
"""

from __future__ import annotations

import argparse
import sys

import pyvirt as libvirt

STATE_NAMES = {
    libvirt.VIR_DOMAIN_NOSTATE: "no state",
    libvirt.VIR_DOMAIN_RUNNING: "running",
    libvirt.VIR_DOMAIN_BLOCKED: "blocked",
    libvirt.VIR_DOMAIN_PAUSED: "paused",
    libvirt.VIR_DOMAIN_SHUTDOWN: "in shutdown",
    libvirt.VIR_DOMAIN_SHUTOFF: "shut off",
    libvirt.VIR_DOMAIN_CRASHED: "crashed",
    libvirt.VIR_DOMAIN_PMSUSPENDED: "pmsuspended",
}

GUEST_XML = """<domain type='test'>
  <name>demo-guest</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
</domain>"""


def show_state(dom: libvirt.virDomain) -> None:
    state = dom.info()[0]
    print(f"  {dom.name():<12} id={dom.ID():<3} state={state} ({STATE_NAMES.get(state, '?')})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--connect", default="test:///default", help="connection URI")
    args = parser.parse_args(argv)
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

    try:
        with libvirt.open(args.connect) as conn:
            model, memory, cpus, mhz = conn.getInfo()[:4]
            print(f"Connected to {conn.getURI()} ({conn.getType()} driver) on "
                  f"{conn.getHostname()}: {cpus} x {model} @ {mhz} MHz, {memory} MiB")

            print("Running domains:")
            for dom_id in conn.listDomainsID():
                show_state(conn.lookupByID(dom_id))

            print("Defining and starting a guest from XML:")
            guest = conn.defineXML(GUEST_XML)
            guest.create()
            show_state(guest)
            for action in ("suspend", "resume", "destroy"):
                getattr(guest, action)()
                print(f"  after {action}:", end="")
                show_state(guest)
            guest.undefine()
            print("  undefined; domains now:", ", ".join(d.name() for d in conn.listAllDomains()))

            print("Networks:", ", ".join(
                f"{n.name()} ({'active' if n.isActive() else 'inactive'})"
                for n in conn.listAllNetworks()))
            for pool in conn.listAllStoragePools():
                state, capacity, allocation, available = pool.info()
                print(f"Pool {pool.name()}: {capacity // 2**30} GiB, "
                      f"{available // 2**30} GiB free, {pool.numOfVolumes()} volumes")
    except libvirt.libvirtError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
