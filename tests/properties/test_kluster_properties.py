"""Hypothesis properties of pvn_read_kluster, pvn_write_kluster and pvn call sequences.

Expected values are worked out from illumos vm_pvn.c (line numbers in the
docstrings) and /work/shared/illumos/semantics.md; pvnsim's simplifications of
the primitives are the ones of docs/oracle.md ("Model assumptions").  The
Hypothesis profile comes from tests/conftest.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from pvnsim import (
    KCRED,
    DeadlockError,
    Kernel,
    SegCallable,
    SegMap,
    SegVn,
    check_kernel,
    make_page,
    pvn_getdirty,
    pvn_io_done,
    pvn_plist_init,
    pvn_read_done,
    pvn_read_kluster,
    pvn_vplist_dirty,
    pvn_vplist_setdirty,
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
    B_TRUNC,
    B_WRITE,
    EIO,
    P_FREE,
    P_MOD,
    P_REF,
    PAGE_IO_INUSE,
    S_CREATE,
    S_READ,
    SE_EXCL,
    SE_SHARED,
    VMODSORT,
)
from pvnsim.fs import make_putapage
from pvnsim.vm import hat_map, hat_touch, hat_unmap, page_trylock, page_unlock, ring

PAGESIZE = 4096
NPAGES = 64  # offsets of the populations: pages 0..63
KERNEL_PAGES = 8
SEG_BASE = 0x4000_0000  # address of file offset 0 in every test segment


def btopr(x: int) -> int:
    """Bytes to pages, rounded up (param.h btopr)."""
    return (x + PAGESIZE - 1) // PAGESIZE


def is_dirty(pp: Any) -> bool:
    """Software P_MOD, or a translation whose hardware mod bit is set."""
    return bool(pp.p_nrm & P_MOD) or any(m.hw & P_MOD for m in pp.p_mapping or ())


def page_state(pp: Any) -> tuple[object, ...]:
    """What a routine could change about a page (holder names left out)."""
    return (
        pp.p_vnode,
        pp.p_offset,
        pp.p_selock,
        bool(pp.p_iolock_state & PAGE_IO_INUSE),
        pp.p_nrm,
        bool(pp.p_state & P_FREE),
        tuple((m.hw, m.writable) for m in pp.p_mapping or ()),
        pp.p_lckcnt,
        pp.p_cowcnt,
    )


def cachelist_pages(k: Kernel) -> list[Any]:
    """The cache list, head first."""
    return ring(k.page_cachelist) if k.page_cachelist is not None else []


def populate_in_order(vp: Any, pages: dict[int, dict[str, Any]]) -> dict[int, Any]:
    """Build the pages (page index -> make_page keywords), software-clean ones first.

    Every page is appended at the tail, clean ones before modified ones: the
    order a VMODSORT vnode keeps (semantics.md 4.6, hat_page_setattr).
    """
    out = {}
    items = sorted(pages.items(), key=lambda kv: (bool(kv[1].get("nrm", 0) & P_MOD), kv[0]))
    for idx, kw in items:
        out[idx] = make_page(vp, idx * PAGESIZE, at="tail", **kw)
    return out


# ---------------------------------------------------------------------------
# Segments: the three kluster policies of docs/oracle.md ("seg NAME kind=").

ADVICE = ("normal", "random", "sequential")

SEG_SPECS = st.one_of(
    st.just(("map",)),
    st.tuples(st.just("vn"), st.integers(0, 20), st.integers(0, 20), st.sampled_from(ADVICE)),
    st.tuples(st.just("refuse"), st.frozensets(st.integers(-16, 16), max_size=8)),
)


def build_seg(k: Kernel, spec: tuple[Any, ...], addr: int) -> Any:
    """The segment of ``spec``; a segvn one covers ``before`` pages below ``addr``
    and ``after`` pages above it."""
    if spec[0] == "map":
        return SegMap(k, "s")
    if spec[0] == "vn":
        _, before, after, advice = spec
        return SegVn(k, "s", addr - before * PAGESIZE, (before + 1 + after) * PAGESIZE, advice)
    refused = spec[1]
    return SegCallable(k, "s", lambda _addr, delta: -1 if delta // PAGESIZE in refused else 0)


def seg_refuses(spec: tuple[Any, ...], delta: int) -> bool:
    """SEGOP_KLUSTER(seg, addr, delta) != 0, from semantics.md 4.8 (segvn_kluster
    steps 1-2, segmap_kluster) and the oracle's ``refuse`` kind."""
    if spec[0] == "map":
        return False
    if spec[0] == "vn":
        _, before, after, advice = spec
        d = delta // PAGESIZE
        if d < -before or d > after:
            return True
        return advice == "random" or (advice == "sequential" and delta < 0)
    return delta // PAGESIZE in spec[1]


# ---------------------------------------------------------------------------
# 1. pvn_read_kluster

READ_STATES = ("clean", "dirty", "hwdirty", "cached", "S@other", "X@other", "reading", "locked")

READ_PAGE_KW: dict[str, dict[str, Any]] = {
    "clean": {"nrm": P_REF},
    "dirty": {"nrm": P_MOD | P_REF, "maps": ("rm",)},
    "hwdirty": {"nrm": P_REF, "maps": ("m",)},
    "cached": {"cached": True},
    "S@other": {"nrm": P_REF, "lock": "S@other"},
    "X@other": {"nrm": P_REF, "lock": "X@other"},
    "reading": {"nrm": P_REF, "lock": "X@other", "io": "other"},
    "locked": {"nrm": P_MOD | P_REF, "lckcnt": 1},
}


# 1 byte .. 16 pages, page multiples half of the time (frag-sized ends otherwise).
WINDOW_LENGTHS = st.tuples(
    st.one_of(st.integers(1, 16), st.integers(1, 16).map(lambda n: 17 - n)),
    st.one_of(st.just(0), st.integers(1, PAGESIZE - 1)),
).map(lambda t: t[0] * PAGESIZE - t[1])


@dataclass(frozen=True)
class ReadCase:
    vmodsort: bool
    population: dict[int, str]
    fresh: int  # free pages that are not on the cache list (never used)
    minfree: int
    throttlefree: int
    pageout_reserve: int
    nofodklust: int
    vp_off: int
    vp_len: int
    off: int
    isra: int
    seg: tuple[Any, ...]
    finish: str


@st.composite
def read_cases(draw: st.DrawFn) -> ReadCase:
    population = draw(
        st.dictionaries(st.integers(0, NPAGES - 1), st.sampled_from(READ_STATES), max_size=16)
    )
    ncached = sum(s == "cached" for s in population.values())
    fresh = draw(st.one_of(st.integers(16, 64), st.integers(0 if population else 1, 6)))
    freemem = fresh + ncached
    # pagesavail = freemem - minfree: enough for any window, enough for part of
    # one (L122-135 shrink), or none (L115-119).
    regime = draw(st.sampled_from(("plenty", "tight", "starved")))
    slack = {"plenty": (16, 40), "tight": (1, 15), "starved": (-4, 0)}[regime]
    minfree = max(0, freemem - draw(st.integers(*slack)))
    throttlefree = draw(st.one_of(st.integers(0, 3), st.integers(0, freemem + 1)))
    pageout_reserve = draw(st.integers(0, throttlefree))
    vp_off = draw(st.integers(0, NPAGES - 1)) * PAGESIZE
    vp_len = draw(WINDOW_LENGTHS)
    off = vp_off + draw(st.integers(0, btopr(vp_len) - 1)) * PAGESIZE
    return ReadCase(
        vmodsort=draw(st.booleans()),
        population=population,
        fresh=fresh,
        minfree=minfree,
        throttlefree=throttlefree,
        pageout_reserve=pageout_reserve,
        nofodklust=draw(st.sampled_from((0, 0, 0, 1))),
        vp_off=vp_off,
        vp_len=vp_len,
        off=off,
        isra=draw(st.integers(0, 1)),
        seg=draw(SEG_SPECS),
        finish=draw(st.sampled_from(("io_done", "read_done", "read_error"))),
    )


def build_read(case: ReadCase) -> tuple[Kernel, Any, Any]:
    """Kernel, vnode and segment of a read case; freemem == fresh + cached pages."""
    k = Kernel(
        total_pages=KERNEL_PAGES + len(case.population) + case.fresh,
        kernel_pages=KERNEL_PAGES,
        minfree=case.minfree,
        throttlefree=case.throttlefree,
        pageout_reserve=case.pageout_reserve,
        pvn_nofodklust=case.nofodklust,
    )
    vp = k.vnode("v1", v_flag=VMODSORT if case.vmodsort else 0)
    populate_in_order(vp, {i: READ_PAGE_KW[s] for i, s in case.population.items()})
    ncached = sum(s == "cached" for s in case.population.values())
    assert k.freemem == case.fresh + ncached
    assert k.unused_pages + k.freelist_count == case.fresh
    seg = build_seg(k, case.seg, SEG_BASE + case.off)
    return k, vp, seg


def read_window(
    freemem: int, minfree: int, off: int, vp_off: int, vp_len: int, isra: int
) -> tuple[int, int] | None:
    """vm_pvn.c L113-137: the window after the memory shrink, or None for the
    read-ahead give-up of L115-117."""
    pagesavail = freemem - minfree  # L113
    if pagesavail <= 0:  # L115
        if isra:
            return None  # L117
        pagesavail = 1  # L119
    if pagesavail < btopr(vp_len):  # L122
        deltab = off - vp_off  # L127
        vp_len -= deltab  # L128
        vp_off += deltab  # L129
        if pagesavail < btopr(vp_len):  # L130
            vp_len = pagesavail * PAGESIZE  # L135
    return vp_off, vp_len


def call_read(k: Kernel, vp: Any, seg: Any, case: ReadCase) -> Any:
    return pvn_read_kluster(
        vp, case.off, seg, SEG_BASE + case.off, case.vp_off, case.vp_len, case.isra
    )


def finish_read(kl: Any, how: str) -> None:
    if how == "io_done":
        pvn_io_done(kl.plist)
    elif how == "read_done":
        pvn_read_done(kl.plist, 0)
    else:
        pvn_read_done(kl.plist, B_ERROR)


@given(case=read_cases())
def test_read_kluster_returns_a_run_of_new_locked_pages(case: ReadCase) -> None:
    """pvn_read_kluster gives NULL for a documented reason or a new, locked run around off.

    NULL comes without any page created; a run is ascending, contiguous, inside
    the window, made of new EXCL+i/o-locked pages, with the C's off and len.

    Why: L113-137 shrink the window [vp_off, vp_off+vp_len) to what freemem-minfree
    allows (isra gives up at <= 0, L115-117); L142-143 give up when the segment
    refuses delta 0 for read-ahead; L145-147 return NULL when page_create_va(PG_EXCL)
    finds the page at off (semantics.md 4.4: memory accounting first, so it would
    sleep when freemem <= throttlefree, i.e. freemem < 1 + throttlefree); otherwise
    L149-151 give one page with len = MIN(vp_len, PAGESIZE), or L158-214 prepend and
    append newly created pages (ring order ascending, 4.1) and set off to the first
    page and len = deltab + deltaf = npages*PAGESIZE retracted to vp_end - off
    (L212-214).  Each created page costs one page of freemem (4.4).  When the free
    list is empty page_create_va recycles the head of the cache list (oracle.md
    "Memory"), which is the only way a page can lose its identity here.
    """
    k, vp, seg = build_read(case)
    check_kernel(k)
    keys_before = set(k.page_hash[vp])
    cached_before = [(p, p.p_offset) for p in cachelist_pages(k)]
    fresh = k.unused_pages + k.freelist_count
    freemem0 = k.freemem
    window = read_window(freemem0, k.minfree, case.off, case.vp_off, case.vp_len, case.isra)
    note(f"window after shrink: {window}, freemem={freemem0}, fresh={fresh}")
    gives_up_early = window is None or (case.isra and seg_refuses(case.seg, 0))
    if window is not None and window != (case.vp_off, case.vp_len):
        event("window shrunk")

    if not gives_up_early and freemem0 <= k.throttlefree:
        event("would sleep for memory")
        # page_create_va(PG_EXCL|PG_WAIT) sleeps until freemem >= 1 + throttlefree
        # and nobody can free memory: nothing may have changed.
        snap = k.snapshot()
        with pytest.raises(DeadlockError):
            call_read(k, vp, seg, case)
        assert k.snapshot().diff(snap) == []
        check_kernel(k)
        return

    kl = call_read(k, vp, seg, case)
    check_kernel(k)
    recycled = [
        (p, o)
        for p, o in cached_before
        if not (p.p_vnode is vp and p.p_offset == o and p.p_state & P_FREE)
    ]
    # Recycling takes the cache list from its head, one page per page taken
    # beyond the fresh ones (at most the created pages plus one failed try).
    assert recycled == cached_before[: len(recycled)]
    npages = 0 if kl is None else len(kl.pages)
    assert len(recycled) <= max(0, npages + 1 - fresh)
    if recycled:
        event("cache-list page recycled")
    event(f"result: {'NULL' if kl is None else 'single' if npages == 1 else 'kluster'}")
    recycled_offs = {o for _, o in recycled}

    if kl is None:
        if gives_up_early:
            # L115-117 or L142-143 return before page_create_va: nothing taken.
            assert not recycled
        else:
            # L145-147: the page at off existed when page_create_va looked it up.
            assert case.off in keys_before and case.off not in recycled_offs
        assert set(k.page_hash[vp]) == keys_before - recycled_offs
        assert k.freemem == freemem0
        return

    assert not gives_up_early, "a kluster was returned although L117/L143 return NULL"
    assert window is not None
    w_off, w_len = window
    pages = kl.pages
    offs = [p.p_offset for p in pages]
    note(f"kluster offsets {offs}, off={kl.off}, len={kl.len}")
    # Contiguous and ascending in ring order, head at the lowest offset.
    assert offs == list(range(offs[0], offs[0] + len(offs) * PAGESIZE, PAGESIZE))
    assert kl.plist.p_prev is pages[-1]
    assert case.off in offs
    # Inside the (shrunk) window, which lies inside the caller's window.
    assert all(w_off <= o < w_off + w_len for o in offs)
    assert all(case.vp_off <= o < case.vp_off + case.vp_len for o in offs)
    for p in pages:
        # Newly created (4.4 "not found" branch): absent before, or its old page
        # was recycled from the cache list by this very call.
        assert p.p_offset not in keys_before or p.p_offset in recycled_offs
        assert k.page_hash[vp][p.p_offset] is p
        assert p.p_vnode is vp
        assert p.p_selock == -1
        assert p.p_iolock_state & PAGE_IO_INUSE
        assert not p.p_state & P_FREE
        assert p.p_nrm == P_REF
        assert not p.p_mapping
    assert kl.off == offs[0]
    if w_len <= PAGESIZE or case.nofodklust:  # L149-151
        assert offs == [case.off]
        assert kl.len == min(w_len, PAGESIZE)
    else:  # L197-214
        assert kl.len == min(len(offs) * PAGESIZE, w_off + w_len - kl.off)
    assert k.freemem == freemem0 - len(offs)
    assert set(k.page_hash[vp]) == (keys_before - recycled_offs) | set(offs)

    finish_read(kl, case.finish)
    check_kernel(k)


class _WouldSleep(Exception):
    pass


def reference_read_kluster(
    case: ReadCase, k: Kernel, keys: set[int], cache_offs: list[int], fresh: int
) -> tuple[list[int], int, int, int, set[int]] | None:
    """vm_pvn.c L113-214 over the page_create_va model of docs/oracle.md.

    Returns (offsets, off, len, freemem after, hashed offsets after) or None;
    raises _WouldSleep where page_create_va(PG_WAIT) would sleep.
    """
    keys = set(keys)
    cache = list(cache_offs)
    mem = {"freemem": k.freemem, "fresh": fresh}
    tf, reserve = k.throttlefree, k.pageout_reserve
    assert tf is not None and reserve is not None

    def create(o: int, wait: bool) -> bool:
        m = mem["freemem"]
        if m <= tf + 1:
            if wait:
                if m < 1 + tf:
                    raise _WouldSleep
            elif m < 1 + reserve:
                return False
        if m < 1:
            if wait:
                raise _WouldSleep
            return False
        mem["freemem"] -= 1
        if mem["fresh"] > 0:
            mem["fresh"] -= 1
        else:
            keys.discard(cache.pop(0))  # the cache-list head loses its identity
        if o in keys:
            mem["fresh"] += 1  # the spare goes to the free list
            mem["freemem"] += 1
            return False
        keys.add(o)
        return True

    def refuses(delta: int) -> bool:
        return seg_refuses(case.seg, delta)

    off = case.off
    window = read_window(k.freemem, k.minfree, off, case.vp_off, case.vp_len, case.isra)
    if window is None:
        return None
    vp_off, vp_len = window
    vp_end = vp_off + vp_len
    if case.isra and refuses(0):
        return None
    if not create(off, True):
        return None
    if vp_len <= PAGESIZE or case.nofodklust:
        return [off], off, min(vp_len, PAGESIZE), mem["freemem"], keys
    offs = [off]
    deltab = PAGESIZE
    while off >= vp_off + deltab:
        if refuses(-deltab) or not create(off - deltab, False):
            break
        offs.insert(0, off - deltab)
        deltab += PAGESIZE
    deltab -= PAGESIZE
    deltaf = PAGESIZE
    while off + deltaf < vp_end:
        if refuses(deltaf) or not create(off + deltaf, False):
            break
        offs.append(off + deltaf)
        deltaf += PAGESIZE
    first = off - deltab
    length = deltab + deltaf
    if vp_end < first + length:
        length = vp_end - first
    return offs, first, length, mem["freemem"], keys


@given(case=read_cases())
def test_read_kluster_stops_exactly_where_the_c_stops(case: ReadCase) -> None:
    """Each direction of the read kluster stops exactly where the C's scan stops.

    That is at the first segment refusal, existing page, memory shortage or
    window edge.

    Why: L158-175 (backward) and L178-195 (forward) stop at the first
    SEGOP_KLUSTER refusal or NULL page_create_va(PG_EXCL); the latter is NULL when
    the page exists (even cached) or, without PG_WAIT, when freemem <= throttlefree+1
    and freemem < 1 + pageout_reserve (semantics.md 4.4, §7 items 3 and 6).  The
    page_create_va model (free list first, then the cache-list head, which loses its
    identity; a failed PG_EXCL create returns its spare page to the free list) is
    docs/oracle.md "Memory".
    """
    k, vp, seg = build_read(case)
    keys = set(k.page_hash[vp])
    cache_offs = [p.p_offset for p in cachelist_pages(k)]
    fresh = k.unused_pages + k.freelist_count
    try:
        expected = reference_read_kluster(case, k, keys, cache_offs, fresh)
    except _WouldSleep:
        with pytest.raises(DeadlockError):
            call_read(k, vp, seg, case)
        check_kernel(k)
        return
    kl = call_read(k, vp, seg, case)
    check_kernel(k)
    if expected is None:
        assert kl is None
        return
    offs, first, length, freemem, keys_after = expected
    assert kl is not None, f"expected pages {offs}"
    assert [p.p_offset for p in kl.pages] == offs
    assert (kl.off, kl.len) == (first, length)
    assert k.freemem == freemem
    assert set(k.page_hash[vp]) == keys_after
    finish_read(kl, case.finish)
    check_kernel(k)


# ---------------------------------------------------------------------------
# 2. pvn_write_kluster

WRITE_FLAGS = (0, B_ASYNC, B_FREE, B_INVAL, B_ASYNC | B_FREE, B_INVAL | B_TRUNC)

# A dirty, idle, resident neighbour (joins any kluster) ...
JOINABLE = {
    "where": "present",
    "dirty": "sw",
    "mapped": False,
    "lock": None,
    "io": None,
    "lck": 0,
    "cow": 0,
}
# ... listed first so that runs of them (and thus long klusters and runs that
# reach the window edge) are common; the second branch varies every attribute.
NEIGHBOURS = st.one_of(
    st.just(JOINABLE),
    st.fixed_dictionaries(
        {
            "where": st.sampled_from(("absent", "cached") + ("present",) * 4),
            "dirty": st.sampled_from(("no", "sw", "sw", "hw", "both")),
            "mapped": st.booleans(),  # an extra translation with only the ref bit
            "lock": st.sampled_from((None,) * 4 + ("S@other", "X@other")),
            "io": st.sampled_from((None,) * 6 + ("other",)),
            "lck": st.sampled_from((0, 0, 0, 1)),
            "cow": st.sampled_from((0, 0, 0, 1)),
        }
    ),
)


@dataclass(frozen=True)
class WriteCase:
    vmodsort: bool
    flags: int
    p: int  # page index of pp
    vp_off: int
    vp_len: int
    pp_dirty: str
    pp_mapped: bool
    pp_lck: int
    pp_cow: int
    neighbours: dict[int, dict[str, Any]]
    lotsfree: int
    pages_before_pager: int


@st.composite
def write_cases(draw: st.DrawFn) -> WriteCase:
    p = draw(st.integers(0, 31))
    before = draw(st.integers(0, min(p, 15)))  # window pages before pp
    after = draw(st.integers(0, 15 - before))  # window pages after pp
    # The window ends inside or at the end of its last page.
    trim = draw(st.one_of(st.just(0), st.integers(1, PAGESIZE - 1)))
    vp_len = (before + 1 + after) * PAGESIZE - trim
    lo = max(0, p - 17)
    drawn = draw(st.lists(NEIGHBOURS, min_size=p + 18 - lo, max_size=p + 18 - lo))
    neighbours = {lo + i: nb for i, nb in enumerate(drawn) if lo + i != p}
    return WriteCase(
        vmodsort=draw(st.booleans()),
        flags=draw(st.sampled_from(WRITE_FLAGS)),
        p=p,
        vp_off=(p - before) * PAGESIZE,
        vp_len=vp_len,
        pp_dirty=draw(st.sampled_from(("sw", "hw", "both"))),
        pp_mapped=draw(st.booleans()),
        pp_lck=draw(st.sampled_from((0, 0, 0, 1))),
        pp_cow=draw(st.sampled_from((0, 0, 0, 1))),
        neighbours=neighbours,
        lotsfree=draw(st.integers(0, 300)),
        pages_before_pager=draw(st.sampled_from((0, 200))),
    )


def page_kw(dirty: str, mapped: bool, **extra: Any) -> dict[str, Any]:
    maps = (("m",) if dirty in ("hw", "both") else ()) + (("r",) if mapped else ())
    nrm = P_REF | (P_MOD if dirty in ("sw", "both") else 0)
    return {"nrm": nrm, "maps": maps, **extra}


def build_write(case: WriteCase) -> tuple[Kernel, Any, Any]:
    k = Kernel(total_pages=256, lotsfree=case.lotsfree, pages_before_pager=case.pages_before_pager)
    vp = k.vnode("v1", v_flag=VMODSORT if case.vmodsort else 0)
    spec: dict[int, dict[str, Any]] = {}
    for i, nb in case.neighbours.items():
        if nb["where"] == "cached":
            spec[i] = {"cached": True}
        elif nb["where"] == "present":
            spec[i] = page_kw(
                nb["dirty"],
                nb["mapped"],
                # A page whose i/o another thread has in flight is held by that
                # thread too (shared, as a writer holds it).
                lock=nb["lock"] or ("S@other" if nb["io"] else None),
                io=nb["io"],
                lckcnt=nb["lck"],
                cowcnt=nb["cow"],
            )
    excl = case.flags & (B_FREE | B_INVAL)
    spec[case.p] = page_kw(
        case.pp_dirty,
        case.pp_mapped,
        lock="X" if excl else "S",
        lckcnt=case.pp_lck,
        cowcnt=case.pp_cow,
    )
    pages = populate_in_order(vp, spec)
    return k, vp, pages[case.p]


def joins_kluster(nb: dict[str, Any] | None, flags: int) -> bool:
    """Whether pvn_write_kluster takes this neighbour (dirty and available).

    L274-276: page_lookup_nowait fails for an absent or cached page or when the
    trylock fails (se = EXCL for B_FREE|B_INVAL, else SHARED: L262-265);
    L277 pvn_getdirty(flags|B_DELWRI) is 0 for a logically locked page under
    B_FREE/B_INVAL (L592-595), an i/o-busy page (B_DELWRI: trylock, L610-613)
    and a page that is clean after folding its hardware bits (L629-662).
    """
    if nb is None or nb["where"] != "present":
        return False
    if flags & (B_FREE | B_INVAL):
        if nb["lock"] is not None:
            return False
    elif nb["lock"] == "X@other":
        return False
    if (flags & (B_FREE | B_INVAL)) and not (flags & (B_TRUNC | B_FORCE)):
        if nb["lck"] or nb["cow"]:
            return False
    if nb["io"]:
        return False
    if flags & B_TRUNC:
        return False
    return bool(nb["dirty"] != "no")


@given(case=write_cases())
def test_write_kluster_gathers_the_dirty_run_around_pp(case: WriteCase) -> None:
    """pvn_write_kluster returns exactly the run of dirty, available pages around pp.

    The run is contiguous, inside the window, each page locked and i/o-locked,
    and it stops at the first page that is not dirty-and-available.

    Why: pvn_getdirty(pp) is 1 unless B_TRUNC or (B_FREE|B_INVAL without
    B_TRUNC|B_FORCE on a logically locked page) (L592-595, L635-662).  L273-281
    prepend and L285-292 append neighbours accepted by page_lookup_nowait and
    pvn_getdirty(flags|B_DELWRI), stopping at the first rejection; *offp = off -
    deltab, *lenp = deltab + deltaf = npages*PAGESIZE (L295-297).  Accepted pages
    are i/o-locked and SHARED (downgraded under B_FREE, L677-678) or EXCL for
    B_INVAL (semantics.md 5.6).  A rejected clean neighbour is destroyed (B_INVAL),
    freed to the cache list (B_FREE) or page_release(pp, 1)d (L641-660); other
    rejections only drop the lock taken by page_lookup_nowait.  pvn_write_done
    then releases every lock it was handed (L391-548).
    """
    k, vp, pp = build_write(case)
    flags = case.flags
    check_kernel(k)
    all_pages = list(k.pages)
    before = {id(p): page_state(p) for p in all_pages}
    dirty_before = {id(p): is_dirty(p) for p in all_pages}
    by_index = {p.p_offset // PAGESIZE: p for p in all_pages if p.p_vnode is vp}
    pp_off = pp.p_offset

    expect_write = not (flags & B_TRUNC) and not (
        flags & (B_FREE | B_INVAL)
        and not (flags & (B_TRUNC | B_FORCE))
        and (case.pp_lck or case.pp_cow)
    )
    got = pvn_getdirty(pp, flags)
    event(f"pvn_getdirty(pp) = {got}")
    assert got == (1 if expect_write else 0)
    if not expect_write:
        if flags & B_TRUNC:
            # L635-643: truncation destroys the page without i/o.
            assert pp.p_vnode is None and pp_off not in k.page_hash[vp]
        else:
            # L592-595: logically locked under B_FREE/B_INVAL: only unlocked.
            assert page_state(pp)[2] == 0
            assert page_state(pp)[:2] == (vp, pp_off)
        check_kernel(k)
        return

    kl = pvn_write_kluster(vp, pp, case.vp_off, case.vp_len, flags)
    pages = kl.pages
    offs = [p.p_offset for p in pages]
    note(f"kluster offsets {offs}, off={kl.off}, len={kl.len}")
    event(f"write kluster of {min(len(offs), 3)}{'+' if len(offs) >= 3 else ''} pages")
    vp_end = case.vp_off + case.vp_len

    # Contiguous ascending ring holding pp; off/len describe it.
    assert offs == list(range(offs[0], offs[0] + len(offs) * PAGESIZE, PAGESIZE))
    assert kl.plist.p_prev is pages[-1]
    assert any(p is pp for p in pages)
    assert kl.off == offs[0]
    assert kl.len == len(offs) * PAGESIZE
    for p in pages:
        assert dirty_before[id(p)], f"{p.name} was clean before the call"
        assert p.p_iolock_state & PAGE_IO_INUSE
        if p is not pp:
            assert case.vp_off <= p.p_offset < vp_end
        old_lock = before[id(p)][2]
        if flags & B_FREE:
            assert p.p_selock == 1  # L677-678: EXCL downgraded
        elif flags & B_INVAL:
            assert p.p_selock == -1
        elif p is pp:
            assert p.p_selock == 1
        else:
            assert p.p_selock == old_lock + 1  # one more SHARED holder: us

    # The first neighbour beyond each end inside the window was not
    # dirty-and-available; with contiguity this makes the run exactly the C's.
    lo, hi = offs[0] - PAGESIZE, offs[-1] + PAGESIZE
    expected = [case.p]
    i = case.p - 1
    while i * PAGESIZE >= case.vp_off and joins_kluster(case.neighbours.get(i), flags):
        expected.insert(0, i)
        i -= 1
    i = case.p + 1
    while i * PAGESIZE < vp_end and joins_kluster(case.neighbours.get(i), flags):
        expected.append(i)
        i += 1
    for edge in (lo, hi):
        if case.vp_off <= edge < vp_end:
            assert not joins_kluster(case.neighbours.get(edge // PAGESIZE), flags)
    assert offs == [i * PAGESIZE for i in expected]

    # Side effects on the pages around the kluster.
    in_kl = {id(p) for p in pages}
    for idx, p in by_index.items():
        if id(p) in in_kl:
            continue
        nb = case.neighbours.get(idx)
        o = idx * PAGESIZE  # its offset before the call (a destroyed page loses it)
        probed = o in (lo, hi) and case.vp_off <= o < vp_end
        clean_avail = (
            probed
            and nb is not None
            and nb["where"] == "present"
            and nb["dirty"] == "no"
            and nb["io"] is None
            and (nb["lock"] is None or (nb["lock"] == "S@other" and not flags & (B_FREE | B_INVAL)))
            and not (flags & (B_FREE | B_INVAL) and (nb["lck"] or nb["cow"]))
        )
        if not clean_avail:
            assert page_state(p) == before[id(p)], f"{p.name} changed"
            continue
        assert nb is not None
        if flags & B_INVAL:  # L641-643
            assert p.p_vnode is None and o not in k.page_hash[vp]
        elif flags & B_FREE:  # L644-646
            assert p.p_vnode is vp and p.p_state & P_FREE and p.p_selock == 0
        elif not nb["mapped"] and nb["lock"] is None and not nb["lck"] and not nb["cow"]:
            # L660 page_release(pp, 1): unmapped, upgradable, clean -> cache list.
            assert p.p_vnode is vp and p.p_state & P_FREE and p.p_selock == 0
        else:
            # page_release only unlocks (mapped, shared with another, lckcnt/cowcnt).
            assert p.p_vnode is vp and not p.p_state & P_FREE
            assert p.p_selock == before[id(p)][2]

    check_kernel(k)
    pvn_write_done(kl.plist, B_WRITE | flags)
    check_kernel(k)
    # No lock leaks: only the other thread's locks remain (pages it holds are
    # never freed or destroyed, everything we locked is released).
    for p in all_pages:
        old = before[id(p)]
        assert p.p_selock == (0 if p is pp else old[2]), f"{p.name}: lock {p.p_selock}"
        io_held = bool(p.p_iolock_state & PAGE_IO_INUSE)
        assert io_held == (old[3] and p is not pp), f"{p.name}: i/o lock {io_held}"


# ---------------------------------------------------------------------------
# 3. Validators pass after every call of a random sequence

MACHINE_STATES = ("dirty", "clean", "hwdirty", "mapped", "cached", "locked")

MACHINE_PAGE_KW: dict[str, dict[str, Any]] = {
    "clean": {"nrm": P_REF},
    "dirty": {"nrm": P_MOD | P_REF, "maps": ("rm",)},
    "hwdirty": {"nrm": P_REF, "maps": ("m",)},
    "mapped": {"nrm": P_REF},  # mapped with hat_map after creation
    "cached": {"cached": True},
    "locked": {"nrm": P_MOD | P_REF, "lckcnt": 1},
}

WALK_FLAGS = (
    0,
    B_ASYNC,
    B_ASYNC | B_FREE,
    B_INVAL,
    B_INVAL | B_TRUNC,
    B_FREE | B_DONTNEED,
)
ONE_WRITE_FLAGS = (0, B_ASYNC, B_FREE, B_INVAL, B_ASYNC | B_FREE, B_FREE | B_DONTNEED)


@st.composite
def machine_setups(draw: st.DrawFn) -> dict[str, Any]:
    plain = draw(
        st.dictionaries(
            st.integers(0, NPAGES - 1), st.sampled_from(MACHINE_STATES), min_size=4, max_size=24
        )
    )
    # A clean page of a VMODSORT vnode is never mapped writable (hat_map, segvn),
    # so it cannot carry a hardware mod bit.
    sorted_states = tuple(s for s in MACHINE_STATES if s != "hwdirty")
    vmodsort = draw(
        st.dictionaries(
            st.integers(0, NPAGES - 1), st.sampled_from(sorted_states), min_size=4, max_size=24
        )
    )
    throttlefree = draw(st.integers(0, 24))
    return {
        "plain": plain,
        "vmodsort": vmodsort,
        "fresh": draw(st.integers(1, 96)),
        "minfree": draw(st.integers(0, 32)),
        "throttlefree": throttlefree,
        "pageout_reserve": draw(st.integers(0, throttlefree)),
        "lotsfree": draw(st.integers(0, 64)),
        "pages_before_pager": draw(st.sampled_from((0, 200))),
    }


class PvnSequences(RuleBasedStateMachine):
    """Random pvn calls on a plain and a VMODSORT vnode; validators after each."""

    def __init__(self) -> None:
        super().__init__()
        self.k: Kernel | None = None
        self.vps: list[Any] = []

    @initialize(setup=machine_setups())
    def boot(self, setup: dict[str, Any]) -> None:
        npop = len(setup["plain"]) + len(setup["vmodsort"])
        k = Kernel(
            total_pages=KERNEL_PAGES + npop + setup["fresh"],
            kernel_pages=KERNEL_PAGES,
            lotsfree=setup["lotsfree"],
            minfree=setup["minfree"],
            throttlefree=setup["throttlefree"],
            pageout_reserve=setup["pageout_reserve"],
            pages_before_pager=setup["pages_before_pager"],
        )
        self.k = k
        plain = k.vnode("plain")
        sorted_vp = k.vnode("sorted", v_flag=VMODSORT)
        self.vps = [plain, sorted_vp]
        for vp, pop in ((plain, setup["plain"]), (sorted_vp, setup["vmodsort"])):
            kw = {i: MACHINE_PAGE_KW[s] for i, s in pop.items()}
            if vp is plain:
                kw = {
                    i: ({**w, "maps": ("r",)} if pop[i] == "mapped" else w) for i, w in kw.items()
                }
            made = populate_in_order(vp, kw)
            if vp is sorted_vp:
                for i, s in pop.items():
                    if s == "mapped":
                        hat_map(made[i])
        note(f"setup {setup}")

    # -- helpers ----------------------------------------------------------

    def live_pages(self) -> list[Any]:
        assert self.k is not None
        return [
            p
            for vp in self.vps
            for _, p in sorted(self.k.page_hash[vp].items())
            if not p.p_state & P_FREE
        ]

    # -- rules ------------------------------------------------------------

    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        """pvn_read_kluster, then pvn_plist_init / pvn_io_done / pvn_read_done."""
        k = self.k
        assert k is not None
        vp = data.draw(st.sampled_from(self.vps))
        vp_off = data.draw(st.integers(0, NPAGES - 1)) * PAGESIZE
        vp_len = data.draw(WINDOW_LENGTHS)
        off = vp_off + data.draw(st.integers(0, btopr(vp_len) - 1)) * PAGESIZE
        isra = data.draw(st.integers(0, 1))
        spec = data.draw(SEG_SPECS)
        addr = SEG_BASE + off
        seg = build_seg(k, spec, addr)
        window = read_window(k.freemem, k.minfree, off, vp_off, vp_len, isra)
        reaches_create = window is not None and not (isra and seg_refuses(spec, 0))
        if reaches_create and k.freemem <= k.throttlefree:
            # semantics.md 4.4: PG_WAIT sleeps until freemem >= 1 + throttlefree.
            snap = k.snapshot()
            with pytest.raises(DeadlockError):
                pvn_read_kluster(vp, off, seg, addr, vp_off, vp_len, isra)
            assert k.snapshot().diff(snap) == []
            return
        kl = pvn_read_kluster(vp, off, seg, addr, vp_off, vp_len, isra)
        if kl is None:
            return
        check_kernel(k)
        how = data.draw(st.sampled_from(("io_done", "read_done", "read_error", "plist_init")))
        event(f"read kluster of {min(len(kl.pages), 3)}{'+' if len(kl.pages) >= 3 else ''} pages")
        if how != "plist_init":
            finish_read(kl, how)
            return
        offs = [p.p_offset for p in kl.pages]
        start = data.draw(st.sampled_from(offs))
        plsz = data.draw(st.integers(1, (len(offs) + 1) * PAGESIZE))
        rw = data.draw(st.sampled_from((S_READ, S_CREATE)))
        pl: list[Any] = [None] * (btopr(plsz) + 2)
        pvn_plist_init(kl.plist, pl, plsz, start, kl.len, rw)
        got = pl[: pl.index(None)]
        # L1168-1199: pages from `start`, at least one, at most btopr(plsz).
        first = offs.index(start)
        want = offs[first : first + min(len(offs) - first, btopr(plsz))]
        assert [p.p_offset for p in got] == want
        for p in got:
            assert p.p_selock == (-1 if rw == S_CREATE else 1)
            assert not p.p_iolock_state & PAGE_IO_INUSE
        check_kernel(k)
        for p in got:  # the faulting thread maps the page, then unlocks it
            if data.draw(st.booleans()):
                hat_map(p)
            page_unlock(p)

    @rule(data=st.data())
    def hat(self, data: st.DataObject) -> None:
        """hat_map / hat_touch / hat_unmap on a resident, non-free page."""
        live = self.live_pages()
        if not live:
            return
        pp = data.draw(st.sampled_from(live))
        action = data.draw(st.sampled_from(("map", "read", "write", "unmap")))
        if action == "map" or not pp.p_mapping:
            hat_map(pp)
        elif action == "unmap":
            hat_unmap(pp)
        else:
            hat_touch(pp, write=action == "write")

    @rule(data=st.data())
    def write_one(self, data: st.DataObject) -> None:
        """pvn_getdirty, pvn_write_kluster and pvn_write_done (with or without B_ERROR)."""
        k = self.k
        assert k is not None
        live = self.live_pages()
        if not live:
            return
        pp = data.draw(st.sampled_from(live))
        vp = pp.p_vnode
        flags = data.draw(st.sampled_from(ONE_WRITE_FLAGS))
        se = SE_EXCL if flags & (B_FREE | B_INVAL) else SE_SHARED
        assert page_trylock(pp, se) == 1
        if not pvn_getdirty(pp, flags):
            return
        blk = data.draw(st.sampled_from((4096, 8192, 16384, 65536)))
        kl = pvn_write_kluster(vp, pp, pp.p_offset - pp.p_offset % blk, blk, flags)
        check_kernel(k)
        failed = data.draw(st.booleans())
        pages = kl.pages
        pvn_write_done(kl.plist, B_WRITE | flags | (B_ERROR if failed else 0))
        if failed:
            # L414-432: without B_INVAL|B_FORCE the pages stay, modified again.
            for p in pages:
                assert p.p_vnode is vp and p.p_nrm & P_MOD and p.p_selock == 0

    @rule(data=st.data())
    def vplist_dirty(self, data: st.DataObject) -> None:
        """pvn_vplist_dirty with a ufs-like putapage whose writes may fail."""
        k = self.k
        assert k is not None
        vp = data.draw(st.sampled_from(self.vps))
        off = data.draw(st.one_of(st.just(0), st.integers(0, NPAGES).map(lambda n: n * PAGESIZE)))
        flags = data.draw(st.sampled_from(WALK_FLAGS))
        blk = data.draw(st.sampled_from((4096, 8192, 16384)))
        # Writes of klusters starting at these resident pages fail with EIO.
        resident = sorted(k.page_hash[vp])
        failing = (
            data.draw(st.frozensets(st.sampled_from(resident), max_size=4))
            if resident
            else frozenset()
        )
        results: list[int] = []

        def write(_vp: Any, kl: Any, _flags: int) -> int:
            return EIO if kl.off in failing else 0

        inner = make_putapage(blk, write=write)

        def putapage(*args: Any) -> int:
            r = inner(*args)
            results.append(r)
            return r

        err = pvn_vplist_dirty(vp, off, putapage, flags, KCRED)
        event(f"walk: {len(results)} putapage calls, {sum(map(bool, results))} failed")
        note(f"pvn_vplist_dirty({vp.v_name}, {off}, flags={flags:#x}) = {err}, {results}")
        # L964-966: the first error of a putapage call is returned.
        assert err == next((r for r in results if r), 0)
        remaining = [p for o, p in k.page_hash[vp].items() if o >= off]
        if flags == B_INVAL | B_TRUNC:
            # L940-952 destroy free pages, L635-643 destroy the others.
            assert remaining == []
        elif not any(results):
            if flags in (0, B_ASYNC):
                # Every dirty page at or above off was written and is clean now.
                assert not [p.name for p in remaining if is_dirty(p)]
            elif flags & B_FREE:
                # Freed by pvn_getdirty (clean) or pvn_write_done (written,
                # untouched); kept only when logically locked (L592-595).
                assert not [
                    p.name
                    for p in remaining
                    if not p.p_state & P_FREE and not (p.p_lckcnt or p.p_cowcnt)
                ]
            elif flags == B_INVAL:
                assert not [p.name for p in remaining if not (p.p_lckcnt or p.p_cowcnt)]

    @rule(data=st.data())
    def setdirty(self, data: st.DataObject) -> None:
        """pvn_vplist_setdirty with a page_check that picks some resident pages."""
        k = self.k
        assert k is not None
        vp = data.draw(st.sampled_from(self.vps))
        offs = sorted(o for o, p in k.page_hash[vp].items() if not p.p_state & P_FREE)
        chosen = (
            data.draw(st.frozensets(st.sampled_from(offs), max_size=6)) if offs else frozenset()
        )
        pvn_vplist_setdirty(vp, lambda pp: 1 if pp.p_offset in chosen else 0)
        for o in chosen:
            assert k.page_hash[vp][o].p_nrm & P_MOD

    @invariant()
    def validators_pass(self) -> None:
        k = self.k
        if k is None:
            return
        check_kernel(k)
        assert len(k.pages) + k.unused_pages + k.kernel_pages == k.total_pages
        assert k.freemem >= 0
        for p in k.pages:  # nothing is held between calls
            assert p.p_selock == 0, f"{p.name} is still locked"
            assert not p.p_iolock_state & PAGE_IO_INUSE, f"{p.name} is still i/o-locked"


def test_validators_pass_after_every_call() -> None:
    """Random pvn call sequences keep every validator passing and leave no lock held.

    Sequences of read klusters (finished by pvn_plist_init, pvn_io_done or
    pvn_read_done), HAT activity, single writes, pvn_vplist_dirty walks and
    pvn_vplist_setdirty on a plain and a VMODSORT vnode; pages are conserved.

    Why: each routine releases every lock it takes or is handed (pvn_io_done
    L309-313, pvn_read_done L327-335, pvn_write_done L391-548, pvn_getdirty
    L594/L612/L640-660, pvn_vplist_dirty L970-983, pvn_plist_init L1168-1209 plus
    the caller's unlock), and the primitives keep the lists, hash, freemem and
    VMODSORT order consistent (semantics.md 4.1-4.6).
    """
    # 30 steps per sequence (Hypothesis default 50) keeps this under ~10 s in CI;
    # the number of sequences comes from the profile.
    run_state_machine_as_test(PvnSequences, settings=settings(stateful_step_count=30))
