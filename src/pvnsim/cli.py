"""The ``pvnsim`` command line (also ``python -m pvnsim``).

``pvnsim demo`` (the default) runs a short narrated demonstration of the
paged-vnode layer; it prints each step and the vnode's page list before and
after it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn, cast

from pvnsim.flags import B_ASYNC, B_FREE, S_READ, VMODSORT
from pvnsim.fs.cli_simulate import add_simulate_parser, run_simulate
from pvnsim.fs.ufslike import make_putapage
from pvnsim.kernel import Kernel
from pvnsim.sweep.cli import add_sweep_parser, run_sweep_command
from pvnsim.viz.tour import add_tour_command, run_tour_command
from pvnsim.vm.build import populate
from pvnsim.vm.describe import kernel_text, vnode_text
from pvnsim.vm.hat import hat_map, hat_touch
from pvnsim.vm.page import Page
from pvnsim.vm.seg import SegVn
from pvnsim.vm.validate import check_kernel
from pvnsim.vm.vm_pvn import Kluster, pvn_plist_init, pvn_read_kluster, pvn_vplist_dirty

__all__ = ["main", "run_demo"]


def _say(out: list[str], text: str) -> None:
    out.append(text)


def _read(
    out: list[str], vp_off: int, off: int, seg: SegVn, vp_len: int, vnode_kernel: Kernel, vp: object
) -> Kluster | None:
    from pvnsim.vm.vnode import Vnode

    assert isinstance(vp, Vnode)
    kl = pvn_read_kluster(vp, off, seg, seg.base + off, vp_off, vp_len, 0)
    if kl is None:
        _say(out, "   pvn_read_kluster returned NULL (the page exists already)")
        return None
    _say(out, f"   pvn_read_kluster -> {kl}")
    # The "disk read" would fill the pages here; then hand them to the caller.
    pl: list[Page | None] = [None] * (len(kl.pages) + 1)
    pvn_plist_init(kl.plist, pl, vnode_kernel.ptob(len(kl.pages)), kl.off, kl.len, S_READ)
    for pp in pl:
        if pp is not None:
            from pvnsim.vm.page_lock import page_unlock

            page_unlock(pp)
    return kl


def run_demo() -> str:
    """Run the narrated demonstration and return its text."""
    out: list[str] = []
    k = Kernel(total_pages=1024)
    vp = k.vnode("file", v_flag=VMODSORT)
    seg = SegVn(k, "seg", base=0x100000, size=0x100000)
    _say(out, "pvnsim demonstration: the illumos paged-vnode layer (vm_pvn.c) in Python\n")
    _say(out, kernel_text(k))

    _say(out, "\n1. Read a file's first block: pvn_read_kluster builds a kluster of absent")
    _say(out, "   pages around the faulting offset within the 32 KiB block window.")
    _say(out, vnode_text(vp))
    _read(out, 0, 0x3000, seg, 0x8000, k, vp)
    _say(out, vnode_text(vp))

    _say(out, "\n2. Memory gets tight: another file takes most free pages, so freemem - minfree")
    _say(out, "   is small and the next read kluster shrinks to fit.")
    hog = k.vnode("hog")
    spare = k.freemem - k.minfree - 3  # type: ignore[operator]
    populate(hog, [i * k.pagesize for i in range(spare)])
    _say(out, f"   freemem={k.freemem} minfree={k.minfree} (pagesavail={k.freemem - k.minfree})")  # type: ignore[operator]
    _read(out, 0x8000, 0xB000, seg, 0x8000, k, vp)
    _say(out, vnode_text(vp))

    _say(out, "\n3. A process writes to three pages through its mapping.  The file is")
    _say(out, "   VMODSORT, so each first write faults, sets P_MOD and moves the page to")
    _say(out, "   the tail of v_pages: clean pages gather at the head, dirty ones at the tail.")
    for off in (0x1000, 0x2000, 0xB000):
        pp = k.page_hash[vp][off]
        hat_map(pp)
        hat_touch(pp, write=True)
    _say(out, vnode_text(vp))

    _say(out, "\n4. fsync: pvn_vplist_dirty(vp, 0, putapage, 0) walks from the tail with two")
    _say(out, "   marker pages, writes each dirty page with a ufs-like putapage")
    _say(out, "   (pvn_write_kluster + pvn_write_done), and stops at the first clean page.")
    written: list[Kluster] = []
    trace = k.trace_on()
    start = len(trace)
    err = pvn_vplist_dirty(vp, 0, make_putapage(8192, klusters=written), 0, None)
    k.trace_off()
    visited = [e for e in trace.since(start) if e.name == "pvn_getdirty"]
    _say(out, f"   returned {err}; pages examined by pvn_getdirty: {len(visited)};")
    _say(out, "   klusters written: " + ", ".join(f"[{w.off:#x}, +{w.len:#x})" for w in written))
    _say(out, "   Memory is below lotsfree + pages_before_pager, so pvn_write_done freed the")
    _say(out, "   written pages (write_free) to the cache list instead of keeping them.")
    _say(out, vnode_text(vp))

    _say(out, "\n5. Pageout-style flush of the hog file: pvn_vplist_dirty with B_ASYNC|B_FREE")
    _say(out, "   frees its clean pages to the cache list.")
    before = k.freemem
    pvn_vplist_dirty(hog, 0, make_putapage(8192), B_ASYNC | B_FREE, None)
    _say(out, f"   freemem {before} -> {k.freemem}")
    check_kernel(k)
    _say(out, "\nAll invariants hold (check_kernel).")
    _say(out, kernel_text(k))
    return "\n".join(out)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``prog: error: message``.

    The subcommands' parsers are of this class too (argparse makes them so).
    """

    def error(self, message: str) -> NoReturn:
        one_line = message.replace("\r", "\\r").replace("\n", "\\n")
        self.exit(2, f"{self.prog}: error: {one_line}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pvnsim`` command."""
    parser = _Parser(prog="pvnsim", description="Simulation of the illumos paged-vnode VM layer.")
    sub = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command"),
    )
    sub.add_parser(
        "demo",
        help="run a short narrated demonstration (default)",
        description="A short narrated demonstration of vm_pvn.c on a simulated "
        "kernel: a read kluster, memory getting tight, writes through a mapping, "
        "an fsync walk with markers, and a pageout-style flush, with the vnode's page "
        "list after each step.",
    )
    add_tour_command(sub)
    add_simulate_parser(sub)
    add_sweep_parser(sub)
    args = parser.parse_args(argv)
    if args.command in (None, "demo"):
        sys.stdout.write(run_demo() + "\n")
        return 0
    if args.command == "tour":
        return run_tour_command(args)
    if args.command == "simulate":
        return run_simulate(args)
    if args.command == "sweep":
        return run_sweep_command(args)
    parser.error(f"unknown command {args.command}")  # pragma: no cover
    return 2  # pragma: no cover
