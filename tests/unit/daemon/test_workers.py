"""pyvirtd's worker pool: growth up to the maximum, priority workers that keep serving
high-priority jobs while every ordinary worker is stuck, the queue depth, resizing, and
shutdown dropping what never started."""

from __future__ import annotations

import threading
import time

from pyvirt.daemon.workers import WorkerPool
from unit.daemon.support import wait_until


def test_grows_to_max_and_priority_jobs_overtake_stuck_workers() -> None:
    pool = WorkerPool("t", min_workers=1, max_workers=2, prio_workers=1)
    release = threading.Event()
    done: list[str] = []
    try:
        assert (pool.current_workers, pool.priority_workers) == (1, 1)
        for _ in range(3):   # two run (the pool grows to its maximum), one waits
            assert pool.submit(lambda: (release.wait(10), done.append("slow")) and None)
        assert wait_until(lambda: pool.current_workers == 2 and pool.queue_depth == 1)
        assert pool.free_workers == 0 and pool.busy() == 3
        assert pool.submit(lambda: done.append("quick"), high=True)
        assert wait_until(lambda: done == ["quick"])   # a priority worker ran it
        pool.submit(lambda: done.append("ordinary"))
        time.sleep(0.1)
        assert "ordinary" not in done              # ordinary jobs wait for ordinary workers
        release.set()
        assert wait_until(lambda: len(done) == 5 and pool.busy() == 0)
    finally:
        release.set()
        pool.shutdown(5)


def test_resizing_starts_and_ends_threads() -> None:
    pool = WorkerPool("t", min_workers=2, max_workers=4, prio_workers=2)
    try:
        pool.set_limits(min_workers=3, max_workers=None, prio_workers=0)
        assert pool.current_workers == 3
        assert wait_until(lambda: pool.priority_workers == 0)
        pool.set_limits(min_workers=1, max_workers=1, prio_workers=None)
        assert wait_until(lambda: pool.current_workers == 1)
        ran = threading.Event()
        pool.submit(ran.set)
        assert ran.wait(5)
    finally:
        pool.shutdown(5)


def test_shutdown_drops_queued_jobs_and_refuses_new_ones() -> None:
    pool = WorkerPool("t", min_workers=1, max_workers=1, prio_workers=0)
    release = threading.Event()
    started = threading.Event()
    ran: list[int] = []
    pool.submit(lambda: (started.set(), release.wait(10)) and None)
    assert started.wait(5)
    pool.submit(lambda: ran.append(1))
    stopper = threading.Thread(target=pool.shutdown, args=(10,))
    stopper.start()
    time.sleep(0.1)
    release.set()
    stopper.join(10)
    assert ran == [] and not pool.submit(lambda: ran.append(2))
    assert pool.current_workers == 0
