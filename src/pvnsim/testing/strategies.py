"""Hypothesis strategies for kernels, vnodes, segments, flags and memory pressure.

Names follow Hypothesis's conventions: plural nouns, options keyword-only.
Strategies that build live objects (:func:`kernels`, :func:`vnodes`) build a
fresh kernel for every example; the others give plain frozen records
(:class:`PageSpec`, :class:`KlusterPolicy`, :class:`~pvnsim.testing.pressure.Pressure`)
that print well in a falsifying example and are applied to a kernel you
already have (:func:`build_population`, :meth:`KlusterPolicy.seg`,
:func:`~pvnsim.testing.pressure.apply_pressure`).

Bad options raise :class:`~pvnsim.errors.UsageError` when the strategy is
defined, not when it is drawn from.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from pvnsim.flags import (
    P_MOD,
    P_REF,
    VISSWAP,
    VISSWAPFS,
    VMODSORT,
    VSWAPLIKE,
    VVMEXEC,
)
from pvnsim.kernel import Kernel
from pvnsim.testing.arguments import (
    PORTS_WITH_FLAGS,
    REALISTIC_FLAGS,
    SEG_BASE,
    KlusterPolicy,
    _need,
    flag_sets,
    kluster_policies,
)
from pvnsim.testing.pressure import (
    PRESSURES,
    Pressure,
    apply_pressure,
    freemem_bands,
    held_memory,
    release_memory,
    set_freemem,
    take_memory,
)
from pvnsim.vm.build import make_page
from pvnsim.vm.vnode import IS_VMODSORT

if TYPE_CHECKING:
    from pvnsim.vm.page import Page
    from pvnsim.vm.vnode import Vnode

__all__ = [
    "PORTS_WITH_FLAGS",
    "REALISTIC_FLAGS",
    "REALISTIC_V_FLAGS",
    "SEG_BASE",
    "KlusterPolicy",
    "PageSpec",
    "Population",
    "build_population",
    "flag_sets",
    "kernels",
    "kluster_policies",
    "page_specs",
    "populated_vnode",
    "populations",
    "pressure_trajectories",
    "pressured_kernel",
    "pressures",
    "vnode_flags",
    "vnodes",
]

# ---------------------------------------------------------------------------
# Kernels


@st.composite
def _kernels(
    draw: st.DrawFn,
    page_sizes: tuple[int, ...],
    min_pages: int,
    max_pages: int,
    thresholds: tuple[str, ...],
    bands: tuple[str, ...],
    tunables: bool,
    debug: bool,
) -> Kernel:
    kw: dict[str, Any] = {
        "pagesize": draw(st.sampled_from(page_sizes)),
        "total_pages": draw(st.integers(min_pages, max_pages)),
        "debug": debug,
    }
    if draw(st.sampled_from(thresholds)) == "drawn":
        total = kw["total_pages"]
        lots = draw(st.integers(0, max(total // 4, 1)))
        des = draw(st.integers(0, lots))
        mn = draw(st.integers(0, des))
        thr = draw(st.integers(0, mn))
        kw.update(
            lotsfree=lots,
            desfree=des,
            minfree=mn,
            throttlefree=thr,
            pageout_reserve=draw(st.integers(0, thr)),
            pages_before_pager=draw(st.sampled_from((200, 0, 16))),
        )
    if tunables:
        kw.update(
            pvn_nofodklust=draw(st.sampled_from((0, 0, 0, 1))),
            pvn_write_noklust=draw(st.sampled_from((0, 0, 0, 1))),
            pvn_vmodsort_disable=draw(st.sampled_from((0, 0, 0, 1))),
            write_free=draw(st.sampled_from((1, 1, 1, 0))),
            hat_vmodsort=draw(st.sampled_from((1, 1, 1, 0))),
        )
    ranges = freemem_bands(Kernel(**kw))
    feasible = [b for b in bands if ranges[b][0] <= ranges[b][1]]
    assume(feasible)
    band = draw(st.sampled_from(feasible))
    pressure = Pressure(band, draw(st.integers(0, 1000)))
    # Built through st.builds so that a failing example prints the call
    # that makes the same kernel, pressure included.
    return draw(
        st.builds(pressured_kernel, st.just(pressure), **{n: st.just(v) for n, v in kw.items()})
    )


def pressured_kernel(pressure: Pressure, **kernel_args: Any) -> Kernel:
    """A fresh ``Kernel(**kernel_args)`` with freemem moved into ``pressure``'s band.

    This is what :func:`kernels` draws, and how a failing example prints it,
    so that pasting the example rebuilds the same kernel::

        pressured_kernel(Pressure(band='minfree', permille=250), pagesize=4096, total_pages=97)

    Raises:
        UsageError: bad kernel arguments.
    """
    k = Kernel(**kernel_args)
    apply_pressure(k, pressure)
    return k


def kernels(
    *,
    page_sizes: Sequence[int] = (4096, 8192),
    min_pages: int = 64,
    max_pages: int = 512,
    thresholds: Sequence[str] = ("illumos", "drawn"),
    pressures: Sequence[str] = PRESSURES,
    tunables: bool = False,
    debug: bool = False,
) -> SearchStrategy[Kernel]:
    """Fresh kernels: page size, total memory and freemem under a memory pressure.

    Args:
        page_sizes: PAGESIZE values to draw from.
        min_pages, max_pages: bounds of total memory, in pages.
        thresholds: ``"illumos"`` (the setupclock defaults) and/or
            ``"drawn"`` (lotsfree >= desfree >= minfree >= throttlefree >=
            pageout_reserve drawn, and pages_before_pager).
        pressures: bands of :data:`~pvnsim.testing.pressure.PRESSURES` that
            freemem may be put in (by the rest of the kernel taking memory,
            see :mod:`pvnsim.testing.pressure`).  Bands a drawn kernel cannot
            reach are not drawn; if none is reachable the example is rejected.
        tunables: also draw the vm_pvn.c tunables (pvn_nofodklust,
            pvn_write_noklust, pvn_vmodsort_disable, write_free) and
            hat_vmodsort, mostly at their defaults.
        debug: build DEBUG kernels.

    Raises:
        UsageError: an empty or unknown choice, or bad bounds.
    """
    sizes = tuple(page_sizes)
    _need(bool(sizes), "kernels: page_sizes is empty")
    for size in sizes:
        _need(
            isinstance(size, int) and size >= 512 and not size & (size - 1),
            f"kernels: page size {size!r} is not a power of two >= 512",
        )
    _need(
        1 <= min_pages <= max_pages,
        f"kernels: need 1 <= min_pages <= max_pages, got {min_pages}, {max_pages}",
    )
    modes = tuple(thresholds)
    _need(
        bool(modes) and set(modes) <= {"illumos", "drawn"},
        f"kernels: thresholds must be 'illumos' and/or 'drawn', not {modes!r}",
    )
    bands = _bands("kernels", pressures)
    return _kernels(sizes, min_pages, max_pages, modes, bands, tunables, debug)


def _bands(who: str, bands: Sequence[str]) -> tuple[str, ...]:
    out = tuple(bands)
    _need(bool(out), f"{who}: no pressure band given")
    unknown = [b for b in out if b not in PRESSURES]
    _need(not unknown, f"{who}: unknown pressure bands {unknown}; known: {PRESSURES}")
    return out


# ---------------------------------------------------------------------------
# Memory pressure


def pressures(*, bands: Sequence[str] = PRESSURES) -> SearchStrategy[Pressure]:
    """Memory pressures: a band of :data:`PRESSURES` and a position in it
    (0, 125, ..., 1000 per mille).

    Apply one with :func:`~pvnsim.testing.pressure.apply_pressure`.

    Raises:
        UsageError: no band, or an unknown one.
    """
    chosen = _bands("pressures", bands)
    return st.sampled_from([Pressure(b, p) for b in chosen for p in range(0, 1001, 125)])


@st.composite
def _trajectories(
    draw: st.DrawFn, bands: tuple[str, ...], min_size: int, max_size: int
) -> list[Pressure]:
    n = draw(st.integers(min_size, max_size))
    out: list[Pressure] = []
    i = draw(st.integers(0, len(bands) - 1))
    for _ in range(n):
        out.append(Pressure(bands[i], draw(st.integers(0, 1000))))
        # Mostly drift to a neighbouring band, sometimes jump.
        step = draw(st.sampled_from((-1, 0, 1, -1, 1, -len(bands), len(bands))))
        i = min(max(i + step, 0), len(bands) - 1)
    return out


def pressure_trajectories(
    *, bands: Sequence[str] = PRESSURES, min_size: int = 1, max_size: int = 10
) -> SearchStrategy[list[Pressure]]:
    """Sequences of memory pressures: how freemem moves between steps.

    Successive pressures mostly stay in or move to a neighbouring band of
    ``bands`` (taken in the order given), sometimes jump to an end.  Apply
    each between steps with :func:`~pvnsim.testing.pressure.apply_pressure`.

    Raises:
        UsageError: no band, an unknown one, or bad sizes.
    """
    chosen = _bands("pressure_trajectories", bands)
    _need(0 <= min_size <= max_size, "pressure_trajectories: need 0 <= min_size <= max_size")
    return _trajectories(chosen, min_size, max_size)


# ---------------------------------------------------------------------------
# Pages and vnodes


def _nrm_text(nrm: int) -> str:
    parts = [n for bit, n in ((P_MOD, "P_MOD"), (P_REF, "P_REF")) if nrm & bit]
    return "|".join(parts) or "0"


@attrs.frozen(repr=False)
class PageSpec:
    """How to build one page: the keyword arguments of :func:`~pvnsim.make_page`.

    On a VMODSORT vnode the translations of a clean page are built
    read-only, as segvn loads them, so a write faults and moves the page.
    """

    nrm: int = 0
    maps: tuple[str, ...] = ()
    lckcnt: int = 0
    cowcnt: int = 0
    cached: bool = False
    lock: str | None = None
    io: str | None = None

    def make(self, vp: Vnode, off: int, *, at: str = "tail") -> Page:
        """Build the page at ``off`` of ``vp`` (at the head or tail of v_pages)."""
        pp = make_page(
            vp,
            off,
            nrm=self.nrm,
            maps=self.maps,
            lckcnt=self.lckcnt,
            cowcnt=self.cowcnt,
            cached=self.cached,
            lock=self.lock,
            io=self.io,
            at=at,
        )
        if IS_VMODSORT(vp) and not self.nrm & P_MOD:
            for m in pp.p_mapping or ():
                m.writable = False
        return pp

    def __repr__(self) -> str:
        parts = []
        for field in attrs.fields(PageSpec):
            value = getattr(self, field.name)
            if value != field.default:
                shown = _nrm_text(value) if field.name == "nrm" else repr(value)
                parts.append(f"{field.name}={shown}")
        return f"PageSpec({', '.join(parts)})"


#: A page population: (page index, spec) pairs in v_pages order, head first.
Population = tuple[tuple[int, PageSpec], ...]


@functools.cache
def _spec_table(
    vmodsort: bool,
    cached: bool,
    mapped: bool,
    dirty: bool,
    logically_locked: bool,
    held_by_other: bool,
) -> tuple[PageSpec, ...]:
    # (spec, weight) of the plain kinds; clean ones first so examples shrink to them.
    base: list[tuple[PageSpec, int]] = [(PageSpec(nrm=P_REF), 3), (PageSpec(), 1)]
    if mapped:
        base += [(PageSpec(P_REF, ("r",)), 2), (PageSpec(P_REF, ("r", "-")), 1)]
    if dirty:
        base.append((PageSpec(P_MOD | P_REF), 2))
        if mapped:
            base += [(PageSpec(P_MOD | P_REF, ("rm",)), 1), (PageSpec(P_MOD | P_REF, ("r",)), 1)]
            if not vmodsort:  # a clean VMODSORT page is never mapped writable
                base += [(PageSpec(P_REF, ("m",)), 1), (PageSpec(P_REF, ("r", "rm")), 1)]
    if cached:
        base.append((PageSpec(cached=True), 2))
    table = [spec for spec, weight in base for _ in range(4 * weight)]
    in_use = [spec for spec, _ in base if not spec.cached]
    if logically_locked:
        table += [attrs.evolve(spec, lckcnt=1) for spec in in_use]
        table += [attrs.evolve(spec, cowcnt=1) for spec in in_use]
    if held_by_other:
        for spec in in_use:
            table.append(attrs.evolve(spec, lock="S@other"))
            table.append(attrs.evolve(spec, lock="X@other"))
            # Being written by another thread: SE_SHARED and i/o-locked.
            table.append(attrs.evolve(spec, lock="S@other", io="other"))
        # Being read in by another thread: a new page, SE_EXCL and i/o-locked.
        table.append(PageSpec(nrm=P_REF, lock="X@other", io="other"))
    return tuple(table)


def page_specs(
    *,
    vmodsort: bool = False,
    cached: bool = True,
    mapped: bool = True,
    dirty: bool = True,
    logically_locked: bool = True,
    held_by_other: bool = True,
) -> SearchStrategy[PageSpec]:
    """Page states: clean, mapped, dirty (software and/or hardware mod), cached,
    logically locked (p_lckcnt/p_cowcnt), held or i/o-locked by another thread.

    Args:
        vmodsort: for a VMODSORT vnode (no hardware-only dirty page: a clean
            VMODSORT page is never mapped writable).
        cached, mapped, dirty, logically_locked, held_by_other: allow that
            kind of page.  Pages held by another thread (``"S@other"``,
            ``"X@other"``, being read in or written by it) make blocking
            calls deadlock in a kernel without a scheduler: turn them off
            for single-threaded tests that call blocking routines.
    """
    return _spec_strategy(vmodsort, cached, mapped, dirty, logically_locked, held_by_other)


@functools.cache
def _spec_strategy(*options: bool) -> SearchStrategy[PageSpec]:
    return st.sampled_from(_spec_table(*options))


@st.composite
def _populations(
    draw: st.DrawFn,
    vmodsort: bool,
    min_pages: int,
    max_pages: int,
    max_offset: int,
    specs: SearchStrategy[PageSpec],
) -> Population:
    idx = draw(
        st.lists(
            st.integers(0, max_offset - 1), min_size=min_pages, max_size=max_pages, unique=True
        )
    )
    return _ordered(vmodsort, [(i, draw(specs)) for i in idx])


def _ordered(vmodsort: bool, pairs: list[tuple[int, PageSpec]]) -> Population:
    if vmodsort:  # clean pages first: the order the HAT keeps
        pairs.sort(key=lambda pair: bool(pair[1].nrm & P_MOD))
    return tuple(pairs)


@functools.cache
def _pair_table(max_offset: int, options: tuple[bool, ...]) -> tuple[tuple[int, PageSpec], ...]:
    table = _spec_table(*options)
    return tuple((i, spec) for i in range(max_offset) for spec in table)


@functools.cache
def _tabled_populations(
    min_pages: int, max_pages: int, max_offset: int, options: tuple[bool, ...]
) -> SearchStrategy[Population]:
    # One draw per page (an (index, spec) pair), not one for the index and one for the spec.
    pairs = st.lists(
        st.sampled_from(_pair_table(max_offset, options)),
        min_size=min_pages,
        max_size=max_pages,
        unique_by=lambda pair: pair[0],
    )
    return pairs.map(lambda drawn: _ordered(options[0], list(drawn)))


def populations(
    *,
    vmodsort: bool = False,
    min_pages: int = 0,
    max_pages: int = 16,
    max_offset: int = 64,
    specs: SearchStrategy[PageSpec] | None = None,
) -> SearchStrategy[Population]:
    """Page populations of one vnode: distinct page indices in
    ``[0, max_offset)``, each with a :class:`PageSpec`, in v_pages order.

    Non-VMODSORT populations come in any order; VMODSORT ones keep clean
    pages before modified ones.  ``specs`` defaults to
    ``page_specs(vmodsort=vmodsort)``.  Build one with :func:`build_population`.

    Raises:
        UsageError: bad bounds.
    """
    _need(0 <= min_pages <= max_pages, "populations: need 0 <= min_pages <= max_pages")
    _need(max_offset >= max_pages, "populations: max_offset must be >= max_pages")
    if specs is None:
        options = (vmodsort, True, True, True, True, True)
        return _tabled_populations(min_pages, max_pages, max_offset, options)
    return _populations(vmodsort, min_pages, max_pages, max_offset, specs)


def build_population(vp: Vnode, population: Population) -> list[Page]:
    """Build ``population`` on ``vp`` (appending at the tail); returns the pages.

    Memory comes first from what the rest of the kernel holds (see
    :mod:`pvnsim.testing.pressure`), so freemem, and the pressure band,
    stay as they were when it holds enough.

    Raises:
        UsageError: an offset already exists, or there is not enough memory.
    """
    k = vp.kernel
    freemem = k.freemem
    physical = k.unused_pages + k.freelist_count
    if len(population) > physical:
        release_memory(k, len(population) - physical)
    pages = [spec.make(vp, i * k.pagesize) for i, spec in population]
    if k.freemem > freemem:
        take_memory(k, k.freemem - freemem, recycle=False)
    else:
        set_freemem(k, freemem)
    return pages


#: v_flag combinations real vnodes carry, with who sets them.
REALISTIC_V_FLAGS: tuple[tuple[int, str], ...] = (
    (VMODSORT, "ufs, zfs and nfs regular files"),
    (VMODSORT | VVMEXEC, "an executable mapped from ufs or zfs"),
    (0, "tmpfs files, specfs block devices"),
    (VVMEXEC, "an executable on tmpfs"),
    (VISSWAPFS, "swapfs: anonymous memory"),
    (VISSWAP, "a swap file or device"),
    (VSWAPLIKE, "a vnode behaving like swap"),
)


def vnode_flags(*, vmodsort: bool | None = None, swap: bool = True) -> SearchStrategy[int]:
    """v_flag values of :data:`REALISTIC_V_FLAGS`, weighted toward VMODSORT files.

    Args:
        vmodsort: ``True`` only VMODSORT vnodes, ``False`` none, ``None`` both.
        swap: allow VISSWAP, VSWAPLIKE and VISSWAPFS vnodes.

    Raises:
        UsageError: the options leave nothing to draw.
    """
    values = [VMODSORT, VMODSORT, VMODSORT | VVMEXEC, 0, 0, VVMEXEC]
    if swap:
        values += [VISSWAPFS, VISSWAP, VSWAPLIKE]
    if vmodsort is not None:
        values = [v for v in values if bool(v & VMODSORT) == vmodsort]
    _need(bool(values), "vnode_flags: no flag set left to draw")
    return st.sampled_from(values)


@st.composite
def _vnodes(
    draw: st.DrawFn,
    kernels_: SearchStrategy[Kernel],
    v_flags: SearchStrategy[int],
    min_pages: int,
    max_pages: int,
    max_offset: int,
    spec_options: dict[str, bool],
) -> Vnode:
    k = draw(kernels_)
    flags = draw(v_flags)
    capacity = k.unused_pages + k.freelist_count + held_memory(k)
    hi = min(max_pages, capacity)
    assume(min_pages <= hi)
    vmodsort = bool(flags & VMODSORT) and bool(k.pvn_vmodsort_supported)
    options = (vmodsort, *spec_options.values())
    population = draw(_tabled_populations(min_pages, hi, max_offset, options))
    # Built through st.builds so that a failing example prints the call
    # that rebuilds the vnode and its pages, not <Vnode v1 pages=3>.
    return draw(st.builds(populated_vnode, st.just(k), st.just(population), v_flag=st.just(flags)))


def populated_vnode(k: Kernel, population: Population, *, v_flag: int = 0) -> Vnode:
    """A new vnode of ``k`` with ``v_flag``, its pages built from ``population``.

    This is what :func:`vnodes` draws, and how a failing example prints it::

        populated_vnode(pressured_kernel(...), ((0, PageSpec(nrm=P_MOD)),), v_flag=65536)

    Raises:
        UsageError: as :func:`build_population`.
    """
    vp = k.vnode(v_flag=v_flag)
    build_population(vp, population)
    return vp


def vnodes(
    *,
    kernels: SearchStrategy[Kernel] | None = None,
    v_flags: SearchStrategy[int] | None = None,
    min_pages: int = 0,
    max_pages: int = 16,
    max_offset: int = 64,
    cached: bool = True,
    mapped: bool = True,
    dirty: bool = True,
    logically_locked: bool = True,
    held_by_other: bool = True,
) -> SearchStrategy[Vnode]:
    """Vnodes with a page population, each in a fresh kernel (``vp.kernel``).

    Args:
        kernels: where the kernel comes from (default :func:`kernels`).
        v_flags: the vnode's v_flag (default :func:`vnode_flags`).
        min_pages, max_pages, max_offset: population bounds (pages).
        cached, mapped, dirty, logically_locked, held_by_other: the page
            kinds allowed, as for :func:`page_specs`.

    The population takes its memory from what the rest of the kernel holds,
    so the kernel's pressure band is kept when possible.

    Raises:
        UsageError: bad bounds.
    """
    _need(0 <= min_pages <= max_pages, "vnodes: need 0 <= min_pages <= max_pages")
    _need(max_offset >= max_pages, "vnodes: max_offset must be >= max_pages")
    options = {
        "cached": cached,
        "mapped": mapped,
        "dirty": dirty,
        "logically_locked": logically_locked,
        "held_by_other": held_by_other,
    }
    return _vnodes(
        kernels if kernels is not None else globals()["kernels"](),
        v_flags if v_flags is not None else vnode_flags(),
        min_pages,
        max_pages,
        max_offset,
        options,
    )
