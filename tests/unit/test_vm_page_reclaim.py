"""page_create_va with a memory-reclaim hook (pageout stand-in)."""

from __future__ import annotations

from pvnsim import Kernel, SegMap, check_kernel, make_page
from pvnsim.flags import PG_EXCL, PG_WAIT
from pvnsim.vm import page_create_va


def test_failed_excl_create_after_a_reclaim_returns_null():
    """A PG_EXCL|PG_WAIT create that waited for memory and then finds the page returns NULL.

    Why: page_create_va reserves memory first, waiting while freemem <=
    throttlefree + npages (semantics.md 4.4); the reclaim hook frees pages
    meanwhile; then the identity check finds (vp, 0) and PG_EXCL makes the
    call give the reservation back and fail.
    """
    k = Kernel(total_pages=8, minfree=0, throttlefree=4, pageout_reserve=0)
    vp = k.vnode("v1")
    make_page(vp, 0)
    hog = k.vnode("hog")
    hogs = [make_page(hog, i * 4096) for i in range(4)]
    assert k.freemem == 3

    def reclaim(kernel: Kernel, shortfall: int) -> None:
        from pvnsim.vm.vm_page import page_destroy

        for pp in hogs[:2]:
            pp.p_selock, pp.p_sowner = -1, "main"
            page_destroy(pp, 0)

    k.memory_reclaim = reclaim
    assert page_create_va(vp, 0, 4096, PG_EXCL | PG_WAIT, SegMap(k, "s"), 0) is None
    assert k.freemem == 5
    check_kernel(k)
