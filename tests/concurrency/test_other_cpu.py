"""The other CPU, and the ck_refmod window of pvn_write_done.

pvn_write_done frees a written page only if nobody used it during the write
(vm_pvn.c L468-530): it reads the ref/mod bits with hat_pagesync (L483),
and if the page is still mapped unloads it with hat_pageunload (L502) and
reads them again (L504, goto ck_refmod), because another CPU may load or
store through a translation between the two calls.  The other CPU here may
touch the mapped page at any switch point, including the CPU-only ones at
the entry of hat_pagesync and hat_pageunload.
"""

from __future__ import annotations

from typing import Any

import pytest

from pvnsim import Kernel, make_page, pvn_vplist_dirty, pvn_write_done
from pvnsim.concurrency import Exhaustive, Run, explore, other_cpu, replay
from pvnsim.errors import UsageError
from pvnsim.flags import B_WRITE, P_FREE, P_MOD, VMODSORT


def writeback_setup(bits: tuple[str, ...], vmodsort: bool = False) -> Any:
    """One dirty, mapped page; a plain write-back that write_free turns into a free.

    Kernel(total_pages=64) has lotsfree 128 > freemem, so pvn_write_done adds
    B_FREE (L383-385); flags 0 keep the translation through pvn_getdirty's
    hat_pagesync(ZERORM) (L632), so the page is still mapped at L487.
    """

    def setup(run: Run) -> dict[str, Any]:
        k = run.attach(Kernel(total_pages=64))
        vp = k.vnode("f", v_flag=VMODSORT if vmodsort else 0)
        pp = make_page(vp, 0, nrm=P_MOD, maps=["-"])

        def put(v: Any, p: Any, offp: Any, lenp: Any, fl: int, cred: Any) -> int:
            pvn_write_done(p, B_WRITE | fl)
            return 0

        run.spawn(pvn_vplist_dirty, vp, 0, put, 0, None, name="walker")
        other_cpu(run, pages=[pp], bits=bits, budget=1)
        return {"pp": pp, "k": k}

    return setup


def events(run: Run) -> list[str]:
    """The trace as 'thread:name' items (notes as 'cpu1:touch')."""
    out = []
    for e in run.kernel.trace:
        out.append(f"{e.thread}:{'touch' if e.kind == 'note' else e.name}")
    return out


def window_position(run: Run) -> str:
    """Where the touch fell relative to pvn_write_done's hat_pagesync and hat_pageunload."""
    ev = events(run)
    if "cpu1:touch" not in ev:
        return "none"
    touch = ev.index("cpu1:touch")
    if touch < ev.index("walker:hat_clrrefmod"):
        return "before the write"
    done = ev.index("walker:pvn_write_done")
    if touch < ev.index("walker:hat_pagesync", done):
        return "during the write"
    # Without ref/mod at L483, hat_pageunload follows (L502).
    if touch < ev.index("walker:hat_pageunload", done):
        return "in the window"
    return "after the unload"


@pytest.mark.parametrize("bits", [("ref",), ("mod",)], ids=["ref", "mod"])
@pytest.mark.parametrize("vmodsort", [False, True], ids=["plain", "vmodsort"])
def test_touch_between_pagesync_and_pageunload_keeps_the_page(
    bits: tuple[str, ...], vmodsort: bool
) -> None:
    """A touch in the ck_refmod window is caught: the page is not freed (pgrec).

    Across every schedule with at most 2 preemptions: a touch before
    pvn_getdirty's hat_clrrefmod is forgotten with the old bits and the page
    is freed; a touch during the write or in the window between hat_pagesync
    and hat_pageunload leaves ref (and mod) set, so pvn_write_done keeps the
    page (pgrec 1); after the unload there is no translation left to touch.
    On a VMODSORT vnode a store re-dirties the page and moves it to the tail
    (semantics.md §7.30), so the walk writes it again and that second write
    frees it.  The window itself is reached in some schedule.
    """
    runs: list[Run] = []
    result = explore(
        writeback_setup(bits, vmodsort),
        runs.append,
        strategy=Exhaustive(preemption_bound=2),
        max_runs=20_000,
        trace=True,
    )
    assert result.ok, str(result)
    assert result.exhausted
    positions = set()
    for run in runs:
        where = window_position(run)
        positions.add(where)
        pp, k = run.data["pp"], run.data["k"]
        freed = bool(pp.p_state & P_FREE)
        writes = len(run.kernel.trace.filter("pvn_write_done"))
        if where in ("none", "before the write"):
            assert freed and (k.vm.dfree, k.vm.pgrec, writes) == (1, 0, 1), where
        elif freed:
            # A store through the write-protected VMODSORT translation faulted
            # (hat_setmod): the page went to the tail, the walk met it again
            # and wrote it a second time, and that write freed it.
            assert vmodsort and bits == ("mod",), where
            assert (k.vm.dfree, k.vm.pgrec, writes) == (1, 1, 2), where
        else:
            assert (k.vm.dfree, k.vm.pgrec, writes) == (0, 1, 1), where
    assert "in the window" in positions
    assert "after the unload" not in positions


def test_other_cpu_waits_for_a_mapping_and_stops_with_the_run() -> None:
    """With no mapped page the other CPU waits; it never keeps the run alive."""

    def setup(run: Run) -> None:
        k = run.attach(Kernel(total_pages=8))
        vp = k.vnode("f")
        make_page(vp, 0)
        cpu = other_cpu(run)
        run.spawn(lambda: None, name="idle")
        assert cpu.daemon and cpu.cpu

    run = replay(setup)
    assert run.thread("cpu1").done
    assert run.thread("cpu1").error is None


def test_other_cpu_refuses_bad_arguments() -> None:
    """Unknown bits, a bad budget, foreign pages and no kernel are UsageErrors."""

    def setup(run: Run) -> None:
        with pytest.raises(UsageError, match="no kernel"):
            other_cpu(run)
        k = run.attach(Kernel(total_pages=8))
        other = Kernel(total_pages=8)
        foreign = make_page(other.vnode("g"), 0)
        with pytest.raises(UsageError, match="bits"):
            other_cpu(run, bits=("dirty",))
        with pytest.raises(UsageError, match="budget"):
            other_cpu(run, budget=0)
        with pytest.raises(UsageError, match="not a page"):
            other_cpu(run, pages=[foreign])
        run.spawn(lambda: None, name="idle")
        assert k.sched is run.sim

    replay(setup)
