"""pvnsim benchmarks: ``python bench/run.py [--json] [--quick] [--only NAME]``.

Each figure is the median of several timed runs after a warm-up; setup is
outside the timed region.  The C baseline (the unmodified vm_pvn.c on the
oracle's C model, tests/oracle/c/bench.c) is built and timed once per run;
rate rows get it as "baseline" and "ratio" = C / Python, and the
*_python_over_c rows are Python time / C time for the same scenario.
Targets come from the benchmark issue; a figure that misses its target is
reported, not hidden.  Results go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from pvnsim import Kernel, SegMap, make_page, populate, pvn_read_kluster, pvn_vplist_dirty
from pvnsim.flags import B_ASYNC, B_ERROR, B_FREE, P_MOD, P_REF, SE_EXCL, VMODSORT
from pvnsim.fs import make_putapage
from pvnsim.vm import hat_setmod, page_lookup, page_unlock
from pvnsim.vm.vm_pvn import pvn_read_done

ROOMY = dict(
    lotsfree=0, desfree=0, minfree=0, throttlefree=0, pageout_reserve=0, pages_before_pager=0
)


# Python figures of this run that the *_python_over_c rows divide by
# ("read_kluster": pages/s; "fsync": {flags: pages/s}).
_PY: dict[str, Any] = {}


def _median(runs: int, once: Callable[[], float]) -> float:
    once()  # warm-up
    return statistics.median(once() for _ in range(runs))


def read_kluster_pages_per_s(quick: bool) -> float:
    """16-page read klusters (64 KiB window, offset in the middle), released between calls."""
    calls = 500 if quick else 3000
    k = Kernel(total_pages=4096, **ROOMY)  # type: ignore[arg-type]
    vp = k.vnode("f")
    seg = SegMap(k, "seg")

    def once() -> float:
        t0 = time.perf_counter()
        for _ in range(calls):
            kl = pvn_read_kluster(vp, 0x8000, seg, 0x8000, 0, 0x10000, 0)
            assert kl is not None
            pvn_read_done(kl.plist, B_ERROR)  # destroys them: the next call creates anew
        return 16 * calls / (time.perf_counter() - t0)

    _PY["read_kluster"] = _median(3 if quick else 7, once)
    return float(_PY["read_kluster"])


def _dirty_kernel(n: int) -> tuple[Kernel, Any]:
    k = Kernel(total_pages=n + 16, **ROOMY)  # type: ignore[arg-type]
    vp = k.vnode("f")
    for i in range(n):
        make_page(vp, i * 4096, nrm=P_MOD | P_REF)
    return k, vp


def fsync_pages_per_s(quick: bool) -> float:
    """pvn_vplist_dirty + ufs-like putapage over N all-dirty unmapped pages (slower of flags 0 and B_ASYNC|B_FREE)."""
    n = 20_000 if quick else 100_000
    rates = []
    for flags in (0, B_ASYNC | B_FREE):

        def once(flags: int = flags) -> float:
            _k, vp = _dirty_kernel(n)
            put = make_putapage(8192)
            gc.collect()
            t0 = time.perf_counter()
            pvn_vplist_dirty(vp, 0, put, flags, None)
            return n / (time.perf_counter() - t0)

        rates.append(_median(1 if quick else 5, once))
    _PY["fsync"] = dict(zip((0, B_ASYNC | B_FREE), rates, strict=True))
    return min(rates)


def _vmodsort_time(resident: int, dirty: int, vmodsort: bool, runs: int) -> float:
    """Median time of an fsync of ``dirty`` modified pages among ``resident``.

    Built once; between timed walks the same pages are reclaimed and
    modified again with hat_setmod (which moves a VMODSORT page to the tail,
    as a store would).
    """
    k = Kernel(total_pages=resident + 16, **ROOMY)  # type: ignore[arg-type]
    vp = k.vnode("f", v_flag=VMODSORT if vmodsort else 0)
    populate(vp, range(0, (resident - dirty) * 4096, 4096), nrm=P_REF)
    offsets = [i * 4096 for i in range(resident - dirty, resident)]
    for off in offsets:
        make_page(vp, off, nrm=P_MOD | P_REF, at="tail")
    put = make_putapage(4096)
    # The million pages are long-lived: keep the collector from rescanning
    # them during the timed walks (it would charge Python's bookkeeping, not
    # the walk, to the resident pages).
    gc.collect()
    gc.freeze()

    def once() -> float:
        # The last walk freed the written pages to the cache list: a process
        # stores to them again (lookup reclaims each, hat_setmod dirties it).
        for off in offsets:
            pp = page_lookup(vp, off, SE_EXCL)
            assert pp is not None
            if not pp.p_nrm & P_MOD:
                hat_setmod(pp)
            page_unlock(pp)
        t0 = time.perf_counter()
        pvn_vplist_dirty(vp, 0, put, 0, None)
        return time.perf_counter() - t0

    try:
        return _median(runs, once)
    finally:
        gc.unfreeze()


def vmodsort_fsync_ratio(quick: bool) -> float:
    """time(1,000 dirty among 1,000,000 resident) / time(1,000 dirty among 10,000), VMODSORT."""
    big = 100_000 if quick else 1_000_000
    runs = 3 if quick else 5
    small = _vmodsort_time(10_000, 1000, True, runs)
    large = _vmodsort_time(big, 1000, True, runs)
    return large / small


def vmodsort_off_fsync_ratio(quick: bool) -> float:
    """The same measurement on a vnode without VMODSORT, 1,000 dirty among
    100,000 resident over among 10,000: the walk visits every resident page,
    so this ratio grows with them (about 10 here), which shows that the
    benchmark can tell the difference."""
    small = _vmodsort_time(10_000, 1000, False, 3)
    large = _vmodsort_time(100_000, 1000, False, 1)
    return large / small


def bytes_per_page(quick: bool) -> float:
    """Memory per resident page, hash index included (tracemalloc)."""
    n = 20_000 if quick else 100_000
    k = Kernel(total_pages=n + 16)
    vp = k.vnode("f")
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(n):
        make_page(vp, i * 4096)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / n


def build_1m_pages_s(quick: bool) -> float:
    """Seconds to build a kernel with 1,000,000 resident pages."""
    n = 100_000 if quick else 1_000_000

    def once() -> float:
        gc.collect()
        t0 = time.perf_counter()
        k = Kernel(total_pages=n + 16)
        vp = k.vnode("f")
        populate(vp, range(0, n * 4096, 4096))
        dt = time.perf_counter() - t0
        del k, vp
        return dt * (1_000_000 / n)

    return _median(3, once)


# -- the C baseline: the unmodified vm_pvn.c on the oracle's C model ------------
#
# tests/oracle/c/build.sh OUTDIR bench compiles vm_pvn.c (from PVNSIM_VM_PVN_C,
# else the vendored tests/oracle/c/illumos/vm_pvn.c) with -O2 against the
# oracle's C model with tracing compiled out and a large page hash, linked with
# tests/oracle/c/bench.c, which times the same two scenarios as
# read_kluster_pages_per_s and fsync_pages_per_s (same sizes).  Built and run
# once per run of this script; the *_python_over_c rows and the baseline/ratio
# fields of the two rate rows divide by these figures.

REPO = pathlib.Path(__file__).resolve().parent.parent
_C: dict[str, Any] = {}


class Unavailable(Exception):
    """A figure that cannot be measured here (no C compiler, no vm_pvn.c...)."""


def _vm_pvn_c() -> pathlib.Path:
    env = os.environ.get("PVNSIM_VM_PVN_C")
    path = pathlib.Path(env) if env else REPO / "tests" / "oracle" / "c" / "illumos" / "vm_pvn.c"
    if not path.is_file():
        how = "PVNSIM_VM_PVN_C" if env else "the vendored copy"
        raise Unavailable(f"{how} {path} is not a file (illumos vm_pvn.c)")
    return path


def _c_figures(quick: bool) -> dict[str, Any]:
    """Build and run pvn_bench once; {"read_kluster": pages/s, "fsync": {flags: pages/s}}."""
    if "error" in _C:
        raise Unavailable(_C["error"])
    if _C:
        return _C
    try:
        source = _vm_pvn_c()
        cc = os.environ.get("CC", "gcc")
        if shutil.which(cc) is None:
            raise Unavailable(f"no C compiler {cc!r} on PATH")
        calls, pages, runs = (500, 20_000, 7) if quick else (3000, 100_000, 11)
        with tempfile.TemporaryDirectory(prefix="pvn_bench") as tmp:
            build = subprocess.run(
                ["sh", str(REPO / "tests" / "oracle" / "c" / "build.sh"), tmp, "bench"],
                capture_output=True,
                text=True,
                env={**os.environ, "PVNSIM_VM_PVN_C": str(source)},
                check=False,
            )
            if build.returncode != 0:
                raise Unavailable(f"building pvn_bench failed: {build.stderr.strip()}")
            proc = subprocess.run(
                [str(pathlib.Path(tmp) / "pvn_bench"), str(calls), str(pages), str(runs)],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if proc.returncode != 0:
                raise Unavailable(f"pvn_bench failed ({proc.returncode}): {proc.stderr.strip()}")
        fsync: dict[int, float] = {}
        for line in proc.stdout.splitlines():
            rec = json.loads(line)
            if rec["scenario"] == "read_kluster":
                _C["read_kluster"] = float(rec["pages_per_s"])
            else:
                flags = {"0": 0, "B_ASYNC|B_FREE": B_ASYNC | B_FREE}[rec["flags"]]
                fsync[flags] = float(rec["pages_per_s"])
        _C["fsync"] = fsync
        if "read_kluster" not in _C or len(fsync) != 2:
            raise Unavailable(f"pvn_bench printed an incomplete result: {proc.stdout!r}")
    except Unavailable as e:
        _C.clear()
        _C["error"] = str(e)
        raise
    return _C


def read_kluster_c_pages_per_s(quick: bool) -> float:
    """The C figure of read_kluster_pages_per_s (its baseline)."""
    return float(_c_figures(quick)["read_kluster"])


def fsync_c_pages_per_s(quick: bool) -> float:
    """The C figure of fsync_pages_per_s: the slower of flags 0 and B_ASYNC|B_FREE."""
    return float(min(_c_figures(quick)["fsync"].values()))


def read_kluster_python_over_c(quick: bool) -> float:
    """Python time / C time for the read_kluster_pages_per_s scenario."""
    c = read_kluster_c_pages_per_s(quick)  # first: no Python run if the C is missing
    if "read_kluster" not in _PY:
        read_kluster_pages_per_s(quick)
    return c / float(_PY["read_kluster"])


def fsync_python_over_c(quick: bool) -> float:
    """Python time / C time for the fsync_pages_per_s scenario (the larger over both flags)."""
    c = _c_figures(quick)["fsync"]
    if "fsync" not in _PY:
        fsync_pages_per_s(quick)
    return float(max(c[f] / _PY["fsync"][f] for f in c))


# The C figure of a rate row: filled into its "baseline" field, with
# "ratio" = C / Python (= Python time / C time for the same work).
BASELINES: dict[str, Callable[[bool], float]] = {
    "read_kluster_pages_per_s": read_kluster_c_pages_per_s,
    "fsync_pages_per_s": fsync_c_pages_per_s,
}
# The C figure shown as "baseline" of a *_python_over_c row (its value is the ratio).
RATIO_BASELINES: dict[str, Callable[[bool], float]] = {
    "read_kluster_python_over_c": read_kluster_c_pages_per_s,
    "fsync_python_over_c": fsync_c_pages_per_s,
}


def render_64_pages_ms(quick: bool) -> float:
    """Milliseconds for a 64-page vnode's notebook view (capture + SVG + HTML), median."""
    from pvnsim.viz import show

    k = Kernel(total_pages=256, **ROOMY)  # type: ignore[arg-type]
    vp = k.vnode("f", v_flag=VMODSORT)
    for i in range(64):
        # A mix of states: dirty, referenced, clean, cached, locked, i/o-locked, mapped.
        if i % 9 == 8:
            make_page(vp, i * 4096, cached=True)
        else:
            make_page(
                vp,
                i * 4096,
                nrm=(P_MOD if i % 3 == 0 else 0) | (P_REF if i % 2 else 0),
                maps=["rm"] if i % 4 == 0 else [],
                lock="X" if i % 7 == 0 else ("S" if i % 5 == 0 else None),
                io="me" if i % 7 == 0 else None,
            )
    runs = 10 if quick else 30

    def once() -> float:
        t0 = time.perf_counter()
        html = show(vp).html()
        dt = time.perf_counter() - t0
        assert html.count('class="pv-page"') == 64
        return dt * 1000

    return _median(runs, once)


def _read_back(sim: Any, size: int) -> None:
    """After a sequential workload on file ``f``: the data came back (three
    sampled pages against the pattern) and every validator holds."""
    from pvnsim.fs import pattern

    for off in (0, size // 2 + 4096, size - 4096):
        assert sim.read("f", off, 4096) == (0, pattern(1, off, 4096))
    sim.check()


def gib_workload_s(quick: bool, maxcontig: int | None = None) -> float:
    """Sequential write, fsync and read of a 1 GiB file (262,144 pages of 4 KiB) with
    256 MiB of simulated memory, seconds (``--quick``: 64 MiB with 16 MiB, scaled x16).
    The file system's defaults: 8 KiB blocks, klusters of up to 16 disk-contiguous
    blocks (``maxcontig=16``, 128 KiB, as ufs_putapage and ufs_getpage_miss kluster
    over bmap_read's contig)."""
    from pvnsim.fs import Machine
    from pvnsim.fs.workload import sequential_read, sequential_write

    size = (64 << 20) if quick else (1 << 30)
    memory = size // 4
    iosize = 1 << 20
    ops = sequential_write("f", size, iosize) + sequential_read("f", size, iosize)
    options = {} if maxcontig is None else {"maxcontig": maxcontig}

    def once() -> float:
        sim = Machine(memory=memory, keep_log=False, **options)  # type: ignore[arg-type]
        sim.create("f")
        gc.collect()
        t0 = time.perf_counter()
        sim.run(ops)
        dt = time.perf_counter() - t0
        _read_back(sim, size)  # outside the timed region
        return dt * ((1 << 30) / size)

    # --quick: a warm-up and one timed run.  Full: the median of three runs
    # (a few seconds each here); a single run moves by up to a quarter on this
    # shared machine.
    return _median(1, once) if quick else statistics.median(once() for _ in range(3))


def gib_workload_blocks_s(quick: bool) -> float:
    """The same workload with one-block klusters (``maxcontig=1``, the kit's
    default before ufs's clustering became it)."""
    return gib_workload_s(quick, maxcontig=1)


def _big_file_child(size: int) -> None:
    """(In a child process) the 16 GiB workload: print its seconds and peak RSS."""
    import resource

    from pvnsim.fs import Machine
    from pvnsim.fs.workload import sequential_read, sequential_write

    iosize = 1 << 20
    ops = sequential_write("f", size, iosize) + sequential_read("f", size, iosize)
    sim = Machine(memory=256 << 20, keep_log=False)
    sim.create("f")
    t0 = time.perf_counter()
    sim.run(ops)
    seconds = time.perf_counter() - t0
    _read_back(sim, size)
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"seconds": seconds, "rss_mib": rss_kib / 1024, "stored": sim.disk.stored}))


def big_file_peak_rss_mib(quick: bool) -> float:
    """Peak resident memory (MiB) of a sequential write, fsync and read of a
    16 GiB file with 256 MiB of simulated memory and the kit's defaults, in a
    process of its own (``--quick``: 1 GiB).  The file's data goes to the
    disk's store, a sparse temporary file in ``$TMPDIR`` (16 GiB of room)."""
    size = (1 << 30) if quick else (16 << 30)
    proc = subprocess.run(
        [sys.executable, __file__, "--big-file-child", str(size)],
        capture_output=True,
        text=True,
        check=True,
    )
    rec = json.loads(proc.stdout.splitlines()[-1])
    assert rec["stored"] == size
    _NOTES["big_file_peak_rss_mib"] = f"{size >> 30} GiB in {rec['seconds']:.0f} s"
    return float(rec["rss_mib"])


def explore_bare_over_kit(quick: bool) -> float:
    """Explored runs per second of fsync racing pageout on an 8-page file: the
    bare walk's rate over the kit's (bench/fsync_race.py: the kit's 2 threads
    plus the disk's interrupts, the bare walk's 2 threads, both under
    explore()'s defaults, set-up included).  Each rate is the median of three
    explorations of 500 runs (``--quick``: 200), the two interleaved."""
    import fsync_race

    runs = 200 if quick else 500
    kit, bare = [], []
    for _ in range(3):
        kit.append(fsync_race.runs_per_second("kit", runs))
        bare.append(fsync_race.runs_per_second("bare", runs))
    k, b = statistics.median(kit), statistics.median(bare)
    _NOTES["explore_bare_over_kit"] = f"kit {k:,.0f} runs/s, bare walk {b:,.0f} runs/s"
    return b / k


def interleavings_per_s(quick: bool) -> float:
    """Complete explored interleavings per second: pvn_vplist_dirty over 16 dirty
    pages against a thread destroying one of them (two threads), depth-first
    schedules with at most two preemptions, validation at every switch point
    (incremental: the objects each step wrote) and in full at the end of each
    run (setup of each run's kernel included).  The scenario is
    bench/explore_rate.py's."""
    from explore_rate import setup

    from pvnsim.concurrency import Exhaustive, explore

    runs = 100 if quick else 400

    def once() -> float:
        result = explore(setup, strategy=Exhaustive(preemption_bound=2), max_runs=runs)
        assert result.ok and result.runs == runs
        return result.runs / result.seconds

    return _median(3, once)


def stateful_steps_per_s(quick: bool) -> float:
    """Steps per second of pvnsim.testing.PvnStateMachine run by Hypothesis (generation
    only, 50 steps per example at most), every invariant checked after every step;
    Hypothesis's own work and each example's set-up are inside the timed region."""
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis.stateful import invariant, run_state_machine_as_test

    from pvnsim.testing import PvnStateMachine

    steps = [0]

    class Counted(PvnStateMachine):
        booted = False

        @invariant()
        def count_steps(self) -> None:
            # Invariants run once after the set-up, then after every step.
            if self.booted:
                steps[0] += 1
            self.booted = True

    config = settings(
        max_examples=40 if quick else 200,
        stateful_step_count=50,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )

    def once() -> float:
        steps[0] = 0
        t0 = time.perf_counter()
        run_state_machine_as_test(Counted, settings=config)
        return steps[0] / (time.perf_counter() - t0)

    return _median(3, once)


BENCHMARKS: dict[str, tuple[Callable[[bool], float], str, float, str]] = {
    "read_kluster_pages_per_s": (read_kluster_pages_per_s, "pages/s", 500_000, ">="),
    "fsync_pages_per_s": (fsync_pages_per_s, "pages/s", 300_000, ">="),
    "vmodsort_fsync_ratio": (vmodsort_fsync_ratio, "ratio", 1.5, "<="),
    "vmodsort_off_fsync_ratio": (vmodsort_off_fsync_ratio, "ratio", 5, ">="),
    "bytes_per_page": (bytes_per_page, "B", 320, "<="),
    "build_1m_pages_s": (build_1m_pages_s, "s", 3.0, "<="),
    "read_kluster_python_over_c": (read_kluster_python_over_c, "x", 100, "<="),
    "fsync_python_over_c": (fsync_python_over_c, "x", 100, "<="),
    "render_64_pages_ms": (render_64_pages_ms, "ms", 50, "<="),
    "gib_workload_s": (gib_workload_s, "s", 10.0, "<="),
    "gib_workload_blocks_s": (gib_workload_blocks_s, "s", 15.0, "<="),
    "big_file_peak_rss_mib": (big_file_peak_rss_mib, "MiB", 1024, "<="),
    "explore_bare_over_kit": (explore_bare_over_kit, "x", 2.0, "<="),
    "interleavings_per_s": (interleavings_per_s, "runs/s", 10_000, ">="),
    "stateful_steps_per_s": (stateful_steps_per_s, "steps/s", 1_000, ">="),
}


#: What a benchmark wants said next to its figure (filled while it runs).
_NOTES: dict[str, str] = {}


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--big-file-child"]:
        _big_file_child(int(argv[1]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under 60 s")
    parser.add_argument("--only", metavar="NAME", help="run one benchmark")
    args = parser.parse_args(argv)
    names = list(BENCHMARKS)
    if args.only:
        if args.only not in BENCHMARKS:
            parser.error(f"unknown benchmark {args.only!r}; known: {', '.join(names)}")
        names = [args.only]
    for name in names:
        record = _record(name, args.quick)
        if args.json:
            print(json.dumps(record))
        else:
            _, unit, target, sense = BENCHMARKS[name]
            value = record["value"]
            if value is None:
                print(f"n/a  {name:<28} {'-':>14} {unit:<8} target {sense} {target:,}", end="")
                print(f"  ({record['reason']})")
            else:
                mark = "ok  " if record["met"] else "MISS"
                line = f"{mark} {name:<28} {value:>14,.2f} {unit:<8} target {sense} {target:,}"
                if record["baseline"] is not None:
                    line += f"  [C {record['baseline']:,.0f} pages/s, x{record['ratio']:.1f}]"
                elif "reason" in record:
                    line += f"  [{record['reason']}]"
                if "note" in record:
                    line += f"  ({record['note']})"
                print(line)
        sys.stdout.flush()
    return 0


def _record(name: str, quick: bool) -> dict[str, Any]:
    """Run one benchmark: the JSON record (value None and a reason when unavailable)."""
    fn, unit, target, sense = BENCHMARKS[name]
    record: dict[str, Any] = {
        "name": name,
        "value": None,
        "unit": unit,
        "target": f"{sense} {target}",
        "baseline": None,
        "ratio": None,
        "met": None,
    }
    try:
        value = fn(quick)
    except Unavailable as e:
        record["reason"] = str(e)
        return record
    record["value"] = round(value, 3)
    record["met"] = value >= target if sense == ">=" else value <= target
    if name in _NOTES:
        record["note"] = _NOTES[name]
    try:
        if name in BASELINES:
            c = BASELINES[name](quick)
            record["baseline"] = round(c, 3)
            record["ratio"] = round(c / value, 3)  # C / Python
        elif name in RATIO_BASELINES:
            record["baseline"] = round(RATIO_BASELINES[name](quick), 3)
            record["ratio"] = record["value"]  # Python time / C time
    except Unavailable as e:
        record["reason"] = f"no C baseline: {e}"
    return record


if __name__ == "__main__":
    sys.exit(main())
