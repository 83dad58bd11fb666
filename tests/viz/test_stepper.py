"""Stepping through a recording: frames as HTML and text, the static stepper, a slider."""

from __future__ import annotations

import itertools
import re

import pytest

from pvnsim import Kernel, make_page, pvn_vplist_dirty
from pvnsim.errors import UsageError
from pvnsim.flags import B_ASYNC, B_FREE, P_MOD, P_REF, VMODSORT
from pvnsim.fs import make_putapage
from pvnsim.viz import Recorder, Stepper, show
from pvnsim.viz import stepper as stepper_module
from tests.viz.helpers import all_text, markers, parse, pname


def _recording(flags=0):
    k = Kernel(total_pages=64)  # small: lotsfree + pages_before_pager > freemem, write_free frees
    vp = k.vnode("f", v_flag=VMODSORT)
    make_page(vp, 0, nrm=P_REF)
    make_page(vp, 0x1000, nrm=P_MOD | P_REF, at="tail")
    with Recorder(k) as rec:
        pvn_vplist_dirty(vp, 0, make_putapage(4096), flags, None)
    return rec.recording


def test_frame_html_shows_the_events_that_led_to_it_and_the_state():
    """Frame k lists its events with their vm_pvn.c lines and draws the kernel at that point."""
    r = _recording()
    st = Stepper(r, source=False)
    k = next(i for i, f in enumerate(r) if f.events and f.events[-1].name == "page_vpadd")
    root = parse(st.frame_html(k))
    text = all_text(root)
    assert f"step {k} of {len(r) - 1}" in text
    assert f"page_vpadd(&{pname('f', 0x1000)}.p_vpnext, MARK(-1))" in text and "807" in text
    assert markers(root) == ["MARK(-1)"]
    assert markers(parse(st.frame_html(0))) == []
    assert "the state when recording started" in all_text(parse(st.frame_html(0)))


def test_frame_text_matches_the_frame():
    """The text of a frame names the step, its events and the ring at that point."""
    r = _recording()
    st = Stepper(r, source=False)
    k = next(i for i, f in enumerate(r) if f.events and f.events[-1].name == "page_vpadd")
    text = st.frame_text(k)
    assert text.splitlines()[0].startswith(f"== step {k} of {len(r) - 1} [thread main]")
    assert "vm_pvn.c:807" in text and "---- MARK(-1) mark ----" in text
    assert st.frame_text(-1) == st.frame_text(len(r) - 1)


def test_changed_counters_are_highlighted_in_the_frame_that_changed_them():
    """The frame in which pvn_write_done adds to the vm counters marks those counters."""
    r = _recording(B_ASYNC | B_FREE)
    st = Stepper(r, source=False)
    changed = [i for i in range(len(r)) if r.changed_stats(i)]
    assert len(changed) == 1
    names = r.changed_stats(changed[0])
    # One unmapped dirty page written and freed: pgout, pgpgout, fspgout, fsfree, dfree.
    assert names == {"pgout", "pgpgout", "fspgout", "fsfree", "dfree"}
    root = parse(st.frame_html(changed[0]))
    marked = [td.text for td in root.iter("td") if td.get("class") == "pv-changed"]
    assert marked == ["1"] * 5
    assert "fsfree=1*" in st.frame_text(changed[0])


def _frames(root):
    """The frame sections of a static stepper, in order, with the radio button before each."""
    container = next(e for e in root.iter("div") if e.get("class") == "pv-frames")
    children = list(container)
    out = []
    for before, el in itertools.pairwise(children):
        if el.tag == "section":
            assert before.tag == "input" and before.get("type") == "radio"
            out.append((before, el))
    return out


def test_static_stepper_holds_every_frame_and_needs_no_script(monkeypatch):
    """The notebook display is static HTML with one section per frame, and no JavaScript."""
    r = _recording().compact()
    st = Stepper(r, source=False)
    for available in (True, False):  # the same with or without ipywidgets
        monkeypatch.setattr(stepper_module, "widgets_available", lambda a=available: a)
        html = st._repr_html_()
        assert "<script" not in html and "onclick" not in html
        root = parse(html)
        frames = _frames(root)
        assert [f.get("data-step") for _r, f in frames] == [str(i) for i in range(len(r))]
        for i, (_radio, section) in enumerate(frames):
            assert f"step {i} of {len(r) - 1}" in all_text(section)
    # Each frame draws its own ring: markers only in the frames of the walk.
    walking = [i for i, f in enumerate(r) if f.state.vnode("f").walking]
    drawn = [i for i, (_r, f) in enumerate(_frames(parse(st.static_html()))) if markers(f)]
    assert drawn == walking and walking and 0 not in walking


def test_static_stepper_buttons_select_the_neighbouring_frames():
    """Only the first frame's radio is checked; back/next/first/last label its neighbours' radios."""
    r = _recording().compact()
    root = parse(Stepper(r, source=False).static_html())
    frames = _frames(root)
    radios = [radio.get("id") for radio, _f in frames]
    assert len(set(radios)) == len(radios) == len(r)
    assert [radio.get("checked") for radio, _f in frames] == ["checked"] + [None] * (len(r) - 1)
    assert len({radio.get("name") for radio, _f in frames}) == 1
    last = len(r) - 1
    for i, (_radio, section) in enumerate(frames):
        words = ("first", "back", "next", "last")
        targets = {
            next(w for w in words if w in (lab.text or "")): lab.get("for")
            for lab in section.iter("label")
        }
        want = {}
        if i > 0:
            want |= {"first": radios[0], "back": radios[i - 1]}
        if i < last:
            want |= {"next": radios[i + 1], "last": radios[last]}
        assert targets == want, i
    # A check box above the frames shows them all (for reading top to bottom).
    assert [e.get("type") for e in root.iter("input") if e.get("class") == "pv-all"] == ["checkbox"]


def test_each_static_display_gets_its_own_ids():
    """Showing the same stepper twice on one page gives two independent groups of buttons."""
    st = Stepper(_recording().compact(), source=False)
    first, second = st.static_html(), st.static_html()
    ids = [set(re.findall(r' id="([^"]+)"', h)) for h in (first, second)]
    assert ids[0] and not ids[0] & ids[1]


def test_static_display_is_capped():
    """Beyond max_static frames the static display says how many it left out."""
    r = _recording()
    st = Stepper(r, source=False, max_static=3)
    root = parse(st.static_html())
    assert len(_frames(root)) == 3
    assert f"{len(r) - 3} more frames not shown" in all_text(root)
    with pytest.raises(UsageError, match="max_static"):
        Stepper(r, max_static=0)


def test_slider_steps_through_the_frames():
    """With ipywidgets the slider and the buttons move the frame shown."""
    r = _recording().compact()
    st = Stepper(r, source=False)
    box = st.widget()
    play, back, slider, forward = box.children[0].children
    view = box.children[1]
    assert (slider.min, slider.max, play.max) == (0, len(r) - 1, len(r) - 1)
    assert view.value == st.frame_html(0)
    slider.value = 3
    assert view.value == st.frame_html(3)
    forward.click()
    assert slider.value == 4 and view.value == st.frame_html(4)
    back.click()
    back.click()
    assert slider.value == 2
    slider.value = 0
    back.click()
    assert slider.value == 0


def test_widget_needs_ipywidgets(monkeypatch):
    """Without ipywidgets, asking for the slider says which extra to install."""
    monkeypatch.setattr(stepper_module, "widgets_available", lambda: False)
    with pytest.raises(UsageError, match=r"pvnsim\[notebook\]"):
        Stepper(_recording(), source=False).widget()


def test_show_of_a_recording_is_a_stepper():
    """show(recording) gives a Stepper, which displays as the static stepper."""
    st = show(_recording().compact(), source=False)
    assert isinstance(st, Stepper)
    assert 'class="pvnsim pv-stepper"' in st._repr_html_()


def test_bad_frames_and_recordings_are_refused():
    """Out-of-range frames and non-recordings raise UsageError."""
    r = _recording()
    st = Stepper(r)
    with pytest.raises(UsageError, match="no snapshot"):
        st.frame_html(len(r))
    with pytest.raises(UsageError, match="no snapshot"):
        st.frame_text(True)
    with pytest.raises(UsageError, match="Recording"):
        Stepper([])


def test_any_event_kind_is_shown_in_a_frame():
    """A scheduler's "switch" event appears in the frame it led to, with its thread."""
    k = Kernel(total_pages=16)
    vp = k.vnode("f")
    make_page(vp, 0)
    with Recorder(k) as rec:
        ev = k.trace.begin("switch", "switch", ("main", "t2"), thread="t2", find_line=False)
        k.trace.end(ev, None)
        k.trace.note("t2 runs", thread="t2")
    st = Stepper(rec.recording, source=False)
    root = parse(st.frame_html(1))
    rows = [tr for tr in root.iter("tr") if tr.get("data-kind")]
    assert [tr.get("data-kind") for tr in rows] == ["switch"]
    assert [td.text for td in rows[0].iter("td")][1:4] == ["t2", "switch", "switch(main, t2)"]
    assert "t2 runs" in st.frame_text(2) and "switch(main, t2)" in st.frame_text(1)


def test_a_threaded_runs_frames_name_the_thread_that_made_each_call():
    """Recording a replayed deadlock: each heading names the thread of its call.

    Schedule '2b' of the AB-BA scenario: A takes vphm, is preempted before
    its page_lookup, B locks the page and blocks on vphm, A's lookup then
    waits for B's page: a deadlock.  The snapshot after A's mutex_enter is
    taken when B's first call begins (B is running then), yet the step is
    A's; the recording, started in setup and stopped after the error,
    keeps every step up to the deadlock.
    """
    from pvnsim import DeadlockError
    from pvnsim.concurrency import replay
    from pvnsim.flags import SE_EXCL
    from pvnsim.vm import mutex_enter, mutex_exit, page_lookup, page_unlock

    recorders = []

    def setup(run):
        k = run.attach(Kernel(total_pages=16))
        recorders.append(Recorder(k).start())
        vp = k.vnode("f")
        make_page(vp, 0)

        def a():
            mutex_enter(vp.v_vphm)
            pp = page_lookup(vp, 0, SE_EXCL)
            page_unlock(pp)
            mutex_exit(vp.v_vphm)

        def b():
            pp = page_lookup(vp, 0, SE_EXCL)
            mutex_enter(vp.v_vphm)
            mutex_exit(vp.v_vphm)
            page_unlock(pp)

        run.spawn(a, name="A")
        run.spawn(b, name="B")

    with pytest.raises(DeadlockError):
        replay(setup, None, "2b")
    st = Stepper(recorders[0].stop(), source=False)
    headings = [st.heading(i) for i in range(len(st))]
    assert headings[1:4] == [
        "step 1 of 4 [thread A]: mutex_enter(vphm(f))",
        "step 2 of 4 [thread B]: page_lookup(f, 0x0, SE_EXCL) = f@0x0",
        "step 3 of 4 [thread B]: mutex_enter(vphm(f))",
    ]
    assert st.recording[1].thread == "B"  # running when the snapshot was taken
    assert st.frame_text(2).splitlines()[0] == "== " + headings[2]
    assert "X@B" in st.frame_text(2)  # B holds the page
