"""The trace says why a lookup, a create, a trylock or a read kluster came
back empty-handed (issue: "every event has its result, including why")."""

from __future__ import annotations

from pvnsim import Kernel, SegMap, make_page, pvn_read_kluster
from pvnsim.flags import PG_EXCL, SE_EXCL, SE_SHARED
from pvnsim.vm import (
    page_create_va,
    page_io_trylock,
    page_lookup_nowait,
    page_trylock,
    page_tryupgrade,
)


def _roomy() -> Kernel:
    return Kernel(total_pages=64, lotsfree=0, desfree=0, minfree=0, throttlefree=0)


def _last(k: Kernel, name: str):  # type: ignore[no-untyped-def]
    return [e for e in k.trace if e.name == name][-1]


def test_empty_handed_lookups_say_why():
    """page_lookup_nowait returns NULL for an absent page, a free one, a
    locked one and one wanted exclusively; each reason is recorded."""
    k = _roomy()
    vp = k.vnode("f")
    make_page(vp, 0x0, lock="X@other")
    make_page(vp, 0x2000, cached=True)
    make_page(vp, 0x3000, ewanted=True)
    k.trace_on()
    whys = []
    for off in (0x0, 0x1000, 0x2000, 0x3000):
        assert page_lookup_nowait(vp, off, SE_SHARED) is None
        whys.append(_last(k, "page_lookup_nowait").why)
    assert whys == ["locked", "absent", "free", "wanted exclusively"]
    # The one-line form of the C syntax stays as the oracle writes it; the
    # reason is added by explain() and the trace's listing.
    event = _last(k, "page_lookup_nowait")
    assert event.format() == "page_lookup_nowait(f, 0x3000, SE_SHARED) = NULL"
    assert event.explain() == "page_lookup_nowait(f, 0x3000, SE_SHARED) = NULL (wanted exclusively)"
    assert "= NULL (absent)" in k.trace.format()


def test_a_create_of_an_existing_page_says_it_exists_and_successes_say_nothing():
    """PG_EXCL on an existing identity fails with "exists"; a call that
    succeeds has no reason."""
    k = _roomy()
    vp = k.vnode("f")
    make_page(vp, 0x0)
    k.trace_on()
    assert page_create_va(vp, 0x0, 4096, PG_EXCL, SegMap(k, "s"), 0) is None
    assert _last(k, "page_create_va").why == "exists, PG_EXCL"
    pp = page_create_va(vp, 0x1000, 4096, PG_EXCL, SegMap(k, "s"), 0)
    assert pp is not None and _last(k, "page_create_va").why is None


def test_failed_trylocks_and_upgrades_say_why():
    """A trylock on a held page is "locked"; an upgrade with another reader is
    "other readers"; an i/o trylock on an i/o-locked page is "i/o locked"."""
    k = _roomy()
    vp = k.vnode("f")
    held = make_page(vp, 0x0, lock="S@other")
    shared = make_page(vp, 0x1000, lock="SS")
    busy = make_page(vp, 0x2000, lock="X", io="other")
    k.trace_on()
    assert page_trylock(held, SE_EXCL) == 0
    assert _last(k, "page_trylock").why == "locked"
    assert page_tryupgrade(shared) == 0
    assert _last(k, "page_tryupgrade").why == "other readers"
    assert page_io_trylock(busy) == 0
    assert _last(k, "page_io_trylock").why == "i/o locked"


def test_a_read_kluster_at_an_existing_page_says_so():
    """pvn_read_kluster returns NULL when the page at off exists."""
    k = _roomy()
    vp = k.vnode("f")
    make_page(vp, 0x1000)
    k.trace_on()
    assert pvn_read_kluster(vp, 0x1000, SegMap(k, "s"), 0x10000, 0, 0x4000, 0) is None
    assert _last(k, "pvn_read_kluster").why == "page exists"
