"""Branch-by-branch tests of pvn_read_kluster and pvn_write_kluster.

Every expectation is worked out from /work/shared/illumos/vm_pvn.c (lines
89-221 and 233-298) and the primitive contracts of semantics.md sections 4, 5
and 7, never from running pvnsim.  PAGESIZE is 4096 throughout; for read
klusters the segment maps file offset ``o`` at address ``0x10000 + o``.
"""

from __future__ import annotations

import pytest

from pvnsim import (
    Kernel,
    SegCallable,
    SegMap,
    SegVn,
    UsageError,
    check_kernel,
    make_page,
    pvn_getdirty,
    pvn_read_kluster,
    pvn_write_kluster,
)
from pvnsim.flags import (
    B_ASYNC,
    B_DONTNEED,
    B_FREE,
    B_INVAL,
    P_FREE,
    P_MOD,
    P_REF,
    PAGE_IO_INUSE,
    VISSWAP,
    VSWAPLIKE,
)
from pvnsim.vm import page_add, page_io_unlock
from pvnsim.vm.describe import vnode_pages

PS = 4096
BASE = 0x10000


def addr(off: int) -> int:
    """The address of file offset ``off`` in the test segments."""
    return BASE + off


def offsets(pages) -> list[int]:
    """The offsets of a list of pages."""
    return [p.p_offset for p in pages]


def prims(t) -> list[str]:
    """The primitive calls of a trace as text."""
    return [e.format() for e in t.filter(kind="prim", nested=False)]


def small_kernel(
    freemem: int, *, minfree: int, throttlefree: int = 0, pageout_reserve: int = 0, **kw
) -> Kernel:
    """A 64-page kernel with exactly ``freemem`` free pages and the given thresholds."""
    return Kernel(
        total_pages=64,
        kernel_pages=64 - freemem,
        lotsfree=minfree,
        desfree=minfree,
        minfree=minfree,
        throttlefree=throttlefree,
        pageout_reserve=pageout_reserve,
        pages_before_pager=0,
        **kw,
    )


def assert_read_locked(pages) -> None:
    """Pages returned by a read kluster: SE_EXCL by the caller, i/o-locked, P_REF only."""
    for p in pages:
        assert p.p_selock == -1 and p.p_sowner == "main", p.name
        assert p.p_iolock_state & PAGE_IO_INUSE, p.name
        assert p.p_nrm == P_REF, p.name
        assert not p.p_state & P_FREE, p.name


def untouched_dirty(pp) -> bool:
    """A page nobody has locked or written: unlocked, no i/o lock, still P_MOD."""
    return (
        pp.p_selock == 0
        and not pp.p_iolock_state & PAGE_IO_INUSE
        and bool(pp.p_nrm & P_MOD)
        and not pp.p_state & P_FREE
    )


# ---------------------------------------------------------------------------
# pvn_read_kluster


def test_read_kluster_full_window(roomy):
    """Nothing cached, plenty of memory: the kluster covers the whole window, lowest offset first.

    Why: semantics.md 7.1.  L158-174 create 8192, 4096, 0 (prepending; the loop
    ends when off >= vp_off + deltab fails, deltab 16384 -> 12288 at L175);
    L178-196 append 16384..28672 (deltaf ends at 20480 = vp_end - off);
    L197-198 give off=0, len=12288+20480=32768; L212 does not retract (equal).
    page_create_va hashes each new page in at the head of v_pages (4.4), so
    v_pages lists them in reverse creation order.
    """
    k = roomy
    vp = k.vnode("v1")
    seg = SegMap(k, "s1")
    free0 = k.freemem
    kl = pvn_read_kluster(vp, 12288, seg, addr(12288), 0, 32768, 0)
    assert kl is not None
    assert (kl.off, kl.len) == (0, 32768)
    assert offsets(kl.pages) == [0, 4096, 8192, 12288, 16384, 20480, 24576, 28672]
    assert kl.plist.p_prev.p_offset == 28672
    assert_read_locked(kl.pages)
    assert offsets(vnode_pages(vp)) == [28672, 24576, 20480, 16384, 0, 4096, 8192, 12288]
    assert k.freemem == free0 - 8
    check_kernel(k)


@pytest.mark.parametrize("minfree", [8, 12])
def test_read_kluster_readahead_gives_up_at_minfree(minfree):
    """Read-ahead with freemem <= minfree returns NULL before calling any primitive.

    Why: L113 pagesavail = freemem - minfree <= 0 and isra -> L117 returns
    NULL; the SEGOP_KLUSTER probe (L142) and page_create_va (L145) are never
    reached.
    """
    k = small_kernel(8, minfree=minfree)
    vp = k.vnode("v1")
    seg = SegMap(k, "s1")
    t = k.trace_on()
    assert pvn_read_kluster(vp, 12288, seg, addr(12288), 0, 32768, 1) is None
    assert prims(t) == []
    assert k.page_hash[vp] == {}
    assert k.freemem == 8
    check_kernel(k)


def test_read_kluster_demand_read_at_minfree_gets_one_page():
    """A demand read with freemem <= minfree still gets exactly the faulting page.

    Why: L119 sets pagesavail = 1; L122 1 < btopr(32768) = 8 -> the window
    starts at off (L127-129: vp_off=12288, vp_len=20480); L130 1 < 5 ->
    vp_len = ptob(1) = 4096 (L135); L149 vp_len <= PAGESIZE -> single page,
    *lenp = MIN(4096, PAGESIZE).  isra is 0 so no SEGOP_KLUSTER probe.
    page_create_va(PG_EXCL|PG_WAIT) does not wait: freemem 8 > throttlefree + 1.
    """
    k = small_kernel(8, minfree=8, throttlefree=4, pageout_reserve=2)
    vp = k.vnode("v1")
    seg = SegMap(k, "s1")
    t = k.trace_on()
    kl = pvn_read_kluster(vp, 12288, seg, addr(12288), 0, 32768, 0)
    assert kl is not None
    assert (kl.off, kl.len) == (12288, 4096)
    assert offsets(kl.pages) == [12288]
    assert prims(t) == [
        "page_create_va(v1, 0x3000, 4096, PG_EXCL|PG_WAIT, s1, 0x13000) = v1@0x3000"
    ]
    assert k.freemem == 7
    check_kernel(k)


def test_read_kluster_first_shrink_drops_pages_before_off_and_retracts():
    """Short of memory, the window first loses its part before off; its odd length drives the retract.

    Why: semantics.md 7.4 note.  pagesavail = 3; L122 3 < btopr(13000) = 4 ->
    deltab = 4096, vp_len = 8904, vp_off = 4096 (L127-129); L130
    3 < btopr(8904) = 3 is false, no second shrink; vp_end = 13000.  Backward:
    4096 >= 4096 + 4096 fails, nothing; forward creates 8192 and 12288
    (16384 < 13000 fails), deltaf = 12288.  *lenp = 12288 but L212
    13000 < 4096 + 12288 -> retracted to 13000 - 4096 = 8904.  Page 0 is not
    created although absent.
    """
    k = small_kernel(11, minfree=8)
    vp = k.vnode("v1")
    seg = SegMap(k, "s1")
    kl = pvn_read_kluster(vp, 4096, seg, addr(4096), 0, 13000, 0)
    assert kl is not None
    assert (kl.off, kl.len) == (4096, 8904)
    assert offsets(kl.pages) == [4096, 8192, 12288]
    assert 0 not in k.page_hash[vp]
    assert_read_locked(kl.pages)
    assert k.freemem == 8
    check_kernel(k)


def test_read_kluster_second_shrink_settles_for_pagesavail():
    """With two pages available the window becomes [off, off + 2 pages).

    Why: semantics.md 7.4.  pagesavail = 2 < 8 -> window [12288, 32768)
    (L127-129); 2 < btopr(20480) = 5 -> vp_len = ptob(2) = 8192 (L135); so
    vp_end = 20480: no backward page, one forward page (16384), deltaf = 8192,
    *lenp = 8192, no retract.
    """
    k = small_kernel(10, minfree=8)
    vp = k.vnode("v1")
    seg = SegMap(k, "s1")
    kl = pvn_read_kluster(vp, 12288, seg, addr(12288), 0, 32768, 0)
    assert kl is not None
    assert (kl.off, kl.len) == (12288, 8192)
    assert offsets(kl.pages) == [12288, 16384]
    assert sorted(k.page_hash[vp]) == [12288, 16384]
    check_kernel(k)


def test_read_kluster_readahead_refused_by_segment(roomy):
    """Read-ahead into a MADV_RANDOM segment is refused by the delta-0 probe: NULL, nothing created.

    Why: L142-143: isra and SEGOP_KLUSTER(seg, addr, 0) != 0 -> NULL before
    page_create_va; segvn refuses every delta under random advice (4.8).
    """
    k = roomy
    vp = k.vnode("v1")
    seg = SegVn(k, "s1", BASE, 0x20000, advice="random")
    free0 = k.freemem
    t = k.trace_on()
    assert pvn_read_kluster(vp, 12288, seg, addr(12288), 0, 32768, 1) is None
    assert prims(t) == ["SEGOP_KLUSTER(s1, 0x13000, 0) = -1"]
    assert k.page_hash[vp] == {}
    assert k.freemem == free0
    check_kernel(k)


def test_read_kluster_demand_read_skips_probe_and_segment_stops_both_scans(roomy):
    """A demand read in a MADV_RANDOM segment is not probed with delta 0 but klusters nothing.

    Why: the L142 probe is only made when isra; the first page is created
    (L145), then L164 refuses -4096 (break, deltab back to 0 at L175) and
    L184 refuses +4096 (break, deltaf = 4096): *offp = 12288, *lenp = 4096.
    """
    k = roomy
    vp = k.vnode("v1")
    seg = SegVn(k, "s1", BASE, 0x20000, advice="random")
    t = k.trace_on()
    kl = pvn_read_kluster(vp, 12288, seg, addr(12288), 0, 32768, 0)
    assert kl is not None
    assert (kl.off, kl.len) == (12288, 4096)
    assert prims(t) == [
        "page_create_va(v1, 0x3000, 4096, PG_EXCL|PG_WAIT, s1, 0x13000) = v1@0x3000",
        "SEGOP_KLUSTER(s1, 0x13000, -4096) = -1",
        "SEGOP_KLUSTER(s1, 0x13000, 4096) = -1",
    ]
    check_kernel(k)


@pytest.mark.parametrize("cached", [False, True], ids=["resident", "cached"])
def test_read_kluster_first_page_exists_returns_null(roomy, cached):
    """If the page at off exists (even free on the cache list) the result is NULL and nothing changes.

    Why: L145-147: page_create_va with PG_EXCL returns NULL when the identity
    exists, even with PG_WAIT and even for a cached page (4.4, 7.5); the
    reservation is given back.
    """
    k = roomy
    vp = k.vnode("v1")
    seg = SegMap(k, "s1")
    old = make_page(vp, 12288, cached=cached)
    free0 = k.freemem
    t = k.trace_on()
    assert pvn_read_kluster(vp, 12288, seg, addr(12288), 0, 32768, 0) is None
    assert prims(t) == ["page_create_va(v1, 0x3000, 4096, PG_EXCL|PG_WAIT, s1, 0x13000) = NULL"]
    assert list(k.page_hash[vp]) == [12288]
    assert k.page_hash[vp][12288] is old
    assert bool(old.p_state & P_FREE) == cached
    assert old.p_selock == 0
    assert k.freemem == free0
    check_kernel(k)


@pytest.mark.parametrize(("vp_len", "want_len"), [(4096, 4096), (1000, 1000)])
def test_read_kluster_window_of_one_page_or_less(roomy, vp_len, want_len):
    """A window no larger than a page gives one page, *lenp = MIN(vp_len, PAGESIZE).

    Why: L149 vp_len <= PAGESIZE -> L150-151; no SEGOP_KLUSTER call and no
    neighbour is created.
    """
    k = roomy
    vp = k.vnode("v1")
    seg = SegMap(k, "s1")
    t = k.trace_on()
    kl = pvn_read_kluster(vp, 8192, seg, addr(8192), 8192, vp_len, 0)
    assert kl is not None
    assert (kl.off, kl.len) == (8192, want_len)
    assert offsets(kl.pages) == [8192]
    assert [e.name for e in t.filter(kind="prim", nested=False)] == ["page_create_va"]
    assert list(k.page_hash[vp]) == [8192]
    check_kernel(k)


def test_read_kluster_nofodklust_gives_one_page():
    """With pvn_nofodklust set a wide window still yields only the faulting page.

    Why: L149 `vp_len <= PAGESIZE || pvn_nofodklust` -> *offp = off,
    *lenp = MIN(32768, PAGESIZE) = 4096, no scans.
    """
    k = Kernel(
        total_pages=256,
        lotsfree=0,
        desfree=0,
        minfree=0,
        throttlefree=0,
        pageout_reserve=0,
        pages_before_pager=0,
        pvn_nofodklust=1,
    )
    vp = k.vnode("v1")
    seg = SegMap(k, "s1")
    t = k.trace_on()
    kl = pvn_read_kluster(vp, 12288, seg, addr(12288), 0, 32768, 0)
    assert kl is not None
    assert (kl.off, kl.len) == (12288, 4096)
    assert offsets(kl.pages) == [12288]
    assert [e.name for e in t.filter(kind="prim", nested=False)] == ["page_create_va"]
    check_kernel(k)


@pytest.mark.parametrize(
    ("seg_base", "seg_size", "advice", "want_pages", "want_off", "want_len"),
    [
        # backward stopped: address of offset 0 (0x10000) is below the segment
        (
            BASE + 4096,
            0x10000,
            "normal",
            [4096, 8192, 12288, 16384, 20480, 24576, 28672],
            4096,
            28672,
        ),
        # forward stopped: address of offset 20480 is past the segment end
        (BASE, 0x5000, "normal", [0, 4096, 8192, 12288, 16384], 0, 20480),
        # sequential advice refuses every negative delta, accepts positive ones
        (BASE, 0x20000, "sequential", [12288, 16384, 20480, 24576, 28672], 12288, 20480),
    ],
    ids=["backward-seg-start", "forward-seg-end", "sequential-advice"],
)
def test_read_kluster_scans_stop_at_segment(
    roomy, seg_base, seg_size, advice, want_pages, want_off, want_len
):
    """SEGOP_KLUSTER refusals end the backward or the forward scan.

    Why: L164-165 and L184-185 break on a refusal; segvn refuses when
    addr + delta is outside [base, base + size) and, for sequential advice,
    every negative delta (4.8).  Backward: deltab is the last refused delta,
    minus PAGESIZE at L175; forward: deltaf is the refused delta.
    """
    k = roomy
    vp = k.vnode("v1")
    seg = SegVn(k, "s1", seg_base, seg_size, advice=advice)
    kl = pvn_read_kluster(vp, 12288, seg, addr(12288), 0, 32768, 0)
    assert kl is not None
    assert offsets(kl.pages) == want_pages
    assert (kl.off, kl.len) == (want_off, want_len)
    assert sorted(k.page_hash[vp]) == want_pages
    check_kernel(k)


@pytest.mark.parametrize("cached", [False, True], ids=["resident", "cached"])
@pytest.mark.parametrize(
    ("existing", "want_pages", "want_off", "want_len"),
    [
        (4096, [8192, 12288, 16384, 20480, 24576, 28672], 8192, 24576),
        (20480, [0, 4096, 8192, 12288, 16384], 0, 20480),
    ],
    ids=["backward", "forward"],
)
def test_read_kluster_scans_stop_at_existing_page(
    roomy, cached, existing, want_pages, want_off, want_len
):
    """An existing page (even one free on the cache list) ends a scan; pages beyond it are not created.

    Why: semantics.md 7.3; L166-169 / L186-189 break when page_create_va
    (PG_EXCL) returns NULL, which it does for any existing identity, cached
    ones included (4.4).  The existing page is left as it was and the failed
    call's reservation is returned, so freemem drops only by the pages made.
    """
    k = roomy
    vp = k.vnode("v1")
    seg = SegMap(k, "s1")
    old = make_page(vp, existing, cached=cached)
    free0 = k.freemem
    kl = pvn_read_kluster(vp, 12288, seg, addr(12288), 0, 32768, 0)
    assert kl is not None
    assert offsets(kl.pages) == want_pages
    assert (kl.off, kl.len) == (want_off, want_len)
    assert sorted(k.page_hash[vp]) == sorted([*want_pages, existing])
    assert k.page_hash[vp][existing] is old
    assert bool(old.p_state & P_FREE) == cached
    assert old.p_selock == 0 and not old.p_iolock_state & PAGE_IO_INUSE
    assert k.freemem == free0 - len(want_pages)
    check_kernel(k)


def test_read_kluster_scans_stop_when_memory_is_short_trace():
    """Extra pages (PG_EXCL without PG_WAIT) are refused near pageout_reserve: exact call order.

    Why: semantics.md 7.6 and 4.4: with throttlefree = pageout_reserve = 4
    and freemem 6, pagesavail = 6 >= btopr(24576) = 6, so no shrink (L122).
    The first page (PG_EXCL|PG_WAIT) does not throttle (6 > 5) -> freemem 5;
    page 4096: 5 <= 5 but 5 >= 1 + 4 -> created, freemem 4; page 0:
    4 <= 5 and 4 < 5 -> NULL, backward stops (L169), deltab 4096; page 12288
    likewise NULL (L189), deltaf 4096.  Order from L145, L164, L166, L173,
    L164, L166, L184, L186.
    """
    k = small_kernel(6, minfree=0, throttlefree=4, pageout_reserve=4)
    vp = k.vnode("v1")
    seg = SegMap(k, "s1")
    t = k.trace_on()
    kl = pvn_read_kluster(vp, 8192, seg, addr(8192), 0, 24576, 0)
    assert kl is not None
    assert (kl.off, kl.len) == (4096, 8192)
    assert offsets(kl.pages) == [4096, 8192]
    assert prims(t) == [
        "page_create_va(v1, 0x2000, 4096, PG_EXCL|PG_WAIT, s1, 0x12000) = v1@0x2000",
        "SEGOP_KLUSTER(s1, 0x12000, -4096) = 0",
        "page_create_va(v1, 0x1000, 4096, PG_EXCL, s1, 0x11000) = v1@0x1000",
        "page_add(v1@0x2000, v1@0x1000) = v1@0x1000",
        "SEGOP_KLUSTER(s1, 0x12000, -8192) = 0",
        "page_create_va(v1, 0x0, 4096, PG_EXCL, s1, 0x10000) = NULL",
        "SEGOP_KLUSTER(s1, 0x12000, 4096) = 0",
        "page_create_va(v1, 0x3000, 4096, PG_EXCL, s1, 0x13000) = NULL",
    ]
    assert sorted(k.page_hash[vp]) == [4096, 8192]
    assert k.freemem == 4
    check_kernel(k)


def test_read_kluster_forward_scan_stops_when_memory_is_short():
    """Starting at the window start, the forward scan alone runs into the no-wait memory limit.

    Why: off == vp_off so L158 makes no backward attempt; freemem 6 -> 5
    (first page) -> 4 (page 4096, 5 >= 1 + pageout_reserve) and page 8192 is
    refused (4 < 5) at L186-189: deltaf = 8192, *lenp = 8192.
    """
    k = small_kernel(6, minfree=0, throttlefree=4, pageout_reserve=4)
    vp = k.vnode("v1")
    seg = SegMap(k, "s1")
    kl = pvn_read_kluster(vp, 0, seg, addr(0), 0, 24576, 0)
    assert kl is not None
    assert (kl.off, kl.len) == (0, 8192)
    assert offsets(kl.pages) == [0, 4096]
    assert sorted(k.page_hash[vp]) == [0, 4096]
    check_kernel(k)


@pytest.mark.parametrize(
    ("off", "vp_off", "vp_len", "want_pages", "want_off", "want_len"),
    [
        (4096, 0, 5120, [0, 4096], 0, 5120),
        (8192, 8192, 6000, [8192, 12288], 8192, 6000),
    ],
)
def test_read_kluster_retracts_length_to_window_end(
    roomy, off, vp_off, vp_len, want_pages, want_off, want_len
):
    """A window ending inside a page gives whole pages but *lenp ends at the window end.

    Why: semantics.md 7.2; L212-214: when vp_off + vp_len < off + *lenp the
    length becomes vp_end - off.  (4096 in [0,5120): page 0 backward, no
    forward page since 8192 < 5120 fails, 8192 -> 5120.  8192 in
    [8192,14192): 12288 forward, deltaf 8192 -> 6000.)
    """
    k = roomy
    vp = k.vnode("v1")
    seg = SegMap(k, "s1")
    kl = pvn_read_kluster(vp, off, seg, addr(off), vp_off, vp_len, 0)
    assert kl is not None
    assert offsets(kl.pages) == want_pages
    assert (kl.off, kl.len) == (want_off, want_len)
    check_kernel(k)


def test_read_kluster_trace_readahead_small_window(roomy):
    """Exact primitive order of a read-ahead kluster over [0, 12288) around 4096.

    Why: L142 probe with delta 0 (isra), L145 first page, L164/L166/L173 one
    backward page prepended (the loop then ends since 4096 >= 8192 fails),
    L184/L186/L194 one forward page appended (then 8192 + 4096 < 12288 fails).
    page_add(&plist, pp) returns the new head; the forward one is then undone
    by plist = plist->p_next (L195), which is not a call.
    """
    k = roomy
    vp = k.vnode("v1")
    seg = SegMap(k, "s1")
    t = k.trace_on()
    kl = pvn_read_kluster(vp, 4096, seg, addr(4096), 0, 12288, 1)
    assert kl is not None
    assert prims(t) == [
        "SEGOP_KLUSTER(s1, 0x11000, 0) = 0",
        "page_create_va(v1, 0x1000, 4096, PG_EXCL|PG_WAIT, s1, 0x11000) = v1@0x1000",
        "SEGOP_KLUSTER(s1, 0x11000, -4096) = 0",
        "page_create_va(v1, 0x0, 4096, PG_EXCL, s1, 0x10000) = v1@0x0",
        "page_add(v1@0x1000, v1@0x0) = v1@0x0",
        "SEGOP_KLUSTER(s1, 0x11000, 4096) = 0",
        "page_create_va(v1, 0x2000, 4096, PG_EXCL, s1, 0x12000) = v1@0x2000",
        "page_add(v1@0x0, v1@0x2000) = v1@0x2000",
    ]
    assert (kl.off, kl.len) == (0, 12288)
    assert offsets(kl.pages) == [0, 4096, 8192]
    check_kernel(k)


def test_read_kluster_callable_segment_sees_signed_deltas(roomy):
    """SEGOP_KLUSTER is asked with -deltab backwards and +deltaf forwards, one page at a time.

    Why: L164 passes -deltab (4096, 8192, ...) until refused, L184 +deltaf;
    a refusal of -8192 and +8192 keeps pages 8192..16384 around 12288.
    """
    k = roomy
    vp = k.vnode("v1")
    asked: list[int] = []

    def fn(a: int, delta: int) -> int:
        asked.append(delta)
        return -1 if abs(delta) == 8192 else 0

    seg = SegCallable(k, "s1", fn)
    kl = pvn_read_kluster(vp, 12288, seg, addr(12288), 0, 32768, 0)
    assert kl is not None
    assert asked == [-4096, -8192, 4096, 8192]
    assert offsets(kl.pages) == [8192, 12288, 16384]
    assert (kl.off, kl.len) == (8192, 12288)
    check_kernel(k)


def test_read_kluster_off_outside_window_is_refused(roomy):
    """off outside [vp_off, vp_off + vp_len) is a usage error and creates nothing.

    Why: L107 ASSERT(off >= vp_off && off < vp_off + vp_len); pvnsim turns
    entry ASSERTs into UsageError before any change (module docstring).
    """
    k = roomy
    vp = k.vnode("v1")
    seg = SegMap(k, "s1")
    with pytest.raises(UsageError):
        pvn_read_kluster(vp, 8192, seg, addr(8192), 0, 8192, 0)
    assert k.page_hash[vp] == {}
    check_kernel(k)


# ---------------------------------------------------------------------------
# pvn_write_kluster


def dirty_page(vp, off: int, flags: int, **kw):
    """A dirty page locked as a putpage caller locks it, accepted by pvn_getdirty(pp, flags)."""
    lock = "X" if flags & (B_INVAL | B_FREE) else "S"
    pp = make_page(vp, off, nrm=P_MOD | P_REF, lock=lock, **kw)
    assert pvn_getdirty(pp, flags) == 1
    return pp


def expected_lock(flags: int) -> int:
    """p_selock of a page accepted by pvn_getdirty: EXCL only for B_INVAL without B_FREE (5.6)."""
    return -1 if flags & B_INVAL and not flags & B_FREE else 1


@pytest.mark.parametrize(
    "flags", [0, B_ASYNC, B_FREE, B_INVAL], ids=["0", "B_ASYNC", "B_FREE", "B_INVAL"]
)
def test_write_kluster_arithmetic_and_clean_neighbour_side_effect(roomy, flags):
    """pp 8192 in [0,16384): 4096 and 12288 dirty, 0 clean -> 4096..12288; page 0 dealt with by pvn_getdirty.

    Why: semantics.md 7.8.  Backward: 4096 accepted (L277, prepended at L279),
    0 rejected by pvn_getdirty (clean) -> break, deltab 8192 - 4096 = 4096;
    forward: 12288 accepted, 16384 not < 16384 -> deltaf 8192; *offp 4096,
    *lenp 12288.  The clean mapped page 0 went through L635-661 of pvn_getdirty
    with B_DELWRI added: B_INVAL -> destroyed; B_FREE -> unloaded and freed to
    the cache list; neither -> page_release(pp, 1) which only unlocks a mapped
    page (4.5).  Klustered pages hold REF/MOD cleared, io lock, and SHARED
    (EXCL for B_INVAL).
    """
    k = roomy
    vp = k.vnode("v1")
    p0 = make_page(vp, 0, maps=("-",))
    p4 = make_page(vp, 4096, nrm=P_MOD)
    p12 = make_page(vp, 12288, nrm=P_MOD)
    pp = dirty_page(vp, 8192, flags)
    kl = pvn_write_kluster(vp, pp, 0, 16384, flags)
    assert (kl.off, kl.len) == (4096, 12288)
    assert kl.pages == [p4, pp, p12]
    for p in kl.pages:
        assert p.p_selock == expected_lock(flags), p.name
        assert p.p_iolock_state & PAGE_IO_INUSE, p.name
        assert not p.p_nrm & (P_REF | P_MOD), p.name
    if flags & B_INVAL:
        assert 0 not in k.page_hash[vp]
        assert p0.p_vnode is None
    elif flags & B_FREE:
        assert p0.p_state & P_FREE and p0.p_vnode is vp
        assert p0.p_mapping is None
        assert k.page_cachelist is p0
    else:
        assert not p0.p_state & P_FREE
        assert p0.p_selock == 0 and not p0.p_iolock_state & PAGE_IO_INUSE
        assert p0.p_mapping is not None
    check_kernel(k)


@pytest.mark.parametrize(
    ("flags", "se"),
    [
        (0, "SE_SHARED"),
        (B_ASYNC, "SE_SHARED"),
        (B_FREE, "SE_EXCL"),
        (B_INVAL, "SE_EXCL"),
        (B_FREE | B_ASYNC, "SE_EXCL"),
    ],
    ids=["0", "B_ASYNC", "B_FREE", "B_INVAL", "B_FREE|B_ASYNC"],
)
def test_write_kluster_lookup_mode_follows_flags(roomy, flags, se):
    """Neighbours are looked up SE_EXCL for B_FREE/B_INVAL and SE_SHARED otherwise, without waiting.

    Why: L262-265 choose se; L274 and L286 call page_lookup_nowait(vp, off -/+
    delta, se).  Window [0, 12288) around 4096: lookups of 0 then 8192.
    """
    k = roomy
    vp = k.vnode("v1")
    make_page(vp, 0, nrm=P_MOD)
    make_page(vp, 8192, nrm=P_MOD)
    pp = dirty_page(vp, 4096, flags)
    t = k.trace_on()
    kl = pvn_write_kluster(vp, pp, 0, 12288, flags)
    assert [e.format() for e in t.filter(name="page_lookup_nowait", nested=False)] == [
        f"page_lookup_nowait(v1, 0x0, {se}) = v1@0x0",
        f"page_lookup_nowait(v1, 0x2000, {se}) = v1@0x2000",
    ]
    assert offsets(kl.pages) == [0, 4096, 8192]
    assert (kl.off, kl.len) == (0, 12288)
    check_kernel(k)


def test_write_kluster_noklust_tunable_returns_pp_alone():
    """With pvn_write_noklust set pp comes back alone and no neighbour is looked at.

    Why: L256-259: *offp = off, *lenp = PAGESIZE, return pp before any
    page_lookup_nowait.
    """
    k = Kernel(
        total_pages=256,
        lotsfree=0,
        desfree=0,
        minfree=0,
        throttlefree=0,
        pageout_reserve=0,
        pages_before_pager=0,
        pvn_write_noklust=1,
    )
    vp = k.vnode("v1")
    p0 = make_page(vp, 0, nrm=P_MOD)
    p8 = make_page(vp, 8192, nrm=P_MOD)
    pp = dirty_page(vp, 4096, 0)
    t = k.trace_on()
    kl = pvn_write_kluster(vp, pp, 0, 12288, 0)
    assert prims(t) == []
    assert kl.pages == [pp]
    assert (kl.off, kl.len) == (4096, 4096)
    assert untouched_dirty(p0) and untouched_dirty(p8)
    check_kernel(k)


@pytest.mark.parametrize("swapflag", [VISSWAP, VSWAPLIKE], ids=["VISSWAP", "VSWAPLIKE"])
def test_write_kluster_no_kluster_for_invalidation_of_swap_vnode(roomy, swapflag):
    """B_INVAL on an IS_SWAPVP vnode never klusters; B_FREE on the same vnode does.

    Why: L256: (flags & B_INVAL) && IS_SWAPVP(vp) -> pp alone with
    *lenp = PAGESIZE (7.10); IS_SWAPVP tests VISSWAP|VSWAPLIKE (2.5).  The
    test needs B_INVAL, so a B_FREE kluster on the same vnode proceeds.
    """
    k = roomy
    vp = k.vnode("v1", v_flag=swapflag)
    p0 = make_page(vp, 0, nrm=P_MOD)
    p8 = make_page(vp, 8192, nrm=P_MOD)
    pp = dirty_page(vp, 4096, B_INVAL)
    t = k.trace_on()
    kl = pvn_write_kluster(vp, pp, 0, 12288, B_INVAL)
    assert prims(t) == []
    assert kl.pages == [pp]
    assert (kl.off, kl.len) == (4096, 4096)
    assert untouched_dirty(p0) and untouched_dirty(p8)

    vp2 = k.vnode("v2", v_flag=swapflag)
    make_page(vp2, 0, nrm=P_MOD)
    make_page(vp2, 8192, nrm=P_MOD)
    pp2 = dirty_page(vp2, 4096, B_FREE)
    kl2 = pvn_write_kluster(vp2, pp2, 0, 12288, B_FREE)
    assert offsets(kl2.pages) == [0, 4096, 8192]
    assert (kl2.off, kl2.len) == (0, 12288)
    check_kernel(k)


# Stop reasons for one scan direction: (flags, page factory or None, check on the stopper)
def _stop_missing(vp, off):
    return None


def _stop_cached(vp, off):
    return make_page(vp, off, cached=True)


def _stop_x_other(vp, off):
    return make_page(vp, off, nrm=P_MOD, lock="X@other")


def _stop_s_other(vp, off):
    return make_page(vp, off, nrm=P_MOD, lock="S@other")


def _stop_io_other(vp, off):
    return make_page(vp, off, nrm=P_MOD, io="other")


def _stop_clean(vp, off):
    return make_page(vp, off)


def _stop_lckcnt(vp, off):
    return make_page(vp, off, nrm=P_MOD, maps=("rm",), lckcnt=1)


def _stop_cowcnt(vp, off):
    return make_page(vp, off, nrm=P_MOD, maps=("rm",), cowcnt=1)


def _check_missing(k, vp, off, p, flags):
    assert off not in k.page_hash[vp]


def _check_cached(k, vp, off, p, flags):
    # page_lookup_nowait never reclaims a free page (4.4)
    assert p.p_state & P_FREE and p.p_selock == 0 and p.p_nrm == 0


def _check_x_other(k, vp, off, p, flags):
    assert p.p_selock == -1 and p.p_sowner == "other"
    assert p.p_nrm & P_MOD and not p.p_iolock_state & PAGE_IO_INUSE


def _check_s_other(k, vp, off, p, flags):
    assert p.p_selock == 1 and p.p_sowner == "other"
    assert p.p_nrm & P_MOD and not p.p_iolock_state & PAGE_IO_INUSE


def _check_io_other(k, vp, off, p, flags):
    # locked by the lookup, then unlocked at L612 of pvn_getdirty; i/o lock untouched
    assert p.p_selock == 0
    assert p.p_iolock_state & PAGE_IO_INUSE and p.p_ioowner == "other"
    assert p.p_nrm & P_MOD
    page_io_unlock(p)  # the other thread's i/o completes (an i/o lock needs a page lock)


def _check_clean(k, vp, off, p, flags):
    if flags & B_INVAL:
        assert off not in k.page_hash[vp] and p.p_vnode is None
    else:
        # B_FREE: VN_DISPOSE(B_FREE); neither: page_release(pp, 1) of an unmapped,
        # upgradable, unmodified page also frees it (4.5)
        assert p.p_state & P_FREE and p.p_vnode is vp and p.p_selock == 0


def _check_logically_locked(k, vp, off, p, flags):
    # L592-595: only page_unlock; mappings, bits and counts untouched
    assert p.p_selock == 0 and not p.p_iolock_state & PAGE_IO_INUSE
    assert p.p_nrm & P_MOD and p.p_mapping is not None
    assert not p.p_state & P_FREE


STOPS = [
    ("missing", 0, _stop_missing, _check_missing),
    ("missing-B_FREE", B_FREE, _stop_missing, _check_missing),
    ("cached", 0, _stop_cached, _check_cached),
    ("cached-B_INVAL", B_INVAL, _stop_cached, _check_cached),
    ("X@other", 0, _stop_x_other, _check_x_other),
    ("S@other-B_FREE", B_FREE, _stop_s_other, _check_s_other),
    ("S@other-B_INVAL", B_INVAL, _stop_s_other, _check_s_other),
    ("io-locked", 0, _stop_io_other, _check_io_other),
    ("io-locked-B_FREE", B_FREE, _stop_io_other, _check_io_other),
    ("clean", 0, _stop_clean, _check_clean),
    ("clean-B_FREE", B_FREE, _stop_clean, _check_clean),
    ("clean-B_INVAL", B_INVAL, _stop_clean, _check_clean),
    ("lckcnt-B_FREE", B_FREE, _stop_lckcnt, _check_logically_locked),
    ("cowcnt-B_FREE", B_FREE, _stop_cowcnt, _check_logically_locked),
    ("lckcnt-B_INVAL", B_INVAL, _stop_lckcnt, _check_logically_locked),
]


@pytest.mark.parametrize("direction", ["backward", "forward"])
@pytest.mark.parametrize(
    ("name", "flags", "make_stopper", "check_stopper"), STOPS, ids=[s[0] for s in STOPS]
)
def test_write_kluster_scan_stops(roomy, direction, name, flags, make_stopper, check_stopper):
    """Each scan ends at the first missing, cached, busy, io-locked, clean or logically locked neighbour.

    Why: semantics.md 7.9.  L275-276/L287-288: page_lookup_nowait gives NULL
    for an absent page, a free (cached) page, or when page_trylock(se) fails
    (X held by another thread; S held by another thread against SE_EXCL).
    L277-278/L289-290: pvn_getdirty(pp, flags | B_DELWRI) returns 0 for an
    io-locked page (trylock, L610-614), a clean page (L635-662, which also
    frees or destroys it), or a p_lckcnt/p_cowcnt page under B_FREE/B_INVAL
    (L592-596, only unlocked).  pp 8192 in [0, 20480): with the stopper at
    4096 the result is 8192..16384, with it at 12288 it is 0..8192; the dirty
    page beyond the stopper is never looked at.
    """
    k = roomy
    vp = k.vnode("v1")
    if direction == "backward":
        stop_off, beyond_off, others = 4096, 0, [12288, 16384]
        want, want_off = [8192, 12288, 16384], 8192
    else:
        stop_off, beyond_off, others = 12288, 16384, [0, 4096]
        want, want_off = [0, 4096, 8192], 0
    stopper = make_stopper(vp, stop_off)
    beyond = make_page(vp, beyond_off, nrm=P_MOD)
    for o in others:
        make_page(vp, o, nrm=P_MOD)
    pp = dirty_page(vp, 8192, flags)
    kl = pvn_write_kluster(vp, pp, 0, 20480, flags)
    assert offsets(kl.pages) == want
    assert (kl.off, kl.len) == (want_off, 12288)
    for p in kl.pages:
        assert p.p_selock == expected_lock(flags) and p.p_iolock_state & PAGE_IO_INUSE, p.name
    assert untouched_dirty(beyond)
    check_stopper(k, vp, stop_off, stopper, flags)
    check_kernel(k)


def test_write_kluster_shared_neighbour_held_by_other_joins_shared_kluster(roomy):
    """Without B_FREE/B_INVAL a neighbour read-locked by another thread is still klustered.

    Why: L265 se = SE_SHARED and page_trylock(SE_SHARED) succeeds while the
    page is not EXCL (4.2), so the page gets a second reader and joins.
    """
    k = roomy
    vp = k.vnode("v1")
    p0 = make_page(vp, 0, nrm=P_MOD, lock="S@other")
    pp = dirty_page(vp, 4096, 0)
    kl = pvn_write_kluster(vp, pp, 0, 8192, 0)
    assert kl.pages == [p0, pp]
    assert p0.p_selock == 2
    assert (kl.off, kl.len) == (0, 8192)
    check_kernel(k)


def test_write_kluster_lckcnt_neighbour_joins_plain_write_back(roomy):
    """A p_lckcnt neighbour is only refused for B_FREE/B_INVAL; a plain write-back klusters it.

    Why: L592 tests p_lckcnt/p_cowcnt only when flags has B_INVAL|B_FREE.
    """
    k = roomy
    vp = k.vnode("v1")
    p0 = make_page(vp, 0, nrm=P_MOD, lckcnt=1, cowcnt=1)
    pp = dirty_page(vp, 4096, 0)
    kl = pvn_write_kluster(vp, pp, 0, 8192, 0)
    assert kl.pages == [p0, pp]
    check_kernel(k)


def test_write_kluster_clean_neighbour_dontneed_goes_to_cache_head(roomy):
    """Under B_FREE|B_DONTNEED a clean neighbour that ends the scan is freed to the head of the cache list.

    Why: pvn_getdirty L644-646 VN_DISPOSE(pp, B_FREE, flags & B_DONTNEED);
    page_free with dontneed puts the page at the cache list head (4.5).
    """
    k = roomy
    vp = k.vnode("v1")
    old = make_page(vp, 40960, cached=True)
    p0 = make_page(vp, 0)
    pp = dirty_page(vp, 4096, B_FREE | B_DONTNEED)
    kl = pvn_write_kluster(vp, pp, 0, 8192, B_FREE | B_DONTNEED)
    assert kl.pages == [pp]
    assert p0.p_state & P_FREE
    assert k.page_cachelist is p0
    assert p0.p_next is old
    check_kernel(k)


def test_write_kluster_window_edges_bound_the_lookups(roomy):
    """No page outside [vp_off, vp_off + vp_len) is looked up when pp is at the window start.

    Why: L273 `off >= vp_off + deltab` is false at once for off == vp_off, so
    no backward lookup; L285 `off + deltaf < vp_end` stops before vp_end.
    pp 4096 in [4096, 12288): only 8192 is looked up; 0 and 12288 stay
    untouched although dirty.
    """
    k = roomy
    vp = k.vnode("v1")
    p0 = make_page(vp, 0, nrm=P_MOD)
    make_page(vp, 8192, nrm=P_MOD)
    p12 = make_page(vp, 12288, nrm=P_MOD)
    pp = dirty_page(vp, 4096, 0)
    t = k.trace_on()
    kl = pvn_write_kluster(vp, pp, 4096, 8192, 0)
    assert [e.args[1] for e in t.filter(name="page_lookup_nowait", nested=False)] == ["0x2000"]
    assert offsets(kl.pages) == [4096, 8192]
    assert (kl.off, kl.len) == (4096, 8192)
    assert untouched_dirty(p0) and untouched_dirty(p12)
    check_kernel(k)


def test_write_kluster_pp_beyond_window_end_still_scans_backwards(roomy):
    """With pp past vp_off + vp_len the forward scan does nothing but the backward one still runs.

    Why: semantics.md 5.2 step 6.  pp 8192, window [0, 4096): L273 tries
    4096 (8192 >= 4096) and 0 (8192 >= 8192), both dirty; deltab 8192;
    L285 12288 < 4096 fails, deltaf = 4096; *offp 0, *lenp 12288 -- no
    retraction in pvn_write_kluster.
    """
    k = roomy
    vp = k.vnode("v1")
    make_page(vp, 0, nrm=P_MOD)
    make_page(vp, 4096, nrm=P_MOD)
    make_page(vp, 12288, nrm=P_MOD)
    pp = dirty_page(vp, 8192, 0)
    kl = pvn_write_kluster(vp, pp, 0, 4096, 0)
    assert offsets(kl.pages) == [0, 4096, 8192]
    assert (kl.off, kl.len) == (0, 12288)
    assert k.page_hash[vp][12288].p_selock == 0
    check_kernel(k)


def test_write_kluster_trace_plain_write_back(roomy):
    """Exact primitive order of a sync write-back kluster of 0, 4096 (pp), 8192.

    Why: L274 lookup SE_SHARED; pvn_getdirty(pp, B_DELWRI): L611 trylock,
    L632 hat_pagesync ZERORM, L635 hat_ismod, L669 hat_clrrefmod; L279
    page_add prepends; the backward loop ends (4096 >= 8192 false); L286
    lookup, same pvn_getdirty sequence, L291 page_add(&dirty, pp) returns the
    new page as head and L292 steps back to 0 (no call).
    """
    k = roomy
    vp = k.vnode("v1")
    make_page(vp, 0, nrm=P_MOD | P_REF)
    make_page(vp, 8192, nrm=P_MOD)
    pp = dirty_page(vp, 4096, 0)
    t = k.trace_on()
    kl = pvn_write_kluster(vp, pp, 0, 12288, 0)
    assert prims(t) == [
        "page_lookup_nowait(v1, 0x0, SE_SHARED) = v1@0x0",
        "page_io_trylock(v1@0x0) = 1",
        "hat_pagesync(v1@0x0, HAT_SYNC_ZERORM) = P_MOD|P_REF",
        "hat_ismod(v1@0x0) = P_MOD",
        "hat_clrrefmod(v1@0x0)",
        "page_add(v1@0x1000, v1@0x0) = v1@0x0",
        "page_lookup_nowait(v1, 0x2000, SE_SHARED) = v1@0x2000",
        "page_io_trylock(v1@0x2000) = 1",
        "hat_pagesync(v1@0x2000, HAT_SYNC_ZERORM) = P_MOD",
        "hat_ismod(v1@0x2000) = P_MOD",
        "hat_clrrefmod(v1@0x2000)",
        "page_add(v1@0x0, v1@0x2000) = v1@0x2000",
    ]
    assert [e.format() for e in t.filter(kind="port", nested=False)] == [
        "pvn_write_kluster(v1, v1@0x1000, 0x0, 12288, 0) = plist=[v1@0x0 v1@0x1000 v1@0x2000] off=0x0 len=12288",
        "pvn_getdirty(v1@0x0, B_DELWRI) = 1",
        "pvn_getdirty(v1@0x2000, B_DELWRI) = 1",
    ]
    assert offsets(kl.pages) == [0, 4096, 8192]
    check_kernel(k)


def test_write_kluster_refuses_pp_already_on_a_list(roomy):
    """pp must be a lone page: a pp already linked into an I/O list is a usage error.

    Why: L267 makes pp the head of a fresh list and L279/L291 link others to
    it, which presumes pp's p_next/p_prev are its own (semantics 4.1); pvnsim
    rejects the call before changing anything (docstring, Raises).
    """
    k = roomy
    vp = k.vnode("v1")
    a = dirty_page(vp, 0, 0)
    b = dirty_page(vp, 4096, 0)
    page_add(a, b)
    with pytest.raises(UsageError):
        pvn_write_kluster(vp, a, 0, 8192, 0)
    assert a.p_next is b and b.p_next is a
    check_kernel(k)


def test_write_kluster_accepts_flag_enum_members_like_ints(roomy):
    """Flags spelled with the BufFlag enum (an int subclass) kluster exactly as
    the plain ints do: B_ASYNC|B_FREE around page 1 of three dirty pages
    takes all three, each i/o-locked and held shared (looked up SE_EXCL for
    B_FREE, L262-263, then downgraded by pvn_getdirty, L677-678)."""
    from pvnsim.flags import BufFlag

    vp = roomy.vnode("v1")
    p0 = make_page(vp, 0, nrm=P_MOD)
    p2 = make_page(vp, 8192, nrm=P_MOD)
    pp = dirty_page(vp, 4096, B_ASYNC | B_FREE)
    kl = pvn_write_kluster(vp, pp, 0, 12288, BufFlag.B_ASYNC | BufFlag.B_FREE)
    assert kl.pages == [p0, pp, p2]
    assert (kl.off, kl.len) == (0, 12288)
    assert all(p.p_selock == expected_lock(B_ASYNC | B_FREE) == 1 for p in kl.pages)
    assert all(p.p_iolock_state & PAGE_IO_INUSE for p in kl.pages)
