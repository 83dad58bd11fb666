"""The fs kit's opt-in sampler: a run over virtual time."""

from __future__ import annotations

from collections import Counter

import pytest

from pvnsim.errors import UsageError
from pvnsim.fs import Machine, Op, SimConfig, build_workload
from pvnsim.fs.timeline import Timeline

MiB = 1 << 20


def _mixed() -> tuple[Machine, list[Op]]:
    sim = Machine(SimConfig(memory=2 * MiB, keep_log=False, seed=3))
    w = build_workload("mixed", files=2, file_size=2 * MiB, iosize=16384, ops=400, seed=3)
    sim.run(w.setup)
    return sim, list(w.ops)


def test_sampling_does_not_change_the_run():
    """The same workload gives the same metrics with and without a timeline."""
    plain, ops = _mixed()
    sampled, _ = _mixed()
    Timeline.attach(sampled)
    assert sampled.run(ops) == plain.run(ops)


def test_a_sample_per_operation_adds_up_to_the_metrics():
    """One sample at attach and one per operation; the kluster samples sum to the histograms."""
    sim, ops = _mixed()
    tl = Timeline.attach(sim)
    m = sim.run(ops)
    assert len(tl.t_ns) == len(tl.freemem) == len(tl.pages_read) == len(ops) + 1
    assert tl.t_ns == sorted(tl.t_ns)
    assert tl.t_ns[-1] == m.virtual_ns
    assert tl.freemem[-1] == m.freemem
    assert tl.pages_read[-1] == m.bytes_read // 4096
    assert tl.pages_written[-1] == m.bytes_written // 4096
    assert tl.pages_read == sorted(tl.pages_read)  # cumulative
    for samples, hist in (
        (tl.read_klusters, m.read_klusters),
        (tl.write_klusters, m.write_klusters),
    ):
        total: Counter[int] = Counter()
        for s in samples:
            total[s.pages] += s.count
        assert sorted(total.items()) == list(hist)
    assert len(tl.fsyncs) == sum(1 for op in ops if op.kind == "fsync")
    assert tl.freemem_min == min(tl.freemem) <= m.freemem
    k = sim.kernel
    assert (tl.minfree, tl.desfree, tl.lotsfree, tl.total_pages) == (
        k.minfree,
        k.desfree,
        k.lotsfree,
        k.total_pages,
    )


def test_an_fsync_of_a_clean_file_costs_one_system_call():
    """Nothing to write: the fsync's latency is exactly syscall_ns."""
    sim = Machine(SimConfig(memory=4 * MiB, syscall_ns=3000))
    sim.create("f", 8192)
    tl = Timeline.attach(sim)
    sim.run([Op("read", "f", 0, 8192), Op("fsync", "f")])
    assert [(f.file, f.latency_ns) for f in tl.fsyncs] == [("f", 3000)]
    assert tl.fsyncs[0].t_ns == tl.t_ns[1]  # it started when the read ended


def test_an_fsync_of_a_dirty_block_waits_for_the_disk():
    """A dirty 8 KiB block: at least one request's overhead and its transfer time."""
    sim = Machine(
        SimConfig(memory=4 * MiB, write_behind=False, overhead_ns=50_000, ns_per_byte=10.0)
    )
    sim.create("f")
    tl = Timeline.attach(sim)
    sim.run([Op("write", "f", 0, 8192, 1), Op("fsync", "f")])
    (f,) = tl.fsyncs
    assert f.latency_ns >= 2_000 + 50_000 + 8192 * 10
    assert f.t_ns + f.latency_ns == tl.t_ns[-1]
    assert [(s.pages, s.count) for s in tl.write_klusters] == [(2, 1)]


def test_every_n_operations_and_detach():
    """every=10 samples a tenth as often; fsyncs and the lowest freemem are all kept."""
    sim, ops = _mixed()
    tl = Timeline.attach(sim, every=10)
    sim.run(ops)
    dense, _ = _mixed()
    every_op = Timeline.attach(dense)
    dense.run(ops)
    assert len(tl.t_ns) == 1 + len(ops) // 10
    assert len(tl.fsyncs) == sum(1 for op in ops if op.kind == "fsync")
    assert tl.freemem_min == every_op.freemem_min == min(every_op.freemem)
    tl.detach()
    assert sim.sampler is None
    assert tl.t_ns[-1] == sim.clock.now
    before = len(tl.t_ns)
    sim.run(ops[:5])
    assert len(tl.t_ns) == before


@pytest.mark.parametrize("every", [0, -1, 1.5, True])
def test_every_must_be_a_positive_int(every):
    """A bad sampling period is refused before the simulation is touched."""
    sim, _ = _mixed()
    with pytest.raises(UsageError, match="every must be a positive int"):
        Timeline.attach(sim, every=every)
    assert sim.sampler is None


def test_a_timeline_that_is_not_attached_cannot_sample():
    """Timeline() alone has no simulation to read."""
    with pytest.raises(UsageError, match="not attached"):
        Timeline().sample()
