"""The documentation site's sources: every page reachable, no citation outside the project.

The site itself is built by .ci/run (``python -m sphinx -W``); these checks
run with the tests and need no Sphinx.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _toctree_entries(text: str) -> set[str]:
    entries = set()
    for block in re.findall(r"```\{toctree\}\n(.*?)```", text, re.DOTALL):
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith(":"):
                entries.add(line)
    return entries


def test_every_page_and_notebook_is_in_the_index() -> None:
    """Each docs/*.md page and each lesson notebook is listed in a toctree of index.md."""
    listed = _toctree_entries((DOCS / "index.md").read_text(encoding="utf-8"))
    pages = {p.stem for p in DOCS.glob("*.md") if p.stem != "index"}
    notebooks = {f"notebooks/{p.stem}" for p in (DOCS / "notebooks").glob("*.ipynb")}
    assert pages | notebooks <= listed, sorted((pages | notebooks) - listed)
    assert {"primitives", "guide-filesystem", "api"} <= listed


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_pages_cite_only_the_project(page: str) -> None:
    """No page sends the reader to files outside the repository (semantics.md, ../shared)."""
    text = (DOCS / page).read_text(encoding="utf-8")
    for outside in ("semantics.md", "../shared", "shared/illumos", "/work/"):
        assert outside not in text, f"{page} cites {outside}"


@pytest.fixture(scope="module")
def conf() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_conf", DOCS / "conf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_site_builds_the_api_of_every_public_module(conf: ModuleType) -> None:
    """conf.py generates the reference with autosummary; api.md lists exactly the
    public modules (the private ones are the implementation, not the API)."""
    assert {"sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.napoleon"} <= set(
        conf.extensions
    )
    assert "myst_nb" in conf.extensions and conf.html_theme == "furo"
    assert conf.nb_execution_mode == "force" and conf.nb_execution_raise_on_error
    api = (DOCS / "api.md").read_text(encoding="utf-8")
    from tests.test_architecture import PUBLIC_MODULES

    listed = re.findall(r"^   (pvnsim[\w.]*)$", api, re.MULTILINE)
    assert sorted(listed) == sorted(PUBLIC_MODULES)
    assert ":recursive:" not in api


def test_wrapped_field_names_are_joined_for_napoleon(conf: ModuleType) -> None:
    """``a, b,`` continued by ``    c: meaning`` becomes one field; other lines stay."""
    lines = [
        "A kernel.",
        "",
        "Args:",
        "    total_pages: memory in pages.",
        "    pvn_nofodklust, pvn_write_noklust,",
        "        write_free: the tunables.",
        "    seed: seed.",
        "",
        "Returns:",
        "    x, y,",
        "        z: not a field section, left alone.",
    ]
    conf._join_wrapped_names(lines)
    assert lines[4] == "    pvn_nofodklust, pvn_write_noklust, write_free: the tunables."
    assert lines[5] == "    seed: seed."
    assert lines[-2:] == ["    x, y,", "        z: not a field section, left alone."]


def test_exported_constants_get_reference_entries(conf: ModuleType) -> None:
    """Exported data without docstrings (NOOFFSET, B_ASYNC, KCRED, tables) gets a
    ``py:data`` entry: C flag values and addresses in hex, small counts in
    decimal, tables by type; functions and classes are left to autodoc."""
    import pvnsim
    import pvnsim.flags
    import pvnsim.testing
    import pvnsim.vm

    def entry(module: ModuleType, name: str) -> str:
        lines = conf._constants_section(module)
        at = lines.index(f".. py:data:: {name}")
        return lines[at + 1]

    # sys/buf.h: B_ASYNC 0x400; vm/page.h: NOOFFSET is (u_offset_t)-1.
    assert entry(pvnsim.flags, "B_ASYNC") == "   :value: 0x400"
    assert entry(pvnsim.vm, "NOOFFSET") == "   :value: 0xffffffffffffffff"
    assert entry(pvnsim.flags, "SE_EXCL") == "   :value: 1"
    assert entry(pvnsim.testing, "MAX_OFFSET") == f"   :value: {pvnsim.testing.MAX_OFFSET}"
    assert entry(pvnsim, "KCRED") == f"   :value: {pvnsim.KCRED!r}"
    assert entry(pvnsim.testing, "INVARIANTS") == "   :type: dict"
    lines = conf._constants_section(pvnsim.vm)
    assert lines[:2] == ["", ".. rubric:: Constants"]
    assert ".. py:data:: page_lookup" not in lines and ".. py:data:: Page" not in lines
