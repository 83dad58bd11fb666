"""The simulated disk and the virtual clock: costs, queue order, log, faults."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pvnsim import DeadlockError, UsageError
from pvnsim.flags import EIO
from pvnsim.fs import Disk
from pvnsim.fs.inode import BlockMap
from pvnsim.sched import Clock, Simulation


def _disk(**kw: float) -> Disk:
    return Disk(Clock(), seek_ns=1000, overhead_ns=100, ns_per_byte=1.0, **kw)


def test_cost_is_seek_plus_overhead_plus_transfer():
    """A request pays a seek only when it does not start where the last ended."""
    d = _disk()
    # The head starts at 0: no seek; 100 + 512 = 612.
    a = d.submit("read", 0, 512)
    # Contiguous, queued behind a: starts at 612, no seek, ends 1224.
    b = d.submit("read", 512, 512)
    # Elsewhere: starts at 1224, pays 1000 + 100 + 512 = 1612, ends 2836.
    c = d.submit("read", 8192, 512)
    assert (a.start_ns, a.finish_ns, a.seek) == (0, 612, False)
    assert (b.start_ns, b.finish_ns, b.seek) == (612, 1224, False)
    assert (c.start_ns, c.finish_ns, c.seek) == (1224, 2836, True)
    assert d.seeks == 1
    assert d.busy_ns == 2836


def test_queue_completes_in_submission_order_and_moves_time():
    """Completions run first come, first served, each at its finish time."""
    d = _disk()
    seen: list[tuple[int, int]] = []
    for daddr in (4096, 0, 8192):
        d.submit("read", daddr, 512, on_done=lambda r: seen.append((r.seq, d.clock.now)))
    assert len(d.queue) == 3
    d.drain()
    # 1: seek 1000 + 612 = 1612; 2: seek again, 1612 + 1612; 3: 3224 + 1612.
    assert seen == [(1, 1612), (2, 3224), (3, 4836)]
    assert not d.queue
    assert [r.queued for r in d.log] == [0, 1, 2]


def test_write_lands_at_completion_and_reads_see_it():
    """A write's data is captured at submission and stored when it completes."""
    d = _disk()
    data = bytearray(b"x" * 512)
    w = d.submit("write", 1024, 512, data=bytes(data))
    data[:] = b"y" * 512  # changing the caller's buffer changes nothing
    assert d.peek(1024, 4) == bytearray(4)
    d.wait(w)
    assert d.peek(1024, 512) == b"x" * 512
    got: list[bytes] = []
    r = d.submit("read", 1024, 512, on_done=lambda req: got.append(bytes(req.data or b"")))
    d.wait(r)
    assert got == [b"x" * 512]
    assert r.data is None  # the log keeps the record, not the bytes


def test_tag_parts_read_as_text_and_read_data_is_on_dones_to_keep():
    """A (file, offset, pages) tag reads as file@offset+Np everywhere; a
    read's data is a buffer of its own, which on_done may keep."""
    d = _disk()
    d.poke(0, b"z" * 512)
    kept: list[object] = []
    r = d.submit("read", 0, 512, on_done=lambda req: kept.append(req.data), tag=("f", 8192, 2))
    assert r.tag == "f@0x2000+2p"
    assert "tag='f@0x2000+2p'" in repr(r)
    d.wait(r)
    assert str(r).endswith(" ok f@0x2000+2p")
    d.poke(0, b"y" * 512)  # later writes do not show through
    assert bytes(kept[0]) == b"z" * 512  # type: ignore[call-overload]
    assert r.data is None  # the request does not keep it


def test_store_is_sparse_and_discard_zeroes():
    """A small store stays in memory; one that spans more goes to a sparse
    file, where unwritten bytes read as zeros and take no room (a byte written
    at 1 TiB costs a block, not a terabyte); discard reads back as zeros;
    close() drops the store."""
    d = _disk()
    assert d.stored == d.allocated == 0 and d.peek(5, 3) == b"\0\0\0"
    at = (1 << 20) - 3
    d.poke(at, b"abcdef")
    assert not d.spilled and d.allocated == d.stored == at + 6
    assert d.peek(at - 1, 8) == b"\0abcdef\0"
    d.discard(at + 2, 2)
    assert d.peek(at, 6) == b"ab\0\0ef"
    d.poke(1 << 40, b"far")
    assert d.spilled and d.stored == (1 << 40) + 3
    assert d.allocated < 2 << 20  # the first MiB, and a block at 1 TiB
    assert d.peek((1 << 40) - 1, 5) == b"\0far\0"
    assert d.peek(at, 6) == b"ab\0\0ef"
    d.close()
    assert d.stored == 0 and d.peek(at, 6) == bytes(6)


def test_fault_on_chosen_block_is_transient():
    """A fault on a byte range fails `times` requests touching it, then none."""
    d = _disk()
    f = d.fail("write", daddr=8192, nbytes=8192, times=2)
    ok = d.submit("write", 0, 512, data=bytes(512))  # outside the range
    bad1 = d.submit("write", 8192 + 512, 512, data=b"a" * 512)
    bad2 = d.submit("write", 8192 + 512, 512, data=b"b" * 512)
    good = d.submit("write", 8192 + 512, 512, data=b"c" * 512)
    rd = d.submit("read", 8192, 512)  # reads do not match a write fault
    d.drain()
    assert [r.error for r in (ok, bad1, bad2, good, rd)] == [0, EIO, EIO, 0, 0]
    assert f.fired == 2 and f.exhausted
    assert d.peek(8192 + 512, 1) == b"c"
    assert d.errors == 2


def test_fault_on_nth_request_can_be_permanent():
    """nth=3 with times=None fails the third matching request and all later ones."""
    d = _disk()
    d.fail("any", nth=3, times=None)
    reqs = [d.submit("read", 512 * i, 512) for i in range(5)]
    d.drain()
    assert [r.error for r in reqs] == [0, 0, EIO, EIO, EIO]
    d.clear_faults()
    assert d.submit("read", 0, 512).error == 0


def test_bad_requests_are_refused():
    """Unknown kinds, negative addresses and missing write data are usage errors."""
    d = _disk()
    with pytest.raises(UsageError, match="kind"):
        d.submit("erase", 0, 512)
    with pytest.raises(UsageError, match="bad request"):
        d.submit("read", -1, 512)
    with pytest.raises(UsageError, match="exactly nbytes"):
        d.submit("write", 0, 512, data=b"short")
    with pytest.raises(UsageError, match="times"):
        d.fail("write", times=0)
    with pytest.raises(UsageError, match="negative"):
        Disk(Clock(), seek_ns=-1)
    assert d.log == [] and not d.queue


def test_clock_runs_ties_in_scheduling_order():
    """Events at the same time run in the order they were scheduled."""
    c = Clock()
    out: list[str] = []
    c.at(10, lambda: out.append("a"))
    c.at(5, lambda: out.append("b"))
    c.at(10, lambda: out.append("c"))
    c.advance(9)
    assert out == ["b"] and c.now == 9
    c.advance(1)
    assert out == ["b", "a", "c"]
    with pytest.raises(UsageError):
        c.at(3, lambda: None)


def test_scheduler_sleeps_by_completing_io_and_reports_deadlock():
    """block() completes disk I/O until ready; with nothing in flight it is a deadlock."""
    clock = Clock()
    sched = Simulation(clock=clock, switches=False)
    flag: list[int] = []
    clock.at(100, lambda: flag.append(1))
    sched.block("the flag", None, lambda: bool(flag))
    assert clock.now == 100 and sched.sleeps == 1
    with pytest.raises(DeadlockError, match="main waits for the moon, held by other"):
        sched.block("the moon", "other", lambda: False)


def test_events_run_in_time_then_scheduling_order_whatever_the_insertion_order():
    """In-order events (the disk's) and out-of-order ones interleave exactly as
    one sorted queue of (time, scheduling order) would run them."""
    import random

    rng = random.Random(5)
    c = Clock()
    ran: list[int] = []
    expected: list[tuple[int, int]] = []
    for n in range(300):
        # Mostly non-decreasing times, sometimes an earlier one, ties included.
        when = n * 10 if rng.random() < 0.7 else rng.randrange(0, 3000, 10)
        c.at(when, lambda n=n: ran.append(n))
        expected.append((when, n))
    assert c.pending == 300
    assert c.next_time() == min(expected)[0]
    c.advance(1500)
    assert c.now == 1500
    assert ran == [n for when, n in sorted(expected) if when <= 1500]
    assert c.run_until(lambda: False) is False
    assert ran == [n for _when, n in sorted(expected)]
    assert c.pending == 0 and c.next_time() is None and not c.run_next()


def test_run_next_and_run_until_agree_on_mixed_events():
    """run_next takes the earlier head of the in-order and out-of-order events."""
    c = Clock()
    ran: list[str] = []
    c.at(100, lambda: ran.append("a"))
    c.at(200, lambda: ran.append("b"))
    c.at(150, lambda: ran.append("x"))  # earlier than the last: out of order
    c.at(200, lambda: ran.append("c"))  # a tie with b, scheduled after it
    assert c.run_next() and ran == ["a"] and c.now == 100
    assert c.run_until(lambda: len(ran) == 3) and ran == ["a", "x", "b"]
    assert c.now == 200
    c.advance(0)
    assert ran == ["a", "x", "b", "c"]


@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 40), st.integers(0, 12)),
        max_size=60,
    )
)
def test_block_map_is_a_dict_kept_as_maximal_extents(steps):
    """Any sequence of mappings and unmappings: BlockMap answers as a dict
    would, and its extents are the maximal runs of blocks contiguous on disk
    (bmap_read's contig is the rest of the extent)."""
    bsize = 8192
    m, d = BlockMap(bsize), {}
    for put, lbn, addr in steps:
        if put:
            m[lbn] = d[lbn] = addr * bsize
        elif lbn in d:
            del m[lbn], d[lbn]
        else:
            with pytest.raises(KeyError):
                del m[lbn]
    assert dict(m.items()) == d and len(m) == len(d) and sorted(m) == sorted(d)
    for lbn in range(45):
        assert m.get(lbn) == d.get(lbn) and (lbn in m) == (lbn in d)
        run = 0
        while lbn + run in d and d[lbn + run] == d[lbn] + run * bsize:
            run += 1
        assert m.run(lbn, 100) == run and m.run(lbn, 2) == min(run, 2)
    ext = m.extents()
    for (s1, a1, n1), (s2, a2, _n2) in itertools.pairwise(ext):
        assert s1 + n1 <= s2 and not (s1 + n1 == s2 and a1 + n1 * bsize == a2)


def test_a_file_written_in_order_is_one_extent():
    """A 64 MiB file written in order maps as one extent, however many blocks."""
    from pvnsim.fs import Machine

    m = Machine(memory=64 * 4096, keep_log=False)
    ino = m.create("f", 64 << 20, tag=1)
    assert ino.bmap.extents() == [(0, 0, 8192)] and len(ino.bmap) == 8192


def test_block_map_takes_a_whole_extent_at_once():
    """add_extent maps a run of blocks in one step (SimpleFs maps a raw
    vnode's every block so); it refuses runs that overlap or continue one."""
    from pvnsim import UsageError as Refused

    m = BlockMap(4096)
    m.add_extent(10, 40960, 1 << 40)
    assert m.get(10) == 40960 and m.get(12) == 40960 + 2 * 4096 and m.get(9) is None
    assert len(m) == 1 << 40 and m.run(11, 16) == 16
    for lbn, n in ((0, 10), (5, 6), (10 + (1 << 40), 1), (0, 0)):
        with pytest.raises(Refused, match="add_extent"):
            m.add_extent(lbn, 0, n)
    m.add_extent(0, 0, 9)
    assert m.extents() == [(0, 0, 9), (10, 40960, 1 << 40)]
