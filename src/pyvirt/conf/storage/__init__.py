"""Storage pool (<pool>) and volume (<volume>) XML: PoolDef, VolumeDef and their parts."""

from pyvirt.conf.storage.common import AuthDef, EncryptionDef, Permissions, SecretLookup
from pyvirt.conf.storage.pool import (
    POOL_TYPES,
    AdapterDef,
    PoolDef,
    PoolSource,
    PoolTarget,
    PoolTypeInfo,
    SourceDevice,
    SourceHost,
)
from pyvirt.conf.storage.volume import BackingStore, Extent, Timestamps, VolumeDef, VolumeTarget

__all__ = [
    "POOL_TYPES", "AdapterDef", "AuthDef", "BackingStore", "EncryptionDef", "Extent",
    "Permissions", "PoolDef", "PoolSource", "PoolTarget", "PoolTypeInfo", "SecretLookup",
    "SourceDevice", "SourceHost", "Timestamps", "VolumeDef", "VolumeTarget",
]
