"""make_page and populate build consistent page populations."""

from __future__ import annotations

import pytest

from pvnsim import Kernel, UsageError, check_kernel, make_page, populate
from pvnsim.flags import P_MOD, P_REF
from pvnsim.vm.describe import vnode_pages


def test_populate_head_order_reverses_like_hashin():
    """Each populated page becomes the new head, as page_hashin puts new pages."""
    k = Kernel(total_pages=16)
    vp = k.vnode("v1")
    populate(vp, [0, 4096, 8192])
    assert [p.name for p in vnode_pages(vp)] == ["v1@0x2000", "v1@0x1000", "v1@0x0"]
    assert k.freemem == 13
    check_kernel(k)


def test_populate_tail_keeps_the_given_order():
    """at="tail" appends, so the list reads in the given order."""
    k = Kernel(total_pages=16)
    vp = k.vnode("v1")
    pages = populate(vp, [8192, 0, 4096], nrm=P_MOD | P_REF, at="tail")
    assert [p.name for p in vnode_pages(vp)] == ["v1@0x2000", "v1@0x0", "v1@0x1000"]
    assert all(p.p_nrm == P_MOD | P_REF for p in pages)
    check_kernel(k)


@pytest.mark.parametrize(
    "offsets, message",
    [
        ([0, 4097], "not a page-aligned"),
        ([0, 0], "already exists"),
        ([4096], "already exists"),
        ([0, 8192, 12288, 16384], "only 3 are free"),
    ],
)
def test_populate_refuses_bad_offsets_before_changing_anything(offsets, message):
    """A bad offset or too little memory raises UsageError and leaves the kernel as it was."""
    k = Kernel(total_pages=4)
    vp = k.vnode("v1")
    make_page(vp, 4096)
    before = k.snapshot()
    with pytest.raises(UsageError, match=message):
        populate(vp, offsets)
    assert k.snapshot() == before


def test_populate_with_other_state_goes_through_make_page():
    """Other attributes (here a cached state) are applied page by page."""
    k = Kernel(total_pages=8)
    vp = k.vnode("v1")
    pages = populate(vp, [0, 4096], cached=True)
    assert k.cachelist_count == 2
    assert k.freemem == 8
    assert all(p.p_state & 0x80 for p in pages)
    check_kernel(k)


def test_populate_leaves_the_garbage_collector_as_it_found_it():
    """populate pauses the cyclic collector only for its loop."""
    import gc

    k = Kernel(total_pages=8)
    vp = k.vnode("v1")
    assert gc.isenabled()
    populate(vp, [0, 4096])
    assert gc.isenabled()
    gc.disable()
    try:
        populate(vp, [8192])
        assert not gc.isenabled()
    finally:
        gc.enable()
