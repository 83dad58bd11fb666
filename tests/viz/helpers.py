"""Helpers for the view tests: parse views as XML and find what they draw."""

from __future__ import annotations

import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    """Parse a view (well-formed XML is part of the contract) into an element tree."""
    return ET.fromstring(markup)


def cards(root: ET.Element) -> dict[str, dict[str, str]]:
    """Page cards by page name: their data-* attributes and their text."""
    out = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "pv-page":
            attrs = {k: v for k, v in g.attrib.items() if k.startswith("data-")}
            attrs["text"] = " ".join(t.text or "" for t in g.iter(f"{SVG}text"))
            out[g.get("data-name", "")] = attrs
    return out


def markers(root: ET.Element) -> list[str]:
    """Names of the marker cards drawn."""
    return [g.get("data-name", "") for g in root.iter(f"{SVG}g") if g.get("class") == "pv-marker"]


def all_text(root: ET.Element) -> str:
    """Every text node of the tree, joined by spaces."""
    return " ".join(t.strip() for t in root.itertext() if t.strip())


def _hex_page_names() -> bool:
    # Page names are moving from decimal offsets (f@4096) to hex (f@0x1000):
    # ask the model which it writes rather than hard-coding either.
    from pvnsim import Kernel, make_page

    return make_page(Kernel(total_pages=8).vnode("probe"), 0x1000).name == "probe@0x1000"


_HEX = _hex_page_names()


def pname(vnode: str, off: int) -> str:
    """The name the model gives the page of ``vnode`` at ``off`` (as the trace writes it)."""
    return f"{vnode}@{off:#x}" if _HEX else f"{vnode}@{off}"
