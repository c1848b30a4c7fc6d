"""One driver instance per configuration directory, counted; the last close shuts it down."""

from __future__ import annotations

from pyvirt.drivers.shared import SharedDrivers


class Fake:
    def __init__(self) -> None:
        self.down = 0

    def shutdown(self) -> None:
        self.down += 1


class NoShutdown:
    pass


def test_same_directory_same_instance_until_the_last_close() -> None:
    shared = SharedDrivers()
    made: list[Fake] = []

    def make() -> Fake:
        made.append(Fake())
        return made[-1]

    a = shared.open("/etc/x", make)
    b = shared.open("/etc/x", make)
    other = shared.open("/etc/y", make)
    assert a is b and a is not other and len(made) == 2
    shared.close("/etc/x", a)
    assert a.down == 0
    shared.close("/etc/x", b)
    assert a.down == 1 and other.down == 0
    # a new open after the last close makes a new instance
    c = shared.open("/etc/x", make)
    assert c is not a and len(made) == 3
    # closing an instance that is no longer registered changes nothing
    shared.close("/etc/x", a)
    assert a.down == 1 and c.down == 0


def test_driver_without_shutdown() -> None:
    shared = SharedDrivers()
    d = shared.open("/etc/z", NoShutdown)
    shared.close("/etc/z", d)
    assert shared.open("/etc/z", NoShutdown) is not d
