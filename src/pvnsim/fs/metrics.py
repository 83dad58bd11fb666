"""What a simulation measured: disk traffic, kluster sizes, page life cycle,
the kernel's vm counters, cache hits and virtual time.

:class:`Metrics` is a frozen record; :meth:`Metrics.rich_table` renders it for
a terminal (the ``pvnsim simulate`` command prints it) and :meth:`Metrics.table`
as plain text.
"""

from __future__ import annotations

import io
from typing import Any

import attrs
from rich import box
from rich.console import Console
from rich.table import Table

__all__ = ["HISTOGRAM_NOTE", "Metrics", "format_ns"]

#: How to read the kluster histograms (printed under the table).
HISTOGRAM_NOTE = (
    "Klusters: Np:C means C disk requests of N pages each "
    "(2p:8 is 8 requests of 2 pages). vm.* are the kernel's cpu_vminfo counters."
)


def format_ns(ns: int) -> str:
    """A duration for people.

    >>> format_ns(1_500_000)
    '1.500 ms'
    """
    if ns >= 1_000_000_000:
        return f"{ns / 1e9:.3f} s"
    if ns >= 1_000_000:
        return f"{ns / 1e6:.3f} ms"
    if ns >= 1_000:
        return f"{ns / 1e3:.3f} us"
    return f"{ns} ns"


def _histogram(pairs: tuple[tuple[int, int], ...]) -> str:
    if not pairs:
        return "-"
    return " ".join(f"{size}p:{count}" for size, count in pairs)


@attrs.frozen
class Metrics:
    """Everything a simulation run counts.

    Histograms are ``((pages per request, requests), ...)`` sorted by size.
    ``vm`` holds the kernel's ``cpu_vminfo`` counters (dfree, pgrec, pgout,
    ...).  ``pages_reclaimed`` is ``vm.pgfrec``: pages taken back from the
    cache list by a lookup.
    """

    virtual_ns: int
    ops: int
    disk_reads: int
    disk_writes: int
    bytes_read: int
    bytes_written: int
    seeks: int
    disk_errors: int
    disk_busy_ns: int
    max_queue: int
    read_klusters: tuple[tuple[int, int], ...]
    write_klusters: tuple[tuple[int, int], ...]
    pages_created: int
    pages_freed: int
    pages_destroyed: int
    pages_reclaimed: int
    getpage_hits: int
    getpage_misses: int
    zero_fills: int
    readahead_issued: int
    readahead_giveups: int
    write_behind: int
    free_behind: int
    pageout_scanned: int
    pageout_freed: int
    pageout_pushed: int
    pageout_reclaims: int
    fsflush_runs: int
    freemem: int
    vm: tuple[tuple[str, int], ...]

    @property
    def hit_ratio(self) -> float:
        """Page requests satisfied from memory, over all page requests."""
        total = self.getpage_hits + self.getpage_misses
        return self.getpage_hits / total if total else 0.0

    @property
    def disk_ios(self) -> int:
        """Disk requests of both kinds."""
        return self.disk_reads + self.disk_writes

    def vm_stat(self, name: str) -> int:
        """One vm counter by name (``"dfree"``, ``"pgpgout"``, ...)."""
        return dict(self.vm)[name]

    def as_dict(self) -> dict[str, Any]:
        """Every field, plus ``hit_ratio``, as plain data (JSON-ready)."""
        out = attrs.asdict(self)
        out["read_klusters"] = {str(s): c for s, c in self.read_klusters}
        out["write_klusters"] = {str(s): c for s, c in self.write_klusters}
        out["vm"] = dict(self.vm)
        out["hit_ratio"] = round(self.hit_ratio, 6)
        return out

    def _rows(self) -> list[list[tuple[str, str]]]:
        """The table's rows, in sections."""
        return [
            [
                ("virtual time", format_ns(self.virtual_ns)),
                ("operations", f"{self.ops:,}"),
            ],
            [
                ("disk reads", f"{self.disk_reads:,} ({self.bytes_read:,} B)"),
                ("disk writes", f"{self.disk_writes:,} ({self.bytes_written:,} B)"),
                ("seeks", f"{self.seeks:,}"),
                ("disk errors", f"{self.disk_errors:,}"),
                ("disk busy", format_ns(self.disk_busy_ns)),
                ("deepest queue", f"{self.max_queue:,}"),
                ("read klusters", _histogram(self.read_klusters)),
                ("write klusters", _histogram(self.write_klusters)),
            ],
            [
                ("pages created", f"{self.pages_created:,}"),
                ("pages freed", f"{self.pages_freed:,}"),
                ("pages destroyed", f"{self.pages_destroyed:,}"),
                ("pages reclaimed", f"{self.pages_reclaimed:,}"),
                (
                    "cache hit ratio",
                    f"{self.hit_ratio:.4f} ({self.getpage_hits:,} hits, "
                    f"{self.getpage_misses:,} misses)",
                ),
                ("zero-filled pages", f"{self.zero_fills:,}"),
                (
                    "read-ahead",
                    f"{self.readahead_issued:,} issued, {self.readahead_giveups:,} given up",
                ),
                ("write-behind", f"{self.write_behind:,}"),
                ("free-behind", f"{self.free_behind:,}"),
                (
                    "pageout",
                    f"{self.pageout_scanned:,} scanned, {self.pageout_freed:,} freed, "
                    f"{self.pageout_pushed:,} pushed, {self.pageout_reclaims:,} reclaim calls",
                ),
                ("fsflush runs", f"{self.fsflush_runs:,}"),
                ("freemem", f"{self.freemem:,} pages"),
            ],
            [(f"vm.{name}", f"{value:,}") for name, value in self.vm],
        ]

    def rich_table(self) -> Table:
        """The metrics as a :class:`rich.table.Table`, with a note on how to read it."""
        table = Table(box=box.SIMPLE_HEAD, caption=HISTOGRAM_NOTE, caption_justify="left")
        table.add_column("metric", style="cyan", no_wrap=True)
        table.add_column("value")
        for i, section in enumerate(self._rows()):
            if i:
                table.add_section()
            for name, value in section:
                table.add_row(name, value)
        return table

    def table(self, width: int = 100) -> str:
        """The metrics as plain text: :meth:`rich_table` without colour, ``width`` columns."""
        buf = io.StringIO()
        Console(file=buf, width=width, color_system=None, force_terminal=False).print(
            self.rich_table()
        )
        return "\n".join(line.rstrip() for line in buf.getvalue().splitlines())
