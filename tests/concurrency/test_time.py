"""Virtual time and interrupts in the one scheduler (pvnsim.sched.Simulation).

Interrupts are the clock's events: disk completions and callouts.  They run
on whichever CPU is current, in interrupt context, and may not sleep.
"""

from __future__ import annotations

import pytest

from pvnsim import DeadlockError, InterruptSleep, Kernel, UsageError
from pvnsim.concurrency import Exhaustive, RandomWalk, Replay, Schedule
from pvnsim.flags import PG_EXCL, SE_EXCL
from pvnsim.sched import Clock, Simulation
from pvnsim.vm import page_create_va, page_io_lock, page_io_unlock, page_lock, page_unlock


def test_a_thread_sleeping_on_a_flag_is_woken_by_an_interrupt_at_its_time():
    """Nobody can run: the CPU idles until the next event, which wakes the sleeper."""
    sim = Simulation()
    flag: list[str] = []
    seen: list[tuple[str, int]] = []

    def completion() -> None:
        seen.append((sim.current(), sim.now))
        flag.append("done")

    def body() -> None:
        sim.at(5_000, completion)
        sim.wait("the disk", lambda: bool(flag))
        seen.append((sim.current(), sim.now))

    sim.spawn(body, name="reader")
    sim.run()
    assert seen == [("interrupt", 5_000), ("reader", 5_000)]


def test_cpu_time_runs_the_interrupts_that_fall_due_meanwhile():
    """cpu(ns) moves the clock; events due by then run, in time order, before it returns."""
    sim = Simulation()
    order: list[str] = []

    def body() -> None:
        sim.at(300, lambda: order.append("late"))
        sim.at(100, lambda: order.append("early"))
        sim.cpu(200)
        order.append(f"back at {sim.now}")
        sim.cpu(200)
        order.append(f"back at {sim.now}")

    sim.spawn(body)
    sim.run()
    assert order == ["early", "back at 200", "late", "back at 400"]


def test_delay_lets_other_threads_run_and_wakes_at_its_time():
    """delay(ns) is a timed sleep: another thread runs meanwhile."""
    sim = Simulation()
    order: list[tuple[str, int]] = []

    def sleeper() -> None:
        sim.delay(1_000)
        order.append(("sleeper", sim.now))

    def worker() -> None:
        sim.cpu(300)
        order.append(("worker", sim.now))

    sim.spawn(sleeper)
    sim.spawn(worker)
    sim.run()
    assert order == [("worker", 300), ("sleeper", 1_000)]


def test_a_completion_that_would_sleep_raises_naming_itself_and_what_it_waits_for():
    """Interrupt context may not block: a completion waiting on a page lock panics."""
    k = Kernel(total_pages=64)
    sim = Simulation()
    k.sched = sim
    vp = k.vnode("f")

    def biodone_that_locks() -> None:
        page_lock(pp, SE_EXCL, None, 0)  # the page is held: this would sleep

    def body() -> None:
        sim.at(10, biodone_that_locks)
        sim.delay(20)

    pp = page_create_va(vp, 0, k.pagesize, PG_EXCL, None, 0)  # exclusively locked by main
    sim.spawn(body, name="t")
    with pytest.raises(InterruptSleep, match=r"biodone_that_locks would sleep on .*f@0x0"):
        sim.run()
    k.sched = None


def test_a_completion_that_can_take_its_lock_at_once_does_not_raise():
    """Only a sleep is refused in interrupt context: an i/o unlock is fine."""
    k = Kernel(total_pages=64)
    sim = Simulation(switches=False, clock=Clock())
    k.sched = sim
    vp = k.vnode("f")
    pp = page_create_va(vp, 0, k.pagesize, PG_EXCL, None, 0)
    sim.at(10, lambda: page_io_unlock(pp))
    page_io_lock(pp)  # sleeps until the completion drops the i/o lock
    assert sim.now == 10 and pp.p_ioowner == "main"
    page_io_unlock(pp)
    page_unlock(pp)
    k.sched = None


def test_without_threads_block_runs_events_until_ready_then_reports_a_deadlock():
    """The one-thread mode: the caller sleeps by running events; a dry queue is a deadlock."""
    sim = Simulation(switches=False)
    flag: list[int] = []
    sim.at(100, lambda: flag.append(1))
    sim.block("the flag", None, lambda: bool(flag))
    assert sim.now == 100 and sim.sleeps == 1
    with pytest.raises(DeadlockError, match="main waits for the moon, held by other"):
        sim.block("the moon", "other", lambda: False)


def test_a_daemon_timer_alone_does_not_hide_a_deadlock():
    """A daemon that wakes periodically and never helps: the waiter is deadlocked."""
    sim = Simulation(idle_limit=10)
    ticks: list[int] = []

    def daemon() -> None:
        while True:
            sim.delay(1_000_000)
            ticks.append(sim.now)

    def waiter() -> None:
        sim.wait("godot", lambda: False)

    sim.spawn(daemon, name="fsflush", daemon=True)
    sim.spawn(waiter, name="estragon")
    with pytest.raises(DeadlockError, match="estragon waits for godot"):
        sim.run()
    assert 5 <= len(ticks) <= 12


def test_a_daemon_that_helps_on_a_later_turn_is_not_a_deadlock():
    """The idle rule counts turns without progress; a daemon that eventually helps wins."""
    sim = Simulation(idle_limit=10)
    state = {"rounds": 0}

    def daemon() -> None:
        while True:
            sim.delay(1_000)
            state["rounds"] += 1

    def waiter() -> None:
        sim.wait("three rounds", lambda: state["rounds"] >= 3)

    sim.spawn(daemon, name="pageout", daemon=True)
    sim.spawn(waiter, name="allocator")
    sim.run()
    assert state["rounds"] == 3


def _race(sim: Simulation, log: list[str]) -> None:
    # A thread with two switch points and a disk completion in flight.
    def completion() -> None:
        log.append("intr")

    def body() -> None:
        sim.at(1_000_000, completion)
        sim.switch_point("a", None)
        log.append("a")
        sim.switch_point("b", None)
        log.append("b")

    sim.spawn(body, name="t")
    sim.spawn(lambda: None, name="u")
    sim.run()


def test_interrupts_any_lets_the_strategy_take_a_completion_early():
    """With interrupts="any" the completion is an option at every switch point, so
    an exhaustive search sees it before a, between a and b, and after b."""
    strategy = Exhaustive(preemption_bound=None)
    outcomes = set()
    while strategy.start_run():
        log: list[str] = []
        sim = Simulation(strategy, interrupts="any")
        _race(sim, log)
        outcomes.add(tuple(log))
    assert outcomes == {
        ("intr", "a", "b"),
        ("a", "intr", "b"),
        ("a", "b", "intr"),
    }


def test_interrupts_due_run_only_at_their_time():
    """The default: the completion runs when nobody can run (its time), after b."""
    for seed in range(20):
        log: list[str] = []
        _race(Simulation(RandomWalk(seed)), log)
        assert log == ["a", "b", "intr"]


def test_an_interrupt_choice_replays_from_its_schedule():
    """The interrupt option is recorded like a thread choice, so a schedule replays it."""
    log: list[str] = []
    sim = Simulation(Replay(Schedule.parse("")), interrupts="any")
    _race(sim, log)
    assert log == ["a", "b", "intr"]
    # The first choice starts t (default); at t's first switch point the
    # options are t, u and, listed last, the interrupt: option 2 is "c".
    log2: list[str] = []
    sim2 = Simulation(Replay("1c"), interrupts="any")
    _race(sim2, log2)
    assert log2 == ["intr", "a", "b"]
    assert any("interrupted at a" in line for line in sim2.log)


def test_bad_time_arguments_are_refused():
    """Negative times, past events and unknown modes are usage errors."""
    with pytest.raises(UsageError, match="interrupts"):
        Simulation(interrupts="sometimes")
    with pytest.raises(UsageError, match="clock"):
        Simulation(clock=object())  # type: ignore[arg-type]
    sim = Simulation()
    with pytest.raises(UsageError, match="cpu"):
        sim.cpu(-1)
    with pytest.raises(UsageError, match="delay"):
        sim.delay(-5)
    sim.clock.advance(10)
    with pytest.raises(UsageError, match="past"):
        sim.at(5, lambda: None)
