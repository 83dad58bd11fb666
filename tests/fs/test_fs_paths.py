"""The reference file system's getpage/putpage paths, driven through the syscalls."""

from __future__ import annotations

import pytest

from pvnsim import UsageError, check_kernel, pvn_getpages
from pvnsim.flags import EFAULT, EIO, P_FREE, P_MOD, PAGE_IO_INUSE, S_READ, VMODSORT
from pvnsim.fs import Machine, RefFs, make_putapage, pattern, rdwr
from pvnsim.vm import page_unlock

KIB = 1024


def quiet(**kw: object) -> Machine:
    """A 1 MiB (256-page) simulation without background daemons, verifying reads."""
    opts: dict[str, object] = dict(memory=256 * 4096, verify=True, fsflush_interval_ns=0)
    opts.update(kw)
    return Machine(**opts)  # type: ignore[arg-type]


def test_regular_files_get_vmodsort_as_ufs_sets_it():
    """RefFs sets VMODSORT on regular files unless told not to."""
    sim = quiet()
    assert sim.create("f").vp.v_flag & VMODSORT
    sim2 = quiet(vmodsort=False)
    assert not sim2.create("f").vp.v_flag & VMODSORT


def test_a_miss_reads_the_block_kluster_with_one_disk_read_and_exact_time():
    """Reading one page of a cold 8 KiB block reads both pages in one request."""
    sim = quiet(
        seek_ns=1000,
        overhead_ns=100,
        ns_per_byte=1.0,
        syscall_ns=10,
        copy_ns_per_byte=0,
        readahead=0,
    )
    sim.create("f", 8 * KIB, tag=5)
    err, data = sim.read("f", 4096, 100)
    assert err == 0 and data == pattern(5, 4096, 100)
    (req,) = sim.disk.log
    # pvn_read_kluster around page 4096 in the window [0, 8192): pages 0 and 4096.
    assert (req.kind, req.daddr, req.nbytes) == ("read", 0, 8192)
    # The syscall costs 10 ns; the read starts then, no seek: 100 + 8192.
    assert sim.clock.now == 10 + 100 + 8192
    assert sim.fs.stats.read_klusters == {2: 1}
    pages = sim.kernel.page_hash[sim.fs.inode("f").vp]
    assert sorted(pages) == [0, 4096]
    sim.check()


def test_cached_pages_are_hits_without_io():
    """A second read of the same range finds every page in memory."""
    sim = quiet(readahead=0, freebehind=False)
    sim.create("f", 16 * KIB, tag=1)
    sim.read("f", 0, 16 * KIB)
    reads = sim.disk.reads
    hits = sim.fs.stats.getpage_hits
    err, _ = sim.read("f", 0, 16 * KIB)
    assert err == 0
    assert sim.disk.reads == reads
    assert sim.fs.stats.getpage_hits == hits + 4


def test_last_kluster_is_clipped_at_end_of_file_and_zero_filled():
    """A 5000-byte file reads 5120 bytes (DEV_BSIZE-rounded) and zeroes the rest."""
    sim = quiet(readahead=0)
    sim.create("f", 5000, tag=3)
    err, data = sim.read("f", 0, 10_000)
    assert err == 0 and data == pattern(3, 0, 5000)
    assert [r.nbytes for r in sim.disk.log] == [5120]
    pp = sim.kernel.page_hash[sim.fs.inode("f").vp][4096]
    assert pp.p_data is not None and not any(pp.p_data[5000 - 4096 :])


def test_holes_read_as_zeros_without_io():
    """Pages of unallocated blocks are zero-filled by page_create_va, not read."""
    sim = quiet()
    sim.create("f")
    assert sim.truncate("f", 64 * KIB) == 0
    err, data = sim.read("f", 0, 64 * KIB)
    assert err == 0 and data == bytes(64 * KIB)
    assert sim.disk.reads == 0
    assert sim.fs.stats.zero_fills == 16


def test_write_behind_writes_each_full_block_asynchronously():
    """With one-block windows (maxcontig=1), completing a block starts one async
    write of its pages; fsync then waits."""
    sim = quiet(maxcontig=1)
    sim.create("f")
    assert sim.write("f", 0, pattern(1, 0, 3 * 8 * KIB)) == 0
    writes = [r for r in sim.disk.log if r.kind == "write"]
    assert [(r.daddr, r.nbytes, r.is_async) for r in writes] == [
        (0, 8192, True),
        (8192, 8192, True),
        (16384, 8192, True),
    ]
    assert sim.fsync("f") == 0
    assert all(r.done for r in sim.disk.log)
    assert sim.fs.dirty_pages(sim.fs.inode("f")) == 0
    sim.check()


def test_write_behind_pushes_whole_clusters_by_default():
    """With the default maxcontig (16 blocks of 8 KiB), write-behind waits for a
    whole 128 KiB cluster, then pushes it with one async write of 32 pages."""
    sim = quiet()
    sim.create("f")
    assert sim.write("f", 0, pattern(1, 0, 3 * 8 * KIB)) == 0
    assert sim.disk.writes == 0  # 24 KiB: no cluster complete yet
    assert sim.write("f", 3 * 8 * KIB, pattern(1, 3 * 8 * KIB, 232 * KIB)) == 0
    writes = [(r.daddr, r.nbytes, r.is_async) for r in sim.disk.log if r.kind == "write"]
    assert writes == [(0, 128 * KIB, True), (128 * KIB, 128 * KIB, True)]
    assert sim.fsync("f") == 0
    sim.check()


def test_fsync_writes_dirty_blocks_synchronously_tail_first():
    """Without write-behind, fsync's VMODSORT walk writes from the tail: last block first."""
    sim = quiet(write_behind=False)
    sim.create("f")
    sim.write("f", 0, pattern(1, 0, 4 * 4096))
    assert sim.disk.writes == 0
    assert sim.fsync("f") == 0
    # Dirtied in order 0..3, so the tail holds 12288; its kluster is [8192, 12288].
    assert [(r.daddr, r.nbytes, r.is_async) for r in sim.disk.log] == [
        (8192, 8192, False),
        (0, 8192, False),
    ]
    sim.invalidate("f")
    assert sim.read("f", 0, 4 * 4096) == (0, pattern(1, 0, 4 * 4096))


def test_write_error_keeps_the_page_dirty_and_a_later_fsync_writes_it():
    """B_ERROR from a failed write re-marks the pages modified; nothing is lost."""
    sim = quiet(write_behind=False)
    sim.create("f")
    sim.write("f", 0, pattern(2, 0, 8192))
    # The walk visits 4096 (tail) and writes [0, 4096]: EIO, both re-dirtied in
    # place; it then visits 0 and writes the same kluster again: EIO again.
    fault = sim.fail_block("f", 0, "write", times=2)
    assert sim.fsync("f") == EIO
    ino = sim.fs.inode("f")
    assert fault.fired == 2
    assert sim.fs.dirty_pages(ino) == 2
    sim.check()
    assert sim.fsync("f") == 0
    assert sim.fs.dirty_pages(ino) == 0
    assert [(r.daddr, r.nbytes, r.error) for r in sim.disk.log] == [
        (0, 8192, EIO),
        (0, 8192, EIO),
        (0, 8192, 0),
    ]
    assert sim.invalidate("f") == 0
    assert sim.kernel.page_hash[ino.vp] == {}
    assert sim.read("f", 0, 8192) == (0, pattern(2, 0, 8192))


def test_invalidate_with_a_failing_write_keeps_the_dirty_page():
    """B_INVAL without B_FORCE: a page whose write fails survives, still dirty."""
    sim = quiet(write_behind=False)
    sim.create("f")
    sim.write("f", 0, b"z" * 100)
    sim.fail_block("f", 0, "write", times=None)
    assert sim.invalidate("f") == EIO
    pp = sim.kernel.page_hash[sim.fs.inode("f").vp][0]
    assert pp.p_nrm & P_MOD
    sim.disk.clear_faults()
    assert sim.invalidate("f") == 0
    assert sim.read("f", 0, 100) == (0, b"z" * 100)


def test_read_error_destroys_the_kluster_and_returns_eio():
    """pvn_read_done(B_ERROR) destroys the pages; the next read retries the disk."""
    sim = quiet(readahead=0)
    sim.create("f", 8192, tag=4)
    sim.fail_block("f", 0, "read", times=1)
    err, data = sim.read("f", 0, 8192)
    assert (err, data) == (EIO, b"")
    assert sim.kernel.page_hash[sim.fs.inode("f").vp] == {}
    assert sim.fs.stats.pages_destroyed == 2
    sim.check()
    assert sim.read("f", 0, 8192) == (0, pattern(4, 0, 8192))


def test_truncate_destroys_pages_past_the_end_and_zeroes_the_last_page():
    """B_INVAL|B_TRUNC discards dirty pages without I/O; pvn_vpzero clears the tail."""
    sim = quiet(write_behind=False)
    sim.create("f")
    sim.write("f", 0, pattern(6, 0, 3 * 4096))
    assert sim.truncate("f", 5000) == 0
    ino = sim.fs.inode("f")
    assert sorted(sim.kernel.page_hash[ino.vp]) == [0, 4096]
    # pvn_vpzero faulted page 4096, zeroed 5000..8191 and pushed its window async.
    assert sim.truncate("f", 3 * 4096) == 0
    err, data = sim.read("f", 0, 3 * 4096)
    assert err == 0 and data == pattern(6, 0, 5000) + bytes(3 * 4096 - 5000)
    assert sim.fsync("f") == 0 and sim.invalidate("f") == 0
    assert sim.read("f", 0, 3 * 4096) == (0, data)
    sim.check()


def test_free_behind_puts_clean_pages_at_the_head_of_the_cache_list():
    """B_FREE|B_DONTNEED frees clean pages to the head, the last one freed first in line."""
    sim = quiet(readahead=0, freebehind=False)
    sim.create("f", 8192, tag=1)
    sim.read("f", 0, 8192)
    vp = sim.fs.inode("f").vp
    p0, p1 = sim.kernel.page_hash[vp][0], sim.kernel.page_hash[vp][4096]
    assert sim.free("f", 0, 8192) == 0
    assert sim.kernel.page_cachelist is p1
    assert p1.p_next is p0


def test_sequential_read_frees_behind_large_files():
    """Reading a file larger than smallfile frees each finished block (ufs_rdip;
    one-block windows, maxcontig=1)."""
    sim = quiet(readahead=0, maxcontig=1)
    sim.create("f", 64 * KIB, tag=1)
    sim.read("f", 0, 64 * KIB)
    k = sim.kernel
    vp = sim.fs.inode("f").vp
    assert sim.fs.stats.free_behind == 8
    assert all(pp.p_state & P_FREE for pp in k.page_hash[vp].values())
    sim2 = quiet(readahead=0, smallfile=1 << 20)
    sim2.create("f", 64 * KIB, tag=1)
    sim2.read("f", 0, 64 * KIB)
    assert sim2.fs.stats.free_behind == 0


def test_read_ahead_reads_the_next_block_asynchronously():
    """A sequential read issues an isra kluster for the following block
    (one-block windows, maxcontig=1)."""
    sim = quiet(maxcontig=1)
    sim.create("f", 32 * KIB, tag=1)
    sim.read("f", 0, 8192)
    assert sim.fs.stats.readahead_issued == 1
    ra = sim.disk.log[-1]
    assert (ra.kind, ra.daddr, ra.nbytes, ra.is_async) == ("read", 8192, 8192, True)
    # While in flight its pages are locked and i/o-locked; reading them waits.
    vp = sim.fs.inode("f").vp
    assert sim.kernel.page_hash[vp][8192].p_iolock_state & PAGE_IO_INUSE
    assert sim.read("f", 8192, 8192) == (0, pattern(1, 8192, 8192))
    assert sim.disk.reads == 3  # block 0, read-ahead of 1, read-ahead of 2


def test_read_ahead_gives_up_below_minfree_and_klusters_shrink():
    """With freemem at or below minfree, isra klusters give up and demand klusters shrink."""
    sim = quiet(
        freebehind=False, lotsfree=100, desfree=80, minfree=64, throttlefree=8, pageout_reserve=4
    )
    sim.create("f", 1 << 20, tag=9)
    for off in range(0, 1 << 20, 8192):
        err, data = sim.read("f", off, 8192)
        assert err == 0 and data == pattern(9, off, 8192)
    m = sim.metrics()
    assert m.readahead_giveups > 0
    assert dict(m.read_klusters).get(1, 0) > 0
    assert m.pageout_reclaims > 0
    sim.check()


def test_pageout_pushes_dirty_pages_when_memory_runs_out():
    """Writing more than memory without write-behind makes pageout push B_ASYNC|B_FREE."""
    sim = quiet(write_behind=False)
    sim.create("f")
    data = pattern(7, 0, 2 << 20)  # 512 pages into 256 pages of memory
    assert sim.write("f", 0, data) == 0
    m = sim.metrics()
    assert m.pageout_pushed > 0 and m.pageout_reclaims > 0
    assert sim.fsync("f") == 0
    assert sim.invalidate("f") == 0
    assert sim.read("f", 0, 2 << 20) == (0, data)
    check_kernel(sim.kernel)


def test_fsflush_writes_dirty_pages_on_its_period():
    """Without fsync, fsflush's pure B_ASYNC walk writes dirty pages after its interval."""
    sim = quiet(write_behind=False, fsflush_interval_ns=1_000_000_000)
    sim.create("f")
    sim.write("f", 0, b"q" * 4096)
    sim.sleep(500_000_000)
    assert sim.disk.writes == 0 and sim.fsflush.runs == 0
    sim.sleep(600_000_000)
    assert sim.fsflush.runs == 1
    assert [(r.kind, r.is_async) for r in sim.disk.log] == [("write", True)]


def test_write_free_frees_written_mapped_pages_below_lotsfree_plus_pages_before_pager():
    """pvn_write_done frees mapped pages after a write only under the write_free threshold."""

    def run(**kw: object) -> tuple[int, int]:
        sim = Machine(memory=16 << 20, fsflush_interval_ns=0, **kw)  # type: ignore[arg-type]
        sim.create("f", 4 * 4096, tag=1)
        for i in range(4):
            assert sim.store("f", i * 4096, b"m" * 8) == 0
        assert sim.fsync("f") == 0
        mapped = sum(
            1 for pp in sim.kernel.page_hash[sim.fs.inode("f").vp].values() if pp.p_mapping
        )
        return sim.kernel.vm.dfree, mapped

    # 4096 pages: lotsfree = 128, so freemem ~ 4000 >= 128 + 200: pages stay mapped.
    assert run() == (0, 4)
    # Raising pages_before_pager above freemem turns every write into a free.
    assert run(pages_before_pager=5000) == (4, 0)
    assert run(pages_before_pager=5000, write_free=0) == (0, 4)


def test_mmap_store_dirties_through_the_hat_and_load_reads_it_back():
    """A store takes a protection fault on a clean VMODSORT page and moves it to the tail."""
    sim = quiet()
    sim.create("f", 3 * 4096, tag=2)
    assert sim.load("f", 0, 8) == (0, pattern(2, 0, 8))
    assert sim.load("f", 8192, 8) == (0, pattern(2, 8192, 8))
    vp = sim.fs.inode("f").vp
    assert sim.store("f", 16, b"ABCDEFGH") == 0
    assert vp.v_pages is not None and vp.v_pages.p_vpprev.p_offset == 0
    assert vp.v_pages.p_vpprev.p_nrm & P_MOD
    assert sim.load("f", 16, 8) == (0, b"ABCDEFGH")
    with pytest.raises(UsageError, match="inside one page"):
        sim.store("f", 3 * 4096 - 4, b"12345")
    assert sim.store("f", 3 * 4096, b"x") == EFAULT
    assert sim.munmap("f") == 2  # pages 0 and 8192
    assert sim.fsync("f") == 0 and sim.invalidate("f") == 0
    assert sim.read("f", 16, 8) == (0, b"ABCDEFGH")
    sim.check()


def test_putapage_and_getpage_can_be_replaced_by_plain_functions():
    """Assigning fs.putapage / fs.getpage routes every path through the user's function."""
    sim = quiet(write_behind=False)
    fs = sim.fs
    calls = {"put": 0, "get": 0}
    inner_put = make_putapage(fs.bsize, write=fs.kluster_write)

    def my_putapage(vp, pp, offp, lenp, flags, cred):  # type: ignore[no-untyped-def]
        calls["put"] += 1
        return inner_put(vp, pp, offp, lenp, flags, cred)

    def my_getpage(*args):  # type: ignore[no-untyped-def]
        calls["get"] += 1
        return fs.ufs_getpage(*args)

    fs.putapage = my_putapage
    fs.getpage = my_getpage
    sim.create("f")
    sim.write("f", 0, pattern(3, 0, 16 * KIB))
    assert sim.fsync("f") == 0
    assert calls["put"] == 2  # two 8 KiB klusters
    assert sim.invalidate("f") == 0
    assert sim.read("f", 0, 16 * KIB) == (0, pattern(3, 0, 16 * KIB))
    assert calls["get"] == 2  # one getpage per block window of the read


def test_bad_configuration_and_arguments_are_refused():
    """Block sizes, memory sizes, names and offsets are checked before anything runs."""
    with pytest.raises(UsageError, match="block size"):
        Machine(bsize=6000)
    with pytest.raises(UsageError, match="block size"):
        Machine(bsize=2048)
    with pytest.raises(UsageError, match="at least 64 pages"):
        Machine(memory=4096)
    with pytest.raises(UsageError, match="negative"):
        Machine(seek_ns=-5)
    sim = quiet()
    sim.create("f")
    with pytest.raises(UsageError, match="already exists"):
        sim.create("f")
    with pytest.raises(UsageError, match="white space"):
        sim.create("a b")
    with pytest.raises(UsageError, match="no file"):
        sim.read("g", 0, 1)
    with pytest.raises(UsageError, match="offset"):
        sim.write("f", -1, b"x")
    with pytest.raises(UsageError, match="pressure"):
        sim.set_pressure(10_000)
    with pytest.raises(UsageError, match="hole"):
        sim.fail_block("f", 0)
    with pytest.raises(UsageError, match="another time than the disk"):
        RefFs(sim.kernel, type(sim.disk)(type(sim.clock)()))


def test_memory_pressure_pins_and_releases_pages():
    """set_pressure takes pages away from the file system and gives them back."""
    sim = quiet()
    free0 = sim.kernel.freemem
    sim.set_pressure(100)
    assert sim.pressure == 100 and sim.kernel.freemem == free0 - 100
    sim.check()
    sim.set_pressure(0)
    assert sim.kernel.freemem == free0


def test_getpage_serves_pvn_getpages_one_page_per_call():
    """pvn_getpages hands ufs_getpage one slot per call; each call returns one page."""
    sim = quiet(readahead=0)
    sim.create("f", 16 * KIB, tag=8)
    vp = sim.fs.inode("f").vp
    pl: list[object] = [None] * 5
    seg = sim.kernel.segkmap
    err = pvn_getpages(sim.fs.getpage, vp, 0, 16 * KIB, None, pl, 16 * KIB, seg, 0, S_READ, None)
    assert err == 0
    assert [pp.p_offset for pp in pl[:4]] == [0, 4096, 8192, 12288]  # type: ignore[union-attr]
    assert pl[4] is None
    assert all(pp.p_selock == 1 for pp in pl[:4])  # type: ignore[union-attr]
    # Two klusters of two pages: the second page of each came from the kluster.
    assert sim.disk.reads == 2
    for pp in pl[:4]:
        page_unlock(pp)  # type: ignore[arg-type]
    sim.check()


def test_a_store_into_a_hole_allocates_without_reading():
    """A write fault on a hole zero-fills the page and allocates the block afterwards."""
    sim = quiet(write_behind=False)
    sim.create("f")
    sim.truncate("f", 16 * KIB)
    ino = sim.fs.inode("f")
    assert ino.bmap == {}
    assert sim.store("f", 8192 + 8, b"hole") == 0
    assert sim.disk.reads == 0
    assert list(ino.bmap) == [1]
    assert sim.fsync("f") == 0 and sim.invalidate("f") == 0
    assert sim.read("f", 8192, 16) == (0, bytes(8) + b"hole" + bytes(4))


def test_reads_reusing_the_read_buffer_never_show_stale_bytes():
    """Holes, short reads at end of file and partial pages read as they should
    after a larger read of other data filled the file system's read buffer."""
    sim = Machine(memory=256 * 4096, verify=True)
    sim.create("f")
    sim.create("g")
    assert sim.write("f", 0, pattern(3, 0, 64 * 1024)) == 0
    assert sim.write("g", 40 * 1024, pattern(4, 40 * 1024, 1000)) == 0
    assert sim.read("f", 0, 64 * 1024) == (0, bytes(pattern(3, 0, 64 * 1024)))
    # g: a hole up to 40 KiB, then 1000 bytes, then end of file.
    err, data = sim.read("g", 0, 64 * 1024)
    assert err == 0 and data == bytes(40 * 1024) + bytes(pattern(4, 40 * 1024, 1000))
    assert sim.read("g", 100, 5000) == (0, bytes(5000))
    assert sim.read("f", 4000, 300) == (0, bytes(pattern(3, 4000, 300)))
    assert sim.invalidate("g") == 0 and sim.truncate("g", 20000) == 0
    assert sim.read("g", 0, 64 * 1024) == (0, bytes(20000))
    sim.check()


def test_a_read_inside_a_replaced_getpage_gets_its_own_buffer():
    """A getpage that itself reads (nested fs_read) does not share the buffer."""
    sim = Machine(memory=256 * 4096, verify=True)
    sim.create("f")
    sim.create("g")
    assert sim.write("f", 0, pattern(5, 0, 16384)) == 0
    assert sim.write("g", 0, pattern(6, 0, 16384)) == 0
    # A first read leaves the file system's read buffer ready for reuse.
    assert sim.read("f", 0, 16384) == (0, bytes(pattern(5, 0, 16384)))
    fs = sim.fs
    inner: list[bytes] = []
    real_getpage = fs.getpage

    def getpage(vp, off, *args):  # type: ignore[no-untyped-def]
        # The second block of f: the first one is already in the read's buffer.
        if vp is fs.inode("f").vp and off == 8192 and not inner:
            inner.append(rdwr.fs_read(fs, fs.inode("g"), 0, 16384)[1])
        return real_getpage(vp, off, *args)

    fs.getpage = getpage
    assert sim.read("f", 0, 16384) == (0, bytes(pattern(5, 0, 16384)))
    assert inner == [bytes(pattern(6, 0, 16384))]
    sim.check()


def test_bytes_no_page_supplies_read_as_zeros():
    """A getpage that leaves a page out of pl (a replaced one may) leaves a
    gap; fs_read returns zeros there, even with old data in its buffer."""
    sim = Machine(memory=256 * 4096)
    sim.create("f")
    assert sim.write("f", 0, pattern(7, 0, 32768)) == 0
    assert sim.read("f", 0, 32768) == (0, bytes(pattern(7, 0, 32768)))
    fs = sim.fs
    real_getpage = fs.getpage

    def getpage(vp, off, length, protp, pl, *args):  # type: ignore[no-untyped-def]
        err = real_getpage(vp, off, length, protp, pl, *args)
        # Drop the first page of the block at 8 KiB and the last page of the file.
        drop = {8192: 0, 24576: 1}.get(off)
        if not err and drop is not None and pl[drop] is not None:
            page_unlock(pl[drop])
            del pl[drop]
        return err

    fs.getpage = getpage
    want = bytearray(pattern(7, 0, 32768))
    want[8192:12288] = bytes(4096)
    want[28672:32768] = bytes(4096)
    assert sim.read("f", 0, 32768) == (0, bytes(want))
    sim.check()


def test_the_old_name_of_machine_still_works_with_a_warning():
    """pvnsim.fs.Simulation is Machine's deprecated name for one release."""
    import pvnsim.fs

    with pytest.warns(DeprecationWarning, match="pvnsim.fs.Machine"):
        old = pvnsim.fs.Simulation
    assert old is Machine
