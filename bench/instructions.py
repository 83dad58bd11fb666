"""Instructions per page of the fsync walk and of read klusters, counted by callgrind.

Timings on a shared machine move by up to 2x from run to run; instruction
counts do not, so this is the measure to compare two versions of the core.

    python bench/instructions.py            # all three scenarios
    python bench/instructions.py fsync0     # one: fsync0, fsyncA or read_kluster

Each scenario runs twice under ``valgrind --tool=callgrind``: once setting up
the state only, once also doing the work; the difference divided by the pages
is printed.  Needs valgrind; takes about 20 s per scenario.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

PAGES = 2000


def _scenario(name: str, work: bool) -> None:
    from pvnsim import Kernel, SegMap, make_page, pvn_read_kluster, pvn_vplist_dirty
    from pvnsim.flags import B_ASYNC, B_ERROR, B_FREE, P_MOD, P_REF
    from pvnsim.fs import make_putapage
    from pvnsim.vm.vm_pvn import pvn_read_done

    roomy = {
        "lotsfree": 0,
        "desfree": 0,
        "minfree": 0,
        "throttlefree": 0,
        "pageout_reserve": 0,
        "pages_before_pager": 0,
    }
    if name in ("fsync0", "fsyncA"):
        k = Kernel(total_pages=PAGES + 16, **roomy)  # type: ignore[arg-type]
        vp = k.vnode("f")
        for i in range(PAGES):
            make_page(vp, i * 4096, nrm=P_MOD | P_REF)
        put = make_putapage(8192)
        if work:
            pvn_vplist_dirty(vp, 0, put, 0 if name == "fsync0" else B_ASYNC | B_FREE, None)
    elif name == "read_kluster":
        k = Kernel(total_pages=4096, **roomy)  # type: ignore[arg-type]
        vp = k.vnode("f")
        seg = SegMap(k, "seg")
        if work:
            for _ in range(PAGES // 16):
                kl = pvn_read_kluster(vp, 0x8000, seg, 0x8000, 0, 0x10000, 0)
                assert kl is not None
                pvn_read_done(kl.plist, B_ERROR)
    else:
        raise SystemExit(f"unknown scenario {name!r} (fsync0, fsyncA, read_kluster)")


def _instructions(name: str, work: bool) -> int:
    proc = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--run",
            name,
            "1" if work else "0",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no count:\n{proc.stderr}")
    return int(found.group(1))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--run"]:
        _scenario(argv[1], argv[2] == "1")
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")
    for name in argv or ["fsync0", "fsyncA", "read_kluster"]:
        per_page = (_instructions(name, True) - _instructions(name, False)) // PAGES
        print(f"{name:<13} {per_page:>8,} instructions/page")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
