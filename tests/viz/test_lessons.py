"""The three lessons of the tour: the numbers they read from the simulated kernel."""

from __future__ import annotations

from pvnsim.viz.lessons import LESSONS, lesson_fsync, lesson_klustering, lesson_pageout


def _steps(lesson):
    return {s.title: s.body for s in lesson(None)}


def test_lesson_one_shrinks_the_kluster_as_memory_runs_out():
    """16 pages with plenty of memory, 3 when 3 pages are above minfree, NULL then 1 page at minfree."""
    steps = _steps(lesson_klustering)
    assert (
        "kluster off=0x0 len=0x10000 (16 pages)"
        in steps["Plenty of memory: the whole block window"]
    )
    # pagesavail 3 < 16: start at the fault (5 pages to the window end), then 3 pages.
    shrink = steps["The kluster shrinks to fit"]
    assert "kluster off=0x1b000 len=0x3000 (3 pages)" in shrink
    assert "returns NULL" in steps["No memory to spare: read-ahead gives up"]
    assert "a kluster of 1 page: off=0x24000 len=0x1000" in steps["A demand fault gets one page"]


def test_lesson_two_walks_with_markers_and_stops_early():
    """The VMODSORT fsync shows the markers and needs 4 pvn_getdirty calls where a plain vnode needs 8."""
    steps = list(lesson_fsync(None))
    walk = [s for s in steps if s.title.startswith("walk step")]
    assert any("---- MARK(-1) mark ----" in s.body for s in walk)
    assert any("---- MARK(-2) end ----" in s.body for s in walk)
    assert "MARK" not in walk[-1].body.split("vnode file")[1]
    # A fresh kernel's marker cache constructs both markers zeroed (p_offset 0)
    # before 790/793 set -2 and -1: the text explains the MARK(0) the trace shows.
    intro = next(s for s in steps if s.title.startswith("fsync: pvn_vplist_dirty"))
    assert "MARK(0)" in " ".join(intro.body.split())
    allocs = [
        line
        for s in walk
        for line in s.body.splitlines()
        if "kmem_cache_alloc(marker_cache)" in line
    ]
    assert len(allocs) == 2 and all(line.rstrip().endswith("= MARK(0)") for line in allocs)
    last = steps[-1].body
    # VMODSORT: 0x4000 and 0x1000 are written, each block probes one clean
    # neighbour, then the walk stops at the clean page 0x0.  Plain: all 6 pages
    # plus the same 2 probes.
    assert "called pvn_getdirty 4 times" in last and "8 pvn_getdirty calls" in last


def test_lesson_three_frees_the_unused_pages_and_keeps_the_used_one():
    """pvn_write_done frees the 7 pages nobody touched and reclaims the one read during the write."""
    steps = _steps(lesson_pageout)
    done = steps["The write completes: pvn_write_done(plist, B_WRITE|B_ASYNC|B_FREE)"]
    assert "dfree=7* pgrec=1*" in done and "pgpgout=8*" in done and "fsfree=7*" in done
    assert "cache list 7" in done
    assert (
        "kluster off=0x0 len=0x8000 (8 pages)"
        in steps["putapage: pvn_write_kluster gathers the dirty neighbours"]
    )


def test_every_step_has_a_title_an_explanation_and_no_overlong_title():
    """Each step names itself in one line a terminal can show, and explains what it shows."""
    for _name, lesson in LESSONS.values():
        for step in lesson(None):
            assert step.title and "\n" not in step.title and len(step.title) < 80
            assert step.text.strip()
            assert step.body.startswith(step.text)
