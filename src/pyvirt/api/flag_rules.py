"""Flag combinations libvirt's public API refuses before any driver sees the call.

libvirt checks these in its public entry points (libvirt-domain.c, libvirt-domain-snapshot.c,
libvirt-domain-checkpoint.c) with two rules: two flags that are mutually exclusive, and a flag
that requires another. The table is that list, by C function; ``check_flag_rules`` applies it
with libvirt's wording (VIR_ERR_INVALID_ARG).
"""

from __future__ import annotations

from pyvirt import constants as c

# (rule, first, second): "exclusive" -> first and second may not both be set;
# "requires" -> first needs one of the bits in second (names joined by " | ").
Rule = tuple[str, str, str]

_SAVE = ("exclusive", "VIR_DOMAIN_SAVE_RUNNING", "VIR_DOMAIN_SAVE_PAUSED")
_DUMP = (
    ("exclusive", "VIR_DUMP_CRASH", "VIR_DUMP_LIVE"),
    ("exclusive", "VIR_DUMP_CRASH", "VIR_DUMP_RESET"),
    ("exclusive", "VIR_DUMP_LIVE", "VIR_DUMP_RESET"),
)
_AFFECT = ("exclusive", "VIR_DOMAIN_AFFECT_LIVE", "VIR_DOMAIN_AFFECT_CONFIG")
_NON_SHARED = ("exclusive", "VIR_MIGRATE_NON_SHARED_DISK", "VIR_MIGRATE_NON_SHARED_INC")
_TUNNELLED = ("exclusive", "VIR_MIGRATE_TUNNELLED", "VIR_MIGRATE_PARALLEL")
_SYNC_WRITES = ("requires", "VIR_MIGRATE_NON_SHARED_SYNCHRONOUS_WRITES",
                "VIR_MIGRATE_NON_SHARED_DISK | VIR_MIGRATE_NON_SHARED_INC")

FLAG_RULES: dict[str, tuple[Rule, ...]] = {
    "virDomainSaveFlags": (_SAVE,),
    "virDomainSaveParams": (_SAVE,),
    "virDomainRestoreFlags": (_SAVE,),
    "virDomainRestoreParams": (_SAVE,),
    "virDomainSaveImageDefineXML": (_SAVE,),
    "virDomainManagedSave": (_SAVE,),
    "virDomainManagedSaveDefineXML": (_SAVE,),
    "virDomainCoreDump": _DUMP,
    "virDomainCoreDumpWithFormat": _DUMP,
    "virDomainGetMemoryParameters": (_AFFECT,),
    "virDomainGetBlkioParameters": (_AFFECT,),
    "virDomainGetSchedulerParametersFlags": (_AFFECT,),
    "virDomainGetVcpusFlags": (_AFFECT,),
    "virDomainGetVcpuPinInfo": (_AFFECT,),
    "virDomainGetEmulatorPinInfo": (_AFFECT,),
    "virDomainGetIOThreadInfo": (_AFFECT,),
    "virDomainGetMetadata": (_AFFECT,),
    "virDomainGetBlockIoTune": (_AFFECT,),
    "virDomainMigrate": (_NON_SHARED, _TUNNELLED, _SYNC_WRITES),
    "virDomainMigrate2": (_NON_SHARED, _TUNNELLED, _SYNC_WRITES),
    "virDomainMigrate3": (_NON_SHARED, _SYNC_WRITES),
    "virDomainMigrateToURI": (_TUNNELLED,),
    "virDomainMigrateToURI2": (_TUNNELLED,),
    "virDomainMigrateToURI3": (_TUNNELLED,),
    "virDomainMemoryPeek": (("exclusive", "VIR_MEMORY_VIRTUAL", "VIR_MEMORY_PHYSICAL"),),
    "virDomainSetVcpusFlags": (
        ("requires", "VIR_DOMAIN_VCPU_MAXIMUM", "VIR_DOMAIN_AFFECT_CONFIG"),
        ("exclusive", "VIR_DOMAIN_VCPU_GUEST", "VIR_DOMAIN_AFFECT_CONFIG"),
    ),
    "virDomainGetJobStats": (
        ("requires", "VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED", "VIR_DOMAIN_JOB_STATS_COMPLETED"),
    ),
    "virDomainStartDirtyRateCalc": (
        ("exclusive", "VIR_DOMAIN_DIRTYRATE_MODE_PAGE_SAMPLING",
         "VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_BITMAP"),
        ("exclusive", "VIR_DOMAIN_DIRTYRATE_MODE_PAGE_SAMPLING",
         "VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_RING"),
        ("exclusive", "VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_BITMAP",
         "VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_RING"),
    ),
    "virDomainSnapshotCreateXML": (
        ("requires", "VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT", "VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE"),
        ("exclusive", "VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE",
         "VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA"),
        ("exclusive", "VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE", "VIR_DOMAIN_SNAPSHOT_CREATE_HALT"),
    ),
    "virDomainRevertToSnapshot": (
        ("exclusive", "VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING", "VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED"),
    ),
    "virDomainSnapshotDelete": (
        ("exclusive", "VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN",
         "VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY"),
    ),
    "virDomainCheckpointCreateXML": (
        ("exclusive", "VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE",
         "VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE"),
        ("requires", "VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE",
         "VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE"),
    ),
    "virDomainCheckpointDelete": (
        ("exclusive", "VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN",
         "VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY"),
    ),
}


def _mask(names: str) -> int:
    return sum(getattr(c, name.strip()) for name in names.split("|"))


def check_flag_rules(api_name: str, flags: int) -> None:
    """Refuse ``flags`` as libvirt's public ``api_name`` does, if its rules forbid them."""
    for rule, first, second in FLAG_RULES.get(api_name, ()):
        if not flags & _mask(first):
            continue
        if rule == "exclusive" and flags & _mask(second):
            detail = f"Flags '{first}' and '{second}' are mutually exclusive"
        elif rule == "requires" and not flags & _mask(second):
            detail = f"Flag '{second}' is required by flag '{first}'"
        else:
            continue
        from pyvirt.api._common import invalid_arg

        invalid_arg(api_name, detail, "ctl")
