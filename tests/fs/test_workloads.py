"""Workload generators, trace files and determinism, with validators after every step."""

from __future__ import annotations

import random

import pytest

from pvnsim import UsageError
from pvnsim.fs import (
    WORKLOADS,
    Machine,
    Op,
    build_workload,
    format_trace,
    load_trace,
    parse_trace,
    pattern,
    save_trace,
)


@pytest.mark.parametrize("kind", sorted(WORKLOADS))
def test_every_workload_passes_the_validators_after_every_step(kind):
    """Each workload runs under memory pressure with check_kernel, fs and disk checks each step."""
    w = build_workload(kind, files=2, file_size=96 * 1024, iosize=16 * 1024, ops=40, seed=3)
    sim = Machine(memory=128 * 4096, verify=True)
    sim.run(w.setup, check=True)
    m = sim.run(w.ops, check=True)
    assert m.ops == len(w.setup) + len(w.ops)
    assert sim.errors == 0
    assert m.disk_ios > 0


def test_same_seed_same_run_different_seed_different_run():
    """A simulation is a function of its inputs: equal seeds give equal disk logs."""

    def run(seed: int) -> tuple[object, list[tuple[str, int, int, int]]]:
        w = build_workload("mixed", files=3, file_size=64 * 1024, iosize=8192, ops=150, seed=seed)
        sim = Machine(memory=96 * 4096, verify=True, seed=seed)
        m = sim.run(w.setup + w.ops)
        return m, [(r.kind, r.daddr, r.nbytes, r.finish_ns) for r in sim.disk.log]

    assert run(5) == run(5)
    assert run(5)[1] != run(6)[1]


def test_generators_are_seeded_and_shaped():
    """Random generators draw from the given Random; sequential ones cover the file in order."""
    a = build_workload("randread", files=1, file_size=1 << 20, iosize=4096, ops=20, seed=1)
    b = build_workload("randread", files=1, file_size=1 << 20, iosize=4096, ops=20, seed=1)
    assert a == b
    assert all(op.off % 4096 == 0 and op.length == 4096 for op in a.ops)
    s = build_workload("seqwrite", files=1, file_size=10_000, iosize=4096, ops=0, seed=0)
    assert [(op.kind, op.off, op.length) for op in s.ops] == [
        ("write", 0, 4096),
        ("write", 4096, 4096),
        ("write", 8192, 1808),
        ("fsync", 0, 0),
    ]
    assert s.setup == (Op("create", "f0", 0, 0, 1000),)
    with pytest.raises(UsageError, match="unknown workload"):
        build_workload("nope", files=1, file_size=1, iosize=1, ops=0, seed=0)


def test_pattern_depends_on_tag_and_offset_and_is_seamless():
    """pattern() is a pure function of (tag, offset): pieces join up, pages differ."""
    whole = pattern(9, 0, 3 * 4096)
    assert pattern(9, 1000, 5000) == whole[1000:6000]
    assert pattern(9, 0, 4096) != pattern(9, 4096, 4096)
    assert pattern(9, 0, 4096) != pattern(10, 0, 4096)
    assert len(pattern(1, 3, 0)) == 0


TRACE = """\
# a small trace
create a 16K 4
write a 0x1000 100          # tag defaults to the line number (3)
read a 0 8K
load a 4096 8
store a 4104
fsync a
sleep 1.5ms
pressure 10
fail write a 0 permanent
truncate a 6000
free a 0 4K
sync
invalidate a
munmap a
"""


def test_trace_parses_with_defaults_and_round_trips():
    """Sizes take suffixes, tags default to the line number, format/parse round-trips."""
    ops = parse_trace(TRACE)
    assert ops[0] == Op("create", "a", 0, 16384, 4)
    assert ops[1] == Op("write", "a", 4096, 100, 3)
    assert ops[3] == Op("load", "a", 4096, 8)
    assert ops[4] == Op("store", "a", 4104, 0, 6)
    assert ops[6] == Op("sleep", length=1_500_000)
    assert ops[8] == Op("fail", "a", 0, 0, 0, "write")
    assert parse_trace(format_trace(ops)) == ops


def test_trace_replay_checks_data(tmp_path):
    """A saved trace replays to the same result as the operations it was made from."""
    ops = build_workload("mixed", files=2, file_size=32 * 1024, iosize=4096, ops=60, seed=2)
    path = tmp_path / "w.trace"
    save_trace(path, ops.setup + ops.ops)
    replayed = load_trace(path)
    assert replayed == list(ops.setup + ops.ops)
    a = Machine(memory=64 * 4096, verify=True).run(replayed, check=True)
    b = Machine(memory=64 * 4096, verify=True).run(ops.setup + ops.ops)
    assert a == b


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("frobnicate a", "line 1: unknown operation 'frobnicate'"),
        ("\nwrite a 0", "line 2: write takes write F O L"),
        ("read a 12Q 4", "line 1: '12Q' is not a size"),
        ("sleep soon", "line 1: 'soon' is not a duration"),
        ("fail erase a 0", "line 1: fail: kind must be read, write or any"),
        ("truncate a -5", "line 1: '-5': sizes must not be negative"),
    ],
)
def test_bad_trace_lines_are_named(text, message):
    """Parse errors say which line is wrong and why."""
    with pytest.raises(UsageError, match=message):
        parse_trace(text)


def test_missing_trace_file_is_a_usage_error(tmp_path):
    """A trace that cannot be read is reported, not a traceback."""
    with pytest.raises(UsageError, match="cannot read trace file"):
        load_trace(tmp_path / "absent.trace")


def test_ops_are_validated():
    """Unknown kinds and negative fields are refused when the Op is built."""
    with pytest.raises(UsageError, match="unknown operation"):
        Op("jump")
    with pytest.raises(UsageError, match="off must be a non-negative int"):
        Op("read", "a", -1, 5)


def test_long_mixed_run_under_pressure_keeps_data(tmp_path):
    """A thousand random operations with pressure changes and faults keep every byte."""
    rng = random.Random(11)
    sim = Machine(memory=96 * 4096, verify=True)
    for name in ("x", "y"):
        sim.create(name, 40_000, tag=1)
    for i in range(1000):
        name = rng.choice(("x", "y"))
        off = rng.randrange(60_000)
        roll = rng.random()
        if roll < 0.4:
            sim.write(name, off, pattern(i + 2, off, rng.randrange(1, 9000)))
        elif roll < 0.8:
            sim.read(name, off, rng.randrange(1, 9000))
        elif roll < 0.85:
            sim.set_pressure(rng.randrange(40))
        elif roll < 0.9 and off // 8192 in sim.fs.inode(name).bmap:
            sim.fail_block(name, off, "write", times=rng.choice([1, 2, None]))
        elif roll < 0.95:
            sim.fsync(name)
        else:
            sim.sleep(300_000_000)
    sim.check()
    sim.disk.clear_faults()
    for name in ("x", "y"):
        assert sim.fsync(name) == 0 and sim.invalidate(name) == 0
        assert sim.read(name, 0, 1 << 20)[0] == 0
