"""Headless Chromium for the view tests: screenshots of a page, and colours in them.

Chromium is Debian's ``chromium`` package (.ci/run installs it).  Without it a
test skips, unless ``PVNSIM_REQUIRE_BROWSER=1`` (CI), where it fails.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from tests.viz.png import read_png

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]

Pixels = list[list[tuple[int, int, int]]]


def chromium() -> str:
    """The Chromium executable, or skip (fail under PVNSIM_REQUIRE_BROWSER=1)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("PVNSIM_REQUIRE_BROWSER") == "1":
            pytest.fail("PVNSIM_REQUIRE_BROWSER=1 but chromium is not installed")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return exe


def screenshot_url(url: str, out: pathlib.Path, size: str = "640,640") -> Pixels:
    """Load ``url`` in a fresh headless Chromium and return the window's pixels.

    The window must be tall enough for what the test looks at: the headless
    screenshot shows the top of the page even when a ``#fragment`` scrolls.
    """
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                chromium(),
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={out}",
                f"--window-size={size}",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    assert out.is_file(), (
        f"chromium made no screenshot (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
    )
    _w, _h, rows = read_png(out.read_bytes())
    return rows


def screenshot_html(html: str, out: pathlib.Path, size: str = "640,640") -> Pixels:
    """Screenshot a fragment of HTML on a white page (saved beside ``out``)."""
    page = out.with_suffix(".html")
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"/></head>'
        f'<body style="margin:0;background:#FFFFFF">{html}</body></html>',
        encoding="utf-8",
    )
    return screenshot_url(page.as_uri(), out, size)


def rgb(colour: str) -> tuple[int, int, int]:
    """``#RRGGBB`` as a tuple."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def matches(pixel: tuple[int, int, int], colour: str) -> bool:
    """The pixel is ``colour``, give or take rounding."""
    return all(abs(a - b) <= 3 for a, b in zip(pixel, rgb(colour), strict=True))


def count_colour(rows: Pixels, colour: str) -> int:
    """How many pixels are ``colour``."""
    want = rgb(colour)
    return sum(
        1
        for row in rows
        for px in row
        if abs(px[0] - want[0]) <= 3 and abs(px[1] - want[1]) <= 3 and abs(px[2] - want[2]) <= 3
    )
