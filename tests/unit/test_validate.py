"""Each validator reports its broken invariant, naming the object."""

from __future__ import annotations

import pytest

from pvnsim import InvariantViolation, Kernel, check_kernel, make_page
from pvnsim.flags import P_MOD, P_REF, PAGE_IO_INUSE, VMODSORT, VVMLOCK
from pvnsim.vm.kmem import kmem_cache_alloc
from pvnsim.vm.page import page_hashout, page_vpadd
from pvnsim.vm.validate import (
    check_conservation,
    check_hash,
    check_lists,
    check_locks,
    check_markers,
    check_vmodsort,
)


def _kernel_with_pages() -> tuple[Kernel, list]:
    k = Kernel(total_pages=64)
    vp = k.vnode("v1")
    pages = [make_page(vp, off) for off in (0, 4096, 8192)]
    return k, pages


def test_clean_kernel_passes():
    """A freshly built population satisfies every invariant."""
    k, _ = _kernel_with_pages()
    check_kernel(k)


def test_broken_vp_link_is_reported():
    """A corrupt p_vpprev link is reported with the page after which it breaks."""
    k, pages = _kernel_with_pages()
    pages[1].p_vpprev = pages[1]
    with pytest.raises(InvariantViolation, match="v_pages: link broken after v1@"):
        check_lists(k)


def test_free_list_count_mismatch_is_reported():
    """A free-list count that disagrees with the ring is reported."""
    k, _pages = _kernel_with_pages()
    make_page(k.vnodes[0], 12288, cached=True)
    k.cachelist_count += 1
    with pytest.raises(InvariantViolation, match="cache list holds 1 pages"):
        check_lists(k)


def test_hash_and_list_disagree():
    """A hashed page missing from v_pages is reported by name."""
    k, _pages = _kernel_with_pages()
    vp = k.vnodes[0]
    del k.page_hash[vp][4096]
    with pytest.raises(
        InvariantViolation, match="v1@0x1000 is on v_pages of v1 but not in the hash"
    ):
        check_hash(k)


def test_freemem_imbalance_is_reported():
    """freemem that does not equal the free and cache lists is reported."""
    k, _ = _kernel_with_pages()
    k.freemem += 1
    with pytest.raises(InvariantViolation, match="freemem is 62 but the lists hold 61"):
        check_conservation(k)


def test_lost_page_is_reported():
    """A page with no identity, not free and unlocked is lost."""
    k, pages = _kernel_with_pages()
    pp = pages[0]
    vp = k.vnodes[0]
    from pvnsim.vm.page import page_hashout

    page_hashout(pp)
    with pytest.raises(InvariantViolation, match="is lost"):
        check_conservation(k)
    del vp


def test_leaked_marker_is_reported():
    """A marker left on a vnode that no walk holds is reported."""
    k, _pages = _kernel_with_pages()
    vp = k.vnodes[0]
    assert k.marker_cache is not None
    mark = kmem_cache_alloc(k.marker_cache, 0)
    mark.p_vnode = vp
    page_vpadd(vp, mark)
    with pytest.raises(InvariantViolation, match="vnode v1 holds 1 marker page"):
        check_markers(k)
    vp.v_flag |= VVMLOCK
    check_markers(k)  # allowed while a walk is running


def test_marker_cache_leak_is_reported():
    """A marker allocated and never returned is a leak."""
    k, _ = _kernel_with_pages()
    assert k.marker_cache is not None
    kmem_cache_alloc(k.marker_cache, 0)
    with pytest.raises(InvariantViolation, match="marker_cache has 1 markers allocated"):
        check_markers(k)


def test_vmodsort_misorder_is_reported():
    """On a VMODSORT vnode a clean page after a modified one is reported."""
    k = Kernel(total_pages=64)
    vp = k.vnode("v1", v_flag=VMODSORT)
    make_page(vp, 0, nrm=P_MOD | P_REF)
    make_page(vp, 4096, nrm=P_REF, at="tail")
    with pytest.raises(
        InvariantViolation, match="clean page v1@0x1000 follows modified page v1@0x0"
    ):
        check_vmodsort(k)


def test_vmodsort_order_ignored_while_io_in_flight():
    """The order is not required while a page of the vnode is being written."""
    k = Kernel(total_pages=64)
    vp = k.vnode("v1", v_flag=VMODSORT)
    make_page(vp, 0, nrm=P_MOD | P_REF)
    make_page(vp, 4096, nrm=P_REF, at="tail", lock="S", io="me")
    check_vmodsort(k)


def test_free_page_held_by_user_is_reported():
    """A cached page that is locked while no walk runs is reported."""
    k, _ = _kernel_with_pages()
    pp = make_page(k.vnodes[0], 12288, cached=True)
    pp.p_selock = 1
    pp.p_sowner = "main"
    with pytest.raises(InvariantViolation, match="free v1@0x3000 is locked"):
        check_locks(k)


def test_io_list_without_locks_is_reported():
    """Two pages linked on an I/O list without their locks are reported."""
    k, pages = _kernel_with_pages()
    a, b = pages[0], pages[1]
    a.p_next = b
    a.p_prev = b
    b.p_next = a
    b.p_prev = a
    with pytest.raises(InvariantViolation, match="on an I/O list without holding"):
        check_locks(k)


# Findings the testing toolkit used to add on top of check_kernel, and the
# u_offset_t rule: check_kernel reports every one of them now.
def _io_lock_without_page_lock(k: Kernel) -> None:
    pp = make_page(k.vnode("v1"), 0)
    pp.p_iolock_state, pp.p_ioowner = PAGE_IO_INUSE, "main"


def _io_lock_without_holder(k: Kernel) -> None:
    pp = make_page(k.vnode("v1"), 0, lock="X")
    pp.p_iolock_state = PAGE_IO_INUSE


def _io_holder_without_io_lock(k: Kernel) -> None:
    pp = make_page(k.vnode("v1"), 0)
    pp.p_ioowner = "other"


def _free_page_locked_by_another_vnodes_walk(k: Kernel) -> None:
    from pvnsim.flags import VVMLOCK

    k.vnode("walked", v_flag=VVMLOCK)
    pp = make_page(k.vnode("v1"), 0, cached=True)
    pp.p_selock, pp.p_sowner = 1, "other"


def _misaligned_offset(k: Kernel) -> None:
    vp = k.vnode("v1")
    pp = make_page(vp, 0x1000)
    del k.page_hash[vp][0x1000]
    pp.p_offset = 0x1001
    k.page_hash[vp][0x1001] = pp


def _offset_beyond_u_offset_t(k: Kernel) -> None:
    vp = k.vnode("v1")
    pp = make_page(vp, 0x1000)
    del k.page_hash[vp][0x1000]
    pp.p_offset = 1 << 64
    k.page_hash[vp][1 << 64] = pp


def _ewanted_without_identity(k: Kernel) -> None:
    pp = make_page(k.vnode("v1"), 0, lock="X")
    page_hashout(pp)
    pp.p_ewanted = 1


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (_io_lock_without_page_lock, "holds its i/o lock without its page lock"),
        (_io_lock_without_holder, "i/o locked but records no holder"),
        (_io_holder_without_io_lock, "i/o lock free but records holder 'other'"),
        (_free_page_locked_by_another_vnodes_walk, "no pvn_vplist_dirty walks its vnode"),
        (_misaligned_offset, "not a page-aligned u_offset_t"),
        (_offset_beyond_u_offset_t, "not a page-aligned u_offset_t"),
        (_ewanted_without_identity, "no identity but is wanted exclusively"),
    ],
)
def test_check_kernel_reports_what_the_testing_toolkit_used_to_add(build, message):
    """check_kernel is the one validator: it names each of these broken states."""
    from pvnsim.testing import check_invariants

    k = Kernel(total_pages=32)
    build(k)
    with pytest.raises(InvariantViolation, match=message):
        check_kernel(k)
    with pytest.raises(InvariantViolation, match=message):
        check_invariants(k)
