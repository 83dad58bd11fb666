"""Another CPU: sets hardware ref/mod bits of mapped pages at any switch point.

In illumos another CPU may load or store through a page's translation at
any instant, which is why pvn_write_done reads the ref/mod bits with
hat_pagesync, unloads the translations and then looks again (its
``ck_refmod`` loop).  The simulated other CPU is a daemon thread that may
run at every switch point, including the CPU-only ones inside the HAT
(``hat_pagesync``, ``hat_pageunload``) where kernel threads are never
preempted.  Each time it runs it touches one mapped page through one of its
translations (a read sets ref, a write sets ref and mod, and a write
through a write-protected translation of a VMODSORT page takes the
protection fault that moves the page to the tail), then yields.  Which
page, translation and bit is a recorded data choice, so schedules replay
it exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pvnsim.errors import UsageError
from pvnsim.footprints import page_key
from pvnsim.hooks import note
from pvnsim.vm.hat import HatMapping, hat_touch
from pvnsim.vm.page import Page

if TYPE_CHECKING:
    from pvnsim.concurrency.run import Run
    from pvnsim.sched import SimThread

__all__ = ["other_cpu"]

_BITS = ("ref", "mod")


def other_cpu(
    run: Run,
    *,
    name: str = "cpu1",
    pages: Sequence[Page] | Callable[[], Iterable[Page]] | None = None,
    bits: tuple[str, ...] = _BITS,
    budget: int = 1,
) -> SimThread:
    """Spawn another CPU on ``run``'s (first) kernel.

    Args:
        run: the run; a kernel must already be attached.
        name: the thread name (trace notes and the schedule log use it).
        pages: the pages it may touch (a list, or a function returning
            them); ``None``: every page of the kernel.  Only pages that are
            mapped at that moment are touched.
        bits: ``"ref"`` (a load) and/or ``"mod"`` (a store).
        budget: how many touches it makes at most.

    Returns:
        The daemon thread (it never keeps a run alive).

    Raises:
        UsageError: no kernel attached, unknown bits, a budget that is not a
            positive int, or pages that are not pages of that kernel.
    """
    k = run.kernel
    if not bits or any(b not in _BITS for b in bits) or len(set(bits)) != len(bits):
        raise UsageError(f"other_cpu: bits must be distinct values among {_BITS}, not {bits!r}")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise UsageError(f"other_cpu: budget must be a positive int, not {budget!r}")
    source: Callable[[], Iterable[Page]]
    if pages is None:
        source = k.iter_pages
    elif callable(pages):
        source = pages
    else:
        listed = list(pages)
        for pp in listed:
            if not isinstance(pp, Page) or pp.kernel is not k:
                raise UsageError(f"other_cpu: {pp!r} is not a page of the attached kernel")
        source = lambda: listed  # noqa: E731
    sim = run.sim
    order = tuple(bits)

    def candidates() -> list[tuple[Page, HatMapping, str]]:
        out = []
        for pp in source():
            for m in pp.p_mapping or ():
                for bit in order:
                    out.append((pp, m, bit))
        return out

    def looked_at() -> list[Any]:
        # The pages' translations, read to find the candidates.
        return [page_key("hat", pp) for pp in source()]

    left = [budget]

    def probe() -> tuple[set[Any], set[Any]]:
        # The next touch, if any is left: reads every page's translations,
        # writes one of the mapped pages' bits.
        if not left[0]:
            return set(), set()
        return set(looked_at()), {page_key("hat", pp) for pp, _, _ in candidates()}

    def cpu() -> None:
        while left[0]:
            left[0] -= 1
            note(k, reads=looked_at())
            options = candidates()
            if not options:
                sim.wait(
                    "a mapped page to touch",
                    lambda: bool(candidates()),
                    on=[("r", key) for key in looked_at()],
                )
                note(k, reads=looked_at())
                options = candidates()
            pp, m, bit = options[sim.choose(len(options), f"{name} touch")]
            if k.tracing:
                k.trace.note(f"{name} sets {bit} on {pp.name} through {m.owner}", name)
            hat_touch(pp, write=bit == "mod", mapping=m)
            sim.yield_cpu(f"{name} touched {pp.name}")

    thread: Any = sim.spawn(cpu, name=name, daemon=True, cpu=True, probe=probe)
    return thread  # type: ignore[no-any-return]
