"""virDomain: a guest, and the connection methods that find, create and list guests."""

from __future__ import annotations

from pyvirt import constants as c
from pyvirt.api._common import api_boundary, check_writable, uuid_from_bytes, uuid_from_string
from pyvirt.api.flag_rules import check_flag_rules
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.api.connect import virConnect


@api_boundary
class virDomain:  # noqa: N801 - libvirt-python's name
    """A domain handle: its identity (name, UUID, id when it was looked up) and its connection."""

    __slots__ = ("_conn", "_name", "_uuid", "_id")

    def __init__(self, conn: virConnect, name: str, uuid: str, domain_id: int = -1) -> None:
        self._conn = conn
        self._name = name
        self._uuid = uuid
        self._id = domain_id

    def __repr__(self) -> str:
        return f"<pyvirt.virDomain {self._name!r} {self._uuid}>"

    # ---- identity: answered from the handle, as libvirt does ----------------------------

    def connect(self) -> virConnect:
        return self._conn

    def name(self) -> str:
        return self._name

    def ID(self) -> int:  # noqa: N802
        return self._id

    def UUID(self) -> bytes:  # noqa: N802
        return bytes.fromhex(self._uuid.replace("-", ""))  # uuid.UUID(...).bytes

    def UUIDString(self) -> str:  # noqa: N802
        return self._uuid

    # ---- calls whose read-only check depends on the flags ---------------------------------

    def XMLDesc(self, flags: int = 0) -> str:  # noqa: N802
        if self._conn._readonly and flags & c.VIR_DOMAIN_XML_SECURE:
            raise_error(
                c.VIR_ERR_OPERATION_DENIED,
                "virDomainGetXMLDesc with secure flag",
                domain=c.VIR_FROM_DOMAIN,
            )
        result: str = self._conn._drv.domainGetXMLDesc(self, flags)
        return result

    def managedSaveGetXMLDesc(self, flags: int = 0) -> str:  # noqa: N802
        if self._conn._readonly and flags & c.VIR_DOMAIN_SAVE_IMAGE_XML_SECURE:
            raise_error(
                c.VIR_ERR_OPERATION_DENIED,
                "virDomainManagedSaveGetXMLDesc with secure flag",
                domain=c.VIR_FROM_DOMAIN,
            )
        result: str = self._conn._drv.domainManagedSaveGetXMLDesc(self, flags)
        return result

    def vcpusFlags(self, flags: int = 0) -> int:  # noqa: N802
        if flags & c.VIR_DOMAIN_VCPU_GUEST:
            check_writable(self._conn, "virDomainGetVcpusFlags")
        check_flag_rules("virDomainGetVcpusFlags", flags)
        result: int = self._conn._drv.domainGetVcpusFlags(self, flags)
        return result

    def interfaceAddresses(self, source: int, flags: int = 0) -> dict[str, Any]:  # noqa: N802
        if source == c.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT:
            check_writable(self._conn, "virDomainInterfaceAddresses")
        result: dict[str, Any] = self._conn._drv.domainInterfaceAddresses(self, source, flags)
        return result

    # ---- everything else goes to the driver -------------------------------------------------

    def OSType(self) -> Any:
        return self._conn._drv.domainGetOSType(self)

    def abortJob(self) -> Any:
        check_writable(self._conn, "virDomainAbortJob")
        return self._conn._drv.domainAbortJob(self)

    def abortJobFlags(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainAbortJobFlags")
        return self._conn._drv.domainAbortJobFlags(self, flags)

    def addIOThread(self, iothread_id: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainAddIOThread")
        return self._conn._drv.domainAddIOThread(self, iothread_id, flags)

    def agentSetResponseTimeout(self, timeout: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainAgentSetResponseTimeout")
        return self._conn._drv.domainAgentSetResponseTimeout(self, timeout, flags)

    def attachDevice(self, xml: str) -> Any:
        check_writable(self._conn, "virDomainAttachDevice")
        return self._conn._drv.domainAttachDevice(self, xml)

    def attachDeviceFlags(self, xml: str, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainAttachDeviceFlags")
        return self._conn._drv.domainAttachDeviceFlags(self, xml, flags)

    def authorizedSSHKeysGet(self, user: str, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainAuthorizedSSHKeysGet")
        return self._conn._drv.domainAuthorizedSSHKeysGet(self, user, flags)

    def authorizedSSHKeysSet(self, user: str, keys: Any = None, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainAuthorizedSSHKeysSet")
        return self._conn._drv.domainAuthorizedSSHKeysSet(self, user, keys, flags)

    def autostart(self) -> Any:
        return self._conn._drv.domainGetAutostart(self)

    def backupBegin(self, backupXML: str, checkpointXML: str, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainBackupBegin")
        return self._conn._drv.domainBackupBegin(self, backupXML, checkpointXML, flags)

    def backupGetXMLDesc(self, flags: int = 0) -> Any:
        return self._conn._drv.domainBackupGetXMLDesc(self, flags)

    def blkioParameters(self, flags: int = 0) -> Any:
        check_flag_rules("virDomainGetBlkioParameters", flags)
        return self._conn._drv.domainGetBlkioParameters(self, flags)

    def blockCommit(
        self, disk: str, base: str, top: str, bandwidth: int = 0, flags: int = 0
    ) -> Any:
        check_writable(self._conn, "virDomainBlockCommit")
        return self._conn._drv.domainBlockCommit(self, disk, base, top, bandwidth, flags)

    def blockCopy(
        self, disk: str, destxml: str, params: dict[str, Any] | None = None, flags: int = 0
    ) -> Any:
        check_writable(self._conn, "virDomainBlockCopy")
        return self._conn._drv.domainBlockCopy(self, disk, destxml, params, flags)

    def blockInfo(self, path: str, flags: int = 0) -> Any:
        return self._conn._drv.domainGetBlockInfo(self, path, flags)

    def blockIoTune(self, disk: str, flags: int = 0) -> Any:
        check_flag_rules("virDomainGetBlockIoTune", flags)
        return self._conn._drv.domainGetBlockIoTune(self, disk, flags)

    def blockJobAbort(self, disk: str, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainBlockJobAbort")
        return self._conn._drv.domainBlockJobAbort(self, disk, flags)

    def blockJobInfo(self, path: str, flags: int = 0) -> Any:
        return self._conn._drv.domainGetBlockJobInfo(self, path, flags)

    def blockJobSetSpeed(self, disk: str, bandwidth: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainBlockJobSetSpeed")
        return self._conn._drv.domainBlockJobSetSpeed(self, disk, bandwidth, flags)

    def blockPeek(self, disk: str, offset: int, size: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainBlockPeek")
        return self._conn._drv.domainBlockPeek(self, disk, offset, size, flags)

    def blockPull(self, disk: str, bandwidth: int = 0, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainBlockPull")
        return self._conn._drv.domainBlockPull(self, disk, bandwidth, flags)

    def blockRebase(self, disk: str, base: str, bandwidth: int = 0, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainBlockRebase")
        return self._conn._drv.domainBlockRebase(self, disk, base, bandwidth, flags)

    def blockResize(self, disk: str, size: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainBlockResize")
        return self._conn._drv.domainBlockResize(self, disk, size, flags)

    def blockStats(self, path: str) -> Any:
        return self._conn._drv.domainBlockStats(self, path)

    def blockStatsFlags(self, path: str, flags: int = 0) -> Any:
        return self._conn._drv.domainBlockStatsFlags(self, path, flags)

    def checkpointCreateXML(self, xmlDesc: str, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainCheckpointCreateXML")
        check_flag_rules("virDomainCheckpointCreateXML", flags)
        return self._conn._drv.domainCheckpointCreateXML(self, xmlDesc, flags)

    def checkpointLookupByName(self, name: str, flags: int = 0) -> Any:
        return self._conn._drv.domainCheckpointLookupByName(self, name, flags)

    def controlInfo(self, flags: int = 0) -> Any:
        return self._conn._drv.domainGetControlInfo(self, flags)

    def coreDump(self, to: Any, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainCoreDump")
        check_flag_rules("virDomainCoreDump", flags)
        return self._conn._drv.domainCoreDump(self, to, flags)

    def coreDumpWithFormat(self, to: Any, dumpformat: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainCoreDumpWithFormat")
        check_flag_rules("virDomainCoreDumpWithFormat", flags)
        return self._conn._drv.domainCoreDumpWithFormat(self, to, dumpformat, flags)

    def create(self) -> Any:
        check_writable(self._conn, "virDomainCreate")
        return self._conn._drv.domainCreate(self)

    def createWithFlags(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainCreateWithFlags")
        return self._conn._drv.domainCreateWithFlags(self, flags)

    def delIOThread(self, iothread_id: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainDelIOThread")
        return self._conn._drv.domainDelIOThread(self, iothread_id, flags)

    def destroy(self) -> Any:
        check_writable(self._conn, "virDomainDestroy")
        return self._conn._drv.domainDestroy(self)

    def destroyFlags(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainDestroyFlags")
        return self._conn._drv.domainDestroyFlags(self, flags)

    def detachDevice(self, xml: str) -> Any:
        check_writable(self._conn, "virDomainDetachDevice")
        return self._conn._drv.domainDetachDevice(self, xml)

    def detachDeviceAlias(self, alias: str, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainDetachDeviceAlias")
        return self._conn._drv.domainDetachDeviceAlias(self, alias, flags)

    def detachDeviceFlags(self, xml: str, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainDetachDeviceFlags")
        return self._conn._drv.domainDetachDeviceFlags(self, xml, flags)

    def diskErrors(self, flags: int = 0) -> Any:
        return self._conn._drv.domainGetDiskErrors(self, flags)

    def emulatorPinInfo(self, flags: int = 0) -> Any:
        check_flag_rules("virDomainGetEmulatorPinInfo", flags)
        return self._conn._drv.domainGetEmulatorPinInfo(self, flags)

    def fSTrim(self, mountPoint: str, minimum: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainFSTrim")
        return self._conn._drv.domainFSTrim(self, mountPoint, minimum, flags)

    def fsInfo(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainGetFSInfo")
        return self._conn._drv.domainGetFSInfo(self, flags)

    def getCPUStats(self, total: int, flags: int = 0) -> Any:
        return self._conn._drv.domainGetCPUStats(self, total, flags)

    def guestInfo(self, types: int = 0, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainGetGuestInfo")
        return self._conn._drv.domainGetGuestInfo(self, types, flags)

    def guestVcpus(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainGetGuestVcpus")
        return self._conn._drv.domainGetGuestVcpus(self, flags)

    def hasCurrentSnapshot(self, flags: int = 0) -> Any:
        return self._conn._drv.domainHasCurrentSnapshot(self, flags)

    def hasManagedSaveImage(self, flags: int = 0) -> Any:
        return self._conn._drv.domainHasManagedSaveImage(self, flags)

    def hostname(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainGetHostname")
        return self._conn._drv.domainGetHostname(self, flags)

    def info(self) -> Any:
        return self._conn._drv.domainGetInfo(self)

    def injectNMI(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainInjectNMI")
        return self._conn._drv.domainInjectNMI(self, flags)

    def interfaceParameters(self, device: str, flags: int = 0) -> Any:
        return self._conn._drv.domainGetInterfaceParameters(self, device, flags)

    def interfaceStats(self, path: str) -> Any:
        return self._conn._drv.domainInterfaceStats(self, path)

    def ioThreadInfo(self, flags: int = 0) -> Any:
        check_flag_rules("virDomainGetIOThreadInfo", flags)
        return self._conn._drv.domainGetIOThreadInfo(self, flags)

    def isActive(self) -> Any:
        return self._conn._drv.domainIsActive(self)

    def isPersistent(self) -> Any:
        return self._conn._drv.domainIsPersistent(self)

    def isUpdated(self) -> Any:
        return self._conn._drv.domainIsUpdated(self)

    def jobInfo(self) -> Any:
        return self._conn._drv.domainGetJobInfo(self)

    def jobStats(self, flags: int = 0) -> Any:
        check_flag_rules("virDomainGetJobStats", flags)
        return self._conn._drv.domainGetJobStats(self, flags)

    def launchSecurityInfo(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainGetLaunchSecurityInfo")
        return self._conn._drv.domainGetLaunchSecurityInfo(self, flags)

    def managedSave(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainManagedSave")
        check_flag_rules("virDomainManagedSave", flags)
        return self._conn._drv.domainManagedSave(self, flags)

    def managedSaveDefineXML(self, dxml: str, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainManagedSaveDefineXML")
        check_flag_rules("virDomainManagedSaveDefineXML", flags)
        return self._conn._drv.domainManagedSaveDefineXML(self, dxml, flags)

    def managedSaveRemove(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainManagedSaveRemove")
        return self._conn._drv.domainManagedSaveRemove(self, flags)

    def maxMemory(self) -> Any:
        return self._conn._drv.domainGetMaxMemory(self)

    def maxVcpus(self) -> Any:
        return self._conn._drv.domainGetMaxVcpus(self)

    def memoryParameters(self, flags: int = 0) -> Any:
        check_flag_rules("virDomainGetMemoryParameters", flags)
        return self._conn._drv.domainGetMemoryParameters(self, flags)

    def memoryPeek(self, start: int, size: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainMemoryPeek")
        check_flag_rules("virDomainMemoryPeek", flags)
        return self._conn._drv.domainMemoryPeek(self, start, size, flags)

    def memoryStats(self) -> Any:
        return self._conn._drv.domainMemoryStats(self)

    def messages(self, flags: int = 0) -> Any:
        return self._conn._drv.domainGetMessages(self, flags)

    def metadata(self, type: int, uri: str | None, flags: int = 0) -> Any:
        check_flag_rules("virDomainGetMetadata", flags)
        return self._conn._drv.domainGetMetadata(self, type, uri, flags)

    def migrate(
        self,
        dconn: Any,
        flags: int = 0,
        dname: str | None = None,
        uri: str | None = None,
        bandwidth: int = 0,
    ) -> Any:
        from pyvirt.api import migration

        check_writable(self._conn, "virDomainMigrate")
        check_writable(dconn, "virDomainMigrate")
        check_flag_rules("virDomainMigrate", flags)
        return migration.migrate(self, dconn, flags,
                                 migration.compat_params(dname, uri, bandwidth),
                                 "virDomainMigrate")

    def migrate2(
        self,
        dconn: Any,
        dxml: str | None = None,
        flags: int = 0,
        dname: str | None = None,
        uri: str | None = None,
        bandwidth: int = 0,
    ) -> Any:
        from pyvirt.api import migration

        check_writable(self._conn, "virDomainMigrate2")
        check_writable(dconn, "virDomainMigrate2")
        check_flag_rules("virDomainMigrate2", flags)
        return migration.migrate(self, dconn, flags,
                                 migration.compat_params(dname, uri, bandwidth, dxml),
                                 "virDomainMigrate2")

    def migrate3(self, dconn: Any, params: dict[str, Any], flags: int = 0) -> Any:
        from pyvirt.api import migration

        check_writable(self._conn, "virDomainMigrate3")
        check_writable(dconn, "virDomainMigrate3")
        check_flag_rules("virDomainMigrate3", flags)
        return migration.migrate3(self, dconn, params, flags)

    def migrateGetCompressionCache(self, flags: int = 0) -> Any:
        return self._conn._drv.domainMigrateGetCompressionCache(self, flags)

    def migrateGetMaxDowntime(self, flags: int = 0) -> Any:
        return self._conn._drv.domainMigrateGetMaxDowntime(self, flags)

    def migrateGetMaxSpeed(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainMigrateGetMaxSpeed")
        return self._conn._drv.domainMigrateGetMaxSpeed(self, flags)

    def migrateSetCompressionCache(self, cacheSize: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainMigrateSetCompressionCache")
        return self._conn._drv.domainMigrateSetCompressionCache(self, cacheSize, flags)

    def migrateSetMaxDowntime(self, downtime: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainMigrateSetMaxDowntime")
        return self._conn._drv.domainMigrateSetMaxDowntime(self, downtime, flags)

    def migrateSetMaxSpeed(self, bandwidth: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainMigrateSetMaxSpeed")
        return self._conn._drv.domainMigrateSetMaxSpeed(self, bandwidth, flags)

    def migrateStartPostCopy(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainMigrateStartPostCopy")
        return self._conn._drv.domainMigrateStartPostCopy(self, flags)

    def migrateToURI(
        self, duri: str, flags: int = 0, dname: str | None = None, bandwidth: int = 0
    ) -> Any:
        from pyvirt.api import migration

        check_writable(self._conn, "virDomainMigrateToURI")
        check_flag_rules("virDomainMigrateToURI", flags)
        p2p = bool(flags & c.VIR_MIGRATE_PEER2PEER)
        params = migration.compat_params(dname, None if p2p else duri, bandwidth)
        return migration.migrate_unmanaged(self, duri if p2p else None, params, flags,
                                           "virDomainMigrateToURI")

    def migrateToURI2(
        self, dconnuri=None, miguri=None, dxml=None, flags=0, dname=None, bandwidth=0
    ) -> Any:
        from pyvirt.api import migration

        check_writable(self._conn, "virDomainMigrateToURI2")
        check_flag_rules("virDomainMigrateToURI2", flags)
        params = migration.compat_params(dname, miguri, bandwidth, dxml)
        return migration.migrate_unmanaged(
            self, dconnuri if flags & c.VIR_MIGRATE_PEER2PEER else None, params, flags,
            "virDomainMigrateToURI2")

    def migrateToURI3(self, dconnuri: str, params: dict[str, Any], flags: int = 0) -> Any:
        from pyvirt.api import migration

        check_writable(self._conn, "virDomainMigrateToURI3")
        check_flag_rules("virDomainMigrateToURI3", flags)
        return migration.migrate_unmanaged(
            self, dconnuri if flags & c.VIR_MIGRATE_PEER2PEER else None, params, flags)

    def numaParameters(self, flags: int = 0) -> Any:
        return self._conn._drv.domainGetNumaParameters(self, flags)

    def openChannel(self, name: str, st: Any, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainOpenChannel")
        return self._conn._drv.domainOpenChannel(self, name, st, flags)

    def openConsole(self, dev_name: str, st: Any, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainOpenConsole")
        return self._conn._drv.domainOpenConsole(self, dev_name, st, flags)

    def openGraphics(self, idx: int, fd: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainOpenGraphics")
        return self._conn._drv.domainOpenGraphics(self, idx, fd, flags)

    def openGraphicsFD(self, idx: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainOpenGraphicsFD")
        return self._conn._drv.domainOpenGraphicsFD(self, idx, flags)

    def pMSuspendForDuration(self, target: int, duration: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainPMSuspendForDuration")
        return self._conn._drv.domainPMSuspendForDuration(self, target, duration, flags)

    def pMWakeup(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainPMWakeup")
        return self._conn._drv.domainPMWakeup(self, flags)

    def perfEvents(self, flags: int = 0) -> Any:
        return self._conn._drv.domainGetPerfEvents(self, flags)

    def pinEmulator(self, cpumap: Any, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainPinEmulator")
        return self._conn._drv.domainPinEmulator(self, cpumap, flags)

    def pinIOThread(self, iothread_val: int, cpumap: Any, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainPinIOThread")
        return self._conn._drv.domainPinIOThread(self, iothread_val, cpumap, flags)

    def pinVcpu(self, vcpu: int, cpumap: Any) -> Any:
        check_writable(self._conn, "virDomainPinVcpu")
        return self._conn._drv.domainPinVcpu(self, vcpu, cpumap)

    def pinVcpuFlags(self, vcpu: int, cpumap: Any, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainPinVcpuFlags")
        return self._conn._drv.domainPinVcpuFlags(self, vcpu, cpumap, flags)

    def reboot(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainReboot")
        return self._conn._drv.domainReboot(self, flags)

    def rename(self, new_name: str, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainRename")
        return self._conn._drv.domainRename(self, new_name, flags)

    def reset(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainReset")
        return self._conn._drv.domainReset(self, flags)

    def resume(self) -> Any:
        check_writable(self._conn, "virDomainResume")
        return self._conn._drv.domainResume(self)

    def revertToSnapshot(self, snap: Any, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainRevertToSnapshot")
        check_flag_rules("virDomainRevertToSnapshot", flags)
        return self._conn._drv.domainRevertToSnapshot(snap, flags)

    def save(self, to: Any) -> Any:
        check_writable(self._conn, "virDomainSave")
        return self._conn._drv.domainSave(self, to)

    def saveFlags(self, to: Any, dxml: str | None = None, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSaveFlags")
        check_flag_rules("virDomainSaveFlags", flags)
        return self._conn._drv.domainSaveFlags(self, to, dxml, flags)

    def saveParams(self, params: dict[str, Any], flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSaveParams")
        check_flag_rules("virDomainSaveParams", flags)
        return self._conn._drv.domainSaveParams(self, params, flags)

    def schedulerParameters(self) -> Any:
        return self._conn._drv.domainGetSchedulerParameters(self)

    def schedulerParametersFlags(self, flags: int = 0) -> Any:
        check_flag_rules("virDomainGetSchedulerParametersFlags", flags)
        return self._conn._drv.domainGetSchedulerParametersFlags(self, flags)

    def schedulerType(self) -> Any:
        return self._conn._drv.domainGetSchedulerType(self)

    def screenshot(self, stream: Any, screen: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainScreenshot")
        return self._conn._drv.domainScreenshot(self, stream, screen, flags)

    def securityLabel(self) -> Any:
        return self._conn._drv.domainGetSecurityLabel(self)

    def securityLabelList(self) -> Any:
        return self._conn._drv.domainGetSecurityLabelList(self)

    def sendKey(
        self, codeset: int, holdtime: int, keycodes: Any, nkeycodes: int, flags: int = 0
    ) -> Any:
        check_writable(self._conn, "virDomainSendKey")
        return self._conn._drv.domainSendKey(self, codeset, holdtime, keycodes, nkeycodes, flags)

    def sendProcessSignal(self, pid_value: int, signum: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSendProcessSignal")
        return self._conn._drv.domainSendProcessSignal(self, pid_value, signum, flags)

    def setAutostart(self, autostart: int) -> Any:
        check_writable(self._conn, "virDomainSetAutostart")
        return self._conn._drv.domainSetAutostart(self, autostart)

    def setBlkioParameters(self, params: dict[str, Any], flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSetBlkioParameters")
        return self._conn._drv.domainSetBlkioParameters(self, params, flags)

    def setBlockIoTune(self, disk: str, params: dict[str, Any], flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSetBlockIoTune")
        return self._conn._drv.domainSetBlockIoTune(self, disk, params, flags)

    def setBlockThreshold(self, dev: str, threshold: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSetBlockThreshold")
        return self._conn._drv.domainSetBlockThreshold(self, dev, threshold, flags)

    def setGuestVcpus(self, cpumap: Any, state: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSetGuestVcpus")
        return self._conn._drv.domainSetGuestVcpus(self, cpumap, state, flags)

    def setIOThreadParams(self, iothread_val: int, params: dict[str, Any], flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSetIOThreadParams")
        return self._conn._drv.domainSetIOThreadParams(self, iothread_val, params, flags)

    def setInterfaceParameters(self, device: str, params: dict[str, Any], flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSetInterfaceParameters")
        return self._conn._drv.domainSetInterfaceParameters(self, device, params, flags)

    def setLaunchSecurityState(self, params: dict[str, Any], flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSetLaunchSecurityState")
        return self._conn._drv.domainSetLaunchSecurityState(self, params, flags)

    def setLifecycleAction(self, type: int, action: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSetLifecycleAction")
        return self._conn._drv.domainSetLifecycleAction(self, type, action, flags)

    def setMaxMemory(self, memory: int) -> Any:
        check_writable(self._conn, "virDomainSetMaxMemory")
        return self._conn._drv.domainSetMaxMemory(self, memory)

    def setMemory(self, memory: int) -> Any:
        check_writable(self._conn, "virDomainSetMemory")
        return self._conn._drv.domainSetMemory(self, memory)

    def setMemoryFlags(self, memory: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSetMemoryFlags")
        return self._conn._drv.domainSetMemoryFlags(self, memory, flags)

    def setMemoryParameters(self, params: dict[str, Any], flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSetMemoryParameters")
        return self._conn._drv.domainSetMemoryParameters(self, params, flags)

    def setMemoryStatsPeriod(self, period: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSetMemoryStatsPeriod")
        return self._conn._drv.domainSetMemoryStatsPeriod(self, period, flags)

    def setMetadata(
        self, type: int, metadata: str | None, key: str | None, uri: str | None, flags: int = 0
    ) -> Any:
        check_writable(self._conn, "virDomainSetMetadata")
        return self._conn._drv.domainSetMetadata(self, type, metadata, key, uri, flags)

    def setNumaParameters(self, params: dict[str, Any], flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSetNumaParameters")
        return self._conn._drv.domainSetNumaParameters(self, params, flags)

    def setPerfEvents(self, params: dict[str, Any], flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSetPerfEvents")
        return self._conn._drv.domainSetPerfEvents(self, params, flags)

    def setSchedulerParameters(self, params: dict[str, Any]) -> Any:
        check_writable(self._conn, "virDomainSetSchedulerParameters")
        return self._conn._drv.domainSetSchedulerParameters(self, params)

    def setSchedulerParametersFlags(self, params: dict[str, Any], flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSetSchedulerParametersFlags")
        return self._conn._drv.domainSetSchedulerParametersFlags(self, params, flags)

    def setUserPassword(self, user: str, password: str, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSetUserPassword")
        return self._conn._drv.domainSetUserPassword(self, user, password, flags)

    def setVcpu(self, vcpumap: Any, state: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSetVcpu")
        return self._conn._drv.domainSetVcpu(self, vcpumap, state, flags)

    def setVcpus(self, nvcpus: int) -> Any:
        check_writable(self._conn, "virDomainSetVcpus")
        return self._conn._drv.domainSetVcpus(self, nvcpus)

    def setVcpusFlags(self, nvcpus: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSetVcpusFlags")
        check_flag_rules("virDomainSetVcpusFlags", flags)
        return self._conn._drv.domainSetVcpusFlags(self, nvcpus, flags)

    def shutdown(self) -> Any:
        check_writable(self._conn, "virDomainShutdown")
        return self._conn._drv.domainShutdown(self)

    def shutdownFlags(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainShutdownFlags")
        return self._conn._drv.domainShutdownFlags(self, flags)

    def snapshotCreateXML(self, xmlDesc: str, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSnapshotCreateXML")
        check_flag_rules("virDomainSnapshotCreateXML", flags)
        return self._conn._drv.domainSnapshotCreateXML(self, xmlDesc, flags)

    def snapshotCurrent(self, flags: int = 0) -> Any:
        return self._conn._drv.domainSnapshotCurrent(self, flags)

    def snapshotListNames(self, flags: int = 0) -> Any:
        return self._conn._drv.domainSnapshotListNames(self, flags)

    def snapshotLookupByName(self, name: str, flags: int = 0) -> Any:
        return self._conn._drv.domainSnapshotLookupByName(self, name, flags)

    def snapshotNum(self, flags: int = 0) -> Any:
        return self._conn._drv.domainSnapshotNum(self, flags)

    def startDirtyRateCalc(self, seconds: int, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainStartDirtyRateCalc")
        check_flag_rules("virDomainStartDirtyRateCalc", flags)
        return self._conn._drv.domainStartDirtyRateCalc(self, seconds, flags)

    def state(self, flags: int = 0) -> Any:
        return self._conn._drv.domainGetState(self, flags)

    def suspend(self) -> Any:
        check_writable(self._conn, "virDomainSuspend")
        return self._conn._drv.domainSuspend(self)

    def undefine(self) -> Any:
        check_writable(self._conn, "virDomainUndefine")
        return self._conn._drv.domainUndefine(self)

    def undefineFlags(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainUndefineFlags")
        return self._conn._drv.domainUndefineFlags(self, flags)

    def updateDeviceFlags(self, xml: str, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainUpdateDeviceFlags")
        return self._conn._drv.domainUpdateDeviceFlags(self, xml, flags)

    def vcpuPinInfo(self, flags: int = 0) -> Any:
        check_flag_rules("virDomainGetVcpuPinInfo", flags)
        return self._conn._drv.domainGetVcpuPinInfo(self, flags)

    def vcpus(self) -> Any:
        return self._conn._drv.domainGetVcpus(self)

    def listAllSnapshots(self, flags: int = 0) -> Any:
        return self._conn._drv.domainListAllSnapshots(self, flags)

    def listAllCheckpoints(self, flags: int = 0) -> Any:
        return self._conn._drv.domainListAllCheckpoints(self, flags)

    def createWithFiles(self, files: Any, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainCreateWithFiles")
        return self._conn._drv.domainCreateWithFiles(self, files, flags)

    def fsFreeze(self, mountpoints: Any = None, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainFSFreeze")
        return self._conn._drv.domainFSFreeze(self, mountpoints, flags)

    def fsThaw(self, mountpoints: Any = None, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainFSThaw")
        return self._conn._drv.domainFSThaw(self, mountpoints, flags)

    def getTime(self, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainGetTime")
        return self._conn._drv.domainGetTime(self, flags)

    def setTime(self, time: dict[str, Any] | None = None, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainSetTime")
        return self._conn._drv.domainSetTime(self, time, flags)

    def FDAssociate(self, name: str, files: Any, flags: int = 0) -> Any:
        check_writable(self._conn, "virDomainFDAssociate")
        return self._conn._drv.domainFDAssociate(self, name, files, flags)


class DomainConnectMixin:
    """virConnect's domain methods."""

    _drv: Any
    _readonly: bool

    def createLinux(self, xmlDesc: str, flags: int = 0) -> Any:
        check_writable(self, "virDomainCreateLinux")
        return self._drv.domainCreateXML(self, xmlDesc, flags)

    def createXML(self, xmlDesc: str, flags: int = 0) -> Any:
        check_writable(self, "virDomainCreateXML")
        return self._drv.domainCreateXML(self, xmlDesc, flags)

    def defineXML(self, xml: str) -> Any:
        check_writable(self, "virDomainDefineXML")
        return self._drv.domainDefineXML(self, xml)

    def defineXMLFlags(self, xml: str, flags: int = 0) -> Any:
        check_writable(self, "virDomainDefineXMLFlags")
        return self._drv.domainDefineXMLFlags(self, xml, flags)

    def domainXMLFromNative(self, nativeFormat: str, nativeConfig: str, flags: int = 0) -> Any:
        check_writable(self, "virConnectDomainXMLFromNative")
        return self._drv.connectDomainXMLFromNative(self, nativeFormat, nativeConfig, flags)

    def domainXMLToNative(self, nativeFormat: str, domainXml: str, flags: int = 0) -> Any:
        check_writable(self, "virConnectDomainXMLToNative")
        return self._drv.connectDomainXMLToNative(self, nativeFormat, domainXml, flags)

    def listDefinedDomains(self) -> Any:
        return self._drv.connectListDefinedDomains(self)

    def listDomainsID(self) -> Any:
        return self._drv.connectListDomainsID(self)

    def lookupByID(self, id: int) -> Any:
        return self._drv.domainLookupByID(self, id)

    def lookupByName(self, name: str) -> Any:
        return self._drv.domainLookupByName(self, name)

    def lookupByUUID(self, uuid: bytes) -> Any:
        return self._drv.domainLookupByUUID(self, uuid_from_bytes("virDomainLookupByUUID", uuid))

    def lookupByUUIDString(self, uuidstr: str) -> Any:
        return self._drv.domainLookupByUUID(
            self, uuid_from_string("virDomainLookupByUUIDString", uuidstr)
        )

    def numOfDefinedDomains(self) -> Any:
        return self._drv.connectNumOfDefinedDomains(self)

    def numOfDomains(self) -> Any:
        return self._drv.connectNumOfDomains(self)

    def restore(self, frm: str) -> Any:
        check_writable(self, "virDomainRestore")
        return self._drv.domainRestore(self, frm)

    def restoreFlags(self, frm: str, dxml: str | None = None, flags: int = 0) -> Any:
        check_writable(self, "virDomainRestoreFlags")
        check_flag_rules("virDomainRestoreFlags", flags)
        return self._drv.domainRestoreFlags(self, frm, dxml, flags)

    def restoreParams(self, params: dict[str, Any], flags: int = 0) -> Any:
        check_writable(self, "virDomainRestoreParams")
        check_flag_rules("virDomainRestoreParams", flags)
        return self._drv.domainRestoreParams(self, params, flags)

    def saveImageDefineXML(self, file: str, dxml: str, flags: int = 0) -> Any:
        check_writable(self, "virDomainSaveImageDefineXML")
        check_flag_rules("virDomainSaveImageDefineXML", flags)
        return self._drv.domainSaveImageDefineXML(self, file, dxml, flags)

    def saveImageGetXMLDesc(self, file: str, flags: int = 0) -> Any:
        check_writable(self, "virDomainSaveImageGetXMLDesc")
        return self._drv.domainSaveImageGetXMLDesc(self, file, flags)

    def listAllDomains(self, flags: int = 0) -> Any:
        return self._drv.connectListAllDomains(self, flags)

    def createXMLWithFiles(self, xmlDesc: str, files: Any, flags: int = 0) -> Any:
        check_writable(self, "virDomainCreateXMLWithFiles")
        return self._drv.domainCreateXMLWithFiles(self, xmlDesc, files, flags)

    def getAllDomainStats(self, stats: int = 0, flags: int = 0) -> Any:
        return self._drv.connectGetAllDomainStats(self, stats, flags)

    def domainListGetStats(self, doms: Any, stats: int = 0, flags: int = 0) -> Any:
        return self._drv.domainListGetStats(self, doms, stats, flags)

    def domainEventRegisterAny(self, dom: Any, eventID: int, cb: Any, opaque: Any) -> Any:
        return self._drv.connectDomainEventRegisterAny(self, dom, eventID, cb, opaque)

    def domainEventDeregisterAny(self, callbackID) -> None:
        self._drv.connectDomainEventDeregisterAny(self, callbackID)

    def domainEventRegister(self, cb, opaque) -> None:
        """The old lifecycle-only registration: one per callback function."""
        self._drv.connectDomainEventRegister(self, cb, opaque)

    def domainEventDeregister(self, cb) -> None:
        self._drv.connectDomainEventDeregister(self, cb)
