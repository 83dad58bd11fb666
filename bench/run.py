"""pvnsim benchmarks: ``python bench/run.py [--json] [--quick] [--only NAME]``.

Each figure is the median of several timed runs after a warm-up; setup is
outside the timed region.  Targets come from the benchmark issue; a figure
that misses its target is reported, not hidden.  Results go in
docs/performance.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from pvnsim import Kernel, SegMap, make_page, pvn_read_kluster, pvn_vplist_dirty
from pvnsim.flags import B_ASYNC, B_ERROR, B_FREE, P_MOD, P_REF, VMODSORT
from pvnsim.fs import make_putapage
from pvnsim.vm.vm_pvn import pvn_read_done

ROOMY = dict(
    lotsfree=0, desfree=0, minfree=0, throttlefree=0, pageout_reserve=0, pages_before_pager=0
)


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

    return _median(3, once)


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

        rates.append(_median(1 if quick else 3, once))
    return min(rates)


def _vmodsort_time(resident: int, dirty: int, vmodsort: bool) -> float:
    k = Kernel(total_pages=resident + 16, **ROOMY)  # type: ignore[arg-type]
    vp = k.vnode("f", v_flag=VMODSORT if vmodsort else 0)
    for i in range(resident - dirty):
        make_page(vp, i * 4096, nrm=P_REF)
    for i in range(resident - dirty, resident):
        make_page(vp, i * 4096, nrm=P_MOD | P_REF, at="tail")
    put = make_putapage(4096)
    t0 = time.perf_counter()
    pvn_vplist_dirty(vp, 0, put, 0, None)
    return time.perf_counter() - t0


def vmodsort_fsync_ratio(quick: bool) -> float:
    """time(1,000 dirty among 1,000,000 resident) / time(1,000 dirty among 10,000), VMODSORT."""
    big = 100_000 if quick else 1_000_000
    small = _vmodsort_time(10_000, 1000, True)
    large = _vmodsort_time(big, 1000, True)
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
    gc.collect()
    t0 = time.perf_counter()
    k = Kernel(total_pages=n + 16)
    vp = k.vnode("f")
    for i in range(n):
        make_page(vp, i * 4096)
    dt = time.perf_counter() - t0
    return dt * (1_000_000 / n)


BENCHMARKS: dict[str, tuple[Callable[[bool], float], str, float, str]] = {
    "read_kluster_pages_per_s": (read_kluster_pages_per_s, "pages/s", 500_000, ">="),
    "fsync_pages_per_s": (fsync_pages_per_s, "pages/s", 300_000, ">="),
    "vmodsort_fsync_ratio": (vmodsort_fsync_ratio, "ratio", 1.5, "<="),
    "bytes_per_page": (bytes_per_page, "B", 320, "<="),
    "build_1m_pages_s": (build_1m_pages_s, "s", 3.0, "<="),
}


def main(argv: list[str] | None = None) -> int:
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
        fn, unit, target, sense = BENCHMARKS[name]
        value = fn(args.quick)
        ok = value >= target if sense == ">=" else value <= target
        record = {
            "name": name,
            "value": round(value, 3),
            "unit": unit,
            "target": f"{sense} {target}",
            "baseline": None,
            "ratio": None,
            "met": ok,
        }
        if args.json:
            print(json.dumps(record))
        else:
            mark = "ok  " if ok else "MISS"
            print(f"{mark} {name:<28} {value:>14,.2f} {unit:<8} target {sense} {target:,}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
