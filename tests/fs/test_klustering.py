"""Klustering matters: disk requests per page with and without the pvn tunables."""

from __future__ import annotations

import pytest

from pvnsim.fs import Simulation, build_workload, pattern

FILE = 64 * 4096  # a 64-page file


def _read_requests(**kw: object) -> Simulation:
    sim = Simulation(memory=4 << 20, verify=True, **kw)  # type: ignore[arg-type]
    sim.create("f", FILE, tag=1)
    for off in range(0, FILE, 64 * 1024):
        assert sim.read("f", off, 64 * 1024)[0] == 0
    sim.check()
    return sim


def _write_requests(**kw: object) -> Simulation:
    sim = Simulation(memory=4 << 20, verify=True, **kw)  # type: ignore[arg-type]
    sim.create("f")
    for off in range(0, FILE, 64 * 1024):
        assert sim.write("f", off, pattern(1, off, 64 * 1024)) == 0
    assert sim.fsync("f") == 0
    sim.check()
    return sim


@pytest.mark.parametrize(
    ("bsize", "expected"),
    [(8192, 32), (65536, 4)],
)
def test_sequential_read_reads_one_request_per_block(bsize, expected):
    """Default tunables: one disk read per block (2 or 16 pages), far fewer than 64."""
    sim = _read_requests(bsize=bsize)
    assert sim.disk.reads == expected
    assert sim.fs.stats.read_klusters == {bsize // 4096: expected}


@pytest.mark.parametrize("bsize", [8192, 65536])
def test_pvn_nofodklust_reads_one_request_per_page(bsize):
    """pvn_nofodklust makes pvn_read_kluster return single pages: 64 reads for 64 pages."""
    sim = _read_requests(bsize=bsize, pvn_nofodklust=1)
    assert sim.disk.reads == 64
    assert sim.fs.stats.read_klusters == {1: 64}


@pytest.mark.parametrize(
    ("write_behind", "bsize", "expected"),
    [(True, 8192, 32), (False, 8192, 32), (True, 65536, 4), (False, 65536, 4)],
)
def test_sequential_write_writes_one_request_per_block(write_behind, bsize, expected):
    """Write-behind or fsync, pvn_write_kluster gathers each block's dirty pages."""
    sim = _write_requests(bsize=bsize, write_behind=write_behind)
    assert sim.disk.writes == expected
    assert sim.disk.bytes_written == FILE


@pytest.mark.parametrize("write_behind", [True, False])
def test_pvn_write_noklust_writes_one_request_per_page(write_behind):
    """pvn_write_noklust: every page is its own write, 64 for 64 pages."""
    sim = _write_requests(write_behind=write_behind, pvn_write_noklust=1)
    assert sim.disk.writes == 64
    assert sim.fs.stats.write_klusters == {1: 64}


def test_klustering_saves_virtual_time():
    """Fewer, larger requests pay the per-request overhead fewer times."""
    fast = _read_requests()
    slow = _read_requests(pvn_nofodklust=1)
    # 32 requests instead of 64: 32 fewer overheads of 50 us, the same bytes.
    assert slow.disk.busy_ns - fast.disk.busy_ns == 32 * 50_000
    assert slow.disk.bytes_read == fast.disk.bytes_read == FILE


def test_the_seq_workload_klusters_both_ways():
    """The benchmark's shape (write, fsync, read) klusters reads and writes by block."""
    w = build_workload("seq", files=1, file_size=FILE, iosize=65536, ops=0, seed=0)
    sim = Simulation(memory=4 << 20, verify=True)
    m = sim.run(w.setup + w.ops, check=True)
    assert m.write_klusters == ((2, 32),)
    # Written pages stay cached (freed to the cache list): the read hits them.
    assert m.disk_reads == 0
    assert m.getpage_hits == 64
