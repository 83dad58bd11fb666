"""IPython's display protocol: model objects, klusters and traces render as HTML."""

from __future__ import annotations

import importlib
import sys
import types

import pytest
from IPython.core.formatters import DisplayFormatter

import pvnsim
import pvnsim.viz
from pvnsim import SegMap, make_page, pvn_read_kluster
from pvnsim.errors import UsageError
from pvnsim.flags import P_MOD
from pvnsim.viz import View, enable_notebook, show
from tests.viz.helpers import SVG, cards, parse, pname


def _shell():
    return types.SimpleNamespace(display_formatter=DisplayFormatter())


def test_model_objects_display_as_html_in_ipython(roomy, monkeypatch):
    """Imported inside IPython, pvnsim gives a Kernel, a Vnode and a Page their
    HTML views (the model itself does not import the views)."""
    vp = roomy.vnode("f")
    pp = make_page(vp, 0x2000, nrm=P_MOD)
    ip = _shell()
    fake = types.SimpleNamespace(get_ipython=lambda: ip)
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert "text/html" not in ip.display_formatter.format(pp)[0]
    pvnsim._register_notebook_display()
    for obj in (roomy, vp, pp):
        data, _meta = ip.display_formatter.format(obj)
        root = parse(data["text/html"])
        assert root.get("class") == "pvnsim"
        assert cards(root)[pname("f", 0x2000)]["data-state"] == "dirty"


def test_klusters_and_traces_display_as_html_after_enable_notebook(roomy):
    """enable_notebook (and %load_ext pvnsim.viz) registers HTML for Kluster and Trace."""
    vp = roomy.vnode("f")
    t = roomy.trace_on()
    kl = pvn_read_kluster(vp, 0, SegMap(roomy, "s"), 0, 0, 0x2000, 0)
    ip = _shell()
    assert "text/html" not in ip.display_formatter.format(kl)[0]
    enable_notebook(ip)
    html = ip.display_formatter.format(kl)[0]["text/html"]
    assert "kluster off=0x0 len=0x2000 (2 pages)" in "".join(parse(html).itertext())
    assert "page_create_va" in ip.display_formatter.format(t)[0]["text/html"]
    other = _shell()
    pvnsim.viz.load_ipython_extension(other)
    assert "text/html" in other.display_formatter.format(kl)[0]


def test_enable_notebook_outside_ipython_is_refused():
    """Without a running IPython shell enable_notebook raises UsageError."""
    with pytest.raises(UsageError, match="IPython"):
        enable_notebook()


def test_views_give_svg_and_text_too(roomy):
    """Every view has a text form; drawings have an SVG form that parses."""
    vp = roomy.vnode("f")
    pp = make_page(vp, 0)
    kl = pvn_read_kluster(vp, 0x1000, SegMap(roomy, "s"), 0x1000, 0x1000, 0x2000, 0)
    for obj in (roomy, vp, pp, kl):
        view = show(obj)
        assert isinstance(view, View)
        assert parse(view.svg()).tag == f"{SVG}svg"
        assert str(view) == repr(view) == view.text() and view.text()
    assert show(pp).text().split()[:7] == ["0x0", "-", "-", ".", ".", "clean", "none"]


def test_a_view_keeps_the_moment_it_was_made(roomy):
    """show() captures: a later change to the model does not change an existing view."""
    vp = roomy.vnode("f")
    view = show(vp)
    make_page(vp, 0)
    assert cards(parse(view.html())) == {}
    assert list(cards(parse(show(vp).html()))) == [pname("f", 0x0)]


def test_importing_the_views_inside_ipython_registers_the_formatters(roomy, monkeypatch):
    """Imported in a running IPython, pvnsim.viz makes Klusters display as HTML by itself."""
    vp = roomy.vnode("f")
    kl = pvn_read_kluster(vp, 0, SegMap(roomy, "s"), 0, 0, 0x1000, 0)
    shell = _shell()
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", fake)
    importlib.reload(pvnsim.viz)
    assert "kluster off=0x0" in "".join(
        parse(shell.display_formatter.format(kl)[0]["text/html"]).itertext()
    )
