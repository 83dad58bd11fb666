"""The lesson notebooks: they run in a real Jupyter kernel, and their nbconvert HTML shows every step.

Each notebook is executed once (nbclient + ipykernel) with a probe cell added at
the end that prints how many frames its recording has; the probe is removed
again before nbconvert's HTMLExporter turns the notebook into the page a
student would read, which headless Chromium then draws.
"""

from __future__ import annotations

import html as html_lib
import os
import pathlib
import re
import sys

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from pvnsim.viz import palette as pal
from tests.viz.chromium import count_colour, screenshot_url

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
IDS = [p.stem for p in PATHS]

# Every lesson names its Recorder ``rec`` and steps through its compacted recording.
PROBE = 'import json\nprint("PVNSIM-PROBE", json.dumps(len(rec.recording.compact())))'


@pytest.fixture(scope="module")
def executed():
    """Each notebook executed once: {stem: (notebook without the probe, frames of its recording)}."""
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        # The python3 kernel runs `python` from PATH: make it this interpreter.
        mp.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
        mp.setenv("JUPYTER_PLATFORM_DIRS", "1")
        for path in PATHS:
            nb = nbformat.read(path, as_version=4)
            nb.cells.append(nbformat.v4.new_code_cell(PROBE))
            client = NotebookClient(
                nb,
                kernel_name="python3",
                timeout=300,
                resources={"metadata": {"path": str(path.parent)}},
            )
            client.execute()
            probe = nb.cells.pop()
            printed = "".join(o.get("text", "") for o in probe.outputs)
            match = re.search(r"PVNSIM-PROBE (\d+)", printed)
            assert match, f"{path.name}: the probe printed {probe.outputs!r}"
            out[path.stem] = (nb, int(match.group(1)))
    return out


@pytest.fixture(scope="module")
def exported(executed, tmp_path_factory):
    """The nbconvert HTML (lab template) of each executed notebook, as {stem: path}."""
    folder = tmp_path_factory.mktemp("nbconvert")
    out = {}
    for stem, (nb, _frames) in executed.items():
        body, _resources = HTMLExporter().from_notebook_node(nb)
        out[stem] = folder / f"{stem}.html"
        out[stem].write_text(body, encoding="utf-8")
    return out


def _sections(page: str) -> list[tuple[dict[str, str], str]]:
    """The stepper frames of an exported page: (attributes, inner HTML) in page order."""
    found = []
    for m in re.finditer(r"<section\b([^>]*)>", page):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(1)))
        if "pv-frame" in attrs.get("class", "").split():
            end = page.index("</section>", m.end())
            found.append((attrs, page[m.end() : end]))
    return found


def test_there_is_a_notebook_for_each_lesson():
    """docs/notebooks holds the three lessons of the tour."""
    assert [p.name for p in PATHS] == [
        "01_klustering.ipynb",
        "02_fsync_vmodsort.ipynb",
        "03_pageout.ipynb",
    ]


def test_notebooks_are_stored_without_outputs():
    """Notebooks are committed clean: no outputs, no execution counts."""
    for path in PATHS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.parametrize("stem", IDS)
def test_notebook_executes_without_error(stem, executed):
    """Every cell runs in a python3 Jupyter kernel; any error (or failed assert) fails the test."""
    nb, _frames = executed[stem]
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert [out for out in outputs if out.output_type == "error"] == []
    html = [
        out["data"]["text/html"]
        for out in outputs
        if out.output_type in ("display_data", "execute_result")
        and "text/html" in out.get("data", {})
    ]
    # The lessons display pvnsim views (rings, klusters, traces), not plain reprs,
    # and nothing that needs a widget manager to be seen.
    assert len(html) >= 4 and all(re.match(r'<div class="pvnsim[ "]', h) for h in html)
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)


@pytest.mark.parametrize("stem", IDS)
def test_exported_html_holds_every_frame_of_the_recording(stem, executed, exported):
    """nbconvert's HTML has one stepper with a section for every frame of the recording, in order."""
    _nb, frames = executed[stem]
    page = exported[stem].read_text(encoding="utf-8")
    assert page.count('class="pvnsim pv-stepper"') == 1
    sections = _sections(page)
    assert [a["data-step"] for a, _ in sections] == [str(i) for i in range(frames)]
    for i, (_attrs, inner) in enumerate(sections):
        assert f"step {i} of {frames - 1} [thread main]" in html_lib.unescape(inner)
        assert "<svg" in inner  # each frame draws its kernel, not just a caption


def _shot(page: pathlib.Path, frame_id: str, out: pathlib.Path):
    """A screenshot of the exported page showing only the stepper's cell, at frame ``frame_id``."""
    # Hide the cells around the stepper so it sits at the top of the window
    # (a headless screenshot does not follow the #fragment's scroll); the
    # fragment itself picks the frame, as a link to a step would.
    walk_only = out.with_suffix(".html")
    walk_only.write_text(
        page.read_text(encoding="utf-8").replace(
            "</head>", "<style>.jp-Cell:not(:has(.pv-stepper)){display:none}</style></head>", 1
        ),
        encoding="utf-8",
    )
    return screenshot_url(f"{walk_only.as_uri()}#{frame_id}", out, size="1000,1800")


@pytest.mark.parametrize("stem", IDS)
def test_exported_walk_shows_marker_pages_in_chromium(stem, exported, tmp_path):
    """In Chromium, frames drawn during a walk show the purple marker cards; others only the key."""
    sections = _sections(exported[stem].read_text(encoding="utf-8"))
    first = sections[0][0]["id"]
    both = [a["id"] for a, inner in sections if "MARK(-1)" in inner and "MARK(-2)" in inner]
    start = _shot(exported[stem], first, tmp_path / "first.png")
    white = sum(1 for row in start for px in row if px == (255, 255, 255))
    assert white < 0.95 * len(start) * len(start[0]), "the stepper's cell is blank"
    # Frame 0 is drawn before the run: the marker colour shows only in the
    # colour key's swatch (about 10 x 10 pixels).
    key_only = count_colour(start, pal.PURPLE)
    assert 0 < key_only < 300
    if stem != "02_fsync_vmodsort":
        assert both == []  # no walk in this lesson: no frame has markers
        last = _shot(exported[stem], sections[-1][0]["id"], tmp_path / "last.png")
        assert last != start  # the fragment really picked another frame
        assert count_colour(last, pal.PURPLE) == key_only
        return
    assert both, "no frame of the walk has both markers on the ring"
    walk = _shot(exported[stem], both[0], tmp_path / "walk.png")
    # Two marker cards, each with a solid 74 x 21 band of the marker colour.
    assert count_colour(walk, pal.PURPLE) >= key_only + 2 * 1000
