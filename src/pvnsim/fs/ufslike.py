"""The ufs-like putapage and range putpage: the one implementation every file
system of pvnsim uses, offered to users.

Theory of operation
-------------------
illumos ufs_putapage has three steps: :func:`~pvnsim.pvn_write_kluster`
gathers the dirty neighbours of the page inside a window (the block, or the
cluster of disk-contiguous blocks), one I/O writes the kluster, and
:func:`~pvnsim.pvn_write_done` finishes it with the caller's flags plus
B_WRITE (and B_ERROR when the write failed): at once for a synchronous
write, from the disk's completion (``biodone``) for an asynchronous one.
:class:`UfsPutapage` is those steps with two parts left to its owner:

* ``window(vp, pp) -> (vp_off, vp_len)``: where the kluster may reach
  (default: the block of ``blksz`` bytes, rounded up to a page, that holds
  the page);
* ``write(vp, kluster, flags) -> errno | None``: the I/O.  An errno means the
  write is over (0: it succeeded) and putapage calls pvn_write_done; ``None``
  means the I/O is in flight (an asynchronous write) and its completion will
  call pvn_write_done.  Without a ``write`` every write succeeds at once.

The C passes ``offp``/``lenp`` pointers through which putapage reports the
range it wrote; here :meth:`UfsPutapage.push` returns them, with the error,
as a :class:`Pushed`.  Called as the callback the pvn walks take
(``putapage(vp, pp, offp, lenp, flags, cred)``, with NULL pointers: the walks
do not want the range), it returns the error alone.

:func:`putpage_range` is ufs_putpage's loop over a range of offsets (the
``length != 0`` case of VOP_PUTPAGE): look each page up, let pvn_getdirty
decide, push the dirty ones, and skip the pages each kluster took.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from pvnsim.errors import UsageError
from pvnsim.flags import B_ASYNC, B_ERROR, B_FREE, B_INVAL, B_WRITE, SE_EXCL, SE_SHARED
from pvnsim.vm.page import Page
from pvnsim.vm.vm_page import page_lookup, page_lookup_nowait
from pvnsim.vm.vm_pvn import Kluster, pvn_getdirty, pvn_write_done, pvn_write_kluster
from pvnsim.vm.vnode import Vnode

__all__ = ["Pushed", "UfsPutapage", "make_putapage", "putpage_range"]

#: ``write(vp, kluster, flags)``: an errno when the write is over, None while
#: it is in flight (its completion then calls pvn_write_done).
WriteFn = Callable[[Vnode, Kluster, int], "int | None"]
#: ``window(vp, pp) -> (vp_off, vp_len)``: where the kluster of ``pp`` may reach.
WindowFn = Callable[[Vnode, Page], tuple[int, int]]


class Pushed(NamedTuple):
    """What one putapage call did: its error and the range its kluster covers
    (ufs_putapage's return value and its ``*offp``, ``*lenp``)."""

    error: int
    off: int
    len: int


_pushed = tuple.__new__


class UfsPutapage:
    """A ufs-like putapage: kluster in a window, write, pvn_write_done.

    Args:
        blksz: block size of the default window (rounded up to a page).
        write: performs the I/O (see the module docstring); None: every
            write succeeds at once.
        klusters: if given, every kluster written is appended to it.
        window: where a kluster may reach; None: the block holding the page.

    Raises:
        UsageError: ``blksz`` is not a positive int, or ``write``/``window``
            is not callable.
    """

    __slots__ = ("blksz", "klusters", "window", "write")

    def __init__(
        self,
        blksz: int = 8192,
        write: WriteFn | None = None,
        klusters: list[Kluster] | None = None,
        *,
        window: WindowFn | None = None,
    ) -> None:
        if isinstance(blksz, bool) or not isinstance(blksz, int) or blksz < 1:
            raise UsageError(f"putapage: blksz must be a positive int, not {blksz!r}")
        if write is not None and not callable(write):
            raise UsageError(f"putapage: write must be callable, not {write!r}")
        if window is not None and not callable(window):
            raise UsageError(f"putapage: window must be callable, not {window!r}")
        self.blksz = blksz
        self.write = write
        self.klusters = klusters
        #: ``window(vp, pp) -> (vp_off, vp_len)``; None: the block holding the page.
        self.window = window

    def push(self, vp: Vnode, pp: Page, flags: int, cred: Any = None) -> Pushed:
        """Write ``pp`` (locked and i/o-locked, as pvn_getdirty leaves it) with its
        dirty neighbours; returns the error and the kluster's range."""
        window = self.window
        if window is None:
            # The default window: the block (rounded up to a page) holding pp.
            k = vp.kernel
            vp_len = self.blksz if self.blksz > k.pagesize else k.pagesize
            vp_len = (vp_len + k.pageoffset) & k.pagemask
            vp_off = pp.p_offset - pp.p_offset % vp_len
        else:
            vp_off, vp_len = window(vp, pp)
        kl = pvn_write_kluster(vp, pp, vp_off, vp_len, flags)
        klusters = self.klusters
        if klusters is not None:
            klusters.append(kl)
        write = self.write
        err: int | None = 0 if write is None else write(vp, kl, flags)
        if err is None:  # in flight: its completion finishes it
            return _pushed(Pushed, (0, kl.off, kl.len))
        pvn_write_done(kl.plist, (B_ERROR if err else 0) | B_WRITE | flags)
        # (Pushed(err, ...) without the Python-level __new__ of a named
        # tuple: this runs once per kluster written.)
        return _pushed(Pushed, (err, kl.off, kl.len))

    def __call__(self, vp: Vnode, pp: Page, offp: Any, lenp: Any, flags: int, cred: Any) -> int:
        """The callback the pvn walks take; returns the error.

        Raises:
            UsageError: ``offp`` or ``lenp`` given: the range written is
                :meth:`push`'s return value, not an out-parameter.
        """
        if offp is not None or lenp is not None:
            raise UsageError(
                "putapage: offp and lenp are NULL for the pvn walks; "
                "call push() for the range written"
            )
        return self.push(vp, pp, flags, cred)[0]

    def __repr__(self) -> str:
        return f"UfsPutapage(blksz={self.blksz}, write={self.write!r}, window={self.window!r})"


def make_putapage(
    blksz: int = 8192,
    write: WriteFn | None = None,
    klusters: list[Kluster] | None = None,
    *,
    window: WindowFn | None = None,
) -> UfsPutapage:
    """Build a ufs-like putapage (see :class:`UfsPutapage`).

    >>> from pvnsim import Kernel, populate, pvn_vplist_dirty
    >>> from pvnsim.flags import P_MOD
    >>> k = Kernel(total_pages=64, lotsfree=0, pages_before_pager=0)
    >>> vp = k.vnode("f")
    >>> _ = populate(vp, [0, 4096, 8192], nrm=P_MOD)
    >>> written = []
    >>> pvn_vplist_dirty(vp, 0, make_putapage(8192, klusters=written), 0, None)
    0
    >>> sorted((kl.off, kl.len) for kl in written)
    [(0, 8192), (8192, 4096)]
    """
    return UfsPutapage(blksz, write, klusters, window=window)


def putpage_range(
    vp: Vnode,
    off: int,
    eoff: int,
    flags: int,
    cred: Any,
    putapage: Callable[..., int],
) -> int:
    """ufs_putpage's loop over ``[off, eoff)``: push each dirty page.

    Each page is looked up (page_lookup when synchronous or invalidating;
    page_lookup_nowait for asynchronous requests, so busy pages are skipped
    and cached ones stay cached) and handed to pvn_getdirty; a dirty one goes
    to ``putapage``.  With a :class:`UfsPutapage` (anything with a ``push``)
    the loop skips the pages its kluster took; with a plain callback it moves
    on a page.

    Returns:
        0 or the first error.
    """
    ps = vp.kernel.pagesize
    push = getattr(putapage, "push", None)
    if flags & B_INVAL or not flags & B_ASYNC:
        lookup = page_lookup
        se = SE_EXCL if flags & (B_INVAL | B_FREE) else SE_SHARED
    else:
        lookup = page_lookup_nowait
        se = SE_EXCL if flags & B_FREE else SE_SHARED
    err = 0
    io_off = off
    while io_off < eoff:
        pp = lookup(vp, io_off, se)
        if pp is None or pvn_getdirty(pp, flags) == 0:
            io_off += ps
            continue
        if push is not None:
            error, koff, klen = push(vp, pp, flags, cred)
            # Skip what the kluster took (rounded up to a page).
            done_to = (koff + klen + ps - 1) // ps * ps
        else:
            error = int(putapage(vp, pp, None, None, flags, cred))
            done_to = io_off
        if error and not err:
            err = error
        io_off = done_to if done_to > io_off + ps else io_off + ps
    return err
