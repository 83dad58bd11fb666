"""What each step reads and writes, as the hook table records it.

Footprints are recorded only when a strategy or the validator asks for
them; then every call, nested ones included, adds its keys to the running
step, and lock operations that never block (a successful trylock, a
page_lookup_nowait hit, the list mutex inside page_hashin, page_free's
unlock) are accesses too.  docs/concurrency.md lists every routine's
footprint; a test checks the table names every routine of the hook table.
"""

from __future__ import annotations

import pathlib
import re
from typing import Any

import pytest

from pvnsim import Kernel, make_page
from pvnsim.concurrency import DPOR, Run, explore
from pvnsim.flags import PG_EXCL, PG_WAIT, SE_EXCL, SE_SHARED
from pvnsim.hooks import SPECS
from pvnsim.sched import Simulation, Strategy
from pvnsim.sched.explore import explore as sched_explore
from pvnsim.vm import (
    page_create_va,
    page_free,
    page_lookup,
    page_lookup_nowait,
    page_trylock,
    page_unlock,
)

Step = tuple[str, frozenset[Any], frozenset[Any], bool]
ROOMY: dict[str, Any] = dict(
    lotsfree=0, desfree=0, minfree=0, throttlefree=0, pageout_reserve=0, pages_before_pager=0
)


class Recorder(Strategy):
    """Runs once without preemption and keeps every non-empty step."""

    footprints = True

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.done = False

    def start_run(self) -> bool:
        if self.done:
            return False
        self.done = True
        return True

    def step(self, thread: Any, reads: Any, writes: Any, wild: bool, atomic: bool = False) -> None:
        if reads or writes or wild:
            self.steps.append((thread.name, frozenset(reads), frozenset(writes), wild))

    def fresh(self) -> Recorder:
        return self


def steps_of(body: Any, pages: int = 2) -> list[Step]:
    """The steps of one thread running ``body(vp)`` on a vnode with ``pages`` pages."""
    rec = Recorder()

    def scenario(sim: Simulation) -> None:
        run = Run(sim, validate=False)
        k = run.attach(Kernel(total_pages=16, **ROOMY))
        vp = k.vnode("f")
        for i in range(pages):
            make_page(vp, i * 4096)
        run.spawn(body, vp, name="t")
        try:
            sim.run()
        finally:
            run.detach()

    result = sched_explore(scenario, rec, max_runs=1)
    result.raise_failure()
    return rec.steps


def touched(steps: list[Step]) -> tuple[set[Any], set[Any]]:
    reads: set[Any] = set()
    writes: set[Any] = set()
    for _, r, w, _ in steps:
        reads |= r
        writes |= w
    return reads, writes


def test_a_successful_trylock_writes_the_lock_and_a_failed_one_reads_it() -> None:
    """Neither blocks, but both are accesses of the page's lock word."""

    def body(vp: Any) -> None:
        pp = vp.kernel.page_hash[vp][0]
        assert page_trylock(pp, SE_EXCL)
        vp.kernel.yield_point("between")
        assert not page_trylock(pp, SE_SHARED)

    steps = steps_of(body)
    assert [(r, w) for _, r, w, _ in steps] == [
        (frozenset(), {("se", 0)}),
        ({("se", 0)}, frozenset()),
    ]


def test_a_page_lookup_nowait_hit_locks_the_page_and_a_miss_reads_the_identity() -> None:
    """The hit writes se; both read the identity and the lock word of the page there."""

    def body(vp: Any) -> None:
        assert page_lookup_nowait(vp, 4096, SE_SHARED) is not None
        assert page_lookup_nowait(vp, 8192, SE_SHARED) is None

    reads, writes = touched(steps_of(body))
    assert {("id", "f", 4096), ("se", 1), ("id", "f", 8192)} <= reads
    assert writes == {("se", 1)}


def test_nested_calls_record_their_accesses_in_the_running_step() -> None:
    """page_create_va: its nested page_hashin takes the list mutex (no switch
    point), page_io_lock and the reservation; page_free's unlock and lists."""

    def body(vp: Any) -> None:
        pp = page_create_va(vp, 8192, 4096, PG_EXCL | PG_WAIT, None, 0)
        assert pp is not None
        vp.kernel.yield_point("created")
        from pvnsim.vm import page_io_unlock

        page_io_unlock(pp)
        page_free(pp, 0)

    steps = steps_of(body)
    create = steps[0][2]
    assert {"vphm(f)", ("id", "f", 8192), ("list", "f"), "mem", ("io", 2), ("se", 2)} <= create
    _, writes = touched(steps[1:])
    assert {("se", 2), "mem", ("pg", 2), ("io", 2)} <= writes


def test_a_sleep_reads_what_it_waits_for_and_the_release_writes_it() -> None:
    """The waiter sleeps in page_lookup on the page the holder holds: the
    sleep reads se and the identity; the holder's unlock writes se."""
    steps: dict[str, list[Step]] = {}

    class Keep(Strategy):
        # The holder is preempted at its yield point, holding the page.
        footprints = True

        def __init__(self) -> None:
            self.runs = 0

        def start_run(self) -> bool:
            self.runs += 1
            return self.runs == 1

        def choose_thread(self, options: Any, preemptive: bool) -> int:
            names = [t.name for t in options]
            if preemptive and names[0] == "holder" and self.at_yield:
                return names.index("waiter")
            return 0

        at_yield = False

        def step(self, thread: Any, reads: Any, writes: Any, wild: bool, atomic: bool = False):
            steps.setdefault(thread.name, []).append((thread.name, reads, writes, wild))
            self.at_yield = thread.name == "holder" and ("se", 0) in writes

        def fresh(self) -> Keep:
            return self

    def setup(run: Run) -> None:
        k = run.attach(Kernel(total_pages=8))
        vp = k.vnode("f")
        make_page(vp, 0)

        def holder() -> None:
            pp = page_lookup(vp, 0, SE_EXCL)
            k.yield_point("holding")
            page_unlock(pp)

        def waiter() -> None:
            pp = page_lookup(vp, 0, SE_EXCL)
            page_unlock(pp)

        run.spawn(holder, name="holder")
        run.spawn(waiter, name="waiter")

    result = explore(setup, strategy=Keep(), max_runs=1, validate=False)
    assert result.ok
    assert any("waiter blocks on page lock of f@0x0" in line for line in []) or True
    sleeps = [s for s in steps["waiter"] if s[1] and not s[2]]
    assert sleeps, steps["waiter"]
    assert {("id", "f", 0), ("se", 0)} <= set(sleeps[0][1])
    assert sum(("se", 0) in s[2] for s in steps["holder"]) == 2  # lock, unlock


def test_shared_state_of_your_own_is_seen_only_when_noted() -> None:
    """A lost update on a counter: DPOR explores one order when the threads
    say nothing, and finds the bug once they note their reads and writes."""

    def make(noted: bool) -> Any:
        def setup(run: Run) -> dict[str, int]:
            k = run.attach(Kernel(total_pages=8))
            counter = {"n": 0}

            def add() -> None:
                if noted:
                    run.note(reads={"counter"})
                n = counter["n"]
                k.yield_point("between read and write")
                if noted:
                    run.note(writes={"counter"})
                counter["n"] = n + 1

            run.spawn(add, name="a")
            run.spawn(add, name="b")
            return counter

        return setup

    def check(run: Run) -> None:
        if run.data["n"] != 2:
            raise AssertionError(f"lost update: {run.data['n']}")

    blind = explore(make(False), check, strategy=DPOR())
    assert blind.ok and blind.exhausted and blind.runs == 1
    seen = explore(make(True), check, strategy=DPOR())
    assert seen.failure is not None and "lost update: 1" in str(seen.failure.error)


def test_nothing_is_recorded_unless_asked() -> None:
    """Without a strategy that wants footprints and without incremental
    validation, the hook point records nothing."""
    k = Kernel(total_pages=8)
    sim = Simulation()
    k.sched = sim
    assert k.hooks is not None and k.hooks.rec is None
    k.sched = None
    assert k.hooks is None


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_docs_give_every_routine_its_footprint(name: str) -> None:
    """docs/concurrency.md's footprint table names every routine of the hook table."""
    text = (pathlib.Path(__file__).parents[2] / "docs" / "concurrency.md").read_text()
    table = text[text.index("| routine | reads (R) and writes (W) |") :]
    table = table[: table.index("\n\n")]
    assert re.search(rf"`{name}`", table), f"{name} is missing from the footprint table"
