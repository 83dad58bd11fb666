"""Figures of simulation runs and sweeps (matplotlib, the ``plot`` extra).

:func:`plot_timeline` draws one run of the fs kit over virtual time from a
:class:`~pvnsim.fs.timeline.Timeline`; :func:`plot_sweep` draws a metric
against a parameter from sweep rows.  Both return a
:class:`matplotlib.figure.Figure` built without pyplot (no global state, the
Agg canvas), which a notebook displays and :func:`save_figure` writes as SVG
or PNG.

Lines use the Okabe-Ito palette of :mod:`pvnsim.viz.palette` and also differ
in marker and dash, so they stay apart in grey and for colour-blind
readers.  Text in SVG files stays text (searchable, and readable by tests).
"""

from __future__ import annotations

import functools
import io
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pvnsim.errors import UsageError
from pvnsim.viz import palette as pal

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from pvnsim.fs.timeline import Timeline

__all__ = [
    "FORMATS",
    "LINE_COLOURS",
    "check_figure_path",
    "plot_sweep",
    "plot_timeline",
    "save_figure",
]

#: File formats :func:`save_figure` writes, by suffix.
FORMATS = {".svg": "svg", ".png": "png"}

#: Colours of successive lines (Okabe-Ito, yellow last: it is faint on white).
LINE_COLOURS = (
    pal.BLUE,
    pal.VERMILLION,
    pal.GREEN,
    pal.ORANGE,
    pal.SKY,
    pal.PURPLE,
    pal.BLACK,
    pal.YELLOW,
)
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_DASHES = ("-", "--", "-.", ":")

#: Columns whose values are bytes or nanoseconds, for axis formatting.
_BYTES = {
    "memory",
    "pagesize",
    "bsize",
    "smallfile",
    "file_size",
    "io_size",
    "bytes_read",
    "bytes_written",
}

_STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#E5E5E5",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "svg.fonttype": "none",
    "svg.hashsalt": "pvnsim",
}


def _mpl() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError("pvnsim's plots need matplotlib: pip install 'pvnsim[plot]'") from None
    return matplotlib


def check_figure_path(path: str | Path) -> str:
    """The format to write ``path`` in (``"svg"`` or ``"png"``).

    Raises:
        UsageError: the suffix is neither ``.svg`` nor ``.png``.
        ImportError: matplotlib is not installed.
    """
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise UsageError(f"plot file {str(path)!r} must end in .svg or .png")
    _mpl()
    return fmt


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` as SVG or PNG (by suffix); returns the path.

    Raises:
        UsageError: the suffix is neither ``.svg`` nor ``.png``.
    """
    fmt = check_figure_path(path)
    path = Path(path)
    with _mpl().rc_context(_STYLE):
        if fmt == "svg":
            fig.savefig(path, format="svg", metadata={"Date": None})
        else:
            fig.savefig(path, format="png", dpi=120, metadata={"Software": None})
    return path


@functools.cache
def _figure_type() -> type[Figure]:
    from matplotlib.figure import Figure

    class PlotFigure(Figure):
        """A Figure that shows itself as an image in a notebook.

        Without pyplot nothing registers matplotlib's notebook display, so
        the figure renders itself (when that display is registered, it wins).
        """

        def _repr_png_(self) -> bytes:
            buf = io.BytesIO()
            with _mpl().rc_context(_STYLE):
                self.savefig(buf, format="png", dpi=100)
            return buf.getvalue()

    return PlotFigure


def _figure(rows: int, height: float) -> Figure:
    mpl = _mpl()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with mpl.rc_context(_STYLE):
        fig = _figure_type()(figsize=(8.0, height), layout="constrained")
        FigureCanvasAgg(fig)
        fig.subplots(rows, 1, sharex=True, squeeze=False)
    return fig


def _legend(ax: Axes) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def _seconds(ns: Sequence[int]) -> list[float]:
    return [t / 1e9 for t in ns]


def _time_axis(ax: Axes, label: str) -> None:
    from matplotlib.ticker import EngFormatter

    ax.yaxis.set_major_formatter(EngFormatter(unit="s"))
    ax.set_ylabel(label)


def plot_timeline(timeline: Timeline, *, title: str | None = None) -> Figure:
    """Draw a run over virtual time, in four panels.

    1. freemem against minfree, desfree and lotsfree (pages);
    2. pages read from and written to disk so far;
    3. the size of each read and write kluster (pages; a bigger marker
       for more klusters of that size at that moment);
    4. each fsync's latency, at the time it started.

    Args:
        timeline: the samples (:meth:`pvnsim.fs.timeline.Timeline.attach`).
        title: the figure's title.

    Returns:
        The matplotlib Figure.

    Raises:
        ImportError: matplotlib is not installed.
    """
    from matplotlib.ticker import EngFormatter, MaxNLocator

    fig = _figure(4, 9.0)
    mem, io, kl, fs = fig.axes
    with _mpl().rc_context(_STYLE):
        t = _seconds(timeline.t_ns)
        mem.plot(t, timeline.freemem, color=pal.BLUE, lw=1.4, ds="steps-post", label="freemem")
        for name, colour, dash in (
            ("lotsfree", pal.GREEN, "--"),
            ("desfree", pal.ORANGE, "-."),
            ("minfree", pal.VERMILLION, ":"),
        ):
            mem.axhline(getattr(timeline, name), color=colour, ls=dash, lw=1.2, label=name)
        mem.set_ylabel("free pages")
        mem.set_ylim(bottom=0)
        _legend(mem)
        mem.set_title("free memory")

        io.plot(t, timeline.pages_read, color=pal.BLUE, lw=1.4, ds="steps-post", label="read")
        io.plot(
            t,
            timeline.pages_written,
            color=pal.VERMILLION,
            lw=1.4,
            ls="--",
            ds="steps-post",
            label="written",
        )
        io.set_ylabel("pages (cumulative)")
        _legend(io)
        io.set_title("disk traffic")

        for samples, colour, marker, label in (
            (timeline.read_klusters, pal.BLUE, "o", "read"),
            (timeline.write_klusters, pal.VERMILLION, "s", "write"),
        ):
            kl.scatter(
                _seconds([s.t_ns for s in samples]),
                [s.pages for s in samples],
                s=[12 + 6 * min(s.count, 20) for s in samples],
                color=colour,
                marker=marker,
                alpha=0.6,
                linewidths=0,
                label=label,
            )
        kl.yaxis.set_major_locator(MaxNLocator(integer=True))
        kl.set_ylabel("pages per kluster")
        kl.set_ylim(bottom=0)
        _legend(kl)
        kl.set_title("kluster sizes")

        fsyncs = timeline.fsyncs
        fs.scatter(
            _seconds([f.t_ns for f in fsyncs]),
            _seconds([f.latency_ns for f in fsyncs]),
            color=pal.GREEN,
            marker="D",
            s=18,
            label="fsync",
        )
        if not fsyncs:
            fs.text(0.5, 0.5, "no fsync in this run", transform=fs.transAxes, ha="center")
        _time_axis(fs, "fsync latency")
        fs.set_ylim(bottom=0)
        fs.set_title("fsync latency (at the time each started)")
        fs.xaxis.set_major_formatter(EngFormatter(unit="s"))
        fs.set_xlabel("virtual time")
        if title:
            fig.suptitle(title)
    return fig


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


def _binary(value: float, _pos: object = None) -> str:
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if abs(value) >= size:
            return f"{value / size:g}{unit}"
    return f"{value:g}"


def _plain(value: float, _pos: object = None) -> str:
    return f"{value:g}"


def _formatter(column: str) -> tuple[Callable[[float], float], Any, str]:
    """How to show a column on an axis: a scale, a tick formatter, a unit."""
    from matplotlib.ticker import EngFormatter, FuncFormatter, ScalarFormatter

    if column in _BYTES:
        return (lambda v: v), FuncFormatter(_binary), "bytes"
    if column.endswith("_ns"):
        return (lambda v: v / 1e9), EngFormatter(unit="s"), ""
    return (lambda v: v), ScalarFormatter(), ""


def _groups(
    rows: Sequence[Mapping[str, Any]], x: str, y: str, by: Sequence[str]
) -> dict[tuple[Any, ...], dict[Any, list[float]]]:
    out: dict[tuple[Any, ...], dict[Any, list[float]]] = {}
    for row in rows:
        value = _number(row.get(y))
        if value is None or row.get(x) is None:
            continue
        key = tuple(row.get(b) for b in by)
        out.setdefault(key, {}).setdefault(row[x], []).append(value)
    return out


def plot_sweep(
    rows: Sequence[Mapping[str, Any]],
    x: str,
    y: str,
    *,
    by: Sequence[str] = (),
    title: str | None = None,
) -> Figure:
    """Draw metric ``y`` against parameter ``x``: one line per value of ``by``.

    Rows with the same ``by`` values and the same ``x`` (the seeds of a
    point) are averaged; a bar spans one standard error of that mean either
    side (the sample standard deviation over the square root of the count).  Rows
    without a numeric ``y`` (failed runs) are left out.  A numeric ``x``
    that spans a factor of 8 or more is drawn on a log2 axis; string values
    are drawn as categories in the order they first appear.

    Args:
        rows: sweep rows (:attr:`pvnsim.sweep.SweepResult.rows`, or read
            from the JSON lines file).
        x: a parameter column.
        y: a metric column.
        by: the columns whose values split the lines.
        title: the figure's title.

    Returns:
        The matplotlib Figure.

    Raises:
        UsageError: no row has a numeric ``y`` for an ``x``.
        ImportError: matplotlib is not installed.
    """
    groups = _groups(rows, x, y, by)
    if not groups:
        raise UsageError(f"plot: no row has a number for {y!r} and a value for {x!r}")
    xs = list(dict.fromkeys(v for g in groups.values() for v in g))
    categorical = any(_number(v) is None for v in xs)
    position = {v: float(i) for i, v in enumerate(xs)} if categorical else {v: float(v) for v in xs}
    fig = _figure(1, 4.5)
    ax = fig.axes[0]
    yscale, yfmt, yunit = _formatter(y)
    with _mpl().rc_context(_STYLE):
        for i, (key, points) in enumerate(groups.items()):
            order = sorted(points, key=lambda v: position[v])
            means = [yscale(sum(points[v]) / len(points[v])) for v in order]
            errors = [yscale(_standard_error(points[v])) for v in order]
            label = ", ".join(f"{b}={_label(b, k)}" for b, k in zip(by, key, strict=True))
            ax.errorbar(
                [position[v] for v in order],
                means,
                yerr=errors if any(len(points[v]) > 1 for v in order) else None,
                color=LINE_COLOURS[i % len(LINE_COLOURS)],
                marker=_MARKERS[i % len(_MARKERS)],
                ls=_DASHES[(i // len(LINE_COLOURS)) % len(_DASHES)],
                lw=1.5,
                ms=5,
                capsize=3,
                label=label or y,
            )
        _x_axis(ax, x, xs, position, categorical)
        ax.yaxis.set_major_formatter(yfmt)
        ax.set_ylabel(f"{y} ({yunit})" if yunit else y)
        if by:
            ax.legend(title=", ".join(by), loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
        ax.set_title(title or f"{y} against {x}")
    return fig


def _standard_error(values: list[float]) -> float:
    """The standard error of the mean of ``values`` (0 for fewer than two).

    >>> _standard_error([10.0, 20.0])
    5.0
    """
    if len(values) < 2:
        return 0.0
    return statistics.stdev(values) / math.sqrt(len(values))


def _label(column: str, value: Any) -> str:
    if column in _BYTES and _number(value) is not None:
        return _binary(float(value))
    return str(value)


def _x_axis(ax: Axes, x: str, xs: list[Any], position: dict[Any, float], categorical: bool) -> None:
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    ax.set_xlabel(f"{x} (bytes)" if x in _BYTES else x)
    if categorical:
        ax.set_xticks(list(position.values()), [str(v) for v in xs])
        return
    values = sorted(position.values())
    if values[0] > 0 and values[-1] / values[0] >= 8:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(values))
        ax.xaxis.set_minor_locator(NullLocator())
    elif x in _BYTES and len(values) <= 12:
        # Sizes read best at the sizes swept (1M, 4M), not at round decimals.
        ax.xaxis.set_major_locator(FixedLocator(values))
    ax.xaxis.set_major_formatter(FuncFormatter(_binary if x in _BYTES else _plain))
