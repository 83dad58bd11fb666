"""The 30 "subtle behaviours worth dedicated tests" of semantics.md section 7.

One test (or a few tightly related ones) per numbered behaviour, named
``test_s7_NN_...``.  Each docstring quotes the behaviour and explains from the
C (``../shared/illumos/vm_pvn.c``, lines ``L<n>``) why the port must behave
so.  PAGESIZE is 4096 throughout and every vnode is called ``f``, so pages
print as ``f@<offset>`` and the walk markers as ``MARK(-1)`` (``mark``) and
``MARK(-2)`` (``end``).

pvnsim runs single-threaded here.  "Another thread" is modelled by pages and
locks held ``@other`` (``make_page(lock="X@other", io="other")``) and by a
vnode created with VVMLOCK; where the C would sleep for such a holder the
port raises DeadlockError.  A few tests install :class:`OtherThreadOnce`, a
one-thread simulation that, when the main thread would sleep, runs one action
as thread "other" (finishing a write, destroying a page) so the tests can
follow the C past the sleep.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pvnsim import (
    DeadlockError,
    Kernel,
    KernelPanic,
    Page,
    SegMap,
    SegVn,
    Vnode,
    VnodeOps,
    check_kernel,
    make_page,
    pvn_getdirty,
    pvn_getpages,
    pvn_io_done,
    pvn_plist_init,
    pvn_read_done,
    pvn_read_kluster,
    pvn_vplist_dirty,
    pvn_vplist_setdirty,
    pvn_vpzero,
    pvn_write_done,
    pvn_write_kluster,
)
from pvnsim.flags import (
    B_ASYNC,
    B_DONTNEED,
    B_ERROR,
    B_FORCE,
    B_FREE,
    B_INVAL,
    B_READ,
    B_TRUNC,
    B_WRITE,
    EAGAIN,
    EIO,
    MAXBSIZE,
    P_FREE,
    P_MOD,
    P_REF,
    PG_EXCL,
    S_CREATE,
    S_READ,
    SE_EXCL,
    SE_SHARED,
    VISSWAP,
    VISSWAPFS,
    VMODSORT,
    VSWAPLIKE,
    VVMEXEC,
    VVMLOCK,
)
from pvnsim.sched import Simulation
from pvnsim.vm import (
    hat_ismod,
    hat_map,
    hat_page_is_mapped,
    hat_setmod,
    hat_setmod_only,
    page_add,
    page_create_va,
    page_destroy,
    page_exists,
    page_free,
    page_lookup,
)
from pvnsim.vm.describe import lock_text, vnode_pages

PAGESIZE = 4096
ENOSPC = 28
CRED = "cred"


# ---------------------------------------------------------------------------
# helpers


def names(pages: list[Page]) -> list[str]:
    """The trace names of ``pages``."""
    return [p.name for p in pages]


def offsets(pages: list[Page]) -> list[int]:
    """The offsets of ``pages``."""
    return [p.p_offset for p in pages]


def vlist(vp: Vnode) -> list[str]:
    """v_pages of ``vp``, head first, markers included."""
    return names(vnode_pages(vp))


def plist_of(*pages: Page) -> Page:
    """A p_next ring of ``pages`` in the given order (append idiom of the C)."""
    head: Page | None = None
    for pp in pages:
        head = page_add(head, pp).p_next
    assert head is not None
    return head


def writer(
    errors: dict[str, int] | None = None,
    on_call: Callable[[Vnode, Page], None] | None = None,
) -> tuple[Callable[..., int], list[str]]:
    """A putapage that writes one page synchronously; returns it and its call log.

    ``errors`` maps page names to the errno their write fails with (the page is
    then finished with B_ERROR, as ufs_putapage does); ``on_call(vp, pp)`` runs
    at the start of each call, while pvn_vplist_dirty has dropped vphm.
    """
    calls: list[str] = []
    errs = errors or {}

    def putapage(vp: Vnode, pp: Page, offp: Any, lenp: Any, flags: int, cred: Any) -> int:
        calls.append(pp.name)
        if on_call is not None:
            on_call(vp, pp)
        err = errs.get(pp.name, 0)
        pvn_write_done(pp, (B_ERROR if err else 0) | B_WRITE | flags)
        return err

    return putapage, calls


def trace_lines(k: Kernel, *wanted: str) -> list[str]:
    """The recorded calls named ``wanted``, formatted."""
    return [e.format() for e in k.trace.filter(wanted, nested=False)]


class OtherThreadOnce(Simulation):
    """The smallest simulation that lets another thread act while main sleeps.

    A one-thread simulation (``switches=False``: switch points are not even
    reported) whose caller is thread "main".  The first time main would
    block, ``action`` runs as thread "other"; afterwards the wait is the
    simulation's: with no event to run, a wait that is not satisfied is a
    deadlock.
    """

    def __init__(self, action: Callable[[], None]) -> None:
        super().__init__(switches=False)
        self.action: Callable[[], None] | None = action
        self.slept_for: list[str] = []

    def current(self) -> str:
        return self.curthread

    def block(
        self, what: str, holder: str | None, ready: Callable[[], bool], *, mutex: bool = False
    ) -> None:
        self.slept_for.append(what)
        action, self.action = self.action, None
        if action is not None:
            self.set_current("other")
            try:
                action()
            finally:
                self.set_current("main")
        super().block(what, holder, ready, mutex=mutex)


def low_memory_kernel(
    free: int, *, minfree: int, throttlefree: int, pageout_reserve: int, total: int = 64
) -> Kernel:
    """A kernel with exactly ``free`` free pages and explicit thresholds."""
    return Kernel(
        total_pages=total,
        kernel_pages=total - free,
        minfree=minfree,
        throttlefree=throttlefree,
        pageout_reserve=pageout_reserve,
    )


# ---------------------------------------------------------------------------
# 1-7: pvn_read_kluster


def test_s7_01_read_kluster_full_window(roomy: Kernel) -> None:
    """§7.1 read kluster, full window: vp_off=0, vp_len=32768, off=12288.

    With nothing cached and a segment that accepts everything, the first page
    is created at ``off`` with PG_EXCL|PG_WAIT (L145), the backward loop
    (L158-174) creates 8192, 4096, 0 and stops when deltab reaches 16384
    (``off >= vp_off + deltab`` fails), L175 brings deltab back to 12288; the
    forward loop (L178-196) creates 16384..28672 and stops with deltaf = 20480
    (it is not decremented).  *offp = 0 and *lenp = 12288 + 20480 = 32768
    (L197-198); backward pages are prepended (L173) and forward ones appended
    (L194-195), so the ring is ascending and head->p_prev is 28672.
    """
    k = roomy
    vp = k.vnode("f")
    k.trace_on()
    kl = pvn_read_kluster(vp, 12288, SegMap(k, "seg"), 0x13000, 0, 32768, 0)

    assert kl is not None
    assert (kl.off, kl.len) == (0, 32768)
    assert offsets(kl.pages) == [0, 4096, 8192, 12288, 16384, 20480, 24576, 28672]
    assert kl.plist.p_offset == 0 and kl.plist.p_prev.p_offset == 28672
    created = [
        (int(e.args[1], 0), e.args[3]) for e in k.trace.filter("page_create_va", nested=False)
    ]
    assert created == [
        (12288, "PG_EXCL|PG_WAIT"),
        (8192, "PG_EXCL"),
        (4096, "PG_EXCL"),
        (0, "PG_EXCL"),
        (16384, "PG_EXCL"),
        (20480, "PG_EXCL"),
        (24576, "PG_EXCL"),
        (28672, "PG_EXCL"),
    ]
    assert [int(e.args[2]) for e in k.trace.filter("SEGOP_KLUSTER", nested=False)] == [
        -4096, -8192, -12288, 4096, 8192, 12288, 16384,
    ]  # fmt: skip
    assert all(p.p_selock == -1 and p.p_iolock_state for p in kl.pages)
    check_kernel(k)


def test_s7_02_read_kluster_retracts_to_a_fragment_sized_window(roomy: Kernel) -> None:
    """§7.2 read kluster, retract: vp_off=0, vp_len=5120, off=4096.

    The backward loop adds page 0 (4096 >= 0 + 4096); the forward loop adds
    nothing (4096 + 4096 < 5120 is false), so deltab = 4096, deltaf = 4096 and
    *lenp = 8192 (L198).  vp_off + vp_len = 5120 < 0 + 8192, so L212-214
    retract *lenp to vp_end - off = 5120: two pages, and the caller zeroes the
    last page from 5120 & PAGEOFFSET = 1024 up to 4096.
    """
    k = roomy
    vp = k.vnode("f")
    kl = pvn_read_kluster(vp, 4096, SegMap(k, "seg"), 0x11000, 0, 5120, 0)

    assert kl is not None
    assert (kl.off, kl.len) == (0, 5120)
    assert offsets(kl.pages) == [0, 4096]
    last = kl.plist.p_prev
    assert last.p_offset == 4096
    assert (kl.len & (PAGESIZE - 1), PAGESIZE) == (1024, 4096)  # bytes 1024..4095 to zero


@pytest.mark.parametrize("cached", [True, False], ids=["cache-list", "resident"])
def test_s7_03_read_kluster_existing_neighbour_stops_the_scan(roomy: Kernel, cached: bool) -> None:
    """§7.3 read kluster: a cached neighbour stops the scan.

    The extra pages are created with PG_EXCL (L166-169); page_create_va finds
    the existing identity through the hash, which includes pages free on the
    cache list, and returns NULL, so the backward loop breaks at its first
    step (deltab ends 0 after L175).  Page 0 is absent and inside the window
    but is never tried: klustering is contiguous.  The cached page is not
    reclaimed and stays on the cache list.
    """
    k = roomy
    vp = k.vnode("f")
    neighbour = make_page(vp, 4096, cached=cached)
    freemem = k.freemem
    kl = pvn_read_kluster(vp, 8192, SegMap(k, "seg"), 0x12000, 0, 16384, 0)

    assert kl is not None
    assert (kl.off, kl.len) == (8192, 8192)
    assert offsets(kl.pages) == [8192, 12288]
    assert page_exists(vp, 0) is None
    assert bool(neighbour.p_state & P_FREE) == cached
    assert neighbour.p_selock == 0
    assert k.freemem == freemem - 2
    assert k.vm.pgrec == 0


def test_s7_04_read_kluster_low_memory_shrinks_the_window() -> None:
    """§7.4 read kluster, low memory: freemem - minfree = 2.

    pagesavail = 2 (L113) < btopr(32768) = 8, so L127-129 drop the part
    before off (vp_off = 12288, vp_len = 20480); still 2 < 5, so L135 sets
    vp_len = ptob(2) = 8192.  No backward page fits (12288 >= 12288 + 4096 is
    false), one forward page (16384) does, and *lenp = 0 + 8192.
    throttlefree = 2 keeps the PG_WAIT first page from sleeping.
    """
    k = low_memory_kernel(10, minfree=8, throttlefree=2, pageout_reserve=1)
    assert (k.freemem, k.minfree) == (10, 8)  # pagesavail = 2
    vp = k.vnode("f")
    kl = pvn_read_kluster(vp, 12288, SegMap(k, "seg"), 0x13000, 0, 32768, 0)

    assert kl is not None
    assert (kl.off, kl.len) == (12288, 8192)
    assert offsets(kl.pages) == [12288, 16384]
    assert page_exists(vp, 8192) is None and page_exists(vp, 20480) is None


@pytest.mark.parametrize(
    ("vp_off", "vp_len", "off", "expected_len"),
    [(0, 32768, 12288, 4096), (12288, 2000, 12288, 2000)],
    ids=["window-shrinks-to-one-page", "window-shorter-than-a-page"],
)
def test_s7_04_read_kluster_at_or_below_minfree(
    vp_off: int, vp_len: int, off: int, expected_len: int
) -> None:
    """§7.4 with freemem <= minfree: readahead gives up, a demand read gets one page.

    pagesavail <= 0: with isra the routine returns NULL at once (L116-117)
    and creates nothing; a demand read sets pagesavail = 1 (L119), the window
    shrinks to [off, off + PAGESIZE) (L127-135), and the single-page branch
    (L149-151) returns *lenp = MIN(vp_len, PAGESIZE): a window shorter than a
    page keeps its own length.  throttlefree = 2 lets the PG_EXCL|PG_WAIT
    create pass without sleeping.
    """
    k = low_memory_kernel(10, minfree=10, throttlefree=2, pageout_reserve=1)
    vp = k.vnode("f")
    seg = SegMap(k, "seg")

    assert pvn_read_kluster(vp, off, seg, 0x10000 + off, vp_off, vp_len, 1) is None
    assert k.freemem == 10 and not k.page_hash[vp]

    kl = pvn_read_kluster(vp, off, seg, 0x10000 + off, vp_off, vp_len, 0)
    assert kl is not None
    assert (kl.off, kl.len) == (off, expected_len)
    assert offsets(kl.pages) == [off]


def test_s7_04_read_kluster_first_shrink_leaves_a_non_page_multiple() -> None:
    """§7.4 note: when the first shrink already fits, vp_len - (off - vp_off) drives the retract.

    vp_len = 30000, off = 12288, pagesavail = 5: 5 < btopr(30000) = 8, so
    vp_off = 12288 and vp_len = 17712 (L127-129); 5 >= btopr(17712) = 5, so
    L135 is skipped and vp_len stays a non-page multiple.  The forward loop
    creates 16384..28672 (28672 < 30000) and *lenp = 20480, which ends past
    vp_end = 30000, so L212-214 retract it to 17712.
    """
    k = low_memory_kernel(13, minfree=8, throttlefree=0, pageout_reserve=0)
    vp = k.vnode("f")
    kl = pvn_read_kluster(vp, 12288, SegMap(k, "seg"), 0x13000, 0, 30000, 0)

    assert kl is not None
    assert (kl.off, kl.len) == (12288, 17712)
    assert offsets(kl.pages) == [12288, 16384, 20480, 24576, 28672]


def test_s7_04_demand_page_at_minfree_sleeps_for_memory() -> None:
    """§7.4 with freemem <= throttlefree + 1 the PG_EXCL|PG_WAIT first page waits for memory.

    The single page of L145 is created with PG_WAIT; page_create_va throttles
    when freemem <= throttlefree + npages and sleeps until freemem reaches
    npages + throttlefree.  Single-threaded, nothing can free memory, so the
    port raises DeadlockError before changing anything; with a
    ``memory_reclaim`` hook standing in for pageout (it frees a clean page of
    another file) the read proceeds and gets its one page.
    """
    k = low_memory_kernel(14, minfree=10, throttlefree=10, pageout_reserve=0)
    other = k.vnode("victim")
    victims = [make_page(other, off) for off in range(0, 4 * PAGESIZE, PAGESIZE)]
    vp = k.vnode("f")
    seg = SegMap(k, "seg")
    assert k.freemem == 10

    with pytest.raises(DeadlockError, match=r"memory \(freemem 10, needs 11\)"):
        pvn_read_kluster(vp, 12288, seg, 0x13000, 0, 32768, 0)
    assert k.freemem == 10 and page_exists(vp, 12288) is None and k.needfree == 0

    freed: list[str] = []

    def pageout(kern: Kernel, wanted: int) -> None:
        for victim in victims[:wanted]:
            pp = page_lookup(other, victim.p_offset, SE_EXCL)
            assert pp is victim
            page_free(pp, 0)
            freed.append(pp.name)

    k.memory_reclaim = pageout
    kl = pvn_read_kluster(vp, 12288, seg, 0x13000, 0, 32768, 0)
    assert kl is not None
    assert (kl.off, kl.len) == (12288, 4096)
    assert freed == ["victim@0x0"]
    check_kernel(k)


@pytest.mark.parametrize(("where", "isra"), [("resident", 0), ("cache-list", 0), ("resident", 1)])
def test_s7_05_read_kluster_first_page_exists(roomy: Kernel, where: str, isra: int) -> None:
    """§7.5 read kluster, first page exists -> NULL immediately, nothing created.

    The page at ``off`` is created with PG_EXCL|PG_WAIT (L145); PG_EXCL makes
    page_create_va return NULL when the identity exists (cached or not), and
    L146-147 return NULL before any neighbour is tried.  The caller must loop
    back to its page_lookup.
    """
    k = roomy
    vp = k.vnode("f")
    existing = make_page(vp, 12288, cached=(where == "cache-list"))
    freemem = k.freemem
    k.trace_on()

    assert pvn_read_kluster(vp, 12288, SegMap(k, "seg"), 0x13000, 0, 32768, isra) is None
    assert list(k.page_hash[vp].values()) == [existing]
    assert k.freemem == freemem
    assert trace_lines(k, "page_create_va") == [
        "page_create_va(f, 0x3000, 4096, PG_EXCL|PG_WAIT, seg, 0x13000) = NULL"
    ]
    check_kernel(k)


def test_s7_06_read_kluster_extra_pages_fail_under_memory_pressure() -> None:
    """§7.6 PG_EXCL extra pages fail under memory pressure although pagesavail was positive.

    freemem = 10, minfree = 2: pagesavail = 8 = btopr(32768), so the window
    is not shrunk (L122).  The first page (PG_WAIT) passes the throttle
    (10 > throttlefree + 1 = 9).  The extra pages are created with PG_EXCL
    alone (L166, L186): once freemem <= throttlefree + 1, page_create_va
    without PG_WAIT succeeds only while freemem >= 1 + pageout_reserve (5).
    Pages 8192, 4096, 0, 16384 and 20480 take freemem from 9 down to 4;
    page 24576 is then refused and the forward scan stops (L188-189) with the
    page absent.
    """
    k = low_memory_kernel(10, minfree=2, throttlefree=8, pageout_reserve=4)
    vp = k.vnode("f")
    k.trace_on()
    kl = pvn_read_kluster(vp, 12288, SegMap(k, "seg"), 0x13000, 0, 32768, 0)

    assert kl is not None
    assert (kl.off, kl.len) == (0, 24576)
    assert offsets(kl.pages) == [0, 4096, 8192, 12288, 16384, 20480]
    assert trace_lines(k, "page_create_va")[-1] == (
        "page_create_va(f, 0x6000, 4096, PG_EXCL, seg, 0x16000) = NULL"
    )
    assert page_exists(vp, 24576) is None
    assert k.freemem == 4


@pytest.mark.parametrize(
    ("advice", "isra", "expected"),
    [
        ("normal", 1, (0, 32768)),
        ("sequential", 1, (12288, 20480)),
        ("random", 1, None),
        ("random", 0, (12288, 4096)),
        ("normal", 0, (0, 32768)),
    ],
)
def test_s7_07_isra_probe_is_made_only_for_readahead(
    roomy: Kernel, advice: str, isra: int, expected: tuple[int, int] | None
) -> None:
    """§7.7 isra probe: SEGOP_KLUSTER(seg, addr, 0) is consulted only for readahead.

    L142-143 ask the segment about delta 0 only when isra is set; segvn's
    range check always passes for delta 0, so only MADV_RANDOM refuses
    (sequential advice refuses only negative deltas).  A demand read
    (isra = 0) never makes the probe: with random advice it still gets its
    page, and every kluster step (L164, L184) is refused.
    """
    k = roomy
    vp = k.vnode("f")
    seg = SegVn(k, "seg", base=0x10000, size=0x8000, advice=advice)
    k.trace_on()
    kl = pvn_read_kluster(vp, 12288, seg, 0x13000, 0, 32768, isra)

    probes = [e for e in k.trace.filter("SEGOP_KLUSTER", nested=False) if e.args[2] == "0"]
    assert [e.result for e in probes] == ([] if not isra else ["-1" if advice == "random" else "0"])
    if expected is None:
        assert kl is None
        assert not k.trace.filter("page_create_va", nested=False) and not k.page_hash[vp]
    else:
        assert kl is not None and (kl.off, kl.len) == expected


# ---------------------------------------------------------------------------
# 8-10: pvn_write_kluster


@pytest.mark.parametrize(
    ("flags", "fate"),
    [(0, "released"), (B_FREE, "freed"), (B_INVAL, "destroyed")],
    ids=["plain", "B_FREE", "B_INVAL"],
)
def test_s7_08_write_kluster_arithmetic(roomy: Kernel, flags: int, fate: str) -> None:
    """§7.8 write kluster: pp at 8192, window [0,16384), 4096 dirty, 0 clean, 12288 dirty.

    Backward (L273-281): 4096 is looked up without waiting, pvn_getdirty
    accepts it (L277) and it is prepended; 0 is clean, so pvn_getdirty
    returns 0 and the loop stops with deltab = 4096 after L281.  Forward
    (L285-293): 12288 is appended; 16384 is outside the window.  *offp =
    8192 - 4096, *lenp = 4096 + 8192 (L295-296).  Page 0 has been dealt with
    by pvn_getdirty as a side effect (L640-660): destroyed for B_INVAL, freed
    to the cache list for B_FREE, and for plain write-back passed to
    page_release(pp, 1), which only unlocks it because it is mapped.
    """
    k = roomy
    vp = k.vnode("f")
    clean = make_page(vp, 0, maps=("-",))
    make_page(vp, 4096, nrm=P_MOD)
    pp = make_page(vp, 8192, nrm=P_MOD, lock="X" if flags else "S")
    make_page(vp, 12288, nrm=P_MOD)
    assert pvn_getdirty(pp, flags) == 1

    k.trace_on()
    kl = pvn_write_kluster(vp, pp, 0, 16384, flags)

    assert (kl.off, kl.len) == (4096, 12288)
    assert offsets(kl.pages) == [4096, 8192, 12288]
    want_lock = -1 if flags == B_INVAL else 1
    assert all(p.p_selock == want_lock and p.p_iolock_state for p in kl.pages)
    if fate == "released":
        assert trace_lines(k, "page_release") == ["page_release(f@0x0, 1) = PGREL_NOTREL"]
        assert clean.p_selock == 0 and hat_page_is_mapped(clean) and not clean.p_state & P_FREE
    elif fate == "freed":
        assert clean.p_vnode is vp and clean.p_state & P_FREE
        assert k.page_cachelist is clean
    else:
        assert page_exists(vp, 0) is None and clean.p_vnode is None
    pvn_write_done(kl.plist, B_WRITE | flags)
    check_kernel(k)


NEIGHBOURS = {
    "missing": (0, None),
    "cache-list": (0, {"cached": True}),
    "X-held-by-other": (0, {"nrm": P_MOD, "lock": "X@other"}),
    "S-held-by-other-vs-EXCL": (B_FREE, {"nrm": P_MOD, "lock": "S@other"}),
    "io-locked-sync": (0, {"nrm": P_MOD, "io": "other"}),
    "lckcnt-B_FREE": (B_FREE, {"nrm": P_MOD, "lckcnt": 1}),
    "cowcnt-B_INVAL": (B_INVAL, {"nrm": P_MOD, "cowcnt": 1}),
}


@pytest.mark.parametrize("case", list(NEIGHBOURS))
def test_s7_09_write_kluster_stops_at_an_ineligible_neighbour(roomy: Kernel, case: str) -> None:
    """§7.9 write kluster stops at a missing, cached, busy or logically locked page.

    Each neighbour is taken with page_lookup_nowait (L286), which returns NULL
    for a missing page, for a free (cache-list) page (never reclaimed) and for
    a page whose lock cannot be had without waiting (SE_SHARED vs an EXCL
    holder, SE_EXCL for B_FREE/B_INVAL vs any holder).  Otherwise
    pvn_getdirty(pp, flags | B_DELWRI) (L289) refuses it: B_DELWRI forces
    page_io_trylock even for a synchronous caller (L610-613), and B_FREE or
    B_INVAL refuse a page with p_lckcnt/p_cowcnt (L592-595) - both unlock it.
    The scan stops at the first refusal (L287-290), so the dirty page at
    8192 beyond it is never looked at.
    """
    k = roomy
    vp = k.vnode("f")
    flags, state = NEIGHBOURS[case]
    pp = make_page(vp, 0, nrm=P_MOD, lock="X" if flags else "S")
    neighbour = make_page(vp, 4096, **state) if state is not None else None
    beyond = make_page(vp, 8192, nrm=P_MOD)
    before = lock_text(neighbour) if neighbour is not None else None
    assert pvn_getdirty(pp, flags) == 1

    k.trace_on()
    kl = pvn_write_kluster(vp, pp, 0, 16384, flags)

    assert (kl.off, kl.len) == (0, 4096)
    assert kl.pages == [pp]
    assert (beyond.p_selock, beyond.p_iolock_state, beyond.p_nrm) == (0, 0, P_MOD)
    if neighbour is not None:
        assert lock_text(neighbour) == before
        assert neighbour.p_vnode is vp
    if case == "cache-list":
        assert neighbour is not None and neighbour.p_state & P_FREE and k.vm.pgrec == 0
    if case == "io-locked-sync":
        assert trace_lines(k, "page_io_trylock") == ["page_io_trylock(f@0x1000) = 0"]
        assert neighbour is not None and neighbour.p_ioowner == "other"
    if case in ("lckcnt-B_FREE", "cowcnt-B_INVAL"):
        assert neighbour is not None and neighbour.p_nrm == P_MOD


@pytest.mark.parametrize(
    ("v_flag", "flags", "expected"),
    [
        (VISSWAP, B_INVAL, [4096]),
        (VSWAPLIKE, B_INVAL, [4096]),
        (VISSWAP, 0, [0, 4096, 8192]),
        (0, B_INVAL, [0, 4096, 8192]),
    ],
    ids=["VISSWAP-inval", "VSWAPLIKE-inval", "VISSWAP-writeback", "regular-inval"],
)
def test_s7_10_swap_vnode_invalidation_is_not_klustered(
    roomy: Kernel, v_flag: int, flags: int, expected: list[int]
) -> None:
    """§7.10 IS_SWAPVP + B_INVAL -> no klustering (*lenp = PAGESIZE).

    L256-259 return pp alone when B_INVAL is set on a swap-like vnode: its
    neighbours may belong to other processes, so they must not be destroyed.
    The neighbours are not even looked up.  Either condition alone klusters
    as usual.
    """
    k = roomy
    vp = k.vnode("f", v_flag=v_flag)
    left = make_page(vp, 0, nrm=P_MOD)
    pp = make_page(vp, 4096, nrm=P_MOD, lock="X" if flags else "S")
    right = make_page(vp, 8192, nrm=P_MOD)
    assert pvn_getdirty(pp, flags) == 1

    kl = pvn_write_kluster(vp, pp, 0, 12288, flags)

    assert offsets(kl.pages) == expected
    assert (kl.off, kl.len) == (expected[0], PAGESIZE * len(expected))
    if len(expected) == 1:
        assert left.p_selock == right.p_selock == 0
        assert left.p_nrm == right.p_nrm == P_MOD
    pvn_write_done(kl.plist, B_WRITE | flags)
    check_kernel(k)


# ---------------------------------------------------------------------------
# 11: pvn_getdirty

GETDIRTY_MATRIX = [
    ("lckcnt-B_FREE", {"nrm": P_MOD, "lckcnt": 1, "lock": "X"}, B_FREE, 0, "unlocked"),
    ("async-io-busy", {"nrm": P_MOD, "lock": "SS", "io": "other"}, B_ASYNC, 0, "unlocked"),
    ("clean-B_INVAL", {"lock": "X"}, B_INVAL, 0, "destroyed"),
    ("clean-B_FREE", {"lock": "X"}, B_FREE, 0, "cache-tail"),
    ("clean-B_FREE|B_DONTNEED", {"lock": "X"}, B_FREE | B_DONTNEED, 0, "cache-head"),
    ("clean-advisory-unmapped", {"lock": "S"}, 0, 0, "cache-tail"),
    ("clean-advisory-mapped", {"lock": "S", "maps": ("r",)}, 0, 0, "unlocked"),
    ("dirty-B_INVAL|B_TRUNC", {"nrm": P_MOD, "lock": "X"}, B_INVAL | B_TRUNC, 0, "destroyed"),
    ("dirty-B_FREE|B_TRUNC", {"nrm": P_MOD, "lock": "X"}, B_FREE | B_TRUNC, 0, "cache-tail"),
    ("dirty-hw-mod-writeback", {"lock": "S", "maps": ("rm",)}, 0, 1, "write-shared"),
    ("dirty-async", {"nrm": P_MOD, "lock": "S"}, B_ASYNC, 1, "write-shared"),
    ("dirty-B_FREE", {"nrm": P_MOD, "lock": "X", "maps": ("rm",)}, B_FREE, 1, "write-shared"),
    ("dirty-B_INVAL", {"nrm": P_MOD, "lock": "X"}, B_INVAL, 1, "write-excl"),
]


@pytest.mark.parametrize(
    ("state", "flags", "result", "outcome"),
    [row[1:] for row in GETDIRTY_MATRIX],
    ids=[row[0] for row in GETDIRTY_MATRIX],
)
def test_s7_11_getdirty_return_matrix(
    roomy: Kernel, state: dict[str, Any], flags: int, result: int, outcome: str
) -> None:
    """§7.11 pvn_getdirty return matrix.

    * lckcnt != 0 with B_FREE/B_INVAL (no TRUNC/FORCE): unlock, 0 (L592-595);
    * B_ASYNC without B_INVAL and the i/o lock busy: trylock fails, unlock,
      0 (L610-613);
    * clean (after L629-633 fold the hardware bits in) or B_TRUNC: B_INVAL
      destroys (L641-643), B_FREE frees to the cache list, at the head with
      B_DONTNEED (L644-646), neither goes to page_release(pp, 1) (L660),
      which frees an unmapped page and only unlocks a mapped one; B_TRUNC
      discards a dirty page without I/O (L635);
    * dirty: REF/MOD cleared (L669), i/o lock kept, and 1 returned with the
      page SHARED (downgraded at L677-678 for B_FREE) or still EXCL for
      B_INVAL alone.  A hardware mod bit found by hat_pagesync(ZERORM)
      counts as dirty.
    """
    k = roomy
    anchor = make_page(k.vnode("other"), 0, cached=True)
    vp = k.vnode("f")
    pp = make_page(vp, 4096, **state)

    assert pvn_getdirty(pp, flags) == result

    if outcome == "unlocked":
        # Our hold is dropped; another thread writing the page keeps its own.
        others = 1 if state.get("lock") == "SS" else 0
        assert pp.p_selock == others and pp.p_vnode is vp and not pp.p_state & P_FREE
        assert pp.p_ioowner == state.get("io")  # ours released, another's kept
        assert pp.p_nrm & P_MOD == state.get("nrm", 0) & P_MOD
    elif outcome == "destroyed":
        assert pp.p_vnode is None and page_exists(vp, 4096) is None and pp.p_state & P_FREE
    elif outcome == "cache-tail":
        assert pp.p_vnode is vp and pp.p_state & P_FREE
        assert k.page_cachelist is anchor and anchor.p_prev is pp
    elif outcome == "cache-head":
        assert pp.p_vnode is vp and pp.p_state & P_FREE and k.page_cachelist is pp
    else:
        assert pp.p_selock == (-1 if outcome == "write-excl" else 1)
        assert pp.p_iolock_state and pp.p_ioowner == "main"
        assert pp.p_nrm & (P_REF | P_MOD) == 0
        assert not (flags & (B_FREE | B_INVAL) and hat_page_is_mapped(pp))
    check_kernel(k)


# ---------------------------------------------------------------------------
# 12-15: pvn_write_done


@pytest.mark.parametrize(
    ("kernel_pages", "write_free", "freed"),
    [(724, 1, True), (723, 1, False), (724, 0, False)],
    ids=["freemem-299-below", "freemem-300-at-threshold", "write_free-off"],
)
def test_s7_12_write_done_write_free(kernel_pages: int, write_free: int, freed: bool) -> None:
    """§7.12 write_free: freemem < lotsfree + 200 turns a write-back into free-after-write.

    L383-386 add B_FREE when write_free is set, freemem < lotsfree +
    pages_before_pager (strictly) and the write did not fail.  The page is
    mapped, so without B_FREE it would take the plain unlock of L547-548;
    with it, the mapping is unloaded (L502) and the unreferenced page freed
    (L525).  lotsfree = 100: the threshold is 300.
    """
    k = Kernel(total_pages=1024, kernel_pages=kernel_pages, lotsfree=100, write_free=write_free)
    vp = k.vnode("f")
    pp = make_page(vp, 0, maps=("-",), lock="S", io="me")
    assert k.freemem == 1024 - kernel_pages - 1

    pvn_write_done(pp, B_WRITE)

    assert pp.p_selock == 0 and not pp.p_iolock_state
    if freed:
        assert pp.p_state & P_FREE and not hat_page_is_mapped(pp)
        assert (k.vm.pgout, k.vm.dfree) == (1, 1)
    else:
        assert not pp.p_state & P_FREE and hat_page_is_mapped(pp)
        assert (k.vm.pgout, k.vm.dfree) == (0, 0)
    check_kernel(k)


@pytest.mark.parametrize(
    ("state", "outcome", "stats"),
    [
        ({}, "freed", {"pgout": 1, "pgpgout": 1, "dfree": 1, "pgrec": 0}),
        ({"nrm": P_REF}, "kept", {"pgout": 1, "pgpgout": 1, "dfree": 0, "pgrec": 1}),
        ({"lock": "SS"}, "kept-by-other", {"pgout": 1, "pgpgout": 1, "dfree": 0, "pgrec": 0}),
        ({"maps": ("-",)}, "kept", {"pgout": 0, "pgpgout": 0, "dfree": 0, "pgrec": 0}),
    ],
    ids=["unmapped-unreferenced", "referenced-during-io", "second-reader", "mapped"],
)
def test_s7_13_write_done_frees_unmapped_pages_without_b_free(
    roomy: Kernel, state: dict[str, Any], outcome: str, stats: dict[str, int]
) -> None:
    """§7.13 pvn_write_done frees unmapped pages even without B_FREE.

    L442 takes the free path for ``B_FREE || !hat_page_is_mapped(pp)``.  The
    page is freed (L525) only if page_tryupgrade succeeds (L468) and neither
    REF nor MOD was set during the I/O (L486); a reference counts as a
    reclaim (pgrec, L529-530); a second SHARED holder makes the upgrade fail
    and the page is just unlocked (L540) - pgpgout was already counted at
    L459.  A mapped page without B_FREE is only unlocked (L547-548).
    """
    k = roomy
    vp = k.vnode("f")
    pp = make_page(vp, 0, **{"lock": "S", "io": "me", **state})

    pvn_write_done(pp, B_WRITE)

    assert not pp.p_iolock_state
    got = k.vm.as_dict()
    assert {name: got[name] for name in stats} == stats
    if outcome == "freed":
        assert pp.p_state & P_FREE and pp.p_vnode is vp and pp.p_selock == 0
    elif outcome == "kept":
        assert not pp.p_state & P_FREE and pp.p_selock == 0
    else:
        assert not pp.p_state & P_FREE and lock_text(pp) == "S1@other"
    check_kernel(k)


def test_s7_14_write_error_keeps_the_page_dirty_where_it_is() -> None:
    """§7.14 B_ERROR keeps the page dirty (hat_setmod_only, no VMODSORT move) and unlocked.

    A failed write skips the VMODSORT move to the head (L400 tests B_ERROR)
    and sets P_MOD again with hat_setmod_only (L430), which never moves the
    page: it stays at the tail, where dirty pages belong, ready for a retry.
    Both locks are released (L431-432).  The same write without an error
    would have moved the clean page to the head (§7.16).
    """
    k = Kernel(total_pages=1024, lotsfree=0, pages_before_pager=0)
    vp = k.vnode("f", v_flag=VMODSORT)
    make_page(vp, 0, at="tail")
    make_page(vp, 4096, at="tail")
    pp = make_page(vp, 8192, lock="S", io="me", at="tail")  # written: MOD cleared by getdirty

    pvn_write_done(pp, B_WRITE | B_ERROR)

    assert vlist(vp) == ["f@0x0", "f@0x1000", "f@0x2000"]
    assert hat_ismod(pp) and pp.p_selock == 0 and not pp.p_iolock_state
    assert k.vm.pgout == 0
    check_kernel(k)


@pytest.mark.parametrize(
    ("flags", "destroyed"),
    [(B_ERROR | B_INVAL | B_FORCE, True), (B_ERROR | B_INVAL, False), (B_ERROR | B_FORCE, False)],
    ids=["ERROR|INVAL|FORCE", "ERROR|INVAL", "ERROR|FORCE"],
)
def test_s7_14_write_error_destroys_only_with_inval_and_force(
    roomy: Kernel, flags: int, destroyed: bool
) -> None:
    """§7.14 B_ERROR|B_INVAL|B_FORCE destroys; B_ERROR|B_INVAL without FORCE keeps it.

    L425-428 destroy a failed page only when both B_INVAL and B_FORCE are
    set; any other failure goes to L430-432 (re-marked modified, unlocked)
    even though B_INVAL alone would destroy a successfully written page
    (L434-441).
    """
    k = roomy
    vp = k.vnode("f")
    pp = make_page(vp, 0, lock="X", io="me")

    pvn_write_done(pp, B_WRITE | flags)

    if destroyed:
        assert pp.p_vnode is None and page_exists(vp, 0) is None
    else:
        assert pp.p_vnode is vp and hat_ismod(pp) and pp.p_selock == 0 and not pp.p_iolock_state
    check_kernel(k)


def test_s7_14_write_error_suppresses_write_free() -> None:
    """§7.14 B_ERROR suppresses write_free.

    Memory is below lotsfree + pages_before_pager, but L383-384 add B_FREE
    only when the write succeeded: the failed page is kept, dirty, and no
    page-out is counted.  (Without the error this unmapped page would be
    freed, §7.12/§7.13.)
    """
    k = Kernel(total_pages=1024, kernel_pages=900)
    vp = k.vnode("f")
    pp = make_page(vp, 0, lock="S", io="me")
    assert k.freemem < k.lotsfree + k.pages_before_pager  # type: ignore[operator]

    pvn_write_done(pp, B_WRITE | B_ERROR)

    assert not pp.p_state & P_FREE and hat_ismod(pp) and pp.p_selock == 0
    assert k.vm.pgout == k.vm.pgpgout == 0
    check_kernel(k)


@pytest.mark.parametrize(
    ("v_flag", "kind"),
    [(0, "fs"), (VVMEXEC, "exec"), (VISSWAPFS, "anon"), (VISSWAPFS | VVMEXEC, "anon")],
    ids=["file", "VVMEXEC", "VISSWAPFS", "VISSWAPFS|VVMEXEC"],
)
def test_s7_15_write_done_statistics(roomy: Kernel, v_flag: int, kind: str) -> None:
    """§7.15 stats: pgout once per call, pgpgout per page, dfree freed, pgrec re-referenced.

    pgout is set to 1 (L458), not incremented, so one call adds at most 1;
    pgpgout counts every page that took the free path (L459); dfree the ones
    freed (L527), pgrec the ones referenced during the I/O (L530).  The
    page-out and free counters are classified by IS_SWAPFSVP first, then
    VVMEXEC (L446-456, L512-523).  A mapped page written without B_FREE is
    not counted at all.
    """
    k = roomy
    vp = k.vnode("f", v_flag=v_flag)
    freed = make_page(vp, 0, lock="S", io="me")
    rereferenced = make_page(vp, 4096, nrm=P_REF, lock="S", io="me")
    mapped = make_page(vp, 8192, maps=("-",), lock="S", io="me")

    pvn_write_done(plist_of(freed, rereferenced, mapped), B_WRITE)

    expected = dict.fromkeys(k.vm.as_dict(), 0)
    expected.update(
        {"pgout": 1, "pgpgout": 2, "dfree": 1, "pgrec": 1, f"{kind}pgout": 2, f"{kind}free": 1}
    )
    assert k.vm.as_dict() == expected

    pvn_write_done(make_page(vp, 12288, maps=("-",), lock="S", io="me"), B_WRITE)
    assert k.vm.pgout == 1  # nothing took the free path
    pvn_write_done(make_page(vp, 16384, lock="S", io="me"), B_WRITE)
    assert (k.vm.pgout, k.vm.pgpgout, k.vm.dfree) == (2, 3, 2)
    check_kernel(k)


# ---------------------------------------------------------------------------
# 16: VMODSORT ordering


def _vmodsort_kernel(**kw: Any) -> Kernel:
    return Kernel(total_pages=1024, lotsfree=0, pages_before_pager=0, **kw)


def test_s7_16_new_pages_enter_at_the_head() -> None:
    """§7.16 VMODSORT ordering: new pages enter at the head.

    page_create_va hashes a new page in at the head of v_pages (page_hashin
    adds at the tail only a page that is already modified), so clean pages
    accumulate at the head even when dirty pages are present.
    """
    k = _vmodsort_kernel()
    vp = k.vnode("f", v_flag=VMODSORT)
    make_page(vp, 0, at="tail")
    make_page(vp, 4096, nrm=P_MOD, at="tail")

    new = page_create_va(vp, 8192, PAGESIZE, PG_EXCL, None, 0)

    assert new is not None
    assert vlist(vp) == ["f@0x2000", "f@0x0", "f@0x1000"]


@pytest.mark.parametrize("vmodsort", [True, False], ids=["VMODSORT", "pvn_vmodsort_disable"])
def test_s7_16_hat_setmod_moves_a_clean_page_to_the_tail_once(vmodsort: bool) -> None:
    """§7.16 hat_setmod on a clean page moves it to the tail; on a dirty page it does not.

    hat_page_setattr moves a page of an IS_VMODSORT vnode after the current
    tail when P_MOD newly becomes set, and returns early when every requested
    bit is already set.  IS_VMODSORT also needs pvn_vmodsort_supported, which
    pvn_init (L700-701) leaves 0 when pvn_vmodsort_disable is set: then
    nothing moves.
    """
    k = _vmodsort_kernel(pvn_vmodsort_disable=0 if vmodsort else 1)
    vp = k.vnode("f", v_flag=VMODSORT)
    a, b, _c = (make_page(vp, off, at="tail") for off in (0, 4096, 8192))

    hat_setmod(a)
    assert vlist(vp) == (
        ["f@0x1000", "f@0x2000", "f@0x0"] if vmodsort else ["f@0x0", "f@0x1000", "f@0x2000"]
    )
    before = vlist(vp)
    hat_setmod(a)
    assert vlist(vp) == before
    hat_setmod(b)
    assert vlist(vp) == (
        ["f@0x2000", "f@0x0", "f@0x1000"] if vmodsort else ["f@0x0", "f@0x1000", "f@0x2000"]
    )
    check_kernel(k)


def test_s7_16_hat_setmod_only_never_moves() -> None:
    """§7.16 hat_setmod_only never moves (P_NSH), whatever the page's place."""
    k = _vmodsort_kernel()
    vp = k.vnode("f", v_flag=VMODSORT)
    a, b, c = (make_page(vp, off, at="tail") for off in (0, 4096, 8192))

    for pp in (a, b, c):
        hat_setmod_only(pp)

    assert vlist(vp) == ["f@0x0", "f@0x1000", "f@0x2000"]
    assert all(hat_ismod(pp) for pp in (a, b, c))


def test_s7_16_write_done_moves_a_still_clean_page_to_the_head() -> None:
    """§7.16 pvn_write_done moves a still-clean page to the head; a re-dirtied one stays.

    L400-411: after a successful write of a VMODSORT page that is not alone
    on v_pages and not modified, the page is moved to the head.  A page
    dirtied again during the I/O (hat_setmod moved it to the tail, where it
    already was) is left at the tail.
    """
    k = _vmodsort_kernel()
    vp = k.vnode("f", v_flag=VMODSORT)
    make_page(vp, 0, at="tail")
    make_page(vp, 4096, at="tail")
    d1 = make_page(vp, 8192, nrm=P_MOD, lock="S", maps=("-",), at="tail")
    d2 = make_page(vp, 12288, nrm=P_MOD, lock="S", maps=("-",), at="tail")
    assert pvn_getdirty(d1, 0) == 1 and pvn_getdirty(d2, 0) == 1
    assert vlist(vp) == ["f@0x0", "f@0x1000", "f@0x2000", "f@0x3000"]  # getdirty does not move

    hat_setmod(d2)  # d2 is written to again while its write is in flight
    pvn_write_done(d1, B_WRITE)
    pvn_write_done(d2, B_WRITE)

    assert vlist(vp) == ["f@0x2000", "f@0x0", "f@0x1000", "f@0x3000"]
    assert not hat_ismod(d1) and hat_ismod(d2)
    check_kernel(k)


def test_s7_16_a_page_alone_on_the_list_never_moves() -> None:
    """§7.16 a page alone on the list never moves.

    L407 tests ``pp->p_vpnext != pp`` before moving: removing the only page
    would make v_pages NULL for a moment.  No page_vpsub is made.
    """
    k = _vmodsort_kernel()
    vp = k.vnode("f", v_flag=VMODSORT)
    pp = make_page(vp, 0, maps=("-",), lock="S", io="me")
    k.trace_on()

    pvn_write_done(pp, B_WRITE)

    assert trace_lines(k, "page_vpsub", "page_vpadd") == []
    assert vlist(vp) == ["f@0x0"]


# ---------------------------------------------------------------------------
# 17-24: pvn_vplist_dirty


def test_s7_17_marker_walk(roomy: Kernel) -> None:
    """§7.17 pvn_vplist_dirty marker walk: [A,B,C] -> [A,B,C,mark,end] -> ... -> [A,B,C].

    L807-808 put ``mark`` after the tail and ``end`` after ``mark``.  Each
    iteration takes pp = mark->p_vpprev (L824) and, once pp is locked, moves
    mark to just before pp (L914-915: ``&pp->p_vpprev->p_vpnext``, or
    ``&vp->v_pages`` when pp is the head, L825-828), so putapage always sees
    mark immediately before its page.  Visiting the head makes mark the new
    head; its p_vpprev is then ``end`` (the ring wraps) and the walk stops
    (L821-822).  L970-971 remove both markers.
    """
    k = roomy
    vp = k.vnode("f")
    for off in (0, 4096, 8192):
        make_page(vp, off, nrm=P_MOD, maps=("-",), at="tail")
    seen: list[list[str]] = []
    putapage, calls = writer(on_call=lambda v, pp: seen.append(vlist(v)))
    k.trace_on()

    assert pvn_vplist_dirty(vp, 0, putapage, 0, CRED) == 0

    assert calls == ["f@0x2000", "f@0x1000", "f@0x0"]
    assert seen == [
        ["f@0x0", "f@0x1000", "MARK(-1)", "f@0x2000", "MARK(-2)"],
        ["f@0x0", "MARK(-1)", "f@0x1000", "f@0x2000", "MARK(-2)"],
        ["MARK(-1)", "f@0x0", "f@0x1000", "f@0x2000", "MARK(-2)"],
    ]
    assert trace_lines(k, "page_vpadd", "page_vpsub") == [
        "page_vpadd(&f@0x2000.p_vpnext, MARK(-1))",
        "page_vpadd(&MARK(-1).p_vpnext, MARK(-2))",
        "page_vpsub(&f.v_pages, MARK(-1))",
        "page_vpadd(&f@0x1000.p_vpnext, MARK(-1))",
        "page_vpsub(&f.v_pages, MARK(-1))",
        "page_vpadd(&f@0x0.p_vpnext, MARK(-1))",
        "page_vpsub(&f.v_pages, MARK(-1))",
        "page_vpadd(&f.v_pages, MARK(-1))",
        "page_vpsub(&f.v_pages, MARK(-1))",
        "page_vpsub(&f.v_pages, MARK(-2))",
    ]
    assert len(k.trace.filter("page_lock", nested=False)) == 3
    assert vlist(vp) == ["f@0x0", "f@0x1000", "f@0x2000"]
    assert not vp.v_flag & VVMLOCK
    check_kernel(k)


def _vmodsort_vnode(k: Kernel, pages: list[tuple[int, dict[str, Any]]]) -> Vnode:
    vp = k.vnode("f", v_flag=VMODSORT)
    for off, state in pages:
        make_page(vp, off, at="tail", **state)
    return vp


def test_s7_18_vmodsort_early_stop(roomy: Kernel) -> None:
    """§7.18 VMODSORT early stop: [c1,c2,d1,d2], flags 0 -> d2, d1 written, stop at c2.

    With IS_VMODSORT and none of B_INVAL|B_FREE|B_TRUNC (L838-839), a page
    that is neither modified nor i/o-locked ends the walk (L840, L869): all
    pages nearer the head are clean too.  d2 and d1 are written (and moved to
    the head by pvn_write_done); c2 stops the walk, so c1 is never examined.
    """
    k = roomy
    vp = _vmodsort_vnode(k, [(0, {}), (4096, {}), (8192, {"nrm": P_MOD}), (12288, {"nrm": P_MOD})])
    putapage, calls = writer()
    k.trace_on()

    assert pvn_vplist_dirty(vp, 0, putapage, 0, CRED) == 0

    assert calls == ["f@0x3000", "f@0x2000"]
    assert "hat_ismod(f@0x1000) = 0" in trace_lines(k, "hat_ismod")
    assert not [e for e in k.trace if "f@0x0" in e.args]
    check_kernel(k)


IO_BUSY_WALK: list[tuple[int, dict[str, Any]]] = [
    (0, {}),  # c1
    (4096, {"nrm": P_MOD}),  # d0
    (8192, {"lock": "S@other", "io": "other"}),  # x: being written by another thread
    (12288, {"nrm": P_MOD}),  # d1
    (16384, {"nrm": P_MOD}),  # d2
]


def test_s7_18_sync_walk_waits_for_a_page_being_written(roomy: Kernel) -> None:
    """§7.18 if c2 is io-locked (being written), sync callers wait for it.

    The list is [c1, d0, x, d1, d2]: x was dirty, another thread's write has
    cleared its MOD bit and still holds it SHARED and i/o-locked (it stays at
    the tail end until that write completes).  After d2 and d1, x is clean
    but i/o-locked, and flags lack B_ASYNC: L870-879 drop vphm,
    page_io_wait(x) and retry from the same marker position.  Nobody can
    finish x's write in a single-threaded run, so the wait is a deadlock.
    """
    k = roomy
    vp = _vmodsort_vnode(k, IO_BUSY_WALK)
    putapage, calls = writer()

    with pytest.raises(DeadlockError) as info:
        pvn_vplist_dirty(vp, 0, putapage, 0, CRED)

    assert calls == ["f@0x4000", "f@0x3000"]
    (wait,) = info.value.waits
    assert (wait.what, wait.holder) == ("i/o lock of f@0x2000", "other")


def test_s7_18_sync_walk_continues_after_the_write_completes(roomy: Kernel) -> None:
    """§7.18 ... and continue: after x's write completes the walk goes on to d0.

    When the other thread finishes x's write (pvn_write_done moves the clean
    x to the head, L400-411, and frees it), page_io_wait returns and the loop
    re-reads mark->p_vpprev: d0 is dirty and written; c1 is clean and idle
    and stops the walk.
    """
    k = roomy
    vp = _vmodsort_vnode(k, IO_BUSY_WALK)
    x = page_exists(vp, 8192)
    assert x is not None
    putapage, calls = writer()
    k.sched = sched = OtherThreadOnce(lambda: pvn_write_done(x, B_WRITE))

    assert pvn_vplist_dirty(vp, 0, putapage, 0, CRED) == 0

    assert sched.slept_for == ["i/o lock of f@0x2000"]
    assert calls == ["f@0x4000", "f@0x3000", "f@0x1000"]
    assert x.p_state & P_FREE and not x.p_iolock_state
    check_kernel(k)


def test_s7_18_async_walk_falls_through_and_tries_to_lock_it(roomy: Kernel) -> None:
    """§7.18 async callers fall through and try to lock the page being written.

    With B_ASYNC the L870 branch is not taken, so x is handled like any page:
    the marker moves first and page_trylock(x, SE_SHARED) succeeds beside the
    writer's shared hold (L921-930); pvn_getdirty cannot get the busy i/o
    lock without waiting (L610-613), unlocks x and returns 0.  The walk goes
    on to d0 and stops at c1.
    """
    k = roomy
    vp = _vmodsort_vnode(k, IO_BUSY_WALK)
    x = page_exists(vp, 8192)
    assert x is not None
    putapage, calls = writer()
    k.trace_on()

    assert pvn_vplist_dirty(vp, 0, putapage, B_ASYNC, CRED) == 0

    assert calls == ["f@0x4000", "f@0x3000", "f@0x1000"]
    assert "page_trylock(f@0x2000, SE_SHARED) = 1" in trace_lines(k, "page_trylock")
    assert "pvn_getdirty(f@0x2000, B_ASYNC) = 0" in trace_lines(k, "pvn_getdirty")
    assert (lock_text(x), x.p_ioowner) == ("S1@other", "other")


@pytest.mark.parametrize(
    ("flags", "tail_page_written"),
    [(B_ASYNC, False), (B_ASYNC | B_FREE, True), (B_ASYNC | B_DONTNEED, True), (0, True)],
    ids=["B_ASYNC", "B_ASYNC|B_FREE", "B_ASYNC|B_DONTNEED", "sync"],
)
def test_s7_19_pure_async_walk_ignores_pages_added_at_the_tail(
    roomy: Kernel, flags: int, tail_page_written: bool
) -> None:
    """§7.19 flags == B_ASYNC exactly stops when mark reaches the head.

    A page added at the tail during the walk lands after ``end``, between
    ``end`` and the head.  L815-816 end a walk whose flags are exactly
    B_ASYNC as soon as mark is the head, so that page is not processed; any
    other flags (even B_ASYNC plus B_FREE or B_DONTNEED) keep walking until
    mark->p_vpprev is ``end`` (L821) and write it.
    """
    k = roomy
    vp = k.vnode("f")
    for off in (0, 4096, 8192):
        make_page(vp, off, nrm=P_MOD, at="tail")
    added: list[Page] = []

    def add_at_tail(v: Vnode, pp: Page) -> None:
        if pp.name == "f@0x2000":
            added.append(make_page(v, 12288, nrm=P_MOD, at="tail"))
            assert vlist(v) == ["f@0x0", "f@0x1000", "MARK(-1)", "f@0x2000", "MARK(-2)", "f@0x3000"]

    putapage, calls = writer(on_call=add_at_tail)

    assert pvn_vplist_dirty(vp, 0, putapage, flags, CRED) == 0

    assert calls == ["f@0x2000", "f@0x1000", "f@0x0"] + (["f@0x3000"] if tail_page_written else [])
    (new,) = added
    assert bool(hat_ismod(new)) != tail_page_written
    check_kernel(k)


def test_s7_19_page_inserted_at_the_head_keeps_an_async_walk_going(roomy: Kernel) -> None:
    """§7.19 a page inserted at the head while mark is head makes v_pages != mark.

    When the walk reaches the head page A, mark becomes the head before A is
    written (L921-922 with where_to_move = &vp->v_pages).  A page created
    during A's putapage goes in front of mark and becomes v_pages, so the
    L815 test fails, mark->p_vpprev is the new page (not ``end``) and the pure
    B_ASYNC walk writes it too.
    """
    k = roomy
    vp = k.vnode("f")
    for off in (0, 4096, 8192):
        make_page(vp, off, nrm=P_MOD, at="tail")

    def add_at_head(v: Vnode, pp: Page) -> None:
        if pp.name == "f@0x0":
            assert vlist(v)[0] == "MARK(-1)"
            make_page(v, 12288, nrm=P_MOD)
            assert vlist(v)[:2] == ["f@0x3000", "MARK(-1)"]

    putapage, calls = writer(on_call=add_at_head)

    assert pvn_vplist_dirty(vp, 0, putapage, B_ASYNC, CRED) == 0

    assert calls == ["f@0x2000", "f@0x1000", "f@0x0", "f@0x3000"]
    check_kernel(k)


@pytest.mark.parametrize("flags", [B_ASYNC, B_ASYNC | B_FREE, B_ASYNC | B_INVAL])
def test_s7_20_async_walk_on_a_busy_vnode_returns_eagain(roomy: Kernel, flags: int) -> None:
    """§7.20 EAGAIN: B_ASYNC on a vnode whose VVMLOCK is held returns at once.

    L767-771: with VVMLOCK set (here by another thread) and any B_ASYNC
    request, the routine returns EAGAIN without waiting, so sync() or
    fsflush never stall behind another walk.  No marker is allocated and no
    page touched.
    """
    k = roomy
    vp = k.vnode("f", v_flag=VVMLOCK)
    pp = make_page(vp, 0, nrm=P_MOD)
    putapage, calls = writer()
    assert k.marker_cache is not None
    built = k.marker_cache.built

    assert pvn_vplist_dirty(vp, 0, putapage, flags, CRED) == EAGAIN

    assert calls == [] and k.marker_cache.built == built
    assert (pp.p_selock, pp.p_nrm) == (0, P_MOD)
    assert vp.v_flag & VVMLOCK and vp.v_lock.owner is None


@pytest.mark.parametrize("flags", [0, B_FREE, B_INVAL])
def test_s7_20_sync_walk_on_a_busy_vnode_blocks(roomy: Kernel, flags: int) -> None:
    """§7.20 without B_ASYNC it blocks on v_cv while VVMLOCK is set (L773-774)."""
    k = roomy
    vp = k.vnode("f", v_flag=VVMLOCK)
    make_page(vp, 0, nrm=P_MOD)
    putapage, calls = writer()

    with pytest.raises(DeadlockError) as info:
        pvn_vplist_dirty(vp, 0, putapage, flags, CRED)

    (wait,) = info.value.waits
    assert (wait.what, wait.holder) == ("VVMLOCK of f", "other")
    assert calls == []


def test_s7_20_second_async_walk_during_a_walk_gets_eagain(roomy: Kernel) -> None:
    """§7.20 a second pvn_vplist_dirty with B_ASYNC while the first holds VVMLOCK -> EAGAIN.

    The first walk sets VVMLOCK (L781) and drops v_lock (L782); a nested
    async walk started from its putapage finds the flag and returns EAGAIN
    (L768-770) instead of deadlocking.
    """
    k = roomy
    vp = k.vnode("f")
    make_page(vp, 0, nrm=P_MOD)
    inner: list[int] = []
    inner_putapage, inner_calls = writer()
    putapage, calls = writer(
        on_call=lambda v, pp: inner.append(pvn_vplist_dirty(v, 0, inner_putapage, B_ASYNC, CRED))
    )

    assert pvn_vplist_dirty(vp, 0, putapage, 0, CRED) == 0

    assert inner == [EAGAIN] and inner_calls == [] and calls == ["f@0x0"]
    check_kernel(k)


@pytest.mark.parametrize("flags", [0, B_ASYNC])
def test_s7_20_empty_vnode_returns_0_before_looking_at_vvmlock(roomy: Kernel, flags: int) -> None:
    """§7.20 v_pages == NULL returns 0 before looking at VVMLOCK.

    L757-758 test v_pages without any lock and return 0 before L767 takes
    v_lock: neither EAGAIN nor a wait, even though VVMLOCK is held.
    """
    k = roomy
    vp = k.vnode("f", v_flag=VVMLOCK)
    putapage, _ = writer()
    k.trace_on()

    assert pvn_vplist_dirty(vp, 0, putapage, flags, CRED) == 0

    assert [e.name for e in k.trace] == ["pvn_vplist_dirty"]


def test_s7_21_offset_filter_skips_but_walks_low_pages(roomy: Kernel) -> None:
    """§7.21 the offset filter skips pages with p_offset < off but still walks them.

    L887-890 move the marker past a page below ``off`` without locking it,
    so the walk still goes all the way to the head (the list is not sorted
    by offset) and stops only when mark->p_vpprev is ``end``.
    """
    k = roomy
    vp = k.vnode("f")
    low = [make_page(vp, off, nrm=P_MOD, at="tail") for off in (0, 4096)]
    for off in (8192, 12288):
        make_page(vp, off, nrm=P_MOD, at="tail")
    putapage, calls = writer()
    k.trace_on()

    assert pvn_vplist_dirty(vp, 8192, putapage, 0, CRED) == 0

    assert calls == ["f@0x3000", "f@0x2000"]
    assert [e.args[0] for e in k.trace.filter("page_lock", nested=False)] == [
        "f@0x3000",
        "f@0x2000",
    ]
    assert trace_lines(k, "page_vpadd")[-2:] == [
        "page_vpadd(&f@0x0.p_vpnext, MARK(-1))",
        "page_vpadd(&f.v_pages, MARK(-1))",
    ]
    assert all(pp.p_selock == 0 and hat_ismod(pp) for pp in low)
    check_kernel(k)


@pytest.mark.parametrize(
    ("flags", "lock_call", "destroyed"),
    [
        (0, "page_lock(f@0x1000, SE_SHARED, vphm(f), P_NO_RECLAIM) = 1", False),
        (B_FREE, "page_lock(f@0x1000, SE_EXCL, vphm(f), P_NO_RECLAIM) = 1", False),
        (B_ASYNC, "page_trylock(f@0x1000, SE_SHARED) = 1", False),
        (B_INVAL, "page_lock(f@0x1000, SE_EXCL, vphm(f), P_NO_RECLAIM) = 1", True),
        (B_INVAL | B_TRUNC, "page_lock(f@0x1000, SE_EXCL, vphm(f), P_NO_RECLAIM) = 1", True),
    ],
    ids=["sync", "B_FREE", "B_ASYNC", "B_INVAL", "B_INVAL|B_TRUNC"],
)
def test_s7_22_free_pages_in_the_walk(
    roomy: Kernel, flags: int, lock_call: str, destroyed: bool
) -> None:
    """§7.22 free pages in the walk: locked with P_NO_RECLAIM; B_INVAL -> page_destroy_free.

    Cache-list pages are on v_pages too.  The walk locks them with
    P_NO_RECLAIM (L908), which leaves a free page on its list (an async
    walk's page_trylock, L929, does not reclaim either).  L940-943 just
    unlock it unless B_INVAL, which moves it to the free list without its
    identity (L949-951).  Either way it is never reclaimed.  (With B_TRUNC
    the dirty page A is discarded by pvn_getdirty without a putapage, L635.)
    """
    k = roomy
    vp = k.vnode("f")
    make_page(vp, 0, nrm=P_MOD)
    cached = make_page(vp, 4096, cached=True, at="tail")
    putapage, calls = writer()
    k.trace_on()

    assert pvn_vplist_dirty(vp, 0, putapage, flags, CRED) == 0

    events = [e.format() for e in k.trace.filter(nested=False) if e.args[:1] == ("f@0x1000",)]
    assert events[0] == lock_call
    assert calls == ([] if flags & B_TRUNC else ["f@0x0"])  # B_TRUNC: destroyed without I/O
    assert (k.vm.pgrec, k.vm.pgfrec) == (0, 0)
    if destroyed:
        assert events[1:] == ["page_destroy_free(f@0x1000)"]
        assert cached.p_vnode is None and cached.p_state & P_FREE
    else:
        assert events[1:] == ["page_unlock(f@0x1000)"]
        assert cached.p_vnode is vp and cached.p_state & P_FREE and cached.p_selock == 0
    check_kernel(k)


def _busy_middle(k: Kernel) -> tuple[Vnode, Page]:
    vp = k.vnode("f")
    make_page(vp, 0, nrm=P_MOD, at="tail")
    busy = make_page(vp, 4096, nrm=P_MOD, lock="X@other", at="tail")
    make_page(vp, 8192, nrm=P_MOD, at="tail")
    return vp, busy


def test_s7_23_sync_walk_blocks_on_a_locked_page(roomy: Kernel) -> None:
    """§7.23 page_lock inside the walk sleeps for a page another thread holds.

    A sync walk must lock every page (L903-909); page_lock sleeps for the
    exclusive holder, which a single-threaded run cannot wake.
    """
    k = roomy
    vp, _busy = _busy_middle(k)
    putapage, calls = writer()

    with pytest.raises(DeadlockError) as info:
        pvn_vplist_dirty(vp, 0, putapage, 0, CRED)

    assert calls == ["f@0x2000"]
    (wait,) = info.value.waits
    assert (wait.what, wait.holder) == ("page lock of f@0x1000 (SE_SHARED)", "other")


def test_s7_23_failed_page_lock_rereads_mark_prev(roomy: Kernel) -> None:
    """§7.23 page_lock failure drops vphm; the loop re-reads mark.prev.

    page_lock(pp, se, vphm, ...) drops vphm while it sleeps and returns 0
    without the lock (L908-909): meanwhile the holder destroyed the page
    (hashed out, gone from v_pages).  The marker was not moved, so the next
    iteration takes the new mark->p_vpprev, the page before the destroyed
    one, and never touches the stale pointer.
    """
    k = roomy
    vp, busy = _busy_middle(k)
    putapage, calls = writer()
    k.sched = sched = OtherThreadOnce(lambda: page_destroy(busy, 0))

    assert pvn_vplist_dirty(vp, 0, putapage, 0, CRED) == 0

    assert sched.slept_for == ["page lock of f@0x1000 (SE_SHARED)"]
    assert calls == ["f@0x2000", "f@0x0"]
    assert busy.p_vnode is None and vlist(vp) == ["f@0x0", "f@0x2000"]
    check_kernel(k)


def test_s7_23_async_walk_skips_a_busy_page_for_good(roomy: Kernel) -> None:
    """§7.23 async (non-INVAL) moves the marker before trylock, so a busy page is skipped for good.

    L921-922 move the marker past pp before page_trylock (L929); when the
    trylock fails the walk continues from the page before it and never
    comes back: the busy page is tried exactly once and left dirty.
    """
    k = roomy
    vp, busy = _busy_middle(k)
    putapage, calls = writer()
    k.trace_on()

    assert pvn_vplist_dirty(vp, 0, putapage, B_ASYNC, CRED) == 0

    assert calls == ["f@0x2000", "f@0x0"]
    lines = k.trace.lines(nested=False)
    tries = [n for n, line in enumerate(lines) if line.startswith("page_trylock(f@0x1000")]
    assert [lines[n] for n in tries] == ["page_trylock(f@0x1000, SE_SHARED) = 0"]
    assert lines[tries[0] - 1] == "page_vpadd(&f@0x0.p_vpnext, MARK(-1))"
    assert lock_text(busy) == "X@other" and hat_ismod(busy)


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        ({"f@0x2000": EIO, "f@0x0": ENOSPC}, EIO),
        ({"f@0x1000": EIO, "f@0x0": ENOSPC}, EIO),
        ({"f@0x0": ENOSPC}, ENOSPC),
        ({}, 0),
    ],
    ids=["first-page-fails", "later-page-fails-first", "last-page-fails", "no-error"],
)
def test_s7_24_first_error_wins(roomy: Kernel, errors: dict[str, int], expected: int) -> None:
    """§7.24 first error wins in pvn_vplist_dirty; later errors are dropped.

    L964-966 keep ``err`` once it is non-zero; a successful putapage (0)
    before the first failure does not count.  Errors do not stop the walk:
    every page is still visited, and failed pages stay dirty (B_ERROR).
    """
    k = roomy
    vp = k.vnode("f")
    pages = [make_page(vp, off, nrm=P_MOD, maps=("-",), at="tail") for off in (0, 4096, 8192)]
    putapage, calls = writer(errors=errors)

    assert pvn_vplist_dirty(vp, 0, putapage, 0, CRED) == expected

    assert calls == ["f@0x2000", "f@0x1000", "f@0x0"]
    assert [bool(hat_ismod(pp)) for pp in pages] == [pp.name in errors for pp in pages]
    check_kernel(k)


# ---------------------------------------------------------------------------
# 25-29: pvn_plist_init, pvn_getpages, pvn_vpzero, pvn_vplist_setdirty, read/io done


@pytest.mark.parametrize(
    ("plsz", "rw", "in_pl"),
    [
        (8192, S_READ, [12288, 16384]),
        (8192, S_CREATE, [12288, 16384]),
        (4096, S_READ, [12288]),
        (5000, S_READ, [12288, 16384]),
        (8193, S_READ, [12288, 16384, 20480]),
    ],
    ids=["plsz-8192", "S_CREATE", "plsz-4096", "plsz-5000", "plsz-8193"],
)
def test_s7_25_plist_init(roomy: Kernel, plsz: int, rw: int, in_pl: list[int]) -> None:
    """§7.25 pvn_plist_init: kluster 0..28672, off=12288, plsz=8192.

    L1168-1177 release the pages in front of ``off`` (0, 4096, 8192); the
    do-while of L1190-1198 stores pages while sz = plsz - n*PAGESIZE stays
    positive, so a plsz that is not a page multiple rounds up (5000 -> two
    pages); pl is NULL-terminated (L1199) and the rest released (L1205-1209).
    Stored pages are i/o-unlocked and downgraded to SHARED except for
    S_CREATE, which keeps them EXCL (L1195-1196).  Released fresh pages are
    clean and unmapped, so page_release(pp, 1) puts them on the cache list.
    """
    k = roomy
    vp = k.vnode("f")
    kl = pvn_read_kluster(vp, 12288, SegMap(k, "seg"), 0x13000, 0, 32768, 0)
    assert kl is not None and kl.len == 32768
    pl: list[Page | None] = [None] * (k.btopr(plsz) + 1)
    k.trace_on()

    pvn_plist_init(kl.plist, pl, plsz, 12288, kl.len, rw)

    stored = [pp for pp in pl if pp is not None]
    assert offsets(stored) == in_pl and pl[len(in_pl)] is None
    assert all(pp.p_selock == (-1 if rw == S_CREATE else 1) for pp in stored)
    assert not any(pp.p_iolock_state for pp in stored)
    released = [0, 4096, 8192] + [off for off in (16384, 20480, 24576, 28672) if off not in in_pl]
    assert [
        int(e.args[0].split("@")[1], 0) for e in k.trace.filter("page_release", nested=False)
    ] == released
    for off in released:
        pp = page_exists(vp, off)
        assert pp is not None and pp.p_state & P_FREE


def _lookup_getpage(
    fail_at: int | None = None,
) -> tuple[Callable[..., int], list[tuple[int, int, int]]]:
    """A one-page getapage: records (off, len, plsz), returns pl[0], pl[1] = NULL."""
    calls: list[tuple[int, int, int]] = []

    def getpage(
        vp: Vnode, off: int, length: int, protp: Any, pl: Any, plsz: int,
        seg: Any, addr: int, rw: int, cred: Any,
    ) -> int:  # fmt: skip
        calls.append((off, length, plsz))
        if off == fail_at:
            return EIO
        pl[0] = page_lookup(vp, off, SE_SHARED)
        pl[1] = None
        return 0

    return getpage, calls


def test_s7_26_getpages_slot_sizes(roomy: Kernel) -> None:
    """§7.26 pvn_getpages: middle calls get sz=PAGESIZE, the last call gets the rest of plsz.

    L1123 starts with sz = PAGESIZE; L1128-1134 give the last iteration
    sz = plsz - (o - off), so only the final getapage may fill the spare
    slots.  ppp advances one slot per call (L1147-1148), overwriting the NULL
    each callee stored after its page.
    """
    k = roomy
    vp = k.vnode("f")
    pages = [make_page(vp, off) for off in (0, 4096, 8192)]
    getpage, calls = _lookup_getpage()
    pl: list[Page | None] = [None] * 5

    err = pvn_getpages(
        getpage, vp, 0, 12288, None, pl, 16384, SegMap(k, "s"), 0x10000, S_READ, CRED
    )

    assert err == 0
    assert calls == [(0, 12288, 4096), (4096, 8192, 4096), (8192, 4096, 8192)]
    assert pl[:4] == [*pages, None]


@pytest.mark.parametrize(("fail_at", "released"), [(8192, 2), (0, 0)], ids=["third", "first"])
def test_s7_26_getpages_error_releases_earlier_pages(
    roomy: Kernel, fail_at: int, released: int
) -> None:
    """§7.26 an error after some pages releases them with page_release(..., 1).

    L1137-1145: on an error with o > off, every page from pl[0] up to the
    first NULL is passed to page_release(pp, 1) and its slot cleared; the
    error is returned.  An error on the first call (o == off) releases
    nothing.  The pages here are clean and unmapped, so they go to the cache
    list.
    """
    k = roomy
    vp = k.vnode("f")
    pages = [make_page(vp, off) for off in (0, 4096, 8192)]
    getpage, _calls = _lookup_getpage(fail_at)
    pl: list[Page | None] = [None] * 5
    k.trace_on()

    err = pvn_getpages(
        getpage, vp, 0, 12288, None, pl, 12288, SegMap(k, "s"), 0x10000, S_READ, CRED
    )

    assert err == EIO
    assert pl == [None] * 5
    assert trace_lines(k, "page_release") == [
        f"page_release({pp.name}, 1) = PGREL_CLEAN" for pp in pages[:released]
    ]
    assert all(pp.p_state & P_FREE for pp in pages[:released])
    check_kernel(k)


def _zeroing_vnode(k: Kernel, off: int) -> tuple[Vnode, Page, list[tuple[int, int, int]]]:
    """A vnode with one page of 0xff bytes at ``off`` and getpage/putpage operations."""
    putpages: list[tuple[int, int, int]] = []

    def getpage(
        vp: Vnode, o: int, length: int, protp: Any, pl: Any, plsz: int,
        seg: Any, addr: int, rw: int, cred: Any,
    ) -> int:  # fmt: skip
        pl[0] = page_lookup(vp, o, SE_SHARED)
        pl[1] = None
        return 0

    def putpage(vp: Vnode, o: int, length: int, flags: int, cred: Any) -> int:
        putpages.append((o, length, flags))
        return 0

    vp = k.vnode("f", ops=VnodeOps(getpage=getpage, putpage=putpage))
    pp = make_page(vp, off, data=b"\xff" * PAGESIZE)
    return vp, pp, putpages


@pytest.mark.parametrize(
    ("vplen", "zbytes", "page_off", "zeroed_from"),
    [(8192, 0, 8192, 0), (6000, 0, 4096, 1904), (6000, 2192, 4096, 1904)],
    ids=["aligned-zbytes-0", "mid-page", "zbytes-reaches-window-end"],
)
def test_s7_27_vpzero(
    roomy: Kernel, vplen: int, zbytes: int, page_off: int, zeroed_from: int
) -> None:
    """§7.27 pvn_vpzero zeroes from vplen to the end of its page, then pushes the window async.

    The early return of L1060-1061 is dead: PAGESIZE - (vplen & PAGEOFFSET)
    is never 0, so vplen = 8192 with zbytes = 0 still zeroes a whole page.
    vplen = 6000 zeroes 2192 bytes (6000..8191).  The bytes are zeroed
    through a segkmap window (L1078-1081), which dirties the page, and
    segmap_release(SM_WRITE | SM_ASYNC) (L1082) calls VOP_PUTPAGE with
    B_ASYNC on the whole MAXBSIZE window.
    """
    k = roomy
    vp, pp, putpages = _zeroing_vnode(k, page_off)

    pvn_vpzero(vp, vplen, zbytes)

    assert pp.p_data is not None
    assert bytes(pp.p_data[:zeroed_from]) == b"\xff" * zeroed_from
    assert bytes(pp.p_data[zeroed_from:]) == bytes(PAGESIZE - zeroed_from)
    assert hat_ismod(pp)
    window = vplen & ~(MAXBSIZE - 1)
    assert putpages == [(window, MAXBSIZE, B_ASYNC)]


def test_s7_27_vpzero_panics_past_the_window(roomy: Kernel) -> None:
    """§7.27 panic if zbytes + (vplen & 8191) > 8192 (L1076-1077), before anything is mapped."""
    k = roomy
    vp, pp, putpages = _zeroing_vnode(k, 4096)

    with pytest.raises(KernelPanic, match="pvn_vptrunc zbytes"):
        pvn_vpzero(vp, 6000, 2193)

    assert putpages == [] and pp.p_data == bytearray(b"\xff" * PAGESIZE)


def test_s7_28_setdirty_moves_pages_once_and_under_vphm() -> None:
    """§7.28 pvn_vplist_setdirty: moved pages are not revisited; hat_setmod_only under vphm.

    The walk holds vphm throughout (L1002-1036) and remembers the old tail
    as ``end`` (L1010).  Each selected page gets hat_setmod_only (L1022),
    which takes no mutex (hat_setmod would re-enter vphm), and on a VMODSORT
    vnode is moved after the current tail itself (L1023-1027) - beyond
    ``end``, so it is not seen again.  The walk stops after ``end``
    (L1031-1032) even when ``end`` itself was moved.
    """
    k = _vmodsort_kernel()
    vp = k.vnode("f", v_flag=VMODSORT)
    for off in (0, 4096, 8192):
        make_page(vp, off, at="tail")
    checked: list[str] = []

    def page_check(pp: Page) -> int:
        assert vp.v_vphm.owner == "main"
        checked.append(pp.name)
        return 1

    k.trace_on()
    pvn_vplist_setdirty(vp, page_check)

    assert checked == ["f@0x0", "f@0x1000", "f@0x2000"]
    assert vlist(vp) == ["f@0x0", "f@0x1000", "f@0x2000"]  # each moved once, in order
    assert [e.name for e in k.trace.filter(["hat_setmod", "hat_setmod_only"], nested=False)] == [
        "hat_setmod_only"
    ] * 3
    assert vp.v_vphm.owner is None
    check_kernel(k)


def test_s7_28_setdirty_moves_only_selected_pages() -> None:
    """§7.28 selected pages move to the tail in visiting order; others stay at the head."""
    k = _vmodsort_kernel()
    vp = k.vnode("f", v_flag=VMODSORT)
    for off in (0, 4096, 8192):
        make_page(vp, off, at="tail")
    checked: list[str] = []

    def page_check(pp: Page) -> int:
        checked.append(pp.name)
        return int(pp.p_offset in (0, 4096))

    pvn_vplist_setdirty(vp, page_check)

    assert checked == ["f@0x0", "f@0x1000", "f@0x2000"]
    assert vlist(vp) == ["f@0x2000", "f@0x0", "f@0x1000"]
    check_kernel(k)


def test_s7_28_setdirty_never_moves_a_single_page() -> None:
    """§7.28 a single page is never moved: shuffle needs v_pages != end (L1011)."""
    k = _vmodsort_kernel()
    vp = k.vnode("f", v_flag=VMODSORT)
    pp = make_page(vp, 0)
    k.trace_on()

    pvn_vplist_setdirty(vp, lambda p: 1)

    assert hat_ismod(pp)
    assert trace_lines(k, "page_vpsub", "page_vpadd") == []


def test_s7_28_setdirty_skips_walk_markers(roomy: Kernel) -> None:
    """§7.28 markers are skipped: page_check never sees them (L1016 tests p_hash).

    pvn_vplist_setdirty called from a putapage runs while pvn_vplist_dirty's
    two markers are on v_pages; their p_hash holds PVN_VPLIST_HASH_TAG, so
    they are passed over.
    """
    k = roomy
    vp = k.vnode("f")
    for off in (0, 4096):
        make_page(vp, off, nrm=P_MOD, maps=("-",), at="tail")
    checked: list[str] = []
    lists: list[list[str]] = []

    def page_check(pp: Page) -> int:
        checked.append(pp.name)
        return 0

    def during_walk(v: Vnode, pp: Page) -> None:
        if not lists:
            lists.append(vlist(v))
            pvn_vplist_setdirty(v, page_check)

    putapage, _calls = writer(on_call=during_walk)

    assert pvn_vplist_dirty(vp, 0, putapage, 0, CRED) == 0

    assert "MARK(-1)" in lists[0] and "MARK(-2)" in lists[0]
    assert sorted(checked) == ["f@0x0", "f@0x1000"]


def test_s7_29_read_done_releases_and_io_done_only_unlocks(roomy: Kernel) -> None:
    """§7.29 read_done (no error) may free pages to the cache list; io_done only unlocks.

    pvn_read_done without B_ERROR calls page_release(pp, 0) (L335): checkmod
    is 0, so even a modified page is freed if it is unmapped and can be
    held exclusively; a mapped page is only unlocked.  pvn_io_done
    (L309-314) drops the i/o and page locks and nothing else.
    """
    k = roomy
    vp = k.vnode("f")
    seg = SegMap(k, "seg")
    kl = pvn_read_kluster(vp, 0, seg, 0x10000, 0, 12288, 0)
    assert kl is not None
    modified, mapped, plain = kl.pages
    hat_setmod_only(modified)
    hat_map(mapped)

    pvn_read_done(kl.plist, B_READ)

    assert modified.p_state & P_FREE and plain.p_state & P_FREE
    assert not mapped.p_state & P_FREE and mapped.p_selock == 0 and hat_page_is_mapped(mapped)

    kl2 = pvn_read_kluster(vp, 16384, seg, 0x14000, 16384, 8192, 0)
    assert kl2 is not None
    pvn_io_done(kl2.plist)
    for pp in kl2.pages:
        assert (pp.p_selock, pp.p_iolock_state, pp.p_state & P_FREE) == (0, 0, 0)
    check_kernel(k)


def test_s7_29_read_done_with_error_destroys(roomy: Kernel) -> None:
    """§7.29 (contrast) pvn_read_done with B_ERROR destroys every page (L331-333)."""
    k = roomy
    vp = k.vnode("f")
    kl = pvn_read_kluster(vp, 0, SegMap(k, "seg"), 0x10000, 0, 8192, 0)
    assert kl is not None
    pages = kl.pages

    pvn_read_done(kl.plist, B_READ | B_ERROR)

    assert all(pp.p_vnode is None for pp in pages) and not k.page_hash[vp]
    check_kernel(k)


# ---------------------------------------------------------------------------
# 30: why markers


def test_s7_30_page_destroyed_during_putapage_is_not_followed(roomy: Kernel) -> None:
    """§7.30 why markers: a page destroyed while vphm is dropped is never followed.

    During D's putapage the next page to visit, C, is destroyed (page_hashout
    removes it from v_pages).  A saved "next" pointer would now name a page
    without identity; the walk instead resumes at mark->p_vpprev (L824),
    which is B.
    """
    k = roomy
    vp = k.vnode("f")
    for off in (0, 4096, 8192, 12288):
        make_page(vp, off, nrm=P_MOD, maps=("-",), at="tail")

    def destroy_next(v: Vnode, pp: Page) -> None:
        if pp.name == "f@0x3000":
            victim = page_lookup(v, 8192, SE_EXCL)
            assert victim is not None and vlist(v)[2:4] == ["f@0x2000", "MARK(-1)"]
            page_destroy(victim, 0)

    putapage, calls = writer(on_call=destroy_next)

    assert pvn_vplist_dirty(vp, 0, putapage, 0, CRED) == 0

    assert calls == ["f@0x3000", "f@0x1000", "f@0x0"]
    check_kernel(k)


def test_s7_30_page_moved_to_the_head_is_reexamined_and_stops_a_vmodsort_walk(
    roomy: Kernel,
) -> None:
    """§7.30 a page moved to the head by pvn_write_done is re-examined.

    Every insertion lands between ``end`` and the old head, i.e. in the
    unvisited stretch.  On a VMODSORT vnode [d1, d2], d2 is written and
    moved to the head (L400-411) - in front of d1 - and is examined a second
    time after d1: now clean and idle, it triggers the early stop
    (L840, L869).
    """
    k = roomy
    vp = _vmodsort_vnode(k, [(0, {"nrm": P_MOD}), (4096, {"nrm": P_MOD})])
    putapage, calls = writer()
    k.trace_on()

    assert pvn_vplist_dirty(vp, 0, putapage, 0, CRED) == 0

    assert calls == ["f@0x1000", "f@0x0"]
    assert [e.format() for e in k.trace.filter("hat_ismod", nested=False) if e.line == 840] == [
        "hat_ismod(f@0x1000) = P_MOD",
        "hat_ismod(f@0x0) = P_MOD",
        "hat_ismod(f@0x1000) = 0",
    ]
    check_kernel(k)


def test_s7_30_page_dirtied_during_a_vmodsort_walk_lies_behind_the_clean_head(
    roomy: Kernel,
) -> None:
    """§7.30 consequence: a page dirtied mid-walk is queued behind pages moved to the head.

    On [c1, d1, d2], c1 is dirtied during d2's putapage: hat_setmod moves it
    after the tail, i.e. right after ``end``.  d2, once written, is moved to
    the head - also after ``end`` but in front of c1 - so the walk (going
    head-wards from mark) meets the clean d2 before c1 and stops there
    (L840, L869): this fsync-style walk does not write c1, dirtied after it
    started.  Without VMODSORT there is no early stop and no shuffling.
    """
    k = roomy
    vp = _vmodsort_vnode(k, [(0, {}), (4096, {"nrm": P_MOD}), (8192, {"nrm": P_MOD})])
    c1 = page_exists(vp, 0)
    assert c1 is not None
    hat_map(c1)

    def dirty_c1(v: Vnode, pp: Page) -> None:
        if pp.name == "f@0x2000":
            hat_setmod(c1)
            assert vlist(v) == ["f@0x1000", "MARK(-1)", "f@0x2000", "MARK(-2)", "f@0x0"]

    putapage, calls = writer(on_call=dirty_c1)

    assert pvn_vplist_dirty(vp, 0, putapage, 0, CRED) == 0

    assert calls == ["f@0x2000", "f@0x1000"]
    assert hat_ismod(c1) and vlist(vp)[-1] == "f@0x0"
    check_kernel(k)
