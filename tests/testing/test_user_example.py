"""The user example of docs/testing.md: a custom putapage tested with the public toolkit only.

The code between the ``example`` markers is the code block of docs/testing.md,
character for character (the last test checks it).
"""

from __future__ import annotations

import pathlib

# --- example start ---
from hypothesis import given

from pvnsim import pvn_vplist_dirty, pvn_write_done, pvn_write_kluster
from pvnsim.flags import B_ERROR, B_WRITE
from pvnsim.testing import (
    check_invariants,
    check_quiescent,
    check_write_kluster,
    flag_sets,
    is_dirty,
    vnode_state,
    vnodes,
)

BLOCK = 16384  # my file system's block size


def my_putapage(vp, pp, offp, lenp, flags, cred):
    """Write the dirty pages of pp's block in one I/O, as ufs_putapage does."""
    blkoff = pp.p_offset - pp.p_offset % BLOCK
    before = vnode_state(vp)
    kl = pvn_write_kluster(vp, pp, blkoff, BLOCK, flags)
    check_write_kluster(kl, before, pp=pp, vp_off=blkoff, vp_len=BLOCK)
    error = 0  # the disk write goes here
    pvn_write_done(kl.plist, (B_ERROR if error else 0) | B_WRITE | flags)
    return error


@given(vp=vnodes(held_by_other=False), flags=flag_sets("pvn_vplist_dirty"))
def test_my_putapage_keeps_the_pvn_invariants(vp, flags):
    """Flushing a vnode through my_putapage keeps every invariant; fsync leaves nothing dirty."""
    assert pvn_vplist_dirty(vp, 0, my_putapage, flags, None) == 0
    check_invariants(vp.kernel)
    check_quiescent(vp.kernel)
    if flags == 0:
        assert not [pp.name for pp in vp.kernel.page_hash[vp].values() if is_dirty(pp)]


# --- example end ---


def test_the_docs_show_this_example() -> None:
    """docs/testing.md shows exactly the example code this file runs."""
    source = pathlib.Path(__file__).read_text(encoding="utf-8")
    example = source.split("# --- example start ---\n")[1].split("# --- example end ---")[0]
    example = example.rstrip("\n")
    docs = pathlib.Path(__file__).parents[2] / "docs" / "testing.md"
    assert f"```python\n{example}\n```" in docs.read_text(encoding="utf-8")
