"""Klustering matters: disk requests per page with and without the pvn tunables."""

from __future__ import annotations

import inspect

import pytest

from pvnsim.fs import Machine, build_workload, pattern

FILE = 64 * 4096  # a 64-page file


def _read_requests(**kw: object) -> Machine:
    sim = Machine(memory=4 << 20, verify=True, **kw)  # type: ignore[arg-type]
    sim.create("f", FILE, tag=1)
    for off in range(0, FILE, 64 * 1024):
        assert sim.read("f", off, 64 * 1024)[0] == 0
    sim.check()
    return sim


def _write_requests(**kw: object) -> Machine:
    sim = Machine(memory=4 << 20, verify=True, **kw)  # type: ignore[arg-type]
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
    """One-block windows (maxcontig=1): one disk read per block (2 or 16 pages),
    far fewer than 64."""
    sim = _read_requests(bsize=bsize, maxcontig=1)
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
    """Write-behind or fsync with one-block windows (maxcontig=1):
    pvn_write_kluster gathers each block's dirty pages."""
    sim = _write_requests(bsize=bsize, write_behind=write_behind, maxcontig=1)
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
    fast = _read_requests(maxcontig=1)
    slow = _read_requests(maxcontig=1, pvn_nofodklust=1)
    # 32 requests instead of 64: 32 fewer overheads of 50 us, the same bytes.
    assert slow.disk.busy_ns - fast.disk.busy_ns == 32 * 50_000
    assert slow.disk.bytes_read == fast.disk.bytes_read == FILE


@pytest.mark.parametrize(("maxcontig", "klusters"), [(1, ((2, 32),)), (16, ((32, 2),))])
def test_the_seq_workload_klusters_both_ways(maxcontig, klusters):
    """The benchmark's shape (write, fsync, read) klusters writes by block with
    maxcontig=1, and by 128 KiB cluster with ufs's 16: write-behind pushes each
    cluster the writes complete (two of 32 pages), leaving fsync nothing."""
    w = build_workload("seq", files=1, file_size=FILE, iosize=65536, ops=0, seed=0)
    sim = Machine(memory=4 << 20, verify=True, maxcontig=maxcontig)
    m = sim.run(w.setup + w.ops, check=True)
    assert m.write_klusters == klusters
    # Written pages stay cached (freed to the cache list): the read hits them.
    assert m.disk_reads == 0
    assert m.getpage_hits == 64


def test_maxcontig_defaults_to_ufs_16_blocks():
    """The default is newfs's fs_maxcontig for a 128 KiB transfer: 16 blocks of
    8 KiB, so a 64-page file written in order goes out in two 128 KiB writes."""
    from pvnsim.fs import RefFs, SimConfig

    assert SimConfig().maxcontig == 16
    sim = _write_requests(write_behind=False)
    assert sim.fs.maxcontig == 16 and sim.fs.clustsz == 128 * 1024
    assert sim.fs.stats.write_klusters == {2: 32}
    # fsync of a VMODSORT file meets each block's last page first (the walk
    # goes back from the tail), so its window is [that block, contig): one
    # block at a time; without VMODSORT the walk goes forward from page 0.
    plain = _write_requests(write_behind=False, vmodsort=False)
    assert plain.fs.stats.write_klusters == {32: 2}
    assert inspect.signature(RefFs).parameters["maxcontig"].default == 16


# -- maxcontig: ufs's clusters of disk-contiguous blocks (semantics.md 6.1) -----------


def test_sequential_read_klusters_over_contiguous_blocks_with_maxcontig():
    """A miss at offset 0 reads one block (ufs limits it to the block size
    there); every later sequential miss reads the disk-contiguous run from its
    block on, at most maxcontig (8) blocks: 2 + 16 + 16 + 16 + 14 pages."""
    sim = _read_requests(maxcontig=8, readahead=0)
    assert sim.disk.reads == 5
    assert sim.fs.stats.read_klusters == {2: 1, 16: 3, 14: 1}
    assert sim.disk.bytes_read == FILE


def test_maxcontig_1_is_one_block_per_kluster():
    """maxcontig=1 (the default) keeps every window at one block."""
    assert _read_requests(maxcontig=1, readahead=0).disk.reads == 32
    assert _write_requests(maxcontig=1).disk.writes == 32


def test_read_ahead_reads_whole_clusters():
    """With read-ahead each kluster read ahead is a cluster too: the file still
    comes in 5 requests, and every byte read is the byte written."""
    sim = _read_requests(maxcontig=8)
    assert sim.disk.reads == 5
    assert sim.fs.stats.readahead_issued >= 1


@pytest.mark.parametrize(
    ("write_behind", "vmodsort", "maxcontig", "expected"),
    [
        (True, True, 8, 4),
        (True, True, 32, 1),
        (False, False, 8, 4),
        (False, False, 32, 1),
        # fsync alone on a VMODSORT file: pvn_vplist_dirty walks back from the
        # tail (vm_pvn.c L824), so it meets each block's last page first, and
        # the window only reaches forward from that page's block.
        (False, True, 8, 32),
    ],
)
def test_sequential_write_klusters_over_contiguous_blocks(
    write_behind, vmodsort, maxcontig, expected
):
    """putapage's window is the contiguous run from the page's block, at most
    maxcontig blocks; write-behind pushes whole clusters (bsize * maxcontig)."""
    sim = _write_requests(write_behind=write_behind, vmodsort=vmodsort, maxcontig=maxcontig)
    assert sim.disk.writes == expected
    assert sim.fs.stats.write_klusters == {64 // expected: expected}
    assert sim.disk.bytes_written == FILE


def test_clusters_stop_where_the_blocks_stop_being_contiguous():
    """Two files written a block at a time in turn have interleaved blocks on
    disk: contig is one block, so even with maxcontig=8 each write is a block."""
    sim = Machine(memory=4 << 20, verify=True, maxcontig=8, write_behind=False)
    sim.create("f")
    sim.create("g")
    for off in range(0, FILE, 8192):
        assert sim.write("f", off, pattern(1, off, 8192)) == 0
        assert sim.write("g", off, pattern(2, off, 8192)) == 0
    ino = sim.fs.inode("f")
    assert sim.fs.contig(ino, 0) == 8192
    assert sim.fsync("f") == 0
    assert sim.disk.writes == 32
    assert sim.fs.stats.write_klusters == {2: 32}
    # g's blocks follow f's: a fresh file written at once is contiguous.
    sim.create("h")
    assert sim.write("h", 0, pattern(3, 0, FILE)) == 0
    assert sim.fs.contig(sim.fs.inode("h"), 0) == 8 * 8192
    assert sim.fs.contig(sim.fs.inode("h"), 30) == 2 * 8192  # the file ends
    assert sim.fs.contig(sim.fs.inode("h"), 40) == 0  # a hole
    sim.check()


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_maxcontig_must_be_a_positive_int(bad):
    from pvnsim.errors import UsageError

    with pytest.raises(UsageError, match="maxcontig"):
        Machine(memory=4 << 20, maxcontig=bad)
