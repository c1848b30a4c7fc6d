"""The worker threads of one pyvirtd server, resizable while the daemon runs.

As libvirt's thread pool (src/util/virthreadpool.c), a :class:`WorkerPool` has

* ordinary workers, at least ``min_workers`` (started up front) and at most
  ``max_workers`` (started when a job arrives and none is free); they run any job;
* ``prio_workers`` priority workers, which run only the jobs submitted as high priority
  (destroy, lookups, ...), so that those go on while every ordinary worker is stuck in a
  slow call.

The three limits can be changed at run time (virt-admin ``srv-threadpool-set``): a pool
that grows starts threads at once, one that shrinks lets surplus threads end when they are
next idle. The figures virt-admin shows (``nWorkers``, ``freeWorkers``, ``jobQueueDepth``)
are counted here.
"""

from __future__ import annotations

import collections
import threading
import time

from pyvirt import constants as c
from pyvirt.errors import raise_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

Job = tuple["Callable[[], None]", bool]
# How long a resize waits for idle surplus threads to end.
SHRINK_WAIT = 2.0


class WorkerPool:
    """Threads running submitted jobs (see the module docstring)."""

    def __init__(self, name: str, min_workers: int, max_workers: int,
                 prio_workers: int) -> None:
        if min_workers > max_workers:
            min_workers = max_workers
        self.name = name
        self.min_workers = min_workers
        self.max_workers = max_workers
        self.prio_target = prio_workers
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)       # any job queued
        self._prio_work = threading.Condition(self._lock)  # a high-priority job queued
        self._exited = threading.Condition(self._lock)    # a thread ended
        self._jobs: collections.deque[Job] = collections.deque()
        self._prio_queued = 0
        self._workers = 0       # ordinary threads alive
        self._free = 0          # ordinary threads waiting for a job
        self._prio = 0          # priority threads alive
        self._prio_idle = 0     # priority threads waiting for a job
        self._running = 0       # jobs being run
        self._quit = False
        self._threads: list[threading.Thread] = []
        self._serial = 0
        with self._lock:
            self._spawn(min_workers, priority=False)
            self._spawn(prio_workers, priority=True)

    # ---- figures ----------------------------------------------------------------------------

    @property
    def current_workers(self) -> int:
        return self._workers

    @property
    def free_workers(self) -> int:
        return self._free

    @property
    def priority_workers(self) -> int:
        return self._prio

    @property
    def queue_depth(self) -> int:
        return len(self._jobs)

    def busy(self) -> int:
        """Jobs queued or running (the daemon is not idle while there are any)."""
        return len(self._jobs) + self._running

    # ---- jobs -------------------------------------------------------------------------------

    def submit(self, fn: Callable[[], None], high: bool = False) -> bool:
        """Queue ``fn``; False once the pool is shutting down."""
        with self._lock:
            if self._quit:
                return False
            self._jobs.append((fn, high))
            # free workers already woken for earlier jobs are not free for this one
            if self._free < len(self._jobs) and self._workers < self.max_workers:
                self._spawn(1, priority=False)
            self._work.notify()
            if high:
                self._prio_queued += 1
                self._prio_work.notify()
        return True

    def set_limits(self, min_workers: int | None, max_workers: int | None,
                   prio_workers: int | None) -> None:
        """Change the limits (None: unchanged), with libvirt's checks and wording."""
        with self._lock:
            new_max = self.max_workers if max_workers is None else max_workers
            new_min = self.min_workers if min_workers is None else min_workers
            if new_min > new_max:
                raise_error(c.VIR_ERR_INVALID_ARG,
                            "minWorkers cannot be larger than maxWorkers",
                            domain=c.VIR_FROM_NONE)
            if max_workers is not None and (max_workers == 0) != (self.max_workers == 0):
                raise_error(c.VIR_ERR_INVALID_ARG, "maxWorkers must not be switched from "
                            "zero to non-zero and vice versa", domain=c.VIR_FROM_NONE)
            if min_workers is not None:
                if min_workers > self._workers:
                    self._spawn(min_workers - self._workers, priority=False)
                self.min_workers = min_workers
            if max_workers is not None:
                self.max_workers = max_workers
                self._work.notify_all()   # surplus idle workers end
            if prio_workers is not None:
                if prio_workers > self._prio:
                    self._spawn(prio_workers - self._prio, priority=True)
                self.prio_target = prio_workers
                self._prio_work.notify_all()
            # let the idle surplus go before answering, so that the figures read next
            # show the new size (busy threads end after their job)
            deadline = time.monotonic() + SHRINK_WAIT
            while ((self._workers > self.max_workers and self._free > 0)
                   or (self._prio > self.prio_target and self._prio_idle > 0)):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._exited.wait(left)

    def shutdown(self, timeout: float | None = None) -> None:
        """Drop queued jobs, let running ones finish, and wait for the threads."""
        with self._lock:
            self._quit = True
            self._jobs.clear()
            self._prio_queued = 0
            self._work.notify_all()
            self._prio_work.notify_all()
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout)

    # ---- threads ----------------------------------------------------------------------------

    def _spawn(self, count: int, priority: bool) -> None:
        """Start ``count`` threads (lock held)."""
        for _ in range(count):
            self._serial += 1
            kind = "prio" if priority else "worker"
            thread = threading.Thread(
                target=self._prio_loop if priority else self._loop,
                name=f"{self.name}-{kind}-{self._serial}", daemon=True)
            if priority:
                self._prio += 1
            else:
                self._workers += 1
            self._threads.append(thread)
            thread.start()

    def _take(self, priority: bool) -> Job | None:
        """The next job for an ordinary or priority worker (lock held), or None."""
        if not priority:
            job = self._jobs.popleft()
            if job[1]:
                self._prio_queued -= 1
            return job
        for index, job in enumerate(self._jobs):
            if job[1]:
                del self._jobs[index]
                self._prio_queued -= 1
                return job
        return None

    def _loop(self) -> None:
        self._run(priority=False)

    def _prio_loop(self) -> None:
        self._run(priority=True)

    def _run(self, priority: bool) -> None:
        cond = self._prio_work if priority else self._work
        lock = self._lock
        lock.acquire()
        try:
            while True:
                while not self._quit and not self._surplus(priority) and (
                        self._prio_queued == 0 if priority else not self._jobs):
                    if priority:
                        self._prio_idle += 1
                    else:
                        self._free += 1
                    cond.wait()
                    if priority:
                        self._prio_idle -= 1
                    else:
                        self._free -= 1
                if self._quit or self._surplus(priority):
                    break
                job = self._take(priority)
                if job is None:
                    continue
                self._running += 1
                lock.release()
                try:
                    job[0]()
                except Exception:  # noqa: BLE001 - a job reports its own failures
                    pass
                finally:
                    lock.acquire()
                    self._running -= 1
        finally:
            if priority:
                self._prio -= 1
            else:
                self._workers -= 1
            current = threading.current_thread()
            if current in self._threads:
                self._threads.remove(current)
            self._exited.notify_all()
            lock.release()

    def _surplus(self, priority: bool) -> bool:
        """Whether this kind of thread is above its limit and should end (lock held)."""
        if priority:
            return self._prio > self.prio_target
        return self._workers > self.max_workers
