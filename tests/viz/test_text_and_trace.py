"""Terminal views, trace views with vm_pvn.c lines, and the C-source lookup."""

from __future__ import annotations

import pathlib

import pytest

from pvnsim import make_page, pvn_vplist_dirty
from pvnsim.errors import UsageError
from pvnsim.flags import P_MOD, P_REF, VMODSORT
from pvnsim.fs import make_putapage
from pvnsim.viz import c_line, load_c_source, show
from pvnsim.viz.csource import ENV_VAR, CSource
from tests.viz.helpers import all_text, parse


@pytest.fixture
def fake_c(tmp_path: pathlib.Path) -> pathlib.Path:
    """A stand-in vm_pvn.c whose line N reads ``\\tline N;``."""
    path = tmp_path / "vm_pvn.c"
    path.write_text("".join(f"\tline {n};\n" for n in range(1, 1301)))
    return path


def _walk(k):
    vp = k.vnode("f", v_flag=VMODSORT)
    make_page(vp, 0, nrm=P_REF)
    make_page(vp, 0x1000, nrm=P_MOD | P_REF, at="tail")
    t = k.trace_on()
    pvn_vplist_dirty(vp, 0, make_putapage(4096), 0, None)
    k.trace_off()
    return vp, t


def test_vnode_text_lists_each_page_and_the_markers(roomy):
    """The text view has one line per page with offset, lock, io and state, and marker rules."""
    vp = roomy.vnode("f")
    make_page(vp, 0x2000, nrm=P_MOD, lock="X", io="me", lckcnt=1)
    make_page(vp, 0x0, cached=True)
    text = str(show(vp))
    lines = text.splitlines()
    assert lines[0] == "vnode f v_flag=0 resident=2 on v_pages=2"
    row0 = lines[3].split()
    assert row0[:8] == ["0", "0x0", "-", "-", ".", ".", "cached", "none"]
    row1 = lines[4].split()
    assert row1[:8] == ["1", "0x2000", "X", "io", ".", "M", "dirty", "none"]
    assert "lck=1" in lines[4]
    assert lines[-1].endswith("(the ring closes)")
    seen = []
    write = make_putapage(4096)

    def putapage(vp, pp, offp, lenp, flags, cred):
        seen.append(str(show(vp)))
        return write(vp, pp, offp, lenp, flags, cred)

    make_page(vp, 0x3000, nrm=P_MOD)
    pvn_vplist_dirty(vp, 0x3000, putapage, 0, None)
    assert "---- MARK(-1) mark ----" in seen[0] and "---- MARK(-2) end ----" in seen[0]


def test_kernel_text_has_the_memory_bar_and_counters(pvn_kernel):
    """The kernel text view marks the thresholds under the freemem bar and lists the counters."""
    pvn_kernel.vm.fsfree = 5
    text = str(show(pvn_kernel))
    assert "freemem 1024 of 1024 pages" in text
    assert "m=minfree 32" in text and "d=desfree 64" in text and "l=lotsfree 128" in text
    assert "fsfree=5" in text
    bar = next(line for line in text.splitlines() if line.startswith("  ["))
    assert bar == "  [" + "#" * 60 + "]"  # all memory free: the 60 columns are full
    half = pvn_kernel.vnode("half")
    for i in range(512):
        make_page(half, i * 4096)
    bar = next(line for line in str(show(pvn_kernel)).splitlines() if line.startswith("  ["))
    assert bar == "  [" + "#" * 30 + "." * 30 + "]"


def test_trace_view_gives_each_event_its_vm_pvn_c_line(roomy):
    """The trace table shows each event with the vm_pvn.c line of its statement."""
    _vp, t = _walk(roomy)
    root = parse(show(t, source=False).html())
    rows = {}
    for tr in root.iter("tr"):
        cells = [td.text or "" for td in tr.iter("td")]
        if cells:
            rows.setdefault(cells[3].split("(")[0], []).append(cells[4])
    # From the C: the walk inserts its markers at lines 807 and 808 and calls
    # pvn_getdirty at 963 and putapage at 964.
    assert rows["page_vpadd"][:2] == ["807", "808"]
    assert rows["pvn_getdirty"][0] == "963"
    assert rows["putapage"][0] == "964"
    assert rows["pvn_vplist_dirty"] == [""]  # called by the test, not from vm_pvn.c


def test_trace_view_shows_c_text_from_a_given_copy(roomy, fake_c):
    """Given a copy of vm_pvn.c, each event's C text is that line of the file."""
    _vp, t = _walk(roomy)
    root = parse(show(t, source=str(fake_c)).html())
    checked = 0
    for tr in root.iter("tr"):
        cells = [td.text or "" for td in tr.iter("td")]
        if cells and cells[4]:
            assert cells[5] == f"line {cells[4]};"
            checked += 1
    assert checked == len([e for e in t if e.line is not None]) > 10
    text = show(t, source=str(fake_c)).text()
    assert "vm_pvn.c:807" in text and "| line 807;" in text


def test_trace_view_uses_the_environment_variable(roomy, fake_c, monkeypatch):
    """PVNSIM_VM_PVN_C points the views at a copy; source=False turns the C text off."""
    _vp, t = _walk(roomy)
    monkeypatch.setenv(ENV_VAR, str(fake_c))
    assert "line 807;" in all_text(parse(show(t).html()))
    assert "line 807;" not in all_text(parse(show(t, source=False).html()))
    monkeypatch.delenv(ENV_VAR)
    assert "line 807;" not in all_text(parse(show(t).html()))


def test_c_source_lookup(fake_c, monkeypatch):
    """load_c_source reads the file; lines are 1-based, tabs expanded, out of range is None."""
    src = load_c_source(fake_c)
    assert isinstance(src, CSource)
    assert src.line(1) == "line 1;" and src.line(1300) == "line 1300;"
    assert src.line(0) is None and src.line(1301) is None and src.line(None) is None
    assert c_line(42, src) == "line 42;"
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert load_c_source() is None and c_line(42) is None
    with pytest.raises(UsageError, match=r"no vm_pvn\.c at"):
        load_c_source(fake_c.parent / "missing.c")


def test_trace_view_windows_long_traces(roomy):
    """A trace longer than the limit shows a window and says how many events it left out."""
    _vp, t = _walk(roomy)
    n = len(t)
    text = show(t, source=False).text()
    assert len(text.splitlines()) == n
    from pvnsim.viz.text import trace_text

    short = trace_text(t, source=False, limit=10, current=0)
    assert short.splitlines()[0].startswith(">    0")
    assert short.splitlines()[-1] == f"  ({n - 10} later events not shown)"


def test_empty_trace_says_so(pvn_kernel):
    """A trace with no events renders a note, as HTML and as text."""
    assert "no events recorded" in show(pvn_kernel.trace).html()
    assert "no events recorded" in show(pvn_kernel.trace).text()
    with pytest.raises(UsageError, match="no SVG"):
        show(pvn_kernel.trace).svg()


def test_nested_calls_are_indented_by_their_depth():
    """An event made inside another traced call is indented by its depth, in text and in HTML."""
    from pvnsim.viz.state import EventView

    outer = EventView(0, "port", "pvn_getdirty", ("f@0x0", "0"), "1", 600, "main", True)
    inner = EventView(1, "prim", "hat_pagesync", ("f@0x0",), None, 630, "main", True, depth=1)
    deeper = EventView(2, "prim", "page_unlock", ("f@0x0",), None, None, "main", True, depth=2)
    lines = show([outer, inner, deeper], source=False).text().splitlines()
    calls = [line.split("prim ")[-1].split("port ")[-1] for line in lines]
    assert calls[0].lstrip().startswith("pvn_getdirty")
    indents = [len(c) - len(c.lstrip()) for c in calls]
    assert indents[1] == indents[0] + 2 and indents[2] == indents[0] + 4
    root = parse(show([outer, inner, deeper], source=False).html())
    cells = [tr.findall("td")[3] for tr in root.iter("tr") if tr.get("data-seq")]
    assert [c.get("style") for c in cells] == [None, "padding-left:23px", "padding-left:39px"]
