"""Sphinx configuration of the pvnsim documentation site.

Build it (warnings are errors, as in CI; a link of the built site to a missing
page or anchor is a warning)::

    python -m pip install -e '.[docs]'
    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path
from urllib.parse import unquote

project = "pvnsim"
author = "pvnsim developers"
copyright = "pvnsim developers; CDDL-1.0"
release = importlib.metadata.version("pvnsim")
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build", "examples", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

# -- MyST and notebooks --------------------------------------------------------------
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]
# The lesson notebooks are stored without outputs; the site shows them executed.
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 600

# -- API reference -------------------------------------------------------------------
autosummary_generate = True
# autosummary imports each submodule to list it; importing pvnsim.__main__ would
# run the command line, so it is mocked (and so left out).
autodoc_mock_imports = ["pvnsim.__main__"]
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Types only for what the docstring documents (attrs classes list their fields as
# attributes, not as parameters of the generated __init__).
autodoc_typehints_description_target = "documented"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# Attributes as fields of their class (autodoc documents the attrs fields too).
napoleon_use_ivar = True
# "(errno, data): ..." under Returns is prose, not a type to cross-reference.
napoleon_use_rtype = False
napoleon_custom_sections = [
    # The ports name their departures from the C in a section of their own.
    ("Deviations", "notes_style"),
    # SimConfig groups its fields by subject.
    ("Memory and disk", "params_style"),
    ("File system", "params_style"),
    ("Time", "params_style"),
    ("Checking", "params_style"),
]

# -- HTML ------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"pvnsim {release}"


# -- docstring clean-up -------------------------------------------------------------------

_FIELD_SECTIONS = ("Args:", "Arguments:", "Attributes:", "Keyword Args:")


def _join_wrapped_names(lines: list[str]) -> None:
    """Join a field whose list of names wraps onto the next line.

    Google style allows ``a, b, c: meaning``; when the names do not fit on
    one line the docstrings continue them, more indented, on the next one
    (``a, b,`` / ``    c: meaning``), which napoleon reads as a name without
    a description.  Joining the two lines gives napoleon the field it expects.
    """
    in_fields = False
    i = 0
    while i < len(lines) - 1:
        line = lines[i]
        stripped = line.strip()
        if stripped in _FIELD_SECTIONS:
            in_fields = True
        elif stripped and not line.startswith(" "):
            in_fields = False
        nxt = lines[i + 1]
        indent = len(line) - len(line.lstrip())
        if (
            in_fields
            and stripped.endswith(",")
            and ":" not in stripped
            and len(nxt) - len(nxt.lstrip()) > indent
            and ":" in nxt
        ):
            lines[i] = f"{line} {nxt.strip()}"
            del lines[i + 1]
            continue
        i += 1


def _constants_section(module: object) -> list[str]:
    """A "Constants" section for the data a public module exports.

    autodoc leaves out exported data that has no docstring of its own (ints,
    strings, tables), so names such as ``NOOFFSET`` or ``KCRED`` had no entry
    in the reference.  Each gets a ``py:data`` entry with its value (hex for
    the C flag values of ``pvnsim.flags`` and for addresses and masks, as the
    C headers write them) or, for a table, its type.
    """
    flags = getattr(module, "__name__", "") == "pvnsim.flags"
    rows: list[str] = []
    for name in getattr(module, "__all__", ()):
        value = getattr(module, name)
        if callable(value) or isinstance(value, type) or type(value).__name__ == "module":
            continue
        rows += ["", f".. py:data:: {name}"]
        if isinstance(value, bool):
            rows.append(f"   :value: {value!r}")
        elif isinstance(value, int):
            hexa = value >= 4096 or (flags and value >= 10)
            rows.append(f"   :value: {int(value):#x}" if hexa else f"   :value: {int(value)}")
        elif isinstance(value, str):
            rows.append(f"   :value: {value!r}")
        else:
            rows.append(f"   :type: {type(value).__name__}")
    return ["", ".. rubric:: Constants", *rows] if rows else []


def _process_docstring(app, what, name, obj, options, lines):  # type: ignore[no-untyped-def]
    _join_wrapped_names(lines)
    if what == "module" and name.startswith("pvnsim"):
        lines.extend(_constants_section(obj))


# -- links of the built site ------------------------------------------------------------

_HREF = re.compile(r'href="([^"#?]*)(?:\?[^"#]*)?(?:#([^"]*))?"')


def _fix_viewcode_backlinks(app) -> None:  # type: ignore[no-untyped-def]
    """Point each source page's ``[docs]`` links at the anchor the API page has.

    viewcode names a module's objects after the first API page that documents
    any of them: pvnsim.vm.page's ``Page`` is first met on the ``pvnsim`` page,
    so the link for ``PAGE_EXCL``, documented on the ``pvnsim.vm`` page, became
    ``api/pvnsim.vm.html#pvnsim.PAGE_EXCL`` instead of ``#pvnsim.vm.PAGE_EXCL``.
    """
    out = Path(app.outdir)
    for modname, entry in getattr(app.env, "_viewcode_modules", {}).items():
        if not entry:
            continue
        _code, _tags, used, refname = entry
        page = out / "_modules" / (modname.replace(".", "/") + ".html")
        if not page.is_file():
            continue
        text = original = page.read_text(encoding="utf-8")
        for name, docname in used.items():
            documented = docname.rsplit("/", 1)[-1]
            if docname.startswith("api/") and documented != refname:
                text = text.replace(
                    f'{documented}.html#{refname}.{name}"',
                    f'{documented}.html#{documented}.{name}"',
                )
        if text != original:
            page.write_text(text, encoding="utf-8")


def _check_links(app, exception) -> None:  # type: ignore[no-untyped-def]
    """Warn (an error under -W) for each link of the site to a missing page or anchor."""
    if exception is not None or app.builder.format != "html":
        return
    # Imported here so the tests can load this file without Sphinx installed.
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    _fix_viewcode_backlinks(app)
    out = Path(app.outdir).resolve()
    ids: dict[Path, set[str]] = {}

    def anchors(page: Path) -> set[str]:
        if page not in ids:
            ids[page] = set(re.findall(r'\bid="([^"]*)"', page.read_text(encoding="utf-8")))
        return ids[page]

    for page in sorted(out.rglob("*.html")):
        for target, fragment in _HREF.findall(page.read_text(encoding="utf-8")):
            if target.startswith(("http:", "https:", "mailto:", "data:")):
                continue
            dest = (page.parent / target).resolve() if target else page
            where = page.relative_to(out)
            if not dest.exists():
                logger.warning("%s: link to a missing file %s", where, target)
            elif fragment and dest.suffix == ".html" and unquote(fragment) not in anchors(dest):
                logger.warning("%s: link to a missing anchor %s#%s", where, target, fragment)


def setup(app):  # type: ignore[no-untyped-def]
    # Before napoleon (priority 500) turns the sections into fields.
    app.connect("autodoc-process-docstring", _process_docstring, priority=400)
    app.connect("build-finished", _check_links)
