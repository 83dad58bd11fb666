"""The public strategies draw what they promise, and the memory-pressure helpers move freemem exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pvnsim import Kernel, UsageError, make_page
from pvnsim.flags import (
    B_ASYNC,
    B_DELWRI,
    B_DONTNEED,
    B_ERROR,
    B_FORCE,
    B_FREE,
    B_INVAL,
    B_READ,
    B_TRUNC,
    B_WRITE,
    P_FREE,
    P_MOD,
    VMODSORT,
)
from pvnsim.testing import (
    PRESSURES,
    REALISTIC_FLAGS,
    KlusterPolicy,
    PageSpec,
    Pressure,
    apply_pressure,
    build_population,
    check_invariants,
    check_quiescent,
    flag_sets,
    freemem_bands,
    held_memory,
    kernels,
    kluster_policies,
    populations,
    pressure_of,
    pressure_trajectories,
    release_memory,
    set_freemem,
    take_memory,
    vnodes,
)

PUTPAGE_BITS = B_ASYNC | B_INVAL | B_FREE | B_DONTNEED | B_TRUNC | B_FORCE


@pytest.mark.parametrize("band", PRESSURES)
@given(data=st.data())
def test_kernels_put_freemem_in_the_requested_band(band: str, data: st.DataObject) -> None:
    """A kernel drawn for one pressure band has freemem inside that band's range."""
    k = data.draw(kernels(min_pages=400, max_pages=1200, pressures=(band,)))
    lo, hi = freemem_bands(k)[band]
    assert lo <= k.freemem <= hi
    assert pressure_of(k) == band
    check_invariants(k)


@given(k=kernels(page_sizes=(8192,), min_pages=100, max_pages=100, thresholds=("illumos",)))
def test_kernels_honour_page_size_memory_and_illumos_thresholds(k: Kernel) -> None:
    """Page size, total memory and the setupclock thresholds are the ones asked for.

    100 pages of 8 KiB: lotsfree = max(100/64, 512 KiB / 8 KiB) = 64, desfree 32,
    minfree 16, throttlefree 16, pageout_reserve 8.
    """
    assert (k.pagesize, k.total_pages) == (8192, 100)
    assert (k.lotsfree, k.desfree, k.minfree, k.throttlefree, k.pageout_reserve) == (
        64,
        32,
        16,
        16,
        8,
    )
    # Whatever freemem is not, the rest of the kernel holds.
    assert k.freemem + held_memory(k) == 100


@given(k=kernels(thresholds=("drawn",)))
def test_drawn_thresholds_are_ordered(k: Kernel) -> None:
    """Drawn thresholds keep lotsfree >= desfree >= minfree >= throttlefree >= pageout_reserve."""
    assert k.lotsfree >= k.desfree >= k.minfree >= k.throttlefree >= k.pageout_reserve >= 0


@given(vp=vnodes(max_pages=12))
def test_vnodes_satisfy_every_invariant(vp) -> None:
    """A drawn vnode's kernel passes every invariant and main holds nothing."""
    check_invariants(vp.kernel)
    check_quiescent(vp.kernel)
    assert len(vp.kernel.page_hash[vp]) <= 12


@given(vp=vnodes(v_flags=st.just(VMODSORT), min_pages=4, max_pages=12))
def test_vmodsort_vnodes_keep_clean_pages_first(vp) -> None:
    """On a VMODSORT vnode every modified page follows every clean one."""
    order = []
    pp = vp.v_pages
    while True:
        order.append(bool(pp.p_nrm & P_MOD))
        pp = pp.p_vpnext
        if pp is vp.v_pages:
            break
    assert order == sorted(order)


@given(vp=vnodes(held_by_other=False, logically_locked=False, cached=False))
def test_vnode_options_exclude_page_kinds(vp) -> None:
    """Turned-off kinds never appear: no page held by another thread, locked in memory or cached."""
    for pp in vp.kernel.page_hash[vp].values():
        assert pp.p_selock == 0 and not pp.p_iolock_state
        assert pp.p_lckcnt == pp.p_cowcnt == 0
        assert not pp.p_state & P_FREE


@given(population=populations(min_pages=3, max_pages=8, max_offset=16))
def test_populations_use_distinct_offsets_in_range(population) -> None:
    """A population names each page index once, inside [0, max_offset)."""
    indices = [i for i, _ in population]
    assert 3 <= len(indices) <= 8
    assert len(set(indices)) == len(indices)
    assert all(0 <= i < 16 for i in indices)


def test_build_population_keeps_freemem_when_the_kernel_holds_memory() -> None:
    """Building takes the pages from what the rest of the kernel holds: freemem is unchanged."""
    k = Kernel(total_pages=64)
    set_freemem(k, 10)  # the rest of the kernel holds 54 pages
    vp = k.vnode("v1")
    pages = build_population(vp, ((0, PageSpec(nrm=P_MOD)), (3, PageSpec(cached=True))))
    assert [p.p_offset for p in pages] == [0, 3 * 4096]
    assert k.freemem == 10
    assert held_memory(k) == 54 - 1  # one page in use; the cached one is still free memory
    check_invariants(k)


@pytest.mark.parametrize("port", sorted(REALISTIC_FLAGS))
@given(data=st.data())
def test_flag_sets_are_valid_for_their_port(port: str, data: st.DataObject) -> None:
    """Every drawn flag set uses the port's bits, never B_INVAL with B_FREE, and
    B_TRUNC or B_FORCE only with B_INVAL."""
    flags = data.draw(flag_sets(port))
    if port == "pvn_read_done":
        assert flags & ~(B_READ | B_ASYNC | B_ERROR) == 0
        return
    allowed = PUTPAGE_BITS
    if port == "pvn_write_done":
        allowed |= B_WRITE | B_ERROR
    if port in ("pvn_getdirty", "pvn_write_kluster"):
        allowed |= B_DELWRI
    assert flags & ~allowed == 0
    assert flags & (B_INVAL | B_FREE) != B_INVAL | B_FREE
    if flags & (B_TRUNC | B_FORCE):
        assert flags & B_INVAL


@given(flags=flag_sets("pvn_vplist_dirty", realistic_only=True))
def test_realistic_flag_sets_come_from_the_table(flags: int) -> None:
    """realistic_only draws only the combinations of semantics.md 6.6."""
    assert flags in REALISTIC_FLAGS["pvn_vplist_dirty"]


def test_flag_sets_refuse_an_unknown_port() -> None:
    """An unknown port is a UsageError naming it."""
    with pytest.raises(UsageError, match="unknown port 'pvn_io_done'"):
        flag_sets("pvn_io_done")


@given(policy=kluster_policies(), delta=st.integers(-20, 20))
def test_kluster_policies_build_segments_that_decide_as_described(
    policy: KlusterPolicy, delta: int
) -> None:
    """The built segment refuses exactly the deltas refuses() names."""
    k = Kernel(total_pages=16)
    addr = 0x4000_0000
    seg = policy.seg(k, addr)
    assert (seg.kluster(addr, delta * 4096) != 0) == policy.refuses(delta)


def test_segvn_policy_refuses_outside_its_extent_and_by_advice() -> None:
    """segvn with 2 pages before, 1 after: refuses -3 and +2; sequential refuses going back."""
    normal = KlusterPolicy("segvn", 2, 1, "normal")
    assert [normal.refuses(d) for d in (-3, -2, 0, 1, 2)] == [True, False, False, False, True]
    sequential = KlusterPolicy("segvn", 2, 1, "sequential")
    assert [sequential.refuses(d) for d in (-1, 0, 1)] == [True, False, False]
    assert KlusterPolicy("segvn", 2, 1, "random").refuses(0)


@given(trajectory=pressure_trajectories(bands=("lotsfree", "desfree"), min_size=2, max_size=5))
def test_pressure_trajectories_stay_in_their_bands(trajectory: list[Pressure]) -> None:
    """A trajectory has the requested length and only the requested bands."""
    assert 2 <= len(trajectory) <= 5
    assert {p.band for p in trajectory} <= {"lotsfree", "desfree"}


@given(trajectory=pressure_trajectories())
def test_applying_a_trajectory_moves_freemem_to_each_target(trajectory: list[Pressure]) -> None:
    """Each pressure of a trajectory puts freemem at its target, invariants intact.

    A 600-page kernel with illumos thresholds (lotsfree 128, desfree 64,
    minfree = throttlefree 32, pages_before_pager 200) can reach every band
    except minfree, which is empty; its target is the nearest reachable value.
    """
    k = Kernel(total_pages=600)
    for pressure in trajectory:
        assert apply_pressure(k, pressure) == pressure.target(k) == k.freemem
        check_invariants(k)


def test_freemem_bands_of_an_illumos_kernel() -> None:
    """The bands follow the thresholds: 600 pages gives lotsfree 128, desfree 64, minfree 32."""
    k = Kernel(total_pages=600)
    assert freemem_bands(k) == {
        "none": (328, 600),
        "write_free": (128, 327),
        "lotsfree": (64, 127),
        "desfree": (33, 63),
        "minfree": (33, 32),  # empty: throttlefree == minfree
        "throttlefree": (0, 32),
    }


def test_taking_memory_recycles_cached_pages_last() -> None:
    """The rest of the kernel takes never-used memory, then free-list pages, then
    cache-list pages (which lose their identity); giving it back restores freemem."""
    k = Kernel(total_pages=8)
    vp = k.vnode("v1")
    cached = make_page(vp, 0, cached=True)
    assert k.freemem == 8
    assert take_memory(k, 7) == 7  # all never-used memory
    assert cached.p_vnode is vp and k.freemem == 1
    assert take_memory(k, 5) == 1  # then the cached page: nothing else is free
    assert cached.p_vnode is None and k.freemem == 0
    check_invariants(k)
    assert release_memory(k, 8) == 8
    assert k.freemem == 8 and held_memory(k) == 0
    check_invariants(k)


def test_pressure_and_memory_helpers_refuse_bad_input() -> None:
    """Negative amounts and unknown bands are UsageErrors naming the problem."""
    k = Kernel(total_pages=8)
    with pytest.raises(UsageError, match="take_memory: n must be >= 0"):
        take_memory(k, -1)
    with pytest.raises(UsageError, match="set_freemem: target must be >= 0"):
        set_freemem(k, -3)
    with pytest.raises(UsageError, match="band must be one of"):
        Pressure("dire")
    with pytest.raises(UsageError, match="unknown pressure bands"):
        kernels(pressures=("dire",))
    with pytest.raises(UsageError, match="page size 3000"):
        kernels(page_sizes=(3000,))


def _falsifying_call(test) -> str:  # type: ignore[no-untyped-def]
    """The argument ``vp=...`` of the falsifying example Hypothesis reports."""
    with pytest.raises(AssertionError) as info:
        test()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    start = notes.index("vp=") + len("vp=")
    end = notes.rindex("\n)")
    return notes[start:end].rstrip().rstrip(",")


def test_a_failing_example_prints_a_vnode_as_the_call_that_rebuilds_it():
    """vnodes() and kernels() print as populated_vnode(pressured_kernel(...), ...):
    evaluated with pvnsim.testing's names, the printed call rebuilds the same
    kernel (memory pressure included) and the same pages."""
    from hypothesis import Phase, settings

    import pvnsim.flags
    import pvnsim.testing
    from pvnsim import snapshot

    seen = []

    @settings(database=None, derandomize=True, max_examples=5, phases=[Phase.generate])
    @given(vp=vnodes(min_pages=3, max_pages=5, kernels=kernels(pressures=("minfree",))))
    def fails(vp):  # type: ignore[no-untyped-def]
        seen.append(snapshot(vp.kernel))
        raise AssertionError("always")

    call = _falsifying_call(fails)
    assert call.startswith("populated_vnode(\n")
    assert "pressured_kernel(" in call and "Pressure(band='minfree'" in call
    names = {
        **vars(pvnsim.flags),
        **{n: getattr(pvnsim.testing, n) for n in pvnsim.testing.__all__},
    }
    rebuilt = eval(call, names)
    assert snapshot(rebuilt.kernel) == seen[-1]
