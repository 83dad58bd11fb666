"""Disk completions are interrupts: they may block on a kernel mutex, never sleep.

illumos runs biodone (and the pvn_write_done / pvn_read_done it calls) in an
interrupt thread: it may block on an adaptive mutex (the thread it
interrupted is pinned until it does, then goes on), but it may not sleep on
a page lock, a condition variable or memory.  The kit's disk completion is
``Disk.biodone``; the scheduler lets an interrupt routine that blocks on a
mutex go on as an interrupt thread of its own.
"""

from __future__ import annotations

import pytest

from pvnsim import DeadlockError, InterruptSleep, Kernel
from pvnsim.concurrency import RandomWalk
from pvnsim.flags import B_ASYNC, PG_EXCL, SE_EXCL
from pvnsim.fs import Machine, pattern
from pvnsim.sched import Simulation
from pvnsim.vm import KMutex, mutex_enter, mutex_exit, page_create_va, page_lock, page_unlock

PS = 4096


def test_a_completion_that_would_sleep_raises_naming_biodone():
    """A completion that needs a page lock someone holds would sleep: in the
    one-thread machine that is InterruptSleep naming Disk.biodone, the lock
    and its holder."""
    m = Machine(memory=64 * PS)
    vp = m.kernel.vnode("raw")
    pp = page_create_va(vp, 0, PS, PG_EXCL, None, 0)  # held by main
    assert pp is not None
    m.disk.submit(
        "write",
        0,
        512,
        data=bytes(512),
        is_async=True,
        on_done=lambda req: page_lock(pp, SE_EXCL, None, 0),
    )
    with pytest.raises(
        InterruptSleep,
        match=r"interrupt routine Disk\.biodone would sleep on page lock of raw@0x0.*held by main",
    ):
        m.settle()


def test_a_threaded_completion_that_would_sleep_fails_the_run_naming_biodone():
    """Threaded: a file system whose asynchronous write completion locks the
    pages (instead of only unlocking them) fails the run when a process holds
    one, with InterruptSleep naming Disk.biodone."""
    m = Machine(memory=64 * PS, sim=Simulation(), write_behind=False, fsflush_interval_ns=0)
    fs = m.fs
    m.create("f")
    original = fs._submit_write

    def submit(ino, kl, is_async, done_flags):  # type: ignore[no-untyped-def]
        req = original(ino, kl, is_async, done_flags)
        if is_async:
            finish = req.on_done
            assert finish is not None

            def locking_done(req):  # type: ignore[no-untyped-def]
                page_lock(kl.plist, SE_EXCL, None, 0)  # would sleep: the page is locked
                finish(req)

            req.on_done = locking_done
        return req

    fs._submit_write = submit  # type: ignore[method-assign]

    def writer(m: Machine) -> None:
        m.write("f", 0, pattern(1, 0, 2 * PS))
        m.free("f", 0, 2 * PS)  # B_ASYNC | B_FREE: an async write, pages held
        m.sleep(10_000_000)  # the completion runs meanwhile

    m.process("writer", writer)
    with pytest.raises(InterruptSleep, match=r"Disk\.biodone would sleep on page lock of f@0x0"):
        m.run_processes()


def _mutex_kernel(sim: Simulation) -> tuple[Kernel, KMutex]:
    k = Kernel(total_pages=64)
    k.sched = sim
    return k, KMutex(k, "m")


def test_an_interrupt_blocking_on_a_mutex_goes_on_as_a_thread():
    """A thread holding a mutex is interrupted by a routine that needs it: the
    routine becomes an interrupt thread, the interrupted thread goes on and
    releases the mutex, then the routine finishes (in interrupt context)."""
    sim = Simulation()
    k, m = _mutex_kernel(sim)
    order: list[tuple[str, str, int]] = []

    def routine() -> None:
        order.append(("routine starts", sim.current(), sim.now))
        mutex_enter(m)
        order.append(("routine has the mutex", sim.current(), sim.now))
        mutex_exit(m)

    def holder() -> None:
        mutex_enter(m)
        sim.at(100, routine)
        sim.cpu(200)  # the interrupt falls due here, on this CPU
        order.append(("holder goes on", sim.current(), sim.now))
        mutex_exit(m)
        sim.cpu(50)
        order.append(("holder ends", sim.current(), sim.now))

    sim.spawn(holder, name="holder")
    sim.run()
    k.sched = None
    assert order[:2] == [("routine starts", "interrupt", 100), ("holder goes on", "holder", 200)]
    assert ("routine has the mutex", "interrupt") in [(a, b) for a, b, _ in order]
    assert any("goes on as thread" in line and "routine#1" in line for line in sim.log)
    assert m.owner is None


def _many_routines(seed: int) -> tuple[list[int], KMutex]:
    """Three workers take a mutex in turn; each arms routines that need it."""
    sim = Simulation(RandomWalk(seed))
    sim.interrupts = "any"
    k, m = _mutex_kernel(sim)
    done: list[int] = []

    def routine(i: int) -> None:
        mutex_enter(m)
        done.append(i)
        mutex_exit(m)

    def worker(i: int) -> None:
        for j in range(3):
            sim.at(sim.now + 10 * j, lambda i=i, j=j: routine(10 * i + j))
            mutex_enter(m)
            sim.cpu(15)
            mutex_exit(m)

    for i in range(3):
        sim.spawn(worker, i, name=f"w{i}")
    sim.run()
    k.sched = None
    return done, m


def test_interrupt_threads_under_random_schedules_always_finish():
    """Many holders and many routines needing the same mutex, under random
    schedules: every routine runs to its end, the mutex ends free."""
    for seed in range(30):
        done, m = _many_routines(seed)
        assert sorted(done) == [0, 1, 2, 10, 11, 12, 20, 21, 22], seed
        assert m.owner is None


def test_an_interrupt_thread_may_not_sleep_either():
    """Once an interrupt goes on as a thread it is still interrupt context: a
    sleep (here on a page lock) raises InterruptSleep naming the routine."""
    sim = Simulation()
    k, m = _mutex_kernel(sim)
    pp = page_create_va(k.vnode("f"), 0, PS, PG_EXCL, None, 0)
    assert pp is not None

    def routine() -> None:
        mutex_enter(m)  # blocks: becomes an interrupt thread
        page_lock(pp, SE_EXCL, None, 0)  # held by main: a sleep

    def holder() -> None:
        mutex_enter(m)
        sim.at(10, routine)
        sim.cpu(20)
        mutex_exit(m)

    sim.spawn(holder, name="holder")
    with pytest.raises(InterruptSleep, match=r"routine would sleep on page lock of f@0x0"):
        sim.run()
    k.sched = None
    page_unlock(pp)


def test_an_interrupt_waiting_for_a_mutex_held_by_a_sleeper_is_a_deadlock():
    """The holder sleeps forever with the mutex held: the interrupt thread
    can never go on, and the deadlock report names both."""
    sim = Simulation()
    k, m = _mutex_kernel(sim)

    def holder() -> None:
        mutex_enter(m)
        sim.at(10, lambda: (mutex_enter(m), mutex_exit(m)))
        sim.wait("the moon", lambda: False)

    sim.spawn(holder, name="holder")
    with pytest.raises(DeadlockError, match=r"holder waits for the moon.*#1 waits for mutex m"):
        sim.run()
    k.sched = None


def test_b_async_completions_unlock_in_interrupt_context():
    """The kit's asynchronous writes finish with pvn_write_done in interrupt
    context: pages written by a B_ASYNC putpage end unlocked and clean."""
    m = Machine(memory=64 * PS, write_behind=False, fsflush_interval_ns=0)
    m.create("f")
    m.write("f", 0, pattern(3, 0, 4 * PS))
    ino = m.fs.inode("f")
    seen: list[str] = []
    m.kernel.trace_on()
    assert m.fs.putpage(ino.vp, 0, 0, B_ASYNC, None) == 0
    m.settle()
    for ev in m.kernel.trace:
        if ev.name == "pvn_write_done":
            seen.append(ev.thread)
    # The walk goes back from the tail of the VMODSORT list: it meets each
    # block's last page first, so the 4 pages go out as 2 one-block writes.
    assert seen == ["interrupt", "interrupt"]
    assert m.fs.dirty_pages(ino) == 0
    m.check()
