"""The scheduler core on its own: threads, choices, strategies, schedules.

These threads are plain functions that call ``sim.switch_point`` and
``sim.block`` directly; nothing here involves pages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pvnsim.concurrency import (
    PCT,
    Exhaustive,
    RandomWalk,
    Replay,
    Schedule,
)
from pvnsim.errors import DeadlockError, ScheduleDivergence, StepLimitExceeded, UsageError
from pvnsim.sched import Simulation
from pvnsim.sched.explore import explore, first_difference


def two_steppers(sim: Simulation, out: list[str], steps: int = 2) -> None:
    """Threads A and B, each passing ``steps`` switch points, logging its segments."""

    def body(name: str) -> None:
        out.append(f"{name}0")
        for i in range(1, steps + 1):
            sim.switch_point("step", f"{name}{i}")
            out.append(f"{name}{i}")

    sim.spawn(body, "A", name="A")
    sim.spawn(body, "B", name="B")


def run_all(strategy: Any, build: Callable[[Simulation, list[str]], None]) -> list[str]:
    """Every interleaving an exploration produces, as joined segment strings."""
    seen: list[str] = []

    def scenario(sim: Simulation) -> None:
        out: list[str] = []
        build(sim, out)
        sim.run()
        seen.append(" ".join(out))

    result = explore(scenario, strategy, max_runs=10_000)
    assert result.ok and result.exhausted
    return seen


# -- running threads ---------------------------------------------------------


def test_default_strategy_runs_threads_one_after_the_other() -> None:
    """Without preemption the first thread runs to its end, then the next."""
    sim = Simulation()
    out: list[str] = []
    two_steppers(sim, out)
    sim.run()
    assert out == ["A0", "A1", "A2", "B0", "B1", "B2"]
    assert sim.schedule == Schedule(())
    assert [t.done for t in sim.threads] == [True, True]


def test_thread_results_and_names() -> None:
    """A thread's return value is kept; current() names the running thread."""
    sim = Simulation()
    seen = []

    def body(x: int) -> int:
        seen.append(sim.current())
        return x * 2

    t = sim.spawn(body, 21, name="worker")
    assert sim.current() == "main"
    sim.run()
    assert (t.result, seen, sim.current()) == (42, ["worker"], "main")


def test_replayed_choices_switch_threads_where_recorded() -> None:
    """Choice 0 picks who starts; '1b' preempts A at its first switch point.

    '2b' lets A pass its first switch point and preempts it at the second;
    '2bb' then switches back to A at B's first switch point, and once A has
    ended B runs on without further choices.
    """
    for text, expected in [
        ("1b", ["A0", "B0", "B1", "B2", "A1", "A2"]),
        ("2b", ["A0", "A1", "B0", "B1", "B2", "A2"]),
        ("2bb", ["A0", "A1", "B0", "A2", "B1", "B2"]),
    ]:
        sim = Simulation(Replay(text))
        out: list[str] = []
        two_steppers(sim, out)
        sim.run()
        assert out == expected, text


def test_first_choice_picks_which_thread_starts() -> None:
    """At the start both threads are runnable: option 1 starts B (not a preemption)."""
    sim = Simulation(Replay("b"))
    out: list[str] = []
    two_steppers(sim, out, steps=0)
    sim.run()
    assert out == ["B0", "A0"]


@pytest.mark.parametrize(("bound", "runs"), [(0, 2), (1, 6), (2, 14), (3, 18), (None, 20)])
def test_exhaustive_counts_interleavings_by_preemption_bound(bound: int | None, runs: int) -> None:
    """Two threads of three segments each: 20 interleavings, 2/4/8/4/2 with 0-4 preemptions.

    A switch between the segments of two live threads is a preemption;
    choosing who starts, or who runs after a thread ends, is not.  Counting
    the C(6,3) = 20 orders of segments by their preemptions gives 2 with
    none (each thread alone), 4 with one (X preempted at one of its 2 switch
    points, for 2 starters), 8 with two, 4 with three and 2 with four.
    """
    seen = run_all(Exhaustive(bound), two_steppers)
    assert len(seen) == runs
    assert len(set(seen)) == runs


def test_exhaustive_data_choices_are_all_explored() -> None:
    """A thread choosing among 3 values and then 2 gives 6 runs, without preemption cost."""

    def build(sim: Simulation, out: list[str]) -> None:
        sim.spawn(lambda: out.append(f"{sim.choose(3)}{sim.choose(2)}"), name="C")

    seen = run_all(Exhaustive(0), build)
    assert sorted(seen) == ["00", "01", "10", "11", "20", "21"]


def test_exhaustive_reports_a_nondeterministic_scenario() -> None:
    """A scenario whose choice points change between runs raises ScheduleDivergence."""
    calls = []

    def scenario(sim: Simulation) -> None:
        calls.append(1)
        n = 2 if len(calls) == 1 else 3
        sim.spawn(lambda: sim.choose(n), name="C")
        sim.run()

    result = explore(scenario, Exhaustive(None))
    assert result.failure is not None
    assert isinstance(result.failure.error, ScheduleDivergence)


def test_random_and_pct_are_deterministic_per_seed() -> None:
    """The same seed gives the same sequence of schedules; another seed differs somewhere."""

    def schedules(strategy: Any) -> list[str]:
        out: list[str] = []

        def scenario(sim: Simulation) -> None:
            two_steppers(sim, [], steps=5)
            sim.run()
            out.append(str(sim.schedule))

        explore(scenario, strategy, max_runs=30)
        return out

    for make in (lambda s: RandomWalk(s), lambda s: PCT(s, depth=2)):
        assert schedules(make(1)) == schedules(make(1))
        assert schedules(make(1)) != schedules(make(2))


def test_pct_depth_one_never_preempts() -> None:
    """PCT with depth 1 has no change point: the higher-priority thread runs to its end."""

    def scenario(sim: Simulation) -> None:
        out: list[str] = []
        two_steppers(sim, out, steps=4)
        sim.run()
        first = out[0][0]
        assert all(s[0] == first for s in out[:5]), out

    assert explore(scenario, PCT(seed=3, depth=1), max_runs=50).ok


def test_pct_finds_a_depth_two_ordering() -> None:
    """A bug that needs B's write to fall between A's two steps is found with depth 2."""

    def scenario(sim: Simulation) -> None:
        shared: list[str] = []

        def a() -> None:
            shared.append("a1")
            sim.switch_point("step", "a")
            shared.append("a2")

        def b() -> None:
            sim.switch_point("step", "b")
            shared.append("b")

        sim.spawn(a, name="A")
        sim.spawn(b, name="B")
        sim.run()
        assert shared != ["a1", "b", "a2"]

    result = explore(scenario, PCT(seed=0, depth=2), max_runs=500)
    assert result.failure is not None
    replay_sim = Simulation(Replay(result.failure.schedule))
    with pytest.raises(AssertionError):
        scenario(replay_sim)


# -- blocking and deadlock ---------------------------------------------------------


def test_block_waits_until_ready_and_others_run_meanwhile() -> None:
    """A blocked thread resumes only once its predicate holds."""
    sim = Simulation()
    flag: list[str] = []

    def waiter() -> None:
        sim.wait("the flag", lambda: bool(flag))
        flag.append("waiter saw it")

    sim.spawn(waiter, name="W")
    sim.spawn(lambda: flag.append("set"), name="S")
    sim.run()
    assert flag == ["set", "waiter saw it"]


def test_deadlock_lists_every_waiter_and_holder() -> None:
    """Two threads each waiting for the other: DeadlockError names both waits."""
    sim = Simulation()
    sim.spawn(lambda: sim.wait("lock X", lambda: False, holder="B"), name="A")
    sim.spawn(lambda: sim.wait("lock Y", lambda: False, holder="A"), name="B")
    with pytest.raises(DeadlockError) as info:
        sim.run()
    assert [str(w) for w in info.value.waits] == [
        "A waits for lock X, held by B",
        "B waits for lock Y, held by A",
    ]


def test_deadlock_when_the_last_other_thread_ends() -> None:
    """A waiter whose waker finishes without waking it is reported when that thread ends."""
    sim = Simulation()
    sim.spawn(lambda: sim.wait("a wakeup", lambda: False), name="W")
    sim.spawn(lambda: None, name="E")
    with pytest.raises(DeadlockError, match="W waits for a wakeup"):
        sim.run()


def test_daemon_waiting_alone_does_not_keep_the_run_alive() -> None:
    """A daemon thread still waiting when the others are done is stopped, not a deadlock."""
    sim = Simulation()
    d = sim.spawn(lambda: sim.wait("forever", lambda: False), name="D", daemon=True)
    sim.spawn(lambda: sim.switch_point("x", "y"), name="M")
    sim.run()
    assert d.done and d.error is None


def test_failure_in_one_thread_stops_the_run_and_is_reraised() -> None:
    """An exception in a thread ends the run; the other threads are unwound."""
    sim = Simulation(Replay("1b"))
    unwound = []

    def victim() -> None:
        try:
            sim.switch_point("x", "1")
            sim.switch_point("x", "2")
        finally:
            unwound.append("victim")

    def culprit() -> None:
        raise ValueError("boom")

    sim.spawn(victim, name="V")
    sim.spawn(culprit, name="C")
    with pytest.raises(ValueError, match="boom"):
        sim.run()
    assert unwound == ["victim"]
    assert all(t.done for t in sim.threads)


def test_step_limit_stops_a_livelock() -> None:
    """A thread spinning on switch points forever hits StepLimitExceeded."""
    sim = Simulation(max_steps=50)

    def spin() -> None:
        while True:
            sim.switch_point("spin", "")

    sim.spawn(spin, name="S")
    with pytest.raises(StepLimitExceeded):
        sim.run()


def test_block_outside_a_thread_is_single_threaded() -> None:
    """Called from outside any simulated thread, a wait that cannot finish is a deadlock."""
    sim = Simulation()
    sim.block("x", None, lambda: True)
    with pytest.raises(DeadlockError, match="main waits for x"):
        sim.block("x", "someone", lambda: False)


def test_yield_hands_over_without_preemption() -> None:
    """yield_cpu runs another enabled thread by default."""
    sim = Simulation()
    out: list[str] = []

    def a() -> None:
        out.append("a1")
        sim.yield_cpu()
        out.append("a2")

    sim.spawn(a, name="A")
    sim.spawn(lambda: out.append("b"), name="B")
    sim.run()
    assert out == ["a1", "b", "a2"]


def test_cpu_only_switch_points_admit_only_cpu_threads() -> None:
    """At a CPU-only switch point a plain thread is never preempted by another plain one."""

    def build(sim: Simulation, out: list[str]) -> None:
        def a() -> None:
            out.append("a1")
            sim.switch_point("hw", "")
            out.append("a2")

        sim.spawn(a, name="A")
        sim.spawn(lambda: out.append("b"), name="B")

    def make(cpu_kinds: set[str]) -> Any:
        def scenario(sim: Simulation) -> None:
            sim.cpu_only_kinds = frozenset(cpu_kinds)
            out: list[str] = []
            build(sim, out)
            sim.run()
            seen.append(" ".join(out))

        return scenario

    seen: list[str] = []
    explore(make(set()), Exhaustive(None))
    assert sorted(seen) == ["a1 a2 b", "a1 b a2", "b a1 a2"]
    seen.clear()
    explore(make({"hw"}), Exhaustive(None))
    assert sorted(seen) == ["a1 a2 b", "b a1 a2"]


# -- bad input -------------------------------------------------------------------


def test_spawn_and_run_refuse_bad_input() -> None:
    """Duplicate names, non-callables and a second run() are UsageErrors."""
    sim = Simulation()
    sim.spawn(lambda: None, name="x")
    with pytest.raises(UsageError, match="already exists"):
        sim.spawn(lambda: None, name="x")
    with pytest.raises(UsageError, match="not callable"):
        sim.spawn(42)  # type: ignore[arg-type]
    sim.run()
    with pytest.raises(UsageError, match="runs once"):
        sim.run()
    with pytest.raises(UsageError):
        Simulation(max_steps=0)
    with pytest.raises(UsageError):
        sim.choose(0)
    with pytest.raises(UsageError):
        Exhaustive(-1)
    with pytest.raises(UsageError):
        PCT(depth=0)
    with pytest.raises(UsageError):
        RandomWalk(switch_probability=2.0)


def test_strict_replay_refuses_a_schedule_that_does_not_fit() -> None:
    """An index beyond the options, or choices left over, raise ScheduleDivergence."""

    def scenario(sim: Simulation) -> None:
        two_steppers(sim, [], steps=1)
        sim.run()

    for text in ("d", "9b"):
        result = explore(scenario, Replay(text))
        assert result.failure is not None
        assert isinstance(result.failure.error, ScheduleDivergence), text
    assert explore(scenario, Replay("d", strict=False)).ok


# -- schedules -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choices", "text"),
    [
        ((), ""),
        ((0, 0, 0), ""),
        ((1,), "b"),
        ((0, 0, 1, 0, 2), "2b1c"),
        ((25, 26, 51, 52), "zAZ[52]"),
    ],
)
def test_schedule_text_round_trips(choices: tuple[int, ...], text: str) -> None:
    """Runs of defaults are counts, indices are letters, big ones [n]; trailing defaults go."""
    s = Schedule(choices)
    assert str(s) == text
    assert Schedule.parse(text) == s
    assert Schedule.parse(s) is s


def test_schedule_parse_refuses_garbage() -> None:
    """Unknown characters and malformed [n] are UsageErrors naming the position."""
    for bad in ("3b!", "[x]", "[12"):
        with pytest.raises(UsageError):
            Schedule.parse(bad)
    with pytest.raises(UsageError):
        Schedule((1, -1))
    assert Schedule.parse("3 b. a,1") == Schedule((0, 0, 0, 1, 0, 0))


def test_first_difference_names_the_first_differing_line() -> None:
    """Identical records give None; otherwise index and both lines (None past an end)."""
    assert first_difference(["a", "b"], ["a", "b"]) is None
    d = first_difference(["a", "b"], ["a"])
    assert d is not None and (d.index, d.first, d.second) == (1, "b", None)


def test_the_scheduler_imports_nothing_above_it() -> None:
    """pvnsim.sched imports only the errors module and itself: no model, no kernel."""
    import ast
    import pathlib

    import pvnsim.sched

    allowed = {"pvnsim.errors", "pvnsim.sched"}
    for path in pathlib.Path(pvnsim.sched.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("pvnsim")
            ):
                assert any(node.module == a or node.module.startswith(a + ".") for a in allowed), (
                    f"{path.name} imports {node.module}"
                )
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("pvnsim") for a in node.names), path.name
