"""What one QEMU binary can do, as probed over QMP (see ``capabilities.probe_emulator``).

A plain record, cached as JSON by the probe; the command-line builder, the capabilities
XML and the driver's checks all read it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class MachineType:
    """One ``query-machines`` entry."""

    __slots__ = ("name", "alias", "is_default", "cpu_max", "deprecated")

    def __init__(self, name: str, alias: str | None = None, is_default: bool = False,
                 cpu_max: int = 1, deprecated: bool = False) -> None:
        self.name = name
        self.alias = alias
        self.is_default = is_default
        self.cpu_max = cpu_max
        self.deprecated = deprecated

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "alias": self.alias, "is_default": self.is_default,
                "cpu_max": self.cpu_max, "deprecated": self.deprecated}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MachineType:
        return cls(data["name"], data.get("alias"), bool(data.get("is_default")),
                   int(data.get("cpu_max", 1)), bool(data.get("deprecated")))


class EmulatorCaps:
    """A QEMU binary's identity and abilities.

    ``version`` is libvirt's encoding (major * 1,000,000 + minor * 1,000 + micro);
    ``machines`` from query-machines, in libvirt's order (its preferred machine first);
    ``cpu_models`` the names query-cpu-definitions lists for TCG (``kvm_cpu_models`` for
    KVM, empty without KVM), ``cpu_blockers``/``kvm_cpu_blockers`` each model's unavailable
    features (an empty list: usable), ``cpu_deprecated`` the deprecated ones; ``devices``
    every QOM type name (qom-list-types, abstract ones included), so
    ``has_device("virtio-blk-pci")`` is a set lookup; ``commands`` the QMP commands;
    ``flags`` abilities found elsewhere (the QAPI schema's display types "display-sdl",
    "vnc", "spice", "incremental-backup", "virtio-pci-transitional"); ``hyperv_features``
    the Hyper-V enlightenments the ``max`` CPU offers (libvirt's names); ``kvm`` is True
    only when a real probe ran a guest under KVM (``kvm_reason`` says why, or why not).
    """

    __slots__ = ("binary", "arch", "version", "package", "machines", "cpu_models",
                 "kvm_cpu_models", "devices", "kvm", "kvm_reason", "stamp", "cpu_blockers",
                 "kvm_cpu_blockers", "cpu_deprecated", "commands", "flags", "hyperv_features")

    def __init__(self, binary: str, arch: str, version: int, package: str = "",
                 machines: list[MachineType] | None = None,
                 cpu_models: list[str] | None = None,
                 kvm_cpu_models: list[str] | None = None,
                 devices: set[str] | None = None, kvm: bool = False, kvm_reason: str = "",
                 stamp: tuple[int, int] = (0, 0),
                 cpu_blockers: dict[str, list[str]] | None = None,
                 kvm_cpu_blockers: dict[str, list[str]] | None = None,
                 cpu_deprecated: list[str] | None = None, commands: set[str] | None = None,
                 flags: set[str] | None = None,
                 hyperv_features: list[str] | None = None) -> None:
        self.binary = binary
        self.arch = arch
        self.version = version
        self.package = package
        self.machines = machines or []
        self.cpu_models = cpu_models or []
        self.kvm_cpu_models = kvm_cpu_models or []
        self.devices = devices or set()
        self.kvm = kvm
        self.kvm_reason = kvm_reason
        self.stamp = stamp  # (st_mtime_ns, st_size) of the binary when probed
        self.cpu_blockers = cpu_blockers or {}
        self.kvm_cpu_blockers = kvm_cpu_blockers or {}
        self.cpu_deprecated = cpu_deprecated or []
        self.commands = commands or set()
        self.flags = flags or set()
        self.hyperv_features = hyperv_features or []

    def has_device(self, name: str) -> bool:
        return name in self.devices

    def default_machine(self) -> MachineType | None:
        return next((m for m in self.machines if m.is_default), None)

    def machine(self, name: str) -> MachineType | None:
        """The machine type called ``name`` (an alias such as "pc" resolves to the
        versioned type it stands for)."""
        for m in self.machines:
            if m.alias == name:
                return next((t for t in self.machines if t.name == m.name), m)
        return next((m for m in self.machines if m.name == name), None)

    def canonical_machine(self, name: str | None) -> str | None:
        """The versioned machine name libvirt writes into the live XML ("pc" ->
        "pc-i440fx-7.2"); the default machine for None; None when unknown."""
        m = self.default_machine() if name is None else self.machine(name)
        return m.name if m else None

    def to_json(self) -> dict[str, Any]:
        return {"binary": self.binary, "arch": self.arch, "version": self.version,
                "package": self.package, "machines": [m.to_json() for m in self.machines],
                "cpu_models": self.cpu_models, "kvm_cpu_models": self.kvm_cpu_models,
                "devices": sorted(self.devices), "kvm": self.kvm, "kvm_reason": self.kvm_reason,
                "stamp": list(self.stamp), "cpu_blockers": self.cpu_blockers,
                "kvm_cpu_blockers": self.kvm_cpu_blockers,
                "cpu_deprecated": self.cpu_deprecated, "commands": sorted(self.commands),
                "flags": sorted(self.flags), "hyperv_features": self.hyperv_features}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EmulatorCaps:
        return cls(data["binary"], data["arch"], int(data["version"]), data.get("package", ""),
                   [MachineType.from_json(m) for m in data.get("machines", [])],
                   list(data.get("cpu_models", [])), list(data.get("kvm_cpu_models", [])),
                   set(data.get("devices", [])), bool(data.get("kvm")),
                   data.get("kvm_reason", ""), tuple(data.get("stamp", (0, 0))),  # type: ignore[arg-type]
                   {k: list(v) for k, v in data.get("cpu_blockers", {}).items()},
                   {k: list(v) for k, v in data.get("kvm_cpu_blockers", {}).items()},
                   list(data.get("cpu_deprecated", [])), set(data.get("commands", [])),
                   set(data.get("flags", [])), list(data.get("hyperv_features", [])))
