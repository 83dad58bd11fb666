"""Seeded file-system bugs the explorer must find, each with a replayable schedule.

Each bug is planted (with ``monkeypatch``) in the kit, and each needs a race
to show.  In the scenario, process ``a`` works on the 8 dirty pages of file
``f`` (fsync, or truncate); process ``b`` sleeps 100 ms, pins 8 pages, and
its next system call's clock tick wakes pageout, which pushes ``f``'s dirty
pages with B_ASYNC | B_FREE.  Left alone, ``a`` is done long before ``b``
wakes and the run passes.  Only an interleaving the explorer picks shows the
bug: the strategy fires ``b``'s wake-up early (``interrupts="any"``) while
``a`` waits for the disk, or preempts ``a``, so that pageout's pushes
overlap ``a``'s work.  The explorer (:func:`~pvnsim.concurrency.explore`, its
default strategy and explicit ones) must find each, and the schedule it
reports must replay it.

1. putapage forgets pvn_write_done when an asynchronous write fails: the
   pages stay locked and i/o-locked for ever, and fsync waits for them;
2. truncate frees the pages past the new end itself instead of the
   B_INVAL | B_TRUNC walk, skipping the busy ones: a page pageout is
   writing survives past end of file;
3. fsync skips the pages whose write is in flight (and does not wait for
   them): it returns 0 before those bytes are on disk;
4. pageout pushes a page without its lock: it hands the dirty page straight
   to putapage holding only its i/o lock.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from pvnsim import DeadlockError, InvariantViolation
from pvnsim.concurrency import PCT, Exhaustive, RandomWalk, explore, replay
from pvnsim.flags import B_ASYNC, B_FREE, B_WRITE, P_MOD, PAGE_IO_INUSE, SE_EXCL, SE_SHARED
from pvnsim.fs import Machine, Op, RefFs, pattern, rdwr
from pvnsim.fs.pageout import Pageout
from pvnsim.sched import Strategy
from pvnsim.vm import page_io_trylock, page_lookup, page_lookup_nowait, page_unlock
from pvnsim.vm.vm_page import page_destroy
from pvnsim.vm.vm_pvn import KCRED, pvn_getdirty, pvn_write_done

PS = 4096
PAGES = 8
#: b's first sleep: longer than anything a does (a handful of 4 ms writes).
SLEEP = 100_000_000


def scenario(work: Callable[[Machine], Any], *, fault: bool = False) -> Any:
    """The set-up: ``f`` with 8 dirty pages, process ``a`` doing ``work``,
    process ``b`` pinning memory so that pageout wakes at its next system
    call; completions may come at any switch point."""

    def setup(run: Any) -> Machine:
        run.sim.interrupts = "any"
        m = Machine(
            memory=64 * PS,
            run=run,
            verify=True,
            maxcontig=1,
            write_behind=False,
            fsflush_interval_ns=0,
            lotsfree=54,
            desfree=20,
            minfree=10,
            throttlefree=4,
            pageout_reserve=2,
            handspread=0,
            pages_before_pager=0,
            keep_log=False,
        )
        m.create("f")
        assert m.write("f", 0, pattern(1, 0, PAGES * PS)) == 0  # 56 pages free: no pageout
        if fault:
            m.fail_block("f", 0, "write", times=None)
        m.process("a", work)
        # b wakes after a is done, unless the strategy fires its callout
        # early; then it pins 8 pages (48 free < 54) and its next system
        # call's clock tick wakes pageout.
        m.process("b", [Op("sleep", length=SLEEP), Op("pressure", length=8), Op("sleep", length=1)])
        return m

    return setup


def check(run: Any) -> None:
    """After the run: the validators, and nothing written lost."""
    m: Machine = run.data
    m.check()
    m.check_data()


def fsync_f(m: Machine) -> int:
    err = m.fsync("f")
    if err == 0:
        m.check_data("f", disk=True)  # fsync returned 0: every byte is on disk
    return err


def truncate_f(m: Machine) -> int:
    err = m.truncate("f", PS)
    m.check_data("f")
    return err


# -- the bugs -----------------------------------------------------------------


def forgetful_kluster_write(self: RefFs, vp: Any, kl: Any, flags: int) -> int | None:
    """Bug 1: an asynchronous write's completion calls pvn_write_done only
    when the write succeeded."""
    if not flags & B_ASYNC:
        return ORIGINAL_KLUSTER_WRITE(self, vp, kl, flags)
    req = self._submit_write(self.inode_of(vp), kl, True, None)
    bookkeeping = req.on_done
    assert bookkeeping is not None

    def done(req: Any) -> None:
        bookkeeping(req)
        if not req.error:  # BUG: on an error the pages stay locked
            pvn_write_done(kl.plist, B_WRITE | flags)

    req.on_done = done
    return None


ORIGINAL_KLUSTER_WRITE = RefFs.kluster_write


def freeing_truncate(fs: RefFs, ino: Any, size: int) -> int:
    """Bug 2: truncate destroys the pages past the end itself, skipping the
    ones it cannot lock at once, instead of pvn_vplist_dirty(B_INVAL|B_TRUNC)."""
    k = fs.kernel
    fs.wait_io(ino)
    ino.size = size
    end = (size + k.pagesize - 1) // k.pagesize * k.pagesize
    for off in sorted(k.page_hash[ino.vp]):
        if off >= end:
            pp = page_lookup_nowait(ino.vp, off, SE_EXCL)
            if pp is not None:  # BUG: a busy page (being written) is left behind
                page_destroy(pp, 0)
    fs.free_blocks(ino, size)
    return 0


def skipping_fsync(fs: RefFs, ino: Any) -> int:
    """Bug 3: fsync writes the dirty pages in order but skips a page whose
    i/o lock is held (its write is in flight, e.g. pageout's), instead of
    waiting for it, and does not wait for the disk at the end."""
    k = fs.kernel
    err = 0
    for off in sorted(k.page_hash[ino.vp]):
        pp = page_lookup(ino.vp, off, SE_SHARED)
        if pp is None:
            continue
        if pp.p_iolock_state & PAGE_IO_INUSE:  # BUG: skipped, not waited for
            page_unlock(pp)
            continue
        if pvn_getdirty(pp, 0):
            err = fs.ufs_putapage.push(ino.vp, pp, 0).error or err
    return err


def lockless_checkpage(self: Pageout, pp: Any, front: bool) -> int:
    """Bug 4: pageout's back hand, finding a dirty page, pushes it itself
    holding only its i/o lock, instead of handing (vp, off) to VOP_PUTPAGE,
    which looks the page up and locks it."""
    vp = pp.p_vnode
    if front or vp is None or pp.p_selock or pp.p_state or not pp.p_nrm & P_MOD:
        return ORIGINAL_CHECKPAGE(self, pp, front)
    if not page_io_trylock(pp):
        return 0  # kept
    fs: RefFs = vp.v_op.putpage.__self__
    fs.ufs_putapage.push(vp, pp, B_ASYNC | B_FREE, KCRED)  # BUG: pp is not locked
    return 2  # pushed


ORIGINAL_CHECKPAGE = Pageout._checkpage

#: bug -> (where to plant it, the name replaced, the buggy code, a's work, a write fault?)
BUGS: dict[str, tuple[Any, str, Any, Callable[[Machine], Any], bool]] = {
    "putapage forgets pvn_write_done on an I/O error": (
        RefFs,
        "kluster_write",
        forgetful_kluster_write,
        fsync_f,
        True,
    ),
    "truncate frees pages without the B_INVAL walk": (
        rdwr,
        "fs_truncate",
        freeing_truncate,
        truncate_f,
        False,
    ),
    "fsync skips pages whose write is in flight": (
        rdwr,
        "fs_fsync",
        skipping_fsync,
        fsync_f,
        False,
    ),
    "pageout pushes a page without its lock": (
        Pageout,
        "_checkpage",
        lockless_checkpage,
        fsync_f,
        False,
    ),
}

#: What each bug makes a run raise, and the message.
FAILS: dict[str, tuple[type[BaseException], str]] = {
    # The failed write's pages stay i/o-locked by pageout for ever.
    "putapage forgets pvn_write_done on an I/O error": (
        DeadlockError,
        r"a waits for (i/o|page) lock of f@0x[0-9a-f]+, held by pageout",
    ),
    # A page pageout was writing is left behind past the new end.
    "truncate frees pages without the B_INVAL walk": (
        InvariantViolation,
        r"page f@0x[0-9a-f]+ lies past end of file",
    ),
    # fsync returned 0 with pageout's write still in flight.
    "fsync skips pages whose write is in flight": (
        InvariantViolation,
        r"data mismatch in f \(on disk\)",
    ),
    # The validators see a page in flight whose page lock nobody holds.
    "pageout pushes a page without its lock": (
        InvariantViolation,
        r"f@0x[0-9a-f]+ (is on an I/O list|holds its i/o lock) without",
    ),
}


def _fresh(strategy: Strategy | None) -> Strategy | None:
    # Parametrized strategies are shared between tests: each starts afresh.
    return None if strategy is None else strategy.fresh()


def _plant(monkeypatch: pytest.MonkeyPatch, bug: str) -> Any:
    where, name, buggy, work, fault = BUGS[bug]
    monkeypatch.setattr(where, name, buggy)
    return scenario(work, fault=fault)


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_each_bug_needs_a_race_to_show(monkeypatch, bug):
    """Without preemption or early completions the buggy kit passes the
    scenario (b wakes after a is done), so finding the bug is the explorer's work."""
    replay(_plant(monkeypatch, bug), check, "")


@pytest.mark.parametrize("bug", sorted(BUGS))
@pytest.mark.parametrize(
    "strategy",
    [None, PCT(seed=0, depth=3), RandomWalk(seed=0), Exhaustive(preemption_bound=0)],
    ids=["default", "pct", "random", "exhaustive"],
)
def test_the_explorer_finds_each_bug_with_a_replayable_schedule(
    monkeypatch, bug, strategy: Strategy | None
):
    """explore() finds the planted bug (its default strategy and explicit ones),
    and the failure's schedule string replays the same failure.  (Runs take a
    millisecond or two; uniform random choices, the weakest strategy, may need
    a thousand runs for the truncate bug.)"""
    setup = _plant(monkeypatch, bug)
    result = explore(setup, check, strategy=_fresh(strategy), max_runs=2000)
    failure = result.failure
    assert failure is not None, f"{bug}: not found in {result.runs} runs"
    kind, message = FAILS[bug]
    assert isinstance(failure.error, kind), failure.report()
    assert re.search(message, str(failure.error)), failure.report()
    assert failure.schedule.switches > 0
    assert str(failure.schedule) in failure.report()
    with pytest.raises(kind, match=message):
        replay(setup, check, str(failure.schedule))


@pytest.mark.parametrize(
    ("work", "fault"),
    [(fsync_f, False), (fsync_f, True), (truncate_f, False)],
    ids=["fsync", "fsync-eio", "truncate"],
)
@pytest.mark.parametrize(
    "strategy",
    [None, RandomWalk(seed=0), Exhaustive(preemption_bound=0)],
    ids=["default", "random", "exhaustive"],
)
def test_the_kit_as_it_is_passes_the_same_explorations(work, fault, strategy):
    """The scenarios are not rigged: the correct kit passes every run the
    explorer makes of them."""
    result = explore(scenario(work, fault=fault), check, strategy=_fresh(strategy), max_runs=400)
    assert result.ok, result
