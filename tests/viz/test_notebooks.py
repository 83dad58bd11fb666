"""The lesson notebooks run without error in a real Jupyter kernel (nbclient + ipykernel)."""

from __future__ import annotations

import os
import pathlib
import sys

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


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


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_executes_without_error(path, monkeypatch):
    """Every cell runs in a python3 Jupyter kernel; any error (or failed assert) fails the test."""
    # The python3 kernel runs `python` from PATH: make it this interpreter.
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert errors == []
    html = [
        out["data"]["text/html"]
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type in ("display_data", "execute_result")
        and "text/html" in out.get("data", {})
    ]
    # The lessons display pvnsim views (rings, klusters, traces), not plain reprs.
    assert len(html) >= 4 and all('class="pvnsim"' in h for h in html)
