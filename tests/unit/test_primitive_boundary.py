"""Every primitive pvnsim.vm exports refuses bad arguments before anything changes.

For each primitive of the contract table and each of its arguments, a value
the C type cannot hold (or an object of the wrong kind, or of another
kernel) raises UsageError naming the routine, and the kernel's snapshot is
exactly as before.
"""

from __future__ import annotations

from typing import Any

import pytest

import pvnsim.vm
from pvnsim import Kernel, SegMap, UsageError, make_page, snapshot
from pvnsim.flags import (
    B_FREE,
    HAT_FORCE_PGUNLOAD,
    HAT_VMODSORT,
    P_MOD,
    P_NO_RECLAIM,
    PG_EXCL,
    S_WRITE,
    SE_SHARED,
)
from pvnsim.vm.kmem import kmem_cache_alloc
from pvnsim.vm.lowlevel import CONTRACTS


class World:
    """A kernel with one of everything a primitive takes, and a second kernel."""

    def __init__(self) -> None:
        self.k = Kernel(total_pages=32)
        self.vp = self.k.vnode("v1")
        self.pp = make_page(self.vp, 0x1000, nrm=P_MOD, lock="X")
        self.seg = SegMap(self.k, "s")
        assert self.k.marker_cache is not None
        self.marker = kmem_cache_alloc(self.k.marker_cache, 0)
        other = Kernel(total_pages=8)
        self.foreign = make_page(other.vnode("w"), 0, lock="X")

    def good(self, kind: str) -> Any:
        return {
            "p": self.pp,
            "P": None,
            "M": self.pp,
            "N": None,
            "v": self.vp,
            "V": self.vp,
            "l": self.vp,
            "o": 0,
            "n": 4096,
            "i": 0,
            "a": 0,
            "e": SE_SHARED,
            "c": P_NO_RECLAIM,
            "w": 0,
            "r": S_WRITE,
            "G": PG_EXCL,
            "B": B_FREE,
            "A": P_MOD,
            "H": 0,
            "u": HAT_FORCE_PGUNLOAD,
            "f": HAT_VMODSORT,
            "K": self.k,
            "m": None,
            "X": self.vp.v_vphm,
            "C": self.vp.v_cv,
            "k": self.k.marker_cache,
            "s": self.seg,
            "S": None,
            "h": None,
            "x": None,
        }[kind]

    def bad(self, kind: str) -> list[tuple[str, Any]]:
        page_like = [("a string", "pp"), ("a page of another kernel", self.foreign)]
        return {
            "p": [*page_like, ("a marker", self.marker), ("None", None)],
            "P": [("an int", 0), ("a marker", self.marker), ("a foreign page", self.foreign)],
            "M": page_like,
            "N": [("an int", 0), ("a vnode", self.vp)],
            "v": [("a name", "v1"), ("None", None)],
            "V": [("a name", "v1")],
            "l": [("an int", 0)],
            "o": [("misaligned", 5), ("negative", -4096), ("past 2^64", 1 << 64), ("a bool", True)],
            "n": [("negative", -1), ("past 2^64", 1 << 64), ("a string", "4096")],
            "i": [("a string", "0"), ("past an int", 1 << 40)],
            "a": [("negative", -1)],
            "e": [("7", 7), ("a string", "shared"), ("a bool", True)],
            "c": [("5", 5)],
            "w": [("1", 1)],
            "r": [("6", 6), ("a string", "S_READ")],
            "G": [("an unknown bit", 0x10000)],
            "B": [("an unknown bit", 1 << 29)],
            "A": [("an unknown bit", 0x10)],
            "H": [("an unknown bit", 0x100)],
            "u": [("9", 9)],
            "f": [("99", 99)],
            "K": [("a name", "k")],
            "m": [("an int", 5)],
            "X": [("None", None)],
            "C": [("None", None)],
            "k": [("None", None)],
            "s": [("None", None)],
            "S": [("an int", 5)],
            "h": [("an int", 5)],
            "x": [],
        }[kind]


#: Kinds of argument that belong to a kernel.
_OWNED = set("pMvVlKXCks")  # (P, m and S are None in the good arguments)


def _applies(kinds: str, what: str) -> bool:
    # A page of another kernel is wrong only next to something of this one.
    return what != "a page of another kernel" or sum(k in _OWNED for k in kinds) >= 2


CASES = [
    (name, index, what)
    for name, kinds in sorted(CONTRACTS.items())
    for index, kind in enumerate(kinds)
    for what, _ in World().bad(kind)
    if _applies(kinds, what)
]


def test_every_contract_kind_has_bad_values():
    """The table below covers every primitive and every argument kind but 'anything'."""
    assert {name for name, _, _ in CASES} == set(CONTRACTS)


def test_every_function_pvnsim_vm_exports_has_a_contract():
    """Macros and helpers included: PAGE_EXCL("pp") is a UsageError, not an AttributeError."""
    functions = {
        name
        for name in pvnsim.vm.__all__
        if callable(getattr(pvnsim.vm, name)) and not isinstance(getattr(pvnsim.vm, name), type)
    }
    assert functions - set(CONTRACTS) == set()


@pytest.mark.parametrize(("name", "index", "what"), CASES)
def test_a_bad_argument_is_refused_and_nothing_changes(name, index, what):
    """pvnsim.vm.<primitive> with one bad argument raises UsageError; the state is unchanged."""
    world = World()
    kinds = CONTRACTS[name]
    args = [world.good(kind) for kind in kinds]
    value = dict(world.bad(kinds[index]))[what]
    args[index] = value
    before = snapshot(world.k)
    with pytest.raises(UsageError, match=rf"^{name}: "):
        getattr(pvnsim.vm, name)(*args)
    assert snapshot(world.k) == before


def test_page_create_va_no_longer_creates_pages_at_odd_offsets():
    """The cases of the issue: offsets 5 and -4096, se=7 and se='shared'."""
    world = World()
    with pytest.raises(UsageError, match="not page aligned"):
        pvnsim.vm.page_create_va(world.vp, 5, 4096, PG_EXCL, world.seg, 0)
    with pytest.raises(UsageError, match="does not fit a u_offset_t"):
        pvnsim.vm.page_create_va(world.vp, -4096, 4096, PG_EXCL, world.seg, 0)
    for se in (7, "shared"):
        with pytest.raises(UsageError, match="is not an se_t"):
            pvnsim.vm.page_lookup(world.vp, 0x1000, se)


def test_page_release_refuses_an_io_locked_page_it_would_free():
    """A clean, unmapped, shared page with its i/o lock held: page_release
    would upgrade it and free it, and page_free ASSERTs the i/o lock is not
    held; refused before the upgrade, nothing changes."""
    from pvnsim.vm import page_release

    k = Kernel(total_pages=32)
    pp = make_page(k.vnode("v1"), 0, lock="S", io="me")
    before = snapshot(k)
    with pytest.raises(UsageError, match=r"^page_release: page v1@0x0 is i/o locked"):
        page_release(pp, 0)
    assert snapshot(k) == before


def test_page_release_of_an_io_locked_page_it_keeps_only_unlocks_it():
    """Mapped, the page is not freed (PGREL_NOTREL): page_release only drops
    the page lock, as in the C, and leaves the i/o lock to its holder."""
    from pvnsim.flags import PGREL_NOTREL
    from pvnsim.vm import page_io_locked, page_release

    k = Kernel(total_pages=32)
    pp = make_page(k.vnode("v1"), 0, lock="S", io="me", maps=["r"])
    assert page_release(pp, 0) == PGREL_NOTREL
    assert pp.p_selock == 0
    assert page_io_locked(pp)
