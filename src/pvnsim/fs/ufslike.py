"""A ufs-like putapage, the way illumos ufs_putapage drives the pvn layer.

``make_putapage`` builds the callback that :func:`~pvnsim.pvn_vplist_dirty`
hands each dirty page: kluster the dirty neighbours inside the block around
the page with :func:`~pvnsim.pvn_write_kluster`, "write" them (through an
optional ``write`` function standing for the disk), and finish synchronously
with :func:`~pvnsim.pvn_write_done` using the same flags plus B_WRITE, and
B_ERROR when the write failed (ufs_putapage's shape).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pvnsim.flags import B_ERROR, B_WRITE
from pvnsim.vm.page import Page
from pvnsim.vm.vm_pvn import Kluster, pvn_write_done, pvn_write_kluster
from pvnsim.vm.vnode import Vnode

__all__ = ["make_putapage"]

WriteFn = Callable[[Vnode, Kluster, int], int]


def make_putapage(
    blksz: int = 8192,
    write: WriteFn | None = None,
    klusters: list[Kluster] | None = None,
) -> Callable[[Vnode, Page, Any, Any, int, Any], int]:
    """Build a ufs-like ``putapage(vp, pp, offp, lenp, flags, cred) -> int``.

    Args:
        blksz: the file-system block size; the kluster window is the block
            (rounded up to a page) that holds the page.
        write: ``write(vp, kluster, flags) -> errno`` performs the I/O;
            ``None`` means every write succeeds at once.
        klusters: if given, every kluster written is appended to it.

    When ``offp``/``lenp`` are one-element lists (a range putpage passes
    them), the written range is stored into them, as the C does through the
    pointers.
    """

    def putapage(vp: Vnode, pp: Page, offp: Any, lenp: Any, flags: int, cred: Any) -> int:
        k = vp.kernel
        window = max(blksz, k.pagesize)
        window = (window + k.pageoffset) & k.pagemask
        blkoff = pp.p_offset - pp.p_offset % window
        kl = pvn_write_kluster(vp, pp, blkoff, window, flags)
        if klusters is not None:
            klusters.append(kl)
        err = write(vp, kl, flags) if write is not None else 0
        pvn_write_done(kl.plist, (B_ERROR if err else 0) | B_WRITE | flags)
        if offp is not None:
            offp[0] = kl.off
        if lenp is not None:
            lenp[0] = kl.len
        return err

    return putapage
