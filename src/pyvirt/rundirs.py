"""Where pyvirtd's sockets live, shared by the daemon (which binds them) and the client
(which dials them): libvirt's layout under pyvirt names, so that a real libvirtd on the same
host is never disturbed.

* root's (system) daemon: ``/run/pyvirt`` (libvirt: ``/var/run/libvirt``);
* a user's session daemon: ``$XDG_RUNTIME_DIR/pyvirt``, else
  ``${XDG_CACHE_HOME:-~/.cache}/pyvirt-runtime/pyvirt`` (libvirt falls back to its cache
  directory; pyvirt's cache directory already holds ``pyvirt/qemu``, the QEMU driver's
  caches, so the runtime fallback gets a directory of its own, as the drivers' paths do).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

SYSTEM_RUN_DIR = "/run/pyvirt"
RW_SOCKET = "libvirt-sock"
RO_SOCKET = "libvirt-sock-ro"
ADMIN_SOCKET = "libvirt-admin-sock"
DAEMON_NAME = "pyvirtd"


def user_runtime_dir(env: Mapping[str, str] | None = None) -> str:
    """virGetUserRuntimeDirectory with pyvirt's names (see the module docstring)."""
    env = os.environ if env is None else env
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "pyvirt")
    cache = env.get("XDG_CACHE_HOME") or os.path.join(_home(env), ".cache")
    return os.path.join(cache, "pyvirt-runtime", "pyvirt")


def _home(env: Mapping[str, str]) -> str:
    return env.get("HOME") or os.path.expanduser("~")


def user_config_dir(env: Mapping[str, str] | None = None) -> str:
    """``$XDG_CONFIG_HOME/pyvirt`` (``~/.config/pyvirt``): a user's definitions."""
    env = os.environ if env is None else env
    return os.path.join(env.get("XDG_CONFIG_HOME") or os.path.join(_home(env), ".config"),
                        "pyvirt")


def user_cache_dir(env: Mapping[str, str] | None = None) -> str:
    """``$XDG_CACHE_HOME/pyvirt`` (``~/.cache/pyvirt``)."""
    env = os.environ if env is None else env
    return os.path.join(env.get("XDG_CACHE_HOME") or os.path.join(_home(env), ".cache"),
                        "pyvirt")


def user_data_dir(env: Mapping[str, str] | None = None) -> str:
    """``$XDG_DATA_HOME/pyvirt`` (``~/.local/share/pyvirt``)."""
    env = os.environ if env is None else env
    return os.path.join(env.get("XDG_DATA_HOME")
                        or os.path.join(_home(env), ".local", "share"), "pyvirt")


def daemon_socket_dir(privileged: bool, env: Mapping[str, str] | None = None) -> str:
    """The socket directory of root's daemon (``privileged``) or of this user's."""
    return SYSTEM_RUN_DIR if privileged else user_runtime_dir(env)
