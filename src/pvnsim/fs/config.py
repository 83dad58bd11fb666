"""Every knob of a :class:`~pvnsim.fs.Machine`: :class:`SimConfig`."""

from __future__ import annotations

from typing import Any

import attrs

from pvnsim.errors import UsageError

__all__ = ["SimConfig"]

MiB = 1 << 20


def _nonneg(_inst: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value < 0:
        raise UsageError(f"{attribute.name} must not be negative, not {value}")


@attrs.frozen(kw_only=True)
class SimConfig:
    """Every knob of a simulation (all optional; defaults model a small x86 box).

    Memory and disk:
        memory: bytes of simulated physical memory.
        pagesize: PAGESIZE.
        seek_ns, overhead_ns, ns_per_byte: the disk's cost model.
        keep_log: keep the disk's request log.

    File system:
        bsize: block size, the kluster window.
        vmodsort, readahead, write_behind, freebehind, smallfile, maxcontig:
            see :class:`~pvnsim.fs.fs.RefFs`.

    pvn tunables and thresholds (None: illumos defaults):
        pvn_nofodklust, pvn_write_noklust, pvn_vmodsort_disable, write_free,
        pages_before_pager, lotsfree, desfree, minfree, throttlefree,
        pageout_reserve.

    Time:
        syscall_ns, copy_ns_per_byte: CPU cost of an operation.
        fsflush_interval_ns: fsflush period (0: off; default 30 s, illumos's
            autoup).
        pageout_interval_ns, handspread: pageout's period and hand spread.

    Checking:
        verify: check every byte read against the last write.
        poison: fill every page page_create_va creates with a poison
            pattern (Kernel ``poison``): a page the file system forgets to
            fill reads back as DEADBEEF, which ``verify`` catches.
        seed: seed of the kernel's random generator (workload generators
            take their own).
    """

    memory: int = attrs.field(default=64 * MiB, validator=_nonneg)
    pagesize: int = 4096
    bsize: int = 8192
    seek_ns: int = attrs.field(default=4_000_000, validator=_nonneg)
    overhead_ns: int = attrs.field(default=50_000, validator=_nonneg)
    ns_per_byte: float = attrs.field(default=10.0, validator=_nonneg)
    keep_log: bool = True
    vmodsort: bool = True
    readahead: int = attrs.field(default=1, validator=_nonneg)
    write_behind: bool = True
    freebehind: bool = True
    smallfile: int = attrs.field(default=32768, validator=_nonneg)
    maxcontig: int = 16
    pvn_nofodklust: int = 0
    pvn_write_noklust: int = 0
    pvn_vmodsort_disable: int = 0
    write_free: int = 1
    pages_before_pager: int = attrs.field(default=200, validator=_nonneg)
    lotsfree: int | None = attrs.field(default=None, validator=_nonneg)
    desfree: int | None = attrs.field(default=None, validator=_nonneg)
    minfree: int | None = attrs.field(default=None, validator=_nonneg)
    throttlefree: int | None = attrs.field(default=None, validator=_nonneg)
    pageout_reserve: int | None = attrs.field(default=None, validator=_nonneg)
    syscall_ns: int = attrs.field(default=2_000, validator=_nonneg)
    copy_ns_per_byte: float = attrs.field(default=0.25, validator=_nonneg)
    fsflush_interval_ns: int = attrs.field(default=30_000_000_000, validator=_nonneg)
    pageout_interval_ns: int = attrs.field(default=250_000_000, validator=_nonneg)
    handspread: int | None = attrs.field(default=None, validator=_nonneg)
    verify: bool = False
    poison: bool = False
    seed: int = 0
