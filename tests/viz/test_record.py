"""Recording a run as snapshots, one before each trace event."""

from __future__ import annotations

import pytest

from pvnsim import Kernel, make_page, pvn_vplist_dirty
from pvnsim.errors import DeadlockError, UsageError
from pvnsim.flags import P_MOD, P_REF, SE_SHARED, VMODSORT
from pvnsim.fs import make_putapage
from pvnsim.viz import Recorder, record
from pvnsim.vm.vm_page import page_lookup
from tests.viz.helpers import pname

ROOMY = dict(
    lotsfree=0, desfree=0, minfree=0, throttlefree=0, pageout_reserve=0, pages_before_pager=0
)


def _kernel():
    k = Kernel(total_pages=64, **ROOMY)
    vp = k.vnode("f", v_flag=VMODSORT)
    make_page(vp, 0, nrm=P_REF)
    make_page(vp, 0x1000, nrm=P_MOD | P_REF, at="tail")
    return k, vp


def _fsync(vp):
    return pvn_vplist_dirty(vp, 0, make_putapage(4096), 0, None)


def _ring(frame, name="f"):
    return [p.name for p in frame.state.vnode(name).pages]


def test_one_snapshot_before_each_event_plus_start_and_end():
    """A recording has a snapshot at the start and one after each event (the last at the end)."""
    k, vp = _kernel()
    with Recorder(k) as rec:
        _fsync(vp)
    r = rec.recording
    assert len(r) == len(r.events) + 1
    assert [f.label for f in (r[0], r[-1])] == ["start", "end"]
    assert [f.index for f in r] == list(range(len(r)))
    assert [[e.seq for e in f.events] for f in r[1:]] == [[e.seq] for e in r.events]
    # Snapshot 1 was taken as the first primitive began: the port had begun but not returned.
    first = r[1].events
    assert [e.name for e in first] == ["pvn_vplist_dirty"] and not first[0].done
    assert r.events[0].done and r.events[0].result == "0"


def test_snapshots_show_the_markers_as_the_walk_moves_them():
    """The snapshot after each page_vpadd of a marker shows it where the C put it."""
    k, vp = _kernel()
    with Recorder(k) as rec:
        _fsync(vp)
    r = rec.recording
    assert _ring(r[0]) == [pname("f", 0x0), pname("f", 0x1000)]
    seq = next(e.seq for e in r.events if e.name == "page_vpadd" and "MARK(-1)" in e.args)
    # Snapshot k follows event k-1: event seq shows in snapshot seq+1.
    assert _ring(r[seq]) == [pname("f", 0x0), pname("f", 0x1000)]
    assert _ring(r[seq + 1]) == [pname("f", 0x0), pname("f", 0x1000), "MARK(-1)"]
    assert _ring(r[seq + 2]) == [pname("f", 0x0), pname("f", 0x1000), "MARK(-1)", "MARK(-2)"]
    assert any(f.state.vnode("f").walking for f in r)
    assert not r[-1].state.vnode("f").walking
    # pvn_write_done moved the written, now clean page to the head (VMODSORT).
    assert _ring(r[-1]) == [pname("f", 0x1000), pname("f", 0x0)]


def test_snapshots_show_page_locks_taken_during_the_run():
    """The page lock pvn_vplist_dirty takes appears in the snapshot after page_lock."""
    k, vp = _kernel()
    with Recorder(k) as rec:
        _fsync(vp)
    r = rec.recording
    seq = next(e.seq for e in r.events if e.name == "page_lock")
    page = next(p for p in r[seq + 1].state.vnode("f").pages if p.name == pname("f", 0x1000))
    assert page.lock == "S1"
    assert (
        next(p for p in r[seq].state.vnode("f").pages if p.name == pname("f", 0x1000)).lock == "-"
    )


def test_the_trace_and_tracing_flag_are_given_back():
    """After recording the trace holds every event in a plain list and tracing is as before."""
    k, vp = _kernel()
    with Recorder(k) as rec:
        _fsync(vp)
    assert not k.tracing
    assert type(k.trace._events) is list
    assert [e.seq for e in k.trace] == list(range(len(k.trace)))
    # The recording lists what the ports' statements call: every trace event
    # not made inside a primitive.
    assert [e.seq for e in rec.recording.events] == [e.seq for e in k.trace.filter(nested=False)]
    k.trace_on()
    with Recorder(k):
        page_lookup(vp, 0, SE_SHARED)
    assert k.tracing


def test_a_run_that_raises_is_recorded_up_to_the_error():
    """A walk that deadlocks still leaves a recording whose last snapshot shows the markers."""
    k, vp = _kernel()
    make_page(vp, 0x2000, nrm=P_MOD, lock="X@other", at="tail")
    with pytest.raises(DeadlockError), Recorder(k) as rec:
        _fsync(vp)
    last = rec.recording[-1]
    assert last.label == "end"
    assert _ring(last)[-2:] == ["MARK(-1)", "MARK(-2)"]
    assert rec.recording.events[-1].result == "WOULDBLOCK"


def test_kinds_choose_where_snapshots_are_taken():
    """With kinds, snapshots are taken only before those events; the rest ride along."""
    k, vp = _kernel()
    with Recorder(k, kinds={"port", "callback"}) as rec:
        _fsync(vp)
    r = rec.recording
    chosen = [e for e in r.events if e.kind in ("port", "callback")]
    # A snapshot before each chosen event but the first (nothing preceded it), start and end.
    assert r.events[0].kind == "port"
    assert len(r) == len(chosen) + 1
    assert [e.seq for f in r for e in f.events] == [e.seq for e in r.events]


def test_compact_merges_snapshots_that_change_nothing():
    """compact keeps the first and last snapshot, drops no event, and leaves no two equal neighbours."""
    k, vp = _kernel()
    with Recorder(k) as rec:
        _fsync(vp)
    full = rec.recording
    c = full.compact()
    assert len(c) < len(full)
    assert c[0] == full[0] and c[-1].state == full[-1].state
    assert [e.seq for f in c for e in f.events] == [e.seq for e in full.events]
    assert all(c[i].state != c[i + 1].state for i in range(len(c) - 2))
    assert [f.index for f in c] == list(range(len(c)))


def test_max_frames_truncates_and_keeps_the_last_snapshot():
    """Past max_frames no snapshot is taken; the final one carries the remaining events."""
    k, vp = _kernel()
    with Recorder(k, max_frames=5) as rec:
        _fsync(vp)
    r = rec.recording
    assert len(r) == 5 and r.truncated
    assert [e.seq for f in r for e in f.events] == [e.seq for e in r.events]


def test_the_same_run_records_the_same_snapshots():
    """Recording is deterministic: two identical runs give equal recordings."""
    recordings = []
    for _ in range(2):
        k, vp = _kernel()
        _result, rec = record(k, _fsync, vp)
        recordings.append(rec)
    assert recordings[0] == recordings[1]


def test_switch_events_from_a_scheduler_are_snapshot_points():
    """An event of any kind, e.g. a scheduler's "switch", gets its own snapshot and is listed."""
    k, vp = _kernel()
    with Recorder(k) as rec:
        page_lookup(vp, 0, SE_SHARED)
        ev = k.trace.begin("switch", "switch", ("main", "t2"), thread="t2", find_line=False)
        k.trace.end(ev, None)
        page_lookup(vp, 0x1000, SE_SHARED)
    r = rec.recording
    assert [e.kind for e in r.events] == ["prim", "switch", "prim"]
    assert len(r) == 4
    assert [e.kind for e in r[2].events] == ["switch"]
    assert r[2].events[0].thread == "t2"


def test_vnodes_limit_what_is_captured():
    """Recorder(vnodes=[...]) captures only those vnodes."""
    k, vp = _kernel()
    other = k.vnode("other")
    make_page(other, 0)
    with Recorder(k, vnodes=["f"]) as rec:
        _fsync(vp)
    assert {v.name for f in rec.recording for v in f.state.vnodes} == {"f"}


def test_recorder_misuse_is_refused():
    """Bad arguments, a second recorder, reuse and early access raise UsageError."""
    k, vp = _kernel()
    with pytest.raises(UsageError, match="Kernel"):
        Recorder(vp)
    with pytest.raises(UsageError, match="max_frames"):
        Recorder(k, max_frames=1)
    with pytest.raises(UsageError, match="page_limit"):
        Recorder(k, page_limit=0)
    with pytest.raises(UsageError, match="no vnode named"):
        Recorder(k, vnodes=["nope"])
    rec = Recorder(k)
    with pytest.raises(UsageError, match="after stop"):
        _ = rec.recording
    with pytest.raises(UsageError, match="before start"):
        rec.stop()
    with rec, pytest.raises(UsageError, match="already being recorded"):
        Recorder(k).start()
    with pytest.raises(UsageError, match="records once"):
        rec.start()
    assert rec.stop() is rec.recording
