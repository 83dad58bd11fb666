"""Instructions per page of the fsync walk, of read klusters and of the file-system
kit's sequential workload, counted by callgrind.

Timings on a shared machine move by up to 2x from run to run; instruction
counts do not, so this is the measure to compare two versions of the core.

    python bench/instructions.py            # every scenario
    python bench/instructions.py fsync0     # one: fsync0, fsyncA, read_kluster, gib,
                                            # gib_blocks, explore_kit or explore_bare

Each scenario runs twice under ``valgrind --tool=callgrind``: once setting up
the state only, once also doing the work; the difference divided by the pages
is printed.  ``gib`` is the workload of ``gib_workload_s`` in bench/run.py
(sequential write, fsync and read through the fs kit, memory a quarter of the
file) scaled down to a 16 MiB file; its pages count once although each is
written and read.  ``gib_blocks`` is the same with one-block windows
(``maxcontig=1``).  ``explore_kit`` and ``explore_bare`` are the explorations
of ``explore_bare_over_kit`` (bench/fsync_race.py), per explored run.  Needs
valgrind; takes about 20 s per scenario (``gib`` about 40 s).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

PAGES = 2000
GIB_MIB = 16
EXPLORE_RUNS = 200


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
    elif name in ("gib", "gib_blocks"):
        from pvnsim.fs import Machine
        from pvnsim.fs.workload import sequential_read, sequential_write

        size = GIB_MIB << 20
        ops = sequential_write("f", size, 1 << 20) + sequential_read("f", size, 1 << 20)
        # gib_blocks: one-block windows (maxcontig=1), the kit's default
        # before it took ufs's clusters: the shape the restructuring's
        # figures were first measured on.
        extra = {"maxcontig": 1} if name == "gib_blocks" else {}
        sim = Machine(memory=size // 4, keep_log=False, **extra)
        sim.create("f")
        if work:
            sim.run(ops)
    elif name in ("explore_kit", "explore_bare"):
        import fsync_race

        from pvnsim.concurrency import explore

        setup = fsync_race.SCENARIOS[name.split("_")[1]]
        explore(setup, max_runs=2)  # imports and first-use costs, in both counts
        if work:
            assert explore(setup, max_runs=EXPLORE_RUNS).ok
    else:
        raise SystemExit(
            f"unknown scenario {name!r} "
            "(fsync0, fsyncA, read_kluster, gib, gib_blocks, explore_kit, explore_bare)"
        )


def callgrind(script: str, *args: str) -> int:
    """Instructions callgrind counts for ``python script args...``."""
    proc = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            script,
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no count:\n{proc.stderr}")
    return int(found.group(1))


def _instructions(name: str, work: bool) -> int:
    return callgrind(__file__, "--run", name, "1" if work else "0")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--run"]:
        _scenario(argv[1], argv[2] == "1")
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")
    default = ["fsync0", "fsyncA", "read_kluster", "gib", "gib_blocks", "explore_kit"]
    for name in argv or [*default, "explore_bare"]:
        if name.startswith("explore_"):
            count, unit = EXPLORE_RUNS, "run"
        else:
            count = (GIB_MIB << 20) // 4096 if name.startswith("gib") else PAGES
            unit = "page"
        per = (_instructions(name, True) - _instructions(name, False)) // count
        print(f"{name:<13} {per:>10,} instructions/{unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
