"""The file-system kit under simulated threads: processes, pageout and fsflush
as threads, disk completions as interrupts, and the one-thread mode they agree with."""

from __future__ import annotations

from typing import Any

import pytest

from pvnsim import DeadlockError, InvariantViolation, UsageError
from pvnsim.concurrency import PCT, Exhaustive, RandomWalk, explore, replay
from pvnsim.fs import WORKLOADS, Machine, Op, build_workload
from pvnsim.fs.pageout import Pageout
from pvnsim.sched import Simulation
from pvnsim.sweep.scenarios import SCENARIOS

PS = 4096

#: Configurations the one-thread and threaded machines are compared in:
#: clusters or blocks, no VMODSORT, no write-behind, busy daemons, bigger
#: blocks with more read-ahead.
CONFIGS: list[dict[str, Any]] = [
    dict(memory=128 * PS),
    dict(memory=128 * PS, maxcontig=1),
    dict(memory=96 * PS, maxcontig=4, vmodsort=False),
    dict(memory=128 * PS, maxcontig=1, write_behind=False, freebehind=False),
    dict(
        memory=256 * PS, maxcontig=8, fsflush_interval_ns=5_000_000, pageout_interval_ns=1_000_000
    ),
    dict(memory=120 * PS, maxcontig=1, readahead=2, bsize=16384),
]


def _outcome(kind: str, config: dict[str, Any], faults: bool, sim: Simulation | None) -> Any:
    """Metrics, disk log and file contents of a workload with pressure, a
    long sleep (fsflush runs) and, with ``faults``, injected errors."""
    w = build_workload(kind, files=2, file_size=160 * 1024, iosize=12 * 1024, ops=120, seed=7)
    m = Machine(verify=True, sim=sim, **config)
    for op in w.setup:
        m.apply(op)
    if faults:
        for name in ("f0", "f1"):
            if m.fs.inode(name).bmap:
                m.fail_block(name, 0, "any", 2)
    ops = [*w.ops, Op("pressure", length=20), Op("sleep", length=40_000_000_000)]
    if sim is None:
        m.run(ops, check=True)
        m.settle()  # (a threaded run settles the I/O in flight when it ends)
    else:
        proc = m.process("p0", ops, check=True)
        m.run_processes()
        assert proc.result is not None and len(proc.result) == len(ops)
    metrics = m.metrics()
    log = [
        (r.seq, r.kind, r.daddr, r.nbytes, r.is_async, r.submit_ns, r.finish_ns, r.error, r.tag)
        for r in m.disk.log
    ]
    m.disk.clear_faults()
    data = {name: m.read(name, 0, 1 << 20) for name in m.fs.inodes}
    return metrics, log, data


@pytest.mark.parametrize("kind", sorted(WORKLOADS))
def test_one_process_without_preemption_does_what_the_one_thread_machine_does(kind):
    """One process, no preemption: the daemons get the CPU exactly where the
    one-thread machine runs their ticks and reclaims, and completions run as
    interrupts at the same virtual times, so the metrics, the disk log and
    the data are the same, with the model (switches=True, every choice the
    default) or without switch points at all."""
    for config in CONFIGS:
        for faults in (False, True):
            expected = _outcome(kind, config, faults, None)
            for switches in (False, True):
                got = _outcome(kind, config, faults, Simulation(switches=switches))
                assert got == expected, (config, faults, switches)


def test_the_daemons_run_in_their_own_threads():
    """A threaded machine's pageout reclaims for a waiting allocator in the
    pageout thread, and fsflush flushes in the fsflush thread."""
    seen: dict[str, set[str]] = {"reclaim": set(), "flush": set()}
    m = Machine(
        memory=96 * PS,
        sim=Simulation(),
        fsflush_interval_ns=1_000_000,
        write_behind=False,
        verify=True,
    )
    reclaim = m.pageout.reclaim
    tick = m.fsflush.tick

    def spy_reclaim(k: Any, shortfall: int) -> None:
        seen["reclaim"].add(k.curthread)
        reclaim(k, shortfall)

    def spy_tick() -> None:
        if m.fsflush.due():
            seen["flush"].add(m.kernel.curthread)
        tick()

    m.pageout.reclaim = spy_reclaim  # type: ignore[method-assign]
    m.fsflush.tick = spy_tick  # type: ignore[method-assign]
    m.create("f")
    ops = [Op("write", "f", off, 16 * 1024, 3) for off in range(0, 512 * 1024, 16 * 1024)]
    m.process("writer", [*ops, Op("sleep", length=2_000_000), Op("fsync", "f")])
    metrics = m.run_processes()
    assert seen == {"reclaim": {"pageout"}, "flush": {"fsflush"}}
    assert metrics.pageout_reclaims > 0 and metrics.fsflush_runs > 0
    m.check()
    m.check_data(disk=True)


def test_processes_interleave_under_a_strategy_and_keep_every_byte():
    """Two writers, a reader and the daemons under random schedules: every read
    sees the last write, and after the run every byte is in the file."""
    for seed in range(6):
        m = Machine(
            memory=96 * PS,
            sim=Simulation(RandomWalk(seed)),
            verify=True,
            fsflush_interval_ns=3_000_000,
            maxcontig=4,
        )
        for name in ("a", "b"):
            m.create(name, 32 * 1024, tag=1)
        for n, name in enumerate(("a", "b")):
            ops = [Op("write", name, off, 6000, 10 + n) for off in range(0, 96 * 1024, 12 * 1024)]
            m.process(f"w{name}", [*ops, Op("fsync", name)])
        m.process("reader", [Op("read", name, 0, 64 * 1024) for name in "abab"])
        m.run_processes()
        m.check()
        m.check_data()
        m.check_data(disk=True)  # both writers ended with an fsync


def test_process_is_for_threaded_machines_with_fresh_names_and_real_work():
    """process() refuses a one-thread machine, the name main, and work that is
    neither operations nor a function; a machine needs a simulation that has
    not run, and not both a sim and a run."""
    with pytest.raises(UsageError, match="runs one thread"):
        Machine(memory=64 * PS).process("p", [])
    with pytest.raises(UsageError, match="runs one thread"):
        Machine(memory=64 * PS).run_processes()
    m = Machine(memory=64 * PS, sim=Simulation())
    with pytest.raises(UsageError, match="'main'"):
        m.process("main", [])
    with pytest.raises(UsageError, match="Ops or a function"):
        m.process("p", ["write f 0 1"])  # type: ignore[list-item]
    with pytest.raises(UsageError, match="already exists"):
        m.process("pageout", [])
    sim = Simulation()
    sim.run()
    with pytest.raises(UsageError, match="has not run"):
        Machine(memory=64 * PS, sim=sim)
    with pytest.raises(UsageError, match="not both"):
        Machine(memory=64 * PS, sim=Simulation(), run=object())  # type: ignore[arg-type]


def test_a_threaded_deadlock_names_the_waiting_process():
    """A process waiting for memory nobody can free is a deadlock, not a hang:
    pageout reclaims what it can for it, then the error names the wait."""
    m = Machine(memory=64 * PS, sim=Simulation())

    def grab(m: Machine) -> None:
        # More pages than memory holds, and none of them pageable.
        from pvnsim.flags import PG_WAIT
        from pvnsim.vm import page_create_va

        vp = m.kernel.vnode("grab")
        for i in range(64):
            page_create_va(vp, i * PS, PS, PG_WAIT, None, 0)

    m.process("grabber", grab)
    with pytest.raises(DeadlockError, match="grabber waits for memory"):
        m.run_processes()


def test_simulation_interrupts_can_be_chosen_before_the_run_only():
    """A scenario's setup may ask for explored completion timing; not once running."""
    sim = Simulation()
    sim.interrupts = "any"
    assert sim.interrupts == "any"
    with pytest.raises(UsageError, match="'due' or 'any'"):
        sim.interrupts = "often"
    sim.run()
    with pytest.raises(UsageError, match="has started"):
        sim.interrupts = "due"


# -- exploring races ----------------------------------------------------------


#: An 8-page dirty file; a process fsyncs it while pageout (memory is short)
#: pushes its pages with B_ASYNC | B_FREE; completions may come at any time.
#: The check: fsync returned 0 with every byte on disk, the validators hold,
#: nothing written was lost.
fsync_vs_pageout = SCENARIOS["kit-fsync-vs-pageout"].setup
fsync_vs_pageout_check = SCENARIOS["kit-fsync-vs-pageout"].check


@pytest.mark.parametrize(
    "strategy",
    [None, PCT(seed=1, depth=2), RandomWalk(seed=2), Exhaustive(preemption_bound=1)],
    ids=["default", "pct", "random", "exhaustive"],
)
def test_fsync_racing_pageout_holds_under_every_strategy(strategy):
    """Whatever the interleaving of fsync, pageout and the disk's interrupts,
    fsync returns 0 with every byte on disk, and the validators hold."""
    result = explore(fsync_vs_pageout, fsync_vs_pageout_check, strategy=strategy, max_runs=150)
    assert result.ok, result
    assert result.runs == 150 or result.exhausted


def test_pageout_really_races_fsync_and_interrupts_become_threads():
    """The scenario is not vacuous: across the runs pageout pushes pages, the
    strategy fires completions early, and some completion blocks on the vnode's
    page mutex and goes on as an interrupt thread."""
    pushed = []
    log: list[str] = []

    def check(run: Any) -> None:
        fsync_vs_pageout_check(run)
        pushed.append(run.data.pageout.pushed)
        log.extend(run.sim.log)

    result = explore(fsync_vs_pageout, check, strategy=RandomWalk(seed=5), max_runs=300)
    assert result.ok, result
    assert sum(1 for p in pushed if p) > 100
    assert any("interrupted at" in line for line in log)
    assert any("goes on as thread Disk.biodone#" in line for line in log)


def test_a_threaded_run_replays_from_its_schedule_string():
    """A schedule string replays the same run: the same disk log, twice."""

    def disk_log(schedule: str) -> list[str]:
        run = replay(fsync_vs_pageout, fsync_vs_pageout_check, schedule, strict=False)
        return [str(r) for r in run.data.disk.log] + run.sim.log

    for schedule in ("", "b", "1c", "2b", "aab2"):
        assert disk_log(schedule) == disk_log(schedule)
    # The default: fsync's clock tick lets pageout push all 8 pages in one
    # async write first, at the fsync's entry (the set-up write's 2 us + 32768
    # bytes at 0.25 ns, then fsync's 2 us), costing 50 us + 32768 bytes at
    # 10 ns (no seek: the disk's head is at 0).  Preempting pageout at its
    # third choice lets fsync write the last block itself (its VMODSORT walk
    # starts at the tail).
    start = 2_000 + 32768 // 4 + 2_000
    finish = start + 50_000 + 32768 * 10
    assert disk_log("")[0] == f"#1 write 32768B @0x0 async [{start}..{finish}ns] ok f@0x0+8p"
    assert disk_log("2b")[0].startswith("#1 write 8192B @0x6000 sync")


def test_memory_reclaim_of_a_threaded_machine_wakes_pageout():
    """Kernel.memory_reclaim is Pageout.wake; outside the threads it reclaims in place."""
    m = Machine(memory=64 * PS, sim=Simulation())
    assert m.kernel.memory_reclaim == m.pageout.wake
    assert isinstance(m.pageout, Pageout) and m.pageout.thread is not None
    one = Machine(memory=64 * PS)
    assert one.kernel.memory_reclaim == one.pageout.reclaim


def test_check_data_from_a_process_waits_for_a_racing_truncate() -> None:
    """A process that fsyncs and then checks the disk against the last writes
    while another process truncates the file: truncate shrinks the file
    before its B_INVAL|B_TRUNC walk, which may wait for the fsync's pages,
    and brings the expected contents up to date only when it is done.  A
    check that looked at the file in between would see 5 pages on disk
    against the 6 written; check_data waits for the truncate instead (as
    read would), so no interleaving fails, and some interleavings race."""
    raced: list[bool] = []

    def setup(run: Any) -> Machine:
        run.sim.interrupts = "any"
        m = Machine(
            memory=64 * PS,
            run=run,
            verify=True,
            lotsfree=60,
            handspread=0,
            write_behind=False,
            fsflush_interval_ns=0,
            maxcontig=1,
        )
        m.create("f")
        m.write("f", 0, bytes(range(256)) * (6 * PS // 256))

        def fsync(m: Machine) -> int:
            err = m.fsync("f")
            raced.append(m.fs.inode("f").writer == "trunc")
            if err == 0:
                m.check_data("f", disk=True)
            return err

        m.process("fsync", fsync)
        m.process("trunc", lambda m: m.truncate("f", 5 * PS))
        return m

    def check(run: Any) -> None:
        assert run.results["fsync"] == 0 and run.results["trunc"] == 0
        run.data.check()
        run.data.check_data()
        assert run.data.fs.inode("f").size == 5 * PS

    result = explore(setup, check, max_runs=300)
    assert not result.failures, result
    assert any(raced), "no interleaving had the truncate in progress at the check"


def test_check_data_names_a_length_difference() -> None:
    """Contents that agree as far as both go but differ in length are reported
    as such, not as a byte difference at offset 0."""
    m = Machine(memory=64 * PS, verify=True)
    m.create("f")
    assert m.write("f", 0, b"a" * 100) == 0
    assert m.model is not None
    m.model["f"].extend(b"b" * 28)  # the file's expected contents: 128 bytes
    with pytest.raises(InvariantViolation, match=r"f \(in the file\): 100 bytes .* make 128"):
        m.check_data("f")
