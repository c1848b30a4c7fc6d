"""Pin pyvirt's public surface to libvirt-python 9.0's (tests/unit/data, taken from the real
binding): every module function and class method exists with compatible parameters, and
pyvirt adds no public callables of its own to those classes (libvirt-python's API coverage
test would reject them)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

import pyvirt

SURFACE = json.loads((Path(__file__).parent / "data" / "libvirt_python_surface.json").read_text())
# libvirt-python builds these from C pointers; pyvirt's handles are plain Python objects.
IGNORED_METHODS = {"c_pointer"}


def _params(func: object) -> list[tuple[str, bool]]:
    sig = inspect.signature(func)  # type: ignore[arg-type]
    return [(p.name, p.default is not inspect.Parameter.empty) for p in sig.parameters.values()]


def _compatible(ours: list[tuple[str, bool]], theirs: list[list]) -> bool:
    """Same positional names in the same order; ours may add trailing optional ones."""
    if len(ours) < len(theirs):
        return False
    for (name, has_default), (their_name, their_default) in zip(ours, theirs):
        if name != their_name:
            return False
        if their_default and not has_default:
            return False
    return all(has_default for _, has_default in ours[len(theirs) :])


@pytest.mark.parametrize("name", sorted(SURFACE["module"]))
def test_module_function(name: str) -> None:
    func = getattr(pyvirt, name, None)
    assert callable(func), f"pyvirt.{name} missing"
    assert _compatible(_params(func), SURFACE["module"][name]), (
        f"pyvirt.{name}{inspect.signature(func)} != {SURFACE['module'][name]}"
    )


@pytest.mark.parametrize(
    ("cls", "method"),
    sorted((cls, m) for cls, methods in SURFACE["classes"].items() for m in methods),
)
def test_class_method(cls: str, method: str) -> None:
    klass = getattr(pyvirt, cls, None)
    assert klass is not None, f"pyvirt.{cls} missing"
    func = getattr(klass, method, None)
    assert callable(func), f"pyvirt.{cls}.{method} missing"
    assert _compatible(_params(func), SURFACE["classes"][cls][method]), (
        f"pyvirt.{cls}.{method}{inspect.signature(func)} != {SURFACE['classes'][cls][method]}"
    )


@pytest.mark.parametrize("cls", sorted(SURFACE["classes"]))
def test_no_extra_public_methods(cls: str) -> None:
    klass = getattr(pyvirt, cls)
    ours = {n for n in dir(klass) if not n.startswith("_") and callable(getattr(klass, n))}
    extra = ours - set(SURFACE["classes"][cls]) - IGNORED_METHODS
    # Pure-Python helpers libvirt-python also has but that were added after 9.0.
    assert not extra, f"{cls} has public methods libvirt-python lacks: {sorted(extra)}"


def test_module_has_no_stray_callables() -> None:
    allowed = set(SURFACE["module"]) | set(SURFACE["classes"]) | {"libvirtError"}
    stray = {
        name
        for name in dir(pyvirt)
        if not name.startswith("_")
        and callable(getattr(pyvirt, name))
        and not isinstance(getattr(pyvirt, name), type(pyvirt))
        and getattr(getattr(pyvirt, name), "__module__", "") != "typing"
    } - allowed
    assert not stray, f"pyvirt exports callables libvirt-python lacks: {sorted(stray)}"


def test_every_constant_has_libvirts_value() -> None:
    # Spot checks of the ABI; the full table is checked against the generator in test_constants.
    assert pyvirt.VIR_DOMAIN_RUNNING == 1
    assert pyvirt.VIR_DOMAIN_PAUSED == 3
    assert pyvirt.VIR_ERR_NO_DOMAIN == 42
    assert pyvirt.VIR_ERR_OPERATION_DENIED == 29
    assert pyvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE == 1
    assert pyvirt.VIR_MIGRATE_PARAM_URI == "migrate_uri"
