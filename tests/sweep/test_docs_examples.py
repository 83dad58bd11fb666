"""The worked examples of docs/sweeps.md: their SPECs, scenario and pictures are current."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from pvnsim.sweep import load_spec, run_sweep

from .helpers import EXAMPLES


def test_the_worked_sweep_names_45_tasks_on_two_axes():
    """docs/examples/sweep.toml: 5 memory sizes x 3 maxcontig x 3 seeds, as the page says."""
    spec = load_spec(EXAMPLES / "sweep.toml")
    assert len(spec.tasks) == 45
    assert spec.axes == ("memory", "maxcontig")
    assert (spec.plot.x, spec.plot.y) == ("memory", "virtual_ns")


def test_the_campaign_finds_the_lost_update():
    """docs/examples/campaign.toml on lost_update.py: the exhaustive search finds it on run 2."""
    spec = load_spec(EXAMPLES / "campaign.toml")
    assert len(spec.tasks) == 240
    exhaustive = [t.id for t in spec.tasks if t.values["strategy"] == "exhaustive"]
    rows = run_sweep(spec, only=exhaustive, workers=0).rows
    # One run of the default schedule cannot lose the update; the second preempts at the
    # yield point, and the second increment overwrites the first.
    for row in rows:
        if row["budget"] == 1:
            assert (row["status"], row["failures"]) == ("ok", 0)
        else:
            assert (row["status"], row["first_failure_run"]) == ("failed", 1)
            assert row["error"] == "AssertionError: lost update: counter is 1, not 2"


def test_the_pictures_of_the_page_are_checked_in():
    """The page shows a sweep plot and a campaign plot (SVG) and a run (PNG)."""
    page = (EXAMPLES.parent / "sweeps.md").read_text()
    for name in ("sweep.svg", "campaign.svg", "simulate.png"):
        assert f"(examples/{name})" in page
        assert (EXAMPLES / name).stat().st_size > 10_000
    for name in ("sweep.svg", "campaign.svg"):
        ET.parse(EXAMPLES / name)
