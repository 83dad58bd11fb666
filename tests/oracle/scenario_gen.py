"""A Hypothesis strategy for oracle scenarios (the format of docs/oracle.md).

Scenarios stay inside the contract both sides implement: offsets page
aligned, windows containing their offset, pages handed to pvn_write_kluster
and pvn_write_done locked and i/o-locked the way pvn_getdirty leaves them,
flags drawn from what real file systems pass (semantics.md 6.6).
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


@st.composite
def _page_line(draw: st.DrawFn, vname: str, off: int) -> str:
    kind = draw(
        st.sampled_from(["clean", "clean", "dirty", "dirty", "hw", "cached", "busy", "locked"])
    )
    attrs: list[str] = []
    if kind == "cached":
        attrs.append("free=cache")
        return f"page {vname} {off:#x} " + " ".join(attrs)
    nrm = {"clean": "P_REF", "dirty": "P_MOD|P_REF", "hw": "0"}.get(kind, "P_REF")
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
    resident: dict[str, list[int]] = {}
    for v in vnames:
        offs = draw(
            st.lists(st.integers(0, NPAGES - 1), unique=True, max_size=NPAGES).map(
                lambda xs: [x * pagesize for x in xs]
            )
        )
        resident[v] = offs
        for off in offs:
            lines.append(draw(_page_line(v, off)))
    ncalls = draw(st.integers(1, 3))
    for _ in range(ncalls):
        lines.extend(draw(_calls(vnames, resident, pagesize, base)))
    return "\n".join(lines) + "\n"


@st.composite
def _calls(
    draw: st.DrawFn, vnames: list[str], resident: dict[str, list[int]], pagesize: int, base: int
) -> list[str]:
    v = draw(st.sampled_from(vnames))
    kind = draw(
        st.sampled_from(
            ["read", "read", "vplist", "vplist", "vplist", "setdirty", "getpages", "vpzero"]
        )
    )
    if kind == "read":
        vp_off = draw(st.integers(0, NPAGES - 1)) * pagesize
        vp_len = draw(st.integers(1, 8 * pagesize))
        npg = (vp_len + pagesize - 1) // pagesize
        off = vp_off + draw(st.integers(0, npg - 1)) * pagesize
        if off >= vp_off + vp_len:
            off = vp_off
        seg = draw(st.sampled_from(["s1", "s2", "s3"]))
        isra = draw(st.sampled_from([0, 0, 1]))
        out = [
            f"call pvn_read_kluster {v} off={off:#x} seg={seg} addr={base + off:#x} "
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
            out.append(
                f"call pvn_plist_init list=last plsz={plsz:#x} off={off:#x} io_len=0 rw={rw}"
            )
        return out
    if kind == "vplist":
        off = draw(st.integers(0, NPAGES)) * pagesize
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
        off = draw(st.integers(0, NPAGES - 1)) * pagesize
        length = draw(st.integers(1, 4)) * pagesize
        plsz = length + draw(st.integers(0, 2)) * pagesize
        fail = ""
        if draw(st.booleans()):
            fail = f" fail={off + draw(st.integers(0, length // pagesize - 1)) * pagesize:#x}"
        return [
            f"call pvn_getpages {v} off={off:#x} len={length:#x} plsz={plsz:#x} seg=s1 "
            f"addr={base + off:#x} rw=S_READ{fail}"
        ]
    vplen = draw(st.integers(0, NPAGES * pagesize))
    zbytes = draw(st.sampled_from([0, 0, 512, 4096, 8192]))
    return [f"call pvn_vpzero {v} vplen={vplen:#x} zbytes={zbytes:#x}"]
