"""A ready Hypothesis state machine over the whole pvn layer.

Run it as it is::

    from pvnsim.testing import PvnStateMachine

    TestPvn = PvnStateMachine.TestCase

or subclass it and add rules of your own; every kernel-wide invariant of
:data:`~pvnsim.testing.invariants.INVARIANTS` and
:func:`~pvnsim.testing.invariants.check_quiescent` run after every step,
yours included, and every read and write kluster is checked against the
kluster invariants as it is made.

Theory of operation
-------------------
The kernel has three vnodes (a plain one, a VMODSORT one, one of any realistic
v_flag) whose pages start in every state :func:`~pvnsim.testing.strategies.page_specs`
makes, including pages held or i/o-locked by another thread.  The vnodes use
:class:`~pvnsim.testing.simplefs.SimpleFs` as their file system.

Pages are named.  Every page the machine builds or a rule creates goes into
the ``pages`` bundle, and rules that act on a page draw it from there, so a
failing run prints ``touch(pp=pages_3, write=True)`` and replays to the same
page.  A rule that kills a page (``invalidate``) consumes it.  A page in the
bundle keeps its name while its state changes: a rule that needs a mapped or
in-use page does its work only when the drawn page is in that state (an
access to a page without a translation is not simulated, a fault is the
``map`` rule's business); rules whose condition is about the whole machine
use preconditions.

Two stand-ins for the rest of the system keep single-threaded runs from
hanging where illumos would sleep:

* :class:`OtherThreads` is the kernel's scheduler: when thread ``main`` would
  sleep on a lock held by thread ``other``, ``other`` finishes its work (drops
  every page and i/o lock it holds) and ``main`` goes on.  Any other wait is a
  real deadlock and raises :class:`~pvnsim.errors.DeadlockError`.
* ``Kernel.memory_reclaim`` is :func:`~pvnsim.testing.pressure.reclaim`: a
  thread waiting for memory gets it back from the rest of the kernel when it
  holds enough.  Rules that can wait for memory in the middle of a call run
  only when enough can be got back; the others catch the memory deadlock,
  which happens before anything changes.
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)
from hypothesis.strategies import SearchStrategy

from pvnsim.errors import DeadlockError
from pvnsim.flags import (
    B_ASYNC,
    B_ERROR,
    B_FREE,
    B_INVAL,
    B_READ,
    B_TRUNC,
    B_WRITE,
    MAXBOFFSET,
    MAXBSIZE,
    P_FREE,
    S_CREATE,
    S_READ,
    S_WRITE,
    SE_EXCL,
    SE_SHARED,
    VMODSORT,
)
from pvnsim.kernel import Kernel
from pvnsim.testing.arguments import _policy_table
from pvnsim.testing.invariants import (
    check_invariants,
    check_quiescent,
    check_read_kluster,
    check_write_kluster,
    vnode_state,
)
from pvnsim.testing.others import OtherThreads
from pvnsim.testing.pressure import Pressure, apply_pressure, held_memory, reclaim
from pvnsim.testing.simplefs import SimpleFs
from pvnsim.testing.strategies import (
    SEG_BASE,
    KlusterPolicy,
    Population,
    build_population,
    flag_sets,
    kernels,
    kluster_policies,
    populations,
    pressures,
    vnode_flags,
)
from pvnsim.vm.hat import hat_map, hat_touch, hat_unmap
from pvnsim.vm.page import Page
from pvnsim.vm.page_lock import page_io_trylock, page_trylock, page_unlock
from pvnsim.vm.vm_page import page_lookup, page_lookup_nowait
from pvnsim.vm.vm_pvn import (
    KCRED,
    Kluster,
    pvn_getdirty,
    pvn_getpages,
    pvn_io_done,
    pvn_plist_init,
    pvn_read_done,
    pvn_read_kluster,
    pvn_vplist_dirty,
    pvn_vplist_setdirty,
    pvn_vpzero,
    pvn_write_done,
    pvn_write_kluster,
)
from pvnsim.vm.vnode import Vnode

__all__ = ["MAX_OFFSET", "PvnStateMachine", "Setup", "machine_setups"]

#: Offsets the rules use, in pages: few, so calls meet each other's pages.
MAX_OFFSET = 32


@attrs.frozen(eq=False)
class Setup:
    """The starting point of a run: a kernel and the vnodes to build in it."""

    kernel: Kernel
    vnodes: tuple[tuple[int, Population], ...]
    blksz: int


@st.composite
def _setups(
    draw: st.DrawFn,
    kernels_: SearchStrategy[Kernel],
    count: int,
    max_pages: int,
    max_offset: int,
) -> Setup:
    k = draw(kernels_)
    capacity = k.unused_pages + k.freelist_count + held_memory(k)
    per_vnode = min(max_pages, capacity // max(count, 1))
    out = []
    for i in range(count):
        choice = (False, True, None)[i] if i < 3 else None
        flags = draw(vnode_flags(vmodsort=choice))
        vmodsort = bool(flags & VMODSORT) and bool(k.pvn_vmodsort_supported)
        out.append(
            (
                flags,
                draw(populations(vmodsort=vmodsort, max_pages=per_vnode, max_offset=max_offset)),
            )
        )
    blksz = draw(st.sampled_from((8192, 16384, 32768)))
    return Setup(k, tuple(out), blksz)


def machine_setups(
    *,
    kernels: SearchStrategy[Kernel] | None = None,
    vnodes: int = 3,
    max_pages: int = 5,
    max_offset: int = MAX_OFFSET,
) -> SearchStrategy[Setup]:
    """Starting points for :class:`PvnStateMachine`.

    The first vnode is not VMODSORT, the second is, the others are drawn
    from :func:`~pvnsim.testing.strategies.vnode_flags`.
    """
    source = kernels if kernels is not None else _default_kernels()
    return _setups(source, vnodes, max_pages, max_offset)


def _default_kernels() -> SearchStrategy[Kernel]:
    return kernels(min_pages=48, max_pages=160)


# Every rule argument is one draw, mostly from a fixed table of tuples:
# Hypothesis's cost per draw dominates a step, so related choices are drawn
# together (the falsifying example still shows each tuple).
_IDX = st.integers(0, 1 << 10)
#: (vnode index, page index).
_AT = st.sampled_from([(v, p) for v in range(4) for p in range(MAX_OFFSET)])
#: (pages, "read" or "write", kluster policy of the segment) of a page fault.
_FAULTS = st.sampled_from(
    [
        (n, access, policy)
        for n in (1, 2, 4)
        for access in ("read", "write")
        for policy in _policy_table(("segmap", "segvn", "callable"), 8)
    ]
)
_READ_ENDINGS = (
    ("read-ahead", B_READ | B_ASYNC),
    ("read-ahead", B_READ | B_ASYNC | B_ERROR),
    ("io_done", 0),
    ("read_done", 0),
    ("read_done", B_ERROR),
    ("read_done", B_READ),
    ("plist_init", 1),
    ("plist_init", 2),
    ("plist_init", 8),
)
#: (window pages, window pages before off, bytes cut off the window's end,
#: how the read ends, its argument: read_done flags or plist_init pages).
_READS = st.sampled_from(
    [
        (n, back, frag, *ending)
        for ending in _READ_ENDINGS
        for n in (1, 2, 3, 4, 8, 16)
        for back in sorted({0, 1, n // 2, n - 1})
        if back < n
        for frag in (0, 1024, 4095)
    ]
)
#: (window pages, the write fails, which mapped kluster page another CPU
#: writes while the write is in flight or None).
_WRITES = st.sampled_from(
    [
        (blocks, error, redirty)
        for error, redirty in ((False, None), (True, None), (False, 0), (False, 1), (True, 0))
        for blocks in (1, 2, 4, 8)
    ]
)
#: (klusters whose first page index is a multiple of this fail, or None;
#: which mapped kluster page another CPU writes during each write, or None).
_TROUBLES = st.sampled_from(
    [(failing, redirty) for failing in (None, 1, 2, 3, 5) for redirty in (None, 0, 1)]
)
#: (bytes past the page start vpzero starts at, zbytes).
_ZEROS = st.sampled_from(
    [(cut, z) for cut in (0, 1, 1000, 4095, 4096, 6000, 8191) for z in (0, 100, 4096, 8192)]
)


class PvnStateMachine(RuleBasedStateMachine):
    """Random sequences of everything a file system and the VM do with the pvn layer.

    Attributes a subclass can use in its own rules:
        k: the kernel.
        vnodes: the vnodes under test.
        fs: their :class:`~pvnsim.testing.simplefs.SimpleFs`.
        others: the kernel's :class:`OtherThreads`.

    Set ``setups`` in a subclass to start from other kernels or vnodes.
    """

    setups: SearchStrategy[Setup] = machine_setups()

    #: Every page the machine built or a rule created, by name.
    pages = Bundle("pages")

    def __init__(self) -> None:
        super().__init__()
        self.k: Kernel = Kernel(total_pages=1)
        self.vnodes: list[Vnode] = []
        self.fs = SimpleFs(self.k)
        self.others = OtherThreads(self.k)
        self._redirty: int | None = None

    # -- helpers -------------------------------------------------------------

    def vnode(self, i: int) -> Vnode:
        """The ``i``-th vnode (modulo how many there are)."""
        return self.vnodes[i % len(self.vnodes)]

    def pages_of_vnodes(self, *, mapped: bool = False, in_use: bool = False) -> list[Page]:
        """The pages of the machine's vnodes (only mapped ones, only ones not free)."""
        mine = set(self.vnodes)
        return [
            pp
            for pp in self.k.pages
            if pp.p_vnode in mine
            and (not mapped or pp.p_mapping)
            and (not in_use or not pp.p_state & P_FREE)
        ]

    def mine(self, pp: Page) -> bool:
        """Whether ``pp`` is a page of the machine's vnodes now."""
        return pp.p_vnode in self.vnodes

    def any_mapped(self) -> bool:
        """Whether some page of the machine's vnodes has a translation."""
        return bool(self.pages_of_vnodes(mapped=True))

    def room(self, faults: int) -> bool:
        """Whether ``faults`` getpage calls can get their pages without waiting forever.

        Each call creates at most one block of pages, and only its first
        page_create_va waits for memory, which the rest of the kernel gives
        back; so the free memory plus what it holds must cover a block per
        call above throttlefree.  (A check inside the rule, not a Hypothesis
        precondition: those cost more than a whole step.)
        """
        k = self.k
        block = max(self.fs.blksz // k.pagesize, 1)
        return k.freemem + held_memory(k) > (k.throttlefree or 0) + faults * block

    def _seg(self, policy: KlusterPolicy, off: int) -> Any:
        return policy.seg(self.k, SEG_BASE + off)

    # -- set-up --------------------------------------------------------------

    @initialize(target=pages, data=st.data())
    def boot(self, data: st.DataObject) -> Any:
        """Build the kernel and the vnodes of a drawn :class:`Setup`; name their pages."""
        setup = data.draw(self.setups)
        k = setup.kernel
        self.k = k
        self.others = OtherThreads(k)
        k.sched = self.others
        k.memory_reclaim = reclaim
        self.fs = SimpleFs(k, setup.blksz, during_write=self._during_write)
        self.vnodes = []
        for i, (flags, population) in enumerate(setup.vnodes):
            vp = k.vnode(f"v{i}", v_flag=flags, ops=self.fs.vnodeops())
            build_population(vp, population)
            self.vnodes.append(vp)
        note(f"{k!r} blksz={setup.blksz}")
        return multiple(*self.pages_of_vnodes())

    # -- pages: create, map, touch, unmap --------------------------------------

    def _fault(
        self, vp: Vnode, page: int, npages: int, rw: int, policy: KlusterPolicy
    ) -> list[Page]:
        k = self.k
        off = page * k.pagesize
        plsz = npages * k.pagesize
        pl: list[Page | None] = [None] * (npages + 1)
        seg = self._seg(policy, off)
        err = pvn_getpages(
            self.fs.getapage, vp, off, plsz, None, pl, plsz, seg, SEG_BASE + off, rw, None
        )
        if err:
            event("fault: getpage failed")
        got: list[Page] = []
        for i, pp in enumerate(pl):
            if pp is None:
                break
            hat_map(pp)
            if rw != S_READ and i == 0:
                hat_touch(pp, write=True)
            page_unlock(pp)
            got.append(pp)
        return got

    @precondition(lambda self: self.room(4))
    @rule(target=pages, at=_AT, npages=st.sampled_from((1, 2, 4)))
    def create(self, at: tuple[int, int], npages: int) -> Any:
        """Create pages the way a write(2) past the cached data does (S_CREATE), and write them."""
        vp = self.vnode(at[0])
        return multiple(*self._fault(vp, at[1], npages, S_CREATE, KlusterPolicy("segmap")))

    @precondition(lambda self: self.room(4))
    @rule(target=pages, at=_AT, how=_FAULTS)
    def map(self, at: tuple[int, int], how: tuple[int, str, KlusterPolicy]) -> Any:
        """A page fault of ``how[0]`` pages (VOP_GETPAGE, a read kluster on a miss),
        then map them, write the first if ``how[1]`` says so, unlock."""
        npages, access, policy = how
        rw = S_WRITE if access == "write" else S_READ
        return multiple(*self._fault(self.vnode(at[0]), at[1], npages, rw, policy))

    @precondition(lambda self: self.any_mapped())
    @rule(pp=pages, write=st.booleans(), which=st.integers(0, 3))
    def touch(self, pp: Page, write: bool, which: int) -> None:
        """This CPU reads or writes page ``pp`` through its translation ``which``
        (if the page has lost its translations, there is nothing to touch)."""
        if self.mine(pp) and pp.p_mapping:
            hat_touch(pp, write=write, mapping=pp.p_mapping[which % len(pp.p_mapping)])

    @precondition(lambda self: self.any_mapped())
    @rule(pp=pages, which=st.integers(0, 3))
    def unmap(self, pp: Page, which: int) -> None:
        """A segment unloads translation ``which`` of page ``pp`` (if it has one)."""
        if self.mine(pp) and pp.p_mapping:
            hat_unmap(pp, pp.p_mapping[which % len(pp.p_mapping)])

    # -- the other CPU and the other thread --------------------------------------

    @precondition(lambda self: self.any_mapped())
    @rule(pp=pages, write=st.booleans(), which=st.integers(0, 3))
    def other_cpu(self, pp: Page, write: bool, which: int) -> None:
        """Another CPU reads or writes page ``pp`` (if mapped): hardware ref/mod bits flip."""
        if self.mine(pp) and pp.p_mapping:
            m = pp.p_mapping[-1 - which % len(pp.p_mapping)]
            self.others.as_other(hat_touch, pp, write=write, mapping=m)

    @rule(pp=pages, how=st.sampled_from(("S", "X", "S+io", "X+io")))
    def other_thread_locks(self, pp: Page, how: str) -> None:
        """Another thread locks page ``pp`` (and maybe its i/o lock) and keeps it,
        when the page is in use (a free page is locked only to reclaim it)."""
        if not self.mine(pp) or pp.p_state & P_FREE:
            return
        se = SE_EXCL if how[0] == "X" else SE_SHARED
        if self.others.as_other(page_trylock, pp, se) and how.endswith("io"):
            self.others.as_other(page_io_trylock, pp)

    @rule()
    def other_thread_finishes(self) -> None:
        """Another thread drops everything it holds."""
        self.others.finish()

    def _during_write(self, kl: Kluster) -> None:
        # While the write is in flight another CPU may store into a page.
        if self._redirty is None:
            return
        mapped = [(p, p.p_mapping) for p in kl.pages if p.p_mapping]
        if mapped:
            pp, maps = mapped[self._redirty % len(mapped)]
            self.others.as_other(hat_touch, pp, write=True, mapping=maps[-1])
            event("page re-dirtied during its write")

    # -- read klusters -----------------------------------------------------------

    @rule(target=pages, at=_AT, shape=_READS, policy=kluster_policies(max_pages=16))
    def read_kluster(
        self,
        at: tuple[int, int],
        shape: tuple[int, int, int, str, int],
        policy: KlusterPolicy,
    ) -> Any:
        """pvn_read_kluster of page ``at[1]`` in a window of ``shape[0]`` pages starting
        ``shape[1]`` pages before it and ending ``shape[2]`` bytes short (read-ahead
        when ``shape[3]`` says so), checked; then the read ends as ``shape[3:]`` says."""
        k = self.k
        vp = self.vnode(at[0])
        npages, back, frag, how, arg = shape
        isra = 1 if how == "read-ahead" else 0
        off = at[1] * k.pagesize
        vp_off = max(0, at[1] - back) * k.pagesize
        vp_len = max(npages * k.pagesize - frag, off - vp_off + 1)
        seg = self._seg(policy, off)
        before = vnode_state(vp)
        # No memory comes back while this call waits: page_create_va's
        # self-check assumes freemem does not move while it sleeps (see
        # docs/testing.md, "Known limits").
        k.memory_reclaim = None
        try:
            kl = pvn_read_kluster(vp, off, seg, SEG_BASE + off, vp_off, vp_len, isra)
        except DeadlockError as e:
            # page_create_va(PG_WAIT) would sleep for memory nobody gives
            # back; it raises before it changes anything.
            if not all(w.what.startswith("memory") for w in e.waits):
                raise
            event("read kluster: would sleep for memory")
            return multiple()
        finally:
            k.memory_reclaim = reclaim
        check_read_kluster(kl, before, off=off, vp_off=vp_off, vp_len=vp_len, isra=isra)
        event(f"read kluster: {'NULL' if kl is None else 'pages'}, isra={isra}")
        if kl is None:
            return multiple()
        made = kl.pages
        if how in ("read-ahead", "read_done"):  # async completion or a tossed read
            pvn_read_done(kl.plist, arg)
        elif how == "io_done":
            pvn_io_done(kl.plist)
        else:  # the faulting thread takes arg pages from off on, then unlocks them
            pl: list[Page | None] = [None] * (arg + 1)
            pvn_plist_init(kl.plist, pl, arg * k.pagesize, off, kl.len, S_READ)
            for pp in pl:
                if pp is None:
                    break
                page_unlock(pp)
        return multiple(*made)

    # -- writes ---------------------------------------------------------------

    @rule(at=_AT, flags=flag_sets("pvn_getdirty"), how=_WRITES)
    def write_cycle(
        self, at: tuple[int, int], flags: int, how: tuple[int, bool, int | None]
    ) -> None:
        """A putpage of one page: lookup, pvn_getdirty, pvn_write_kluster in a window of
        ``how[0]`` pages (checked), the write (failing if ``how[1]``, another CPU
        writing kluster page ``how[2]`` meanwhile), pvn_write_done."""
        k = self.k
        vp = self.vnode(at[0])
        blocks, error, redirty = how
        off = at[1] * k.pagesize
        se = SE_EXCL if flags & (B_INVAL | B_FREE) else SE_SHARED
        if flags & B_ASYNC and not flags & B_INVAL:
            pp = page_lookup_nowait(vp, off, se)
        else:
            pp = page_lookup(vp, off, se)
        if pp is None:
            return
        before = vnode_state(vp)
        if not pvn_getdirty(pp, flags):
            event("write cycle: pvn_getdirty handled the page")
            return
        window = blocks * k.pagesize
        blkoff = off - off % window
        kl = pvn_write_kluster(vp, pp, blkoff, window, flags)
        check_write_kluster(kl, before, pp=pp, vp_off=blkoff, vp_len=window)
        event(f"write cycle: error={error}")
        self._redirty = redirty
        self._during_write(kl)
        self._redirty = None
        pvn_write_done(kl.plist, B_WRITE | flags | (B_ERROR if error else 0))

    @rule(at=_AT, flags=flag_sets("pvn_vplist_dirty"), trouble=_TROUBLES)
    def vplist_dirty(
        self, at: tuple[int, int], flags: int, trouble: tuple[int | None, int | None]
    ) -> None:
        """pvn_vplist_dirty over vnode ``at[0]`` from page ``at[1]`` with the file
        system's putapage; writes of klusters starting at a page index that is a
        multiple of ``trouble[0]`` fail, and another CPU writes kluster page
        ``trouble[1]`` during each write."""
        failing, redirty = trouble
        k = self.k
        vp = self.vnode(at[0])
        off = at[1] * k.pagesize
        if failing is not None:
            step = failing * k.pagesize
            self.fs.fail_writes = {o for o in range(0, MAX_OFFSET * k.pagesize, step)}
        self._redirty = redirty
        try:
            err = pvn_vplist_dirty(vp, off, self.fs.putapage, flags, KCRED)
        finally:
            self._redirty = None
            self.fs.fail_writes = set()
        event(f"vplist_dirty err={err}")
        if flags == B_INVAL | B_TRUNC:
            # Truncation destroys every page from off on, dirty or not (L635-643, L940-952).
            left = [pp.name for o, pp in k.page_hash[vp].items() if o >= off]
            if left:
                raise AssertionError(f"truncation of {vp.v_name} from {off} left {left}")

    @rule(pp=consumes(pages))
    def invalidate(self, pp: Page) -> None:
        """Truncate page ``pp`` alone (page_lookup SE_EXCL, pvn_getdirty with
        B_INVAL|B_TRUNC): it is destroyed, dirty or not, and its name dies with
        it.  (A page that already lost its identity has nothing left to kill.)"""
        vp = pp.p_vnode
        if vp is None or vp not in self.vnodes:
            return
        off = pp.p_offset
        found = page_lookup(vp, off, SE_EXCL)
        assert found is pp
        assert pvn_getdirty(found, B_INVAL | B_TRUNC) == 0  # L635-643: destroyed, no I/O
        if off in self.k.page_hash[vp]:
            raise AssertionError(f"{vp.v_name}@{off:#x} survived its truncation")

    @rule(v=_IDX, mask=st.integers(0, (1 << MAX_OFFSET) - 1))
    def setdirty(self, v: int, mask: int) -> None:
        """pvn_vplist_setdirty marking the in-use pages whose index is in ``mask``."""
        shift = self.k.pageshift

        def page_check(pp: Page) -> int:
            if pp.p_state & P_FREE:
                return 0
            return (mask >> (pp.p_offset >> shift)) & 1

        pvn_vplist_setdirty(self.vnode(v), page_check)

    @precondition(lambda self: self.room(max(MAXBSIZE // self.k.pagesize, 1)))
    @rule(at=_AT, how=_ZEROS)
    def vpzero(self, at: tuple[int, int], how: tuple[int, int]) -> None:
        """pvn_vpzero from ``how[0]`` bytes into page ``at[1]`` (at least ``how[1]``
        bytes, cut to what the MAXBSIZE window allows); one getpage per page of
        the window, so only when that many can be had."""
        vplen = at[1] * self.k.pagesize + how[0]
        zbytes = min(how[1], MAXBSIZE - (vplen & MAXBOFFSET))
        pvn_vpzero(self.vnode(at[0]), vplen, zbytes)

    # -- memory -----------------------------------------------------------------

    @rule(pressure=pressures())
    def pressure(self, pressure: Pressure) -> None:
        """The rest of the kernel takes or gives back memory: freemem moves."""
        reached = apply_pressure(self.k, pressure)
        event(f"pressure {pressure.band}")
        note(f"freemem -> {reached} ({pressure})")

    # -- invariants -------------------------------------------------------------

    @invariant()
    def invariants_hold(self) -> None:
        """Every kernel-wide invariant, and nothing left held by ``main``."""
        if self.vnodes:
            check_invariants(self.k)
            check_quiescent(self.k, "main")
