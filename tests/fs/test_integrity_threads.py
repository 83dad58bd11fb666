"""Data integrity under threads: writers, fsync, pageout, fsflush, truncate and
injected write errors racing, with the validators at every switch point.

Hypothesis draws each process's operations, the injected faults, the
configuration and the interleaving (a schedule, replayed leniently, with the
disk's completions explorable: ``interrupts="any"``), so a failure shrinks
to few operations and few preemptions, and its schedule replays it.

The property, for each run:

* every read and mmap load returns the last bytes written (``verify``);
* an fsync that returns 0 leaves every byte of its file on disk;
* nothing written is lost: after the processes, the file's bytes (resident
  pages over the disk) are the last bytes written, and once the faults are
  gone an fsync writes everything, which then reads back from the disk;
* the validators hold at every switch point (the kernel's in-flight checks)
  and after the run (kernel, file system, disk).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pvnsim.concurrency import Schedule, replay
from pvnsim.concurrency.hypothesis_strategies import schedules
from pvnsim.flags import EFAULT, EIO
from pvnsim.fs import Machine, Op

PS = 4096
FILES = ("a", "b")
MAX = 64 * 1024

offsets = st.integers(0, MAX)
lengths = st.integers(1, 20 * 1024)
tags = st.integers(1, 10**6)


def writer_ops(name: str) -> st.SearchStrategy[list[Op]]:
    """What the one process that writes file ``name`` does to it."""
    op = st.one_of(
        st.builds(Op, st.just("write"), st.just(name), offsets, lengths, tags),
        st.builds(Op, st.just("write"), st.just(name), offsets, lengths, tags),
        st.builds(Op, st.just("fsync"), st.just(name)),
        st.builds(Op, st.just("read"), st.just(name), offsets, lengths),
        st.builds(Op, st.just("truncate"), st.just(name), st.just(0), offsets),
        st.builds(
            Op, st.just("store"), st.just(name), offsets.map(lambda o: o - o % 8), st.just(8), tags
        ),
        st.builds(Op, st.just("load"), st.just(name), offsets.map(lambda o: o - o % 8), st.just(8)),
        st.builds(Op, st.just("munmap"), st.just(name)),
    )
    return st.lists(op, max_size=8)


files = st.sampled_from(FILES)
system_ops = st.lists(
    st.one_of(
        st.builds(Op, st.just("fsync"), files),
        st.builds(Op, st.just("sync")),
        st.builds(Op, st.just("invalidate"), files),
        st.builds(Op, st.just("free"), files, offsets, lengths),
        st.builds(Op, st.just("read"), files, offsets, lengths),
        st.builds(Op, st.just("sleep"), length=st.integers(0, 3_000_000)),
        st.builds(Op, st.just("pressure"), length=st.integers(0, 40)),
    ),
    max_size=6,
)
#: (file, offset, kind, times): 0 times is a permanent fault.
faults = st.lists(
    st.tuples(files, offsets, st.sampled_from(["write", "write", "read"]), st.integers(0, 2)),
    max_size=2,
)


def _fsync(m: Machine, name: str) -> int:
    err = m.fsync(name)
    if err == 0:
        m.check_data(name, disk=True)  # fsync said 0: every byte is on disk
    return err


def _writer(ops: list[Op]) -> Any:
    def body(m: Machine) -> list[int]:
        out = []
        for op in ops:
            out.append(_fsync(m, op.file) if op.kind == "fsync" else m.apply(op))
        return out

    return body


def _system(ops: list[Op]) -> Any:
    def body(m: Machine) -> list[int]:
        # fsync here races the writer: nothing to check but its errno.
        return [m.apply(op) for op in ops]

    return body


def _closer(m: Machine) -> None:
    """After the others: the faults go, and nothing written is lost."""
    others = [t for t in m.sched.threads if t.name in ("wa", "wb", "system")]
    m.sched.wait("the other processes", lambda: all(t.done for t in others))
    m.check_data()  # resident pages over the disk: every byte written
    m.disk.clear_faults()
    m.set_pressure(0)
    for name in FILES:
        assert _fsync(m, name) == 0
        assert m.fs.dirty_pages(m.fs.inode(name)) == 0
        assert m.invalidate(name) == 0
        assert m.kernel.page_hash[m.fs.inode(name).vp] == {}
    m.check_data()  # now all of it from the disk


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    return {
        "config": {
            "maxcontig": draw(st.sampled_from([1, 4, 16])),
            "write_behind": draw(st.booleans()),
            "vmodsort": draw(st.booleans()),
        },
        "writers": {name: draw(writer_ops(name)) for name in FILES},
        "system": draw(system_ops),
        "faults": draw(faults),
    }


def run_scenario(case: dict[str, Any], schedule: Schedule) -> Any:
    def setup(run: Any) -> Machine:
        run.sim.interrupts = "any"
        m = Machine(
            memory=72 * PS,
            # Thresholds for a machine this small (illumos's defaults assume
            # more memory): pageout scans whenever fewer than 68 pages are
            # free, every 20 us of virtual time; pinning up to 40 pages leaves
            # the files so little that allocators may wait for it.
            lotsfree=68,
            desfree=20,
            minfree=10,
            throttlefree=8,
            pageout_reserve=4,
            run=run,
            verify=True,
            poison=True,  # a page the kit forgot to fill reads as DEADBEEF
            keep_log=False,
            fsflush_interval_ns=1_000_000,
            pageout_interval_ns=20_000,
            handspread=0,  # the back hand right behind the front: pushes come soon
            **case["config"],
        )
        for name in FILES:
            m.create(name, 8192, tag=7)
        for name, off, kind, times in case["faults"]:
            ino = m.fs.inode(name)
            if off // m.fs.bsize in ino.bmap:
                m.fail_block(name, off, kind, times or None)
            else:  # a hole has no block: fail the n-th next request of the kind
                m.disk.fail(kind, nth=1 + off % 4, times=times or None)
        for name in FILES:
            m.process(f"w{name}", _writer(case["writers"][name]))
        m.process("system", _system(case["system"]))
        m.process("closer", _closer)
        return m

    def check(run: Any) -> None:
        m: Machine = run.data
        m.check()
        for name, errors in (("a", run.results["wa"]), ("b", run.results["wb"])):
            assert all(e in (0, EIO, EFAULT) for e in errors), (name, errors)

    return replay(setup, check, schedule, strict=False, max_steps=200_000)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(case=scenarios(), schedule=schedules(max_switches=8, max_gap=40, max_option=4))
def test_integrity_holds_whatever_the_interleaving(case: dict[str, Any], schedule: Schedule):
    """Writers, fsync, pageout, fsflush, truncate and write errors under any
    drawn interleaving: reads see the last write, a successful fsync puts
    everything on disk, nothing written is lost, the validators hold."""
    run_scenario(case, schedule)
