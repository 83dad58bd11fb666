"""A pvn_vplist_dirty walk racing threads that change the vnode's page list.

The walker runs ``walk(vp, off, putapage, flags, None)`` (the real port, or
the deliberately broken copy in ``broken_walk.py``) over a vnode whose pages
are given as a string, one letter per page in list order from head to tail:
``d`` dirty, ``c`` clean (``C``: clean and cached on the free list).  Page i
has offset ``i * PAGESIZE``.  Mutator threads, each a plain function:

=========  ==============================================================
op         what the thread does
=========  ==============================================================
head       creates a new clean page (page_create_va PG_EXCL|PG_WAIT,
           then pvn_io_done): it enters at the head of v_pages
tail       the same, then stores into it (hat_setmod while it holds it
           SE_EXCL): on a VMODSORT vnode the page moves to the tail
free       page_lookup SE_EXCL, then page_free if clean and unmapped
lock       page_lookup SE_EXCL, a yield point while holding it, page_unlock
destroy    page_lookup SE_EXCL, then page_destroy (a truncate)
=========  ==============================================================

With ``cpu`` (a touch budget), the dirty pages are mapped and another CPU
(:func:`pvnsim.concurrency.other_cpu`) stores into them at any switch point,
up to that many times: a page it dirties again after the walk wrote it is
written or kept, never lost.

What is checked (at every switch point and at the end):

* no marker is ever locked, i/o-locked or on an I/O list, and none reaches
  putapage;
* pages that were on the list for the whole walk (the same incarnation of
  the same page_t: a destroyed page_t may come back, even at its old
  offset) with offset >= off: each that was dirty when the walk began was
  handed to putapage, except that an async walk may skip a page that
  another thread held (page or i/o lock) at some switch point of the walk;
  with B_INVAL none is left; with B_FREE each that no other thread held
  during the walk was free when the walk returned; no page is handed to
  putapage twice, none below ``off``, none that was clean;
* both markers have left the lists and gone back to the cache, and every
  validator passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pvnsim import (
    Kernel,
    Page,
    check_kernel,
    make_page,
    pvn_io_done,
    pvn_vplist_dirty,
    pvn_write_done,
)
from pvnsim.concurrency import Run, other_cpu
from pvnsim.flags import (
    B_ASYNC,
    B_FREE,
    B_INVAL,
    B_WRITE,
    P_FREE,
    P_MOD,
    PAGE_IO_INUSE,
    PG_EXCL,
    PG_WAIT,
    SE_EXCL,
    VMODSORT,
)
from pvnsim.vm import hat_setmod, page_create_va, page_destroy, page_free, page_lookup, page_unlock
from pvnsim.vm.page import PVN_VPLIST_HASH_TAG

PAGESIZE = 4096
WalkFn = Callable[..., int]


def _head(vp: Any, off: int) -> None:
    pl = page_create_va(vp, off, PAGESIZE, PG_EXCL | PG_WAIT, None, off)
    if pl is not None:
        pvn_io_done(pl)


def _tail(vp: Any, off: int) -> None:
    pl = page_create_va(vp, off, PAGESIZE, PG_EXCL | PG_WAIT, None, off)
    if pl is not None:
        hat_setmod(pl)
        pvn_io_done(pl)


def _free(vp: Any, off: int) -> None:
    pp = page_lookup(vp, off, SE_EXCL)
    if pp is None:
        return
    if pp.p_nrm & P_MOD or pp.p_mapping:
        page_unlock(pp)
    else:
        page_free(pp, 0)


def _lock(vp: Any, off: int) -> None:
    pp = page_lookup(vp, off, SE_EXCL)
    if pp is None:
        return
    vp.kernel.yield_point(f"holding {pp.name}")
    page_unlock(pp)


def _destroy(vp: Any, off: int) -> None:
    pp = page_lookup(vp, off, SE_EXCL)
    if pp is not None:
        page_destroy(pp, 0)


OPS: dict[str, Callable[[Any, int], None]] = {
    "head": _head,
    "tail": _tail,
    "free": _free,
    "lock": _lock,
    "destroy": _destroy,
}


class WalkScenario:
    """Setup, per-switch check and final check of one walk-versus-mutators case.

    Args:
        pages: the initial list, head first (see the module docstring).
        flags: the walker's flags.
        ops: mutator threads as (op, page index) pairs; each is one thread.
        vmodsort: make the vnode VMODSORT.
        off: the walker's offset, in pages.
        walk: the walk to run (the port by default).
        cpu: how many stores another CPU makes into the (mapped) dirty
            pages; 0: no other CPU.
    """

    def __init__(
        self,
        pages: str,
        flags: int,
        ops: list[tuple[str, int]],
        *,
        vmodsort: bool = False,
        off: int = 0,
        walk: WalkFn = pvn_vplist_dirty,
        cpu: int = 0,
    ) -> None:
        self.pages = pages
        self.flags = flags
        self.ops = ops
        self.vmodsort = vmodsort
        self.off = off * PAGESIZE
        self.walk = walk
        self.cpu = cpu

    # -- one run --------------------------------------------------------------

    def setup(self, run: Run) -> dict[str, Any]:
        """Build the kernel, the pages and the threads of one run."""
        k = run.attach(
            Kernel(
                total_pages=64,
                lotsfree=0,
                desfree=0,
                minfree=0,
                throttlefree=0,
                pageout_reserve=0,
                pages_before_pager=0,
            )
        )
        vp = k.vnode("f", v_flag=VMODSORT if self.vmodsort else 0)
        mapped = []
        for i, kind in enumerate(self.pages):
            if kind == "d":
                maps = ["-"] if self.cpu else []
                mapped.append(make_page(vp, i * PAGESIZE, nrm=P_MOD, at="tail", maps=maps))
            else:
                make_page(vp, i * PAGESIZE, cached=kind == "C", at="tail")
        state: dict[str, Any] = {
            "vp": vp,
            "k": k,
            "put": [],
            "names": [],
            "busy": set(),
            "free_at_end": set(),
            "active": False,
            "whole": None,
            "dirty": set(),
            "clean": set(),
            # A destroyed page_t comes back with a new identity (or even the
            # same one): each identity a page_t takes on is a new incarnation.
            "gen": {},
            "ident": {},
        }

        def putapage(v: Any, pp: Page, offp: Any, lenp: Any, fl: int, cred: Any) -> int:
            if pp.p_hash is PVN_VPLIST_HASH_TAG:
                raise AssertionError("a marker reached putapage")
            if not (pp.p_selock and pp.p_iolock_state & PAGE_IO_INUSE):
                raise AssertionError(f"putapage got {pp.name} without its page and i/o locks")
            self._observe(state)
            state["put"].append((pp, pp.p_offset, state["gen"][pp]))
            state["names"].append(pp.name)
            pvn_write_done(pp, B_WRITE | fl)
            return 0

        def walker() -> int:
            self._observe(state)
            listed = self._listed(vp)
            state["whole"] = {pp: (pp.p_offset, state["gen"][pp]) for pp in listed}
            state["dirty"] = {pp for pp in listed if pp.p_nrm & P_MOD}
            state["clean"] = {pp for pp in listed if not pp.p_nrm & P_MOD}
            state["active"] = True
            err = self.walk(vp, self.off, putapage, self.flags, None)
            self._narrow(state)
            state["active"] = False
            # What the pages look like when the walk returns (mutators may
            # still run afterwards).
            state["free_at_end"] = {pp for pp in state["whole"] if pp.p_state & P_FREE}
            return err

        def mutator(op: str, off: int) -> None:
            OPS[op](vp, off)
            # A thread's end is no switch point: look at the pages here.
            self._observe(state)

        run.spawn(walker, name="walker")
        for n, (op, index) in enumerate(self.ops):
            run.spawn(mutator, op, index * PAGESIZE, name=f"{op}{n}")
        if self.cpu:
            other_cpu(run, pages=mapped, bits=("mod",), budget=self.cpu)
        return state

    @staticmethod
    def _listed(vp: Any) -> list[Page]:
        out: list[Page] = []
        head = vp.v_pages
        if head is None:
            return out
        pp = head
        while True:
            if pp.p_hash is not PVN_VPLIST_HASH_TAG:
                out.append(pp)
            pp = pp.p_vpnext
            if pp is head:
                return out

    @staticmethod
    def _observe(state: dict[str, Any]) -> None:
        # Count each page_t's changes of identity.
        gen = state["gen"]
        ident = state["ident"]
        for pp in state["k"].pages:
            now = (pp.p_vnode, pp.p_offset) if pp.p_vnode is not None else None
            if pp not in gen:
                gen[pp] = 0
                ident[pp] = now
            elif ident[pp] != now:
                gen[pp] += 1
                ident[pp] = now

    @staticmethod
    def _narrow(state: dict[str, Any]) -> None:
        # Keep only the pages still in the incarnation they began the walk in.
        WalkScenario._observe(state)
        whole = state["whole"]
        if whole is None:
            return
        gen = state["gen"]
        for pp in [p for p, (_, g) in whole.items() if gen[p] != g]:
            del whole[pp]

    def at_switch(self, run: Run) -> None:
        """Markers never locked; narrow the set of pages present all along."""
        state = run.data
        if state is None:
            return
        vp = state["vp"]
        head = vp.v_pages
        if head is not None:
            pp = head
            while True:
                if pp.p_hash is PVN_VPLIST_HASH_TAG and (
                    pp.p_selock or pp.p_iolock_state or pp.p_next is not pp
                ):
                    raise AssertionError(f"marker {pp.name} is locked or on an I/O list")
                pp = pp.p_vpnext
                if pp is head:
                    break
        if state["active"]:
            self._narrow(state)
            busy = state["busy"]
            for pp in state["whole"]:
                # Locked or i/o-locked by another thread while the walk runs:
                # an async walk may skip it (page_trylock / page_io_trylock).
                if pp.p_iolock_state & PAGE_IO_INUSE and pp.p_ioowner != "walker":
                    busy.add(pp)
                owner = pp.p_sowner
                if pp.p_selock and (
                    owner != "walker" if isinstance(owner, str) else owner != ["walker"]
                ):
                    busy.add(pp)

    def check(self, run: Run) -> None:
        """The end-of-walk properties of the module docstring."""
        state = run.data
        k = run.kernel
        check_kernel(k)
        if k.marker_cache is None or k.marker_cache.outstanding:
            raise AssertionError("markers were not returned to the cache")
        err = run.results["walker"]
        if err != 0:
            raise AssertionError(f"the walk returned {err}")
        # A page is one incarnation of a page_t: (page_t, offset, generation).
        put = state["put"]
        if len(set(put)) != len(put):
            raise AssertionError(f"a page went to putapage twice: {state['names']}")
        whole = state["whole"]
        for pp, off, g in put:
            if off < self.off:
                raise AssertionError(f"page at {off} below off={self.off} went to putapage")
            if pp in state["clean"] and whole.get(pp) == (off, g):
                raise AssertionError(f"clean page at {off} went to putapage")
        kept = {pp: (off, g) for pp, (off, g) in whole.items() if off >= self.off}
        flags = self.flags
        if flags & B_INVAL:
            if kept:
                left = sorted(off for off, _ in kept.values())
                raise AssertionError(f"B_INVAL left pages at offsets {left}")
            return
        busy = state["busy"]
        for pp, (off, g) in kept.items():
            if (
                pp in state["dirty"]
                and (pp, off, g) not in put
                and not (flags & B_ASYNC and pp in busy)
            ):
                raise AssertionError(f"dirty page at {off} was never handed to putapage")
            # Another thread's page_lookup reclaims a freed page, so only
            # pages nobody else held during the walk must end free.
            if flags & B_FREE and pp not in state["free_at_end"] and pp not in busy:
                raise AssertionError(f"B_FREE left page at {off} not free")
