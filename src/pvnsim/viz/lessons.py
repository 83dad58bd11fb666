"""The three lessons of ``pvnsim tour`` on the paged-vnode layer.

1. Klustering under memory pressure (pvn_read_kluster).
2. fsync, VMODSORT and the marker walk (pvn_vplist_dirty).
3. Pageout through pvn_write_done.

Each lesson is a generator of :class:`Step` (a title, an explanation and an
exhibit built with the terminal views), so :mod:`pvnsim.viz.tour` can show
them on a terminal or print them, and tests can read them.  Every number in
the narration is read from the simulated kernel, never written in by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import attrs

from pvnsim.errors import InternalError
from pvnsim.flags import B_ASYNC, B_FREE, B_WRITE, P_MOD, P_REF, SE_EXCL, VMODSORT
from pvnsim.fs.ufslike import make_putapage
from pvnsim.kernel import Kernel
from pvnsim.viz.csource import CSource
from pvnsim.viz.record import Recorder
from pvnsim.viz.state import capture_kernel, capture_kluster, capture_vnode
from pvnsim.viz.stepper import Stepper
from pvnsim.viz.text import kluster_text, memory_text, stats_text, trace_text, vnode_text
from pvnsim.vm.build import make_page, populate
from pvnsim.vm.hat import hat_map, hat_touch
from pvnsim.vm.seg import SegMap
from pvnsim.vm.vm_page import page_free, page_lookup_nowait
from pvnsim.vm.vm_pvn import (
    Kluster,
    pvn_getdirty,
    pvn_io_done,
    pvn_read_kluster,
    pvn_vplist_dirty,
    pvn_write_done,
    pvn_write_kluster,
)
from pvnsim.vm.vnode import Vnode

__all__ = [
    "LESSONS",
    "Step",
    "lesson_fsync",
    "lesson_klustering",
    "lesson_pageout",
]

ROOMY = {
    "lotsfree": 0,
    "desfree": 0,
    "minfree": 0,
    "throttlefree": 0,
    "pageout_reserve": 0,
    "pages_before_pager": 0,
}


@attrs.frozen
class Step:
    """One step of a lesson.

    Attributes:
        title: one line naming the step.
        text: the explanation (prose; a terminal re-wraps it).
        exhibit: what to look at, as preformatted text views (a ring, a trace...).
    """

    title: str
    text: str
    exhibit: str = ""

    @property
    def body(self) -> str:
        """The explanation and the exhibit, as printed without a terminal."""
        return f"{self.text}\n\n{self.exhibit}" if self.exhibit else self.text


T = TypeVar("T")


def _must(value: T | None) -> T:
    if value is None:  # pragma: no cover - the lessons are built so this cannot happen
        raise InternalError("tour: a lesson step returned NULL where it cannot")
    return value


def _mem(k: Kernel) -> str:
    return memory_text(capture_kernel(k, []))


def _vn(vp: Vnode, highlight: Sequence[str] = ()) -> str:
    return vnode_text(capture_vnode(vp), highlight=highlight)


# ---------------------------------------------------------------------------


def lesson_klustering(source: CSource | None = None) -> Iterator[Step]:
    """Lesson 1: pvn_read_kluster spends only the memory above minfree."""
    k = Kernel(total_pages=512)
    vp = k.vnode("file")
    seg = SegMap(k, "segmap")
    yield Step(
        "A small machine",
        "512 pages of 4 KiB, with illumos's default thresholds.  pvn_read_kluster\n"
        "builds a read kluster only out of memory above minfree:\n"
        "pagesavail = freemem - minfree (vm_pvn.c:113).",
        _mem(k),
    )

    kl = _must(pvn_read_kluster(vp, 0x3000, seg, 0x3000, 0, 0x10000, 0))
    yield Step(
        "Plenty of memory: the whole block window",
        f"A fault at 0x3000 in a 64 KiB block window [0, 0x10000).  pagesavail is\n"
        f"{k.freemem + len(kl.pages) - k.minfree}, more than the 16 pages of the window, so "  # type: ignore[operator]
        "pvn_read_kluster creates every\n"
        "absent page: backwards from the fault to the window start (vm_pvn.c:158-175),\n"
        "then forwards to its end (178-195).  Each new page is locked SE_EXCL (X) and\n"
        "i/o-locked (io) until the read completes.",
        kluster_text(capture_kluster(kl)),
    )

    pvn_io_done(kl.plist)
    yield Step(
        "The read completes",
        "pvn_io_done drops each page's i/o lock and page lock (vm_pvn.c:309-313).",
        _vn(vp),
    )

    hog = k.vnode("hog")
    populate(hog, [i * k.pagesize for i in range(k.freemem - k.minfree - 3)])  # type: ignore[operator]
    yield Step(
        "Memory gets tight",
        f"Another file now holds {len(k.page_hash[hog])} pages: freemem - minfree = "
        f"{k.freemem - k.minfree} pages.",  # type: ignore[operator]
        _mem(k),
    )

    avail = k.freemem - k.minfree  # type: ignore[operator]
    kl = _must(pvn_read_kluster(vp, 0x1B000, seg, 0x1B000, 0x10000, 0x10000, 0))
    yield Step(
        "The kluster shrinks to fit",
        f"A fault at 0x1b000 in the window [0x10000, 0x20000).  pagesavail = {avail} is\n"
        "less than the 16 pages of the window, so pvn_read_kluster first drops the\n"
        "part before the fault (vm_pvn.c:127-129), leaving [0x1b000, 0x20000) = 5 pages;\n"
        f"still more than {avail}, so it settles for {avail} pages (vm_pvn.c:135).",
        kluster_text(capture_kluster(kl)),
    )
    pvn_io_done(kl.plist)

    ra = pvn_read_kluster(vp, 0x24000, seg, 0x24000, 0x20000, 0x10000, 1)
    yield Step(
        "No memory to spare: read-ahead gives up",
        f"freemem - minfree = {k.freemem - k.minfree}.  A read-ahead (isra=1) returns "  # type: ignore[operator]
        f"{'NULL' if ra is None else ra} (vm_pvn.c:116-117):\n"
        "it must not take the last pages.  A demand fault still needs its page\n"
        "(pagesavail = 1, vm_pvn.c:119), and page_create_va waits for the pageout\n"
        "daemon to free memory.",
        _mem(k),
    )

    freed: list[int] = []

    def pageout_standin(kern: Kernel, shortfall: int) -> None:
        # Free some of the other file's clean pages, as the page scanner would.
        for off in sorted(kern.page_hash[hog])[: shortfall + 8]:
            pp = page_lookup_nowait(hog, off, SE_EXCL)
            if pp is not None:
                page_free(pp, 0)
                freed.append(off)

    k.memory_reclaim = pageout_standin
    kl = _must(pvn_read_kluster(vp, 0x24000, seg, 0x24000, 0x20000, 0x10000, 0))
    pvn_io_done(kl.plist)
    yield Step(
        "A demand fault gets one page",
        f"The pageout stand-in freed {len(freed)} of the other file's clean pages to the\n"
        f"cache list; the fault got a kluster of {len(kl.pages)} page: off={kl.off:#x} "
        f"len={kl.len:#x}.",
        _mem(k) + "\n\n" + _vn(vp),
    )


# ---------------------------------------------------------------------------


def _dirty_two(k: Kernel, vp: Vnode) -> None:
    for i in range(6):
        pp = make_page(vp, i * k.pagesize, nrm=P_REF)
        hat_map(pp)
    for off in (0x1000, 0x4000):
        hat_touch(k.page_hash[vp][off], write=True)


def lesson_fsync(source: CSource | None = None) -> Iterator[Step]:
    """Lesson 2: fsync walks v_pages from the tail with two markers; VMODSORT stops early."""
    k = Kernel(total_pages=256, **ROOMY)  # type: ignore[arg-type]
    vp = k.vnode("file", v_flag=VMODSORT)
    for i in range(6):
        hat_map(make_page(vp, i * k.pagesize, nrm=P_REF))
    yield Step(
        "Six clean pages, mapped by a process",
        "The vnode is VMODSORT: the HAT keeps its modified pages at the tail of\n"
        "v_pages.  A clean page of such a vnode is mapped read-only, so the first\n"
        "write to it faults.",
        _vn(vp),
    )
    for off in (0x1000, 0x4000):
        hat_touch(k.page_hash[vp][off], write=True)
    yield Step(
        "The process writes two pages",
        "Each first write faults, sets P_MOD (hat_setmod) and moves the page to the\n"
        "tail: clean pages gather at the head, dirty ones at the tail.",
        _vn(vp),
    )

    written: list[Kluster] = []
    with Recorder(k, vnodes=[vp]) as rec:
        err = pvn_vplist_dirty(vp, 0, make_putapage(8192, klusters=written), 0, None)
    steps = Stepper(rec.recording.compact(), source=source or False)
    calls = [e for e in rec.recording.events if e.name == "pvn_getdirty" and e.kind == "port"]
    yield Step(
        "fsync: pvn_vplist_dirty(vp, 0, putapage, 0)",
        "The walk takes VVMLOCK (vm_pvn.c:767-782), puts two markers after the tail,\n"
        "MARK(-1) that walks and MARK(-2) that stays at the end (788-808), and visits\n"
        "pages from the tail towards the head, moving MARK(-1) past each page before it\n"
        "drops the page-list mutex.  New markers come zeroed from the cache's\n"
        "constructor, so the trace calls both MARK(0) until 790 and 793 set their\n"
        "p_offset to -2 and -1 (a reused marker keeps the offset it had).  The next\n"
        f"steps show each change of state, with the calls that led to it ({len(steps) - 1} steps).",
    )
    for i in range(1, len(steps)):
        yield Step(f"walk step {i} of {len(steps) - 1}", *_walk_step(steps, i))
    other = k.vnode("plain")
    _dirty_two(k, other)
    t = k.trace_on()
    start = len(t)
    pvn_vplist_dirty(other, 0, make_putapage(8192), 0, None)
    k.trace_off()
    plain_calls = [e for e in t.since(start) if e.name == "pvn_getdirty" and e.kind == "port"]
    yield Step(
        "Why VMODSORT matters",
        f"pvn_vplist_dirty returned {err} after writing {len(written)} klusters.  On the VMODSORT\n"
        f"vnode the walk called pvn_getdirty {len(calls)} times (the dirty pages and the\n"
        "clean neighbours its putapage probed) and stopped at the first clean, idle page\n"
        "(vm_pvn.c:840-869).  The same pages on a vnode without VMODSORT cost\n"
        f"{len(plain_calls)} pvn_getdirty calls: that walk must look at every page.",
        _vn(vp),
    )


def _walk_step(steps: Stepper, i: int) -> tuple[str, str]:
    """The explanation and the exhibit of walk step ``i``: its calls, then the ring."""
    frame = steps.recording.frames[i]
    n = len(frame.events)
    vv = frame.state.vnodes[0]
    where = (
        "Both markers are on the ring."
        if sum(p.marker for p in vv.pages) == 2
        else "One marker is on the ring."
        if vv.walking
        else "No marker is on the ring."
    )
    text = f"{n} call{'s' if n != 1 else ''} since the previous step, the last: {frame.label}.  {where}"
    exhibit = trace_text(frame.events, source=steps.source or False, limit=12)
    return text, exhibit + "\n\n" + vnode_text(vv)


# ---------------------------------------------------------------------------


def lesson_pageout(source: CSource | None = None) -> Iterator[Step]:
    """Lesson 3: pageout writes dirty pages and pvn_write_done frees them."""
    k = Kernel(total_pages=512)
    vp = k.vnode("file")
    for i in range(8):
        pp = make_page(vp, i * k.pagesize, nrm=P_REF | P_MOD)
        hat_map(pp)
    hog = k.vnode("hog")
    populate(hog, [i * k.pagesize for i in range(k.freemem - 100)])
    yield Step(
        "Memory is short and a file is dirty",
        f"freemem is {k.freemem}, below lotsfree ({k.lotsfree}): the page scanner runs.\n"
        "It finds the file's dirty pages and asks the file system to write each one out\n"
        "with VOP_PUTPAGE(vp, off, PAGESIZE, B_ASYNC|B_FREE).",
        _mem(k) + "\n\n" + _vn(vp),
    )

    flags = B_ASYNC | B_FREE
    pp = _must(page_lookup_nowait(vp, 0x3000, SE_EXCL))
    dirty = pvn_getdirty(pp, flags)
    yield Step(
        "pvn_getdirty(pp, B_ASYNC|B_FREE)",
        f"The file system locks the page SE_EXCL and calls pvn_getdirty, which answers {dirty}\n"
        "(write it).  It took the i/o lock, unloaded every translation so the next access\n"
        "faults (hat_pageunload, vm_pvn.c:630), cleared ref/mod (669) and, because the\n"
        "page will be freed after the write, downgraded the lock to SE_SHARED (678)\n"
        "so others may use the page during the write.",
        _vn(vp),
    )

    kl = pvn_write_kluster(vp, pp, 0, 0x8000, flags)
    names = [p.name for p in kl.pages]
    yield Step(
        "putapage: pvn_write_kluster gathers the dirty neighbours",
        f"Within the 32 KiB block, the neighbours are looked up without waiting and passed\n"
        f"to pvn_getdirty with B_DELWRI: the kluster has {len(names)} pages, off={kl.off:#x}\n"
        f"len={kl.len:#x}.  The write to disk starts now (asynchronously).",
        kluster_text(capture_kluster(kl)),
    )

    used = k.page_hash[vp][0x5000]
    hat_map(used)
    hat_touch(used)
    yield Step(
        "A process reads one page while it is being written",
        f"{used.name} is faulted in again (its lock is only shared) and read: the new\n"
        "translation's hardware reference bit is set (map r).",
        _vn(vp, names),
    )

    before = capture_kernel(k, [])
    t = k.trace_on()
    start = len(t)
    pvn_write_done(kl.plist, B_WRITE | flags)
    k.trace_off()
    after = capture_kernel(k, [])
    changed = [n for (n, v), (_, w) in zip(before.stats, after.stats, strict=True) if v != w]
    events = [
        e
        for e in t.since(start)
        if e.name in ("page_tryupgrade", "hat_pagesync", "VN_DISPOSE", "page_unlock")
    ]
    yield Step(
        "The write completes: pvn_write_done(plist, B_WRITE|B_ASYNC|B_FREE)",
        "For each page: drop the i/o lock, try to upgrade to SE_EXCL (vm_pvn.c:468),\n"
        "read ref/mod without clearing them (483).  A page nobody used is freed to the\n"
        "cache list (VN_DISPOSE B_FREE, 525, dfree++); the page that was read during\n"
        "the write keeps its identity and is only unlocked (pgrec++, 529-530).",
        trace_text(events, source=source or False)
        + "\n\n"
        + stats_text(after, changed)
        + "\n\n"
        + memory_text(after)
        + "\n\n"
        + _vn(vp),
    )


LESSONS: dict[int, tuple[str, Callable[[CSource | None], Iterator[Step]]]] = {
    1: ("Klustering under memory pressure", lesson_klustering),
    2: ("fsync, VMODSORT and the marker walk", lesson_fsync),
    3: ("Pageout through pvn_write_done", lesson_pageout),
}
