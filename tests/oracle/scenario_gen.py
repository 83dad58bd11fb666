"""A Hypothesis strategy for oracle scenarios (the format of docs/oracle.md).

Scenarios stay inside the contract both sides implement: page offsets page
aligned, pages handed to pvn_write_kluster and pvn_write_done locked and
i/o-locked the way pvn_getdirty leaves them, flags drawn from what real file
systems pass (semantics.md 6.6).  Inside it they reach for the edges:

* about a third of the scenarios put their pages just below 2^64, so that
  windows, scans and sums wrap around u_offset_t (a window whose end wraps
  fails pvn_read_kluster's entry ASSERT on both sides);
* pvn_vplist_dirty and pvn_plist_init are often given an ``off`` that is
  not page aligned (512-byte units, as pcfs passes);
* pages are drawn with SE_EWANTED set (``ew=1``: another thread waits for
  the exclusive lock), which every trylock, shared lock and upgrade sees,
  and which page_create_va's taking of a cached page respects.
"""

from __future__ import annotations

from hypothesis import strategies as st

PVN_FLAG_SETS = [
    "0",
    "B_ASYNC",
    "B_ASYNC|B_FREE",
    "B_INVAL",
    "B_INVAL|B_TRUNC",
    "B_FREE",
    "B_FREE|B_DONTNEED",
    "B_ASYNC|B_FREE|B_DONTNEED",
    "B_INVAL|B_FORCE",
    "B_ASYNC|B_INVAL",
]
VFLAG_SETS = ["0", "VMODSORT", "VVMEXEC", "VISSWAPFS", "VMODSORT|VVMEXEC", "VSWAPLIKE"]
NPAGES = 12
U64 = 1 << 64


@st.composite
def _page_line(draw: st.DrawFn, vname: str, off: int, mine: str | None) -> str:
    """One ``page`` line; ``mine`` ("S" or "X") makes a dirty page locked in
    that mode and i/o-locked by the caller, as pvn_getdirty hands it to a
    putapage routine."""
    kind = (
        "mine"
        if mine
        else draw(
            st.sampled_from(["clean", "clean", "dirty", "dirty", "hw", "cached", "busy", "locked"])
        )
    )
    attrs: list[str] = []
    if kind == "cached":
        attrs.append("free=cache")
        if draw(st.integers(0, 5)) == 0:
            attrs.append("ew=1")
        return f"page {vname} {off:#x} " + " ".join(attrs)
    nrm = {"clean": "P_REF", "dirty": "P_MOD|P_REF", "hw": "0", "mine": "P_MOD"}.get(kind, "P_REF")
    if draw(st.booleans()) and kind == "clean":
        nrm = "0"
    attrs.append(f"nrm={nrm}")
    maps = draw(st.lists(st.sampled_from(["rm", "r", "m", "-"]), max_size=2))
    if kind == "hw" and not maps:
        maps = ["rm"]
    if maps:
        attrs.append("map=" + ",".join(maps))
    if draw(st.integers(0, 9)) == 0:
        attrs.append(f"lck={draw(st.integers(1, 2))}")
    if draw(st.integers(0, 11)) == 0:
        attrs.append("cow=1")
    if kind == "busy":
        attrs.append("io=other")
        attrs.append(draw(st.sampled_from(["lock=S@other", "lock=X@other", ""])))
    elif kind == "locked":
        attrs.append(draw(st.sampled_from(["lock=S@other", "lock=X@other", "lock=SS"])))
    elif kind == "mine":
        attrs.append(f"lock={mine} io=me")
    if draw(st.integers(0, 5)) == 0:
        attrs.append("ew=1")
    return f"page {vname} {off:#x} " + " ".join(a for a in attrs if a)


@st.composite
def scenarios(draw: st.DrawFn) -> str:
    """Scenario texts with one or two vnodes and one to three calls."""
    pagesize = draw(st.sampled_from([4096, 4096, 4096, 8192]))
    free = draw(st.integers(1, 40))
    other = draw(st.integers(0, 6))
    minfree = draw(st.integers(0, 12))
    throttlefree = draw(st.integers(0, minfree))
    reserve = draw(st.integers(0, throttlefree))
    lotsfree = draw(st.integers(0, 60))
    lines = [
        f"kernel pagesize={pagesize} free={free} other={other} minfree={minfree} "
        f"desfree={minfree * 2} lotsfree={lotsfree} throttlefree={throttlefree} "
        f"pageout_reserve={reserve}"
    ]
    lines.append(
        "tunable "
        f"pvn_nofodklust={draw(st.sampled_from([0, 0, 0, 1]))} "
        f"pvn_write_noklust={draw(st.sampled_from([0, 0, 0, 1]))} "
        f"pvn_vmodsort_disable={draw(st.sampled_from([0, 0, 0, 1]))} "
        f"write_free={draw(st.sampled_from([1, 1, 0]))} "
        f"pages_before_pager={draw(st.sampled_from([0, 200]))} "
        f"debug={draw(st.sampled_from([0, 1]))}"
    )
    nvnodes = draw(st.integers(1, 2))
    vnames = [f"v{i + 1}" for i in range(nvnodes)]
    for v in vnames:
        lines.append(f"vnode {v} flags={draw(st.sampled_from(VFLAG_SETS))} type=VREG")
    base = 0x100000
    lines.append("seg s1 kind=segmap")
    advice = draw(st.sampled_from(["normal", "random", "sequential"]))
    seg_lo = draw(st.integers(0, NPAGES)) * pagesize
    seg_len = draw(st.integers(1, NPAGES + 2)) * pagesize
    lines.append(f"seg s2 kind=segvn base={base + seg_lo:#x} size={seg_len:#x} advice={advice}")
    refused = draw(st.lists(st.integers(-8, 8), max_size=3))
    lines.append(
        "seg s3 kind=refuse deltas=" + ",".join(str(d * pagesize) for d in refused or [99])
    )
    # Page slot i of the scenario is file offset origin + i * pagesize
    # (mod 2^64): from 0, or from a few pages below 2^64 so that the slots
    # wrap around to offset 0.
    top = draw(st.sampled_from([False, False, True]))
    origin = U64 - draw(st.integers(1, NPAGES)) * pagesize if top else 0
    sc = _Slots(origin, pagesize, base)
    resident: dict[str, list[int]] = {}
    mine: dict[str, dict[int, str]] = {}
    for v in vnames:
        slots = draw(st.lists(st.integers(0, NPAGES - 1), unique=True, max_size=NPAGES))
        held = draw(st.sets(st.sampled_from(slots))) if slots and draw(st.booleans()) else set()
        resident[v] = [sc.off(i) for i in slots]
        mine[v] = {sc.off(i): draw(st.sampled_from(["S", "X"])) for i in slots if i in held}
        for i in slots:
            lines.append(draw(_page_line(v, sc.off(i), mine[v].get(sc.off(i)))))
    ncalls = draw(st.integers(1, 3))
    for _ in range(ncalls):
        lines.extend(draw(_calls(vnames, resident, mine, sc)))
    return "\n".join(lines) + "\n"


class _Slots:
    """Offsets and addresses of a scenario's page slots."""

    def __init__(self, origin: int, pagesize: int, base: int) -> None:
        self.origin = origin
        self.pagesize = pagesize
        self.base = base

    def off(self, i: int) -> int:
        """The file offset of slot ``i`` (u_offset_t arithmetic)."""
        return (self.origin + i * self.pagesize) % U64

    def addr(self, i: int) -> int:
        """The segment address that maps slot ``i``."""
        return self.base + i * self.pagesize

    def index(self, off: int) -> int:
        """The slot of a page offset."""
        return ((off - self.origin) % U64) // self.pagesize


@st.composite
def _unaligned(draw: st.DrawFn, off: int, pagesize: int) -> int:
    """``off``, or often an offset inside that page that is not page aligned
    (mostly in 512-byte units, as pcfs passes)."""
    how = draw(st.sampled_from(["aligned", "aligned", "sector", "sector", "byte"]))
    if how == "sector":
        return off + draw(st.integers(1, pagesize // 512 - 1)) * 512
    if how == "byte":
        return off + draw(st.integers(1, pagesize - 1))
    return off


@st.composite
def _calls(
    draw: st.DrawFn,
    vnames: list[str],
    resident: dict[str, list[int]],
    mine: dict[str, dict[int, str]],
    sc: _Slots,
) -> list[str]:
    v = draw(st.sampled_from(vnames))
    pagesize = sc.pagesize
    kinds = ["read", "read", "vplist", "vplist", "vplist", "setdirty", "getpages", "vpzero"]
    if mine[v]:
        kinds += ["write", "write"]
    kind = draw(st.sampled_from(kinds))
    if kind == "read":
        first = draw(st.integers(0, NPAGES - 1))
        vp_off = sc.off(first)
        vp_len = draw(st.integers(1, 8 * pagesize))
        npg = (vp_len + pagesize - 1) // pagesize
        slot = first + draw(st.integers(0, npg - 1))
        off = sc.off(slot)
        if (off - vp_off) % U64 >= vp_len:
            off, slot = vp_off, first
        if sc.origin and draw(st.integers(0, 2)) == 0:
            # The last page below 2^64: only from there does the backward
            # scan's test vp_off + deltab wrap (and let it pass below vp_off).
            back = min(draw(st.integers(0, 3)), sc.index(U64 - pagesize))
            off = U64 - pagesize
            slot = sc.index(off)
            vp_off = off - back * pagesize
            # A window ending at 2^64 - 1 at most; ending at 2^64 exactly
            # (vp_off + vp_len wraps to 0) fails the entry ASSERT (L107).
            vp_len = draw(
                st.one_of(
                    st.integers(back * pagesize + 1, (back + 1) * pagesize - 1),
                    st.just((back + 1) * pagesize),
                )
            )
        seg = draw(st.sampled_from(["s1", "s2", "s3"]))
        isra = draw(st.sampled_from([0, 0, 1]))
        out = [
            f"call pvn_read_kluster {v} off={off:#x} seg={seg} addr={sc.addr(slot):#x} "
            f"vp_off={vp_off:#x} vp_len={vp_len:#x} isra={isra}"
        ]
        follow = draw(st.sampled_from(["io_done", "read_done", "read_error", "plist", "none"]))
        if follow == "io_done":
            out.append("call pvn_io_done list=last")
        elif follow == "read_done":
            out.append("call pvn_read_done list=last flags=B_READ|B_ASYNC")
        elif follow == "read_error":
            out.append("call pvn_read_done list=last flags=B_READ|B_ERROR")
        elif follow == "plist":
            plsz = draw(st.integers(1, 4)) * pagesize
            rw = draw(st.sampled_from(["S_READ", "S_CREATE", "S_WRITE"]))
            at = draw(_unaligned(off, pagesize))
            out.append(f"call pvn_plist_init list=last plsz={plsz:#x} off={at:#x} io_len=0 rw={rw}")
        return out
    if kind == "write":
        # Each page held for the caller is klustered at most once: the
        # write-back that follows unlocks it.
        pp_off = draw(st.sampled_from(sorted(mine[v])))
        mode = mine[v].pop(pp_off)
        blocks = draw(st.integers(0, 4))
        vp_off = sc.off(max(sc.index(pp_off) - blocks, 0))
        vp_len = draw(st.integers(0, 8 * pagesize))
        flags = draw(st.sampled_from(["0", "B_ASYNC", "B_FREE", "B_ASYNC|B_FREE"]))
        if mode == "X" and draw(st.booleans()):
            flags = "B_INVAL"  # invalidation needs pp held exclusively
        out = [
            f"call pvn_write_kluster {v} page={pp_off:#x} vp_off={vp_off:#x} "
            f"vp_len={vp_len:#x} flags={flags}"
        ]
        done = draw(st.sampled_from(["ok", "ok", "error", "io_done"]))
        if done == "io_done":
            out.append("call pvn_io_done list=last")
        else:
            err = "B_ERROR|" if done == "error" else ""
            extra = "" if flags == "0" else f"|{flags}"
            out.append(f"call pvn_write_done list=last flags={err}B_WRITE{extra}")
        return out
    if kind == "vplist":
        off = draw(_unaligned(sc.off(draw(st.integers(0, NPAGES))), pagesize))
        flags = draw(st.sampled_from(PVN_FLAG_SETS))
        blk = draw(st.sampled_from([pagesize, 8192, 16384, 32768]))
        blk = max(blk, pagesize)
        extra = ""
        if draw(st.booleans()):
            extra = f" failn={draw(st.integers(1, 3))}"
        return [f"call pvn_vplist_dirty {v} off={off:#x} flags={flags} blk={blk}{extra}"]
    if kind == "setdirty":
        check = draw(
            st.one_of(
                st.sampled_from(["all", "none"]),
                st.lists(st.sampled_from(resident[v] or [0]), min_size=1, max_size=3).map(
                    lambda xs: ",".join(f"{x:#x}" for x in xs)
                ),
            )
        )
        return [f"call pvn_vplist_setdirty {v} check={check}"]
    if kind == "getpages":
        slot = draw(st.integers(0, NPAGES - 1))
        off = sc.off(slot)
        length = draw(st.integers(1, 4)) * pagesize
        if off + length > U64 - pagesize:
            # pvnsim refuses a range reaching the last page of the offset
            # space (the C's loop would never end): start at 0 instead.
            off, slot = 0, sc.index(0)
        plsz = length + draw(st.integers(0, 2)) * pagesize
        fail = ""
        if draw(st.booleans()):
            fail = f" fail={off + draw(st.integers(0, length // pagesize - 1)) * pagesize:#x}"
        return [
            f"call pvn_getpages {v} off={off:#x} len={length:#x} plsz={plsz:#x} seg=s1 "
            f"addr={sc.addr(slot):#x} rw=S_READ{fail}"
        ]
    vplen = draw(st.integers(0, NPAGES * pagesize))
    zbytes = draw(st.sampled_from([0, 0, 512, 4096, 8192]))
    return [f"call pvn_vpzero {v} vplen={vplen:#x} zbytes={zbytes:#x}"]
