"""The one hook point of the model: tracing, switch points and sleeping.

Theory of operation
-------------------
Every primitive of the model and every port has exactly one implementation,
and the first thing it does is this test::

    if k.hooks is not None and k.hooks.entering != "page_unlock":
        return k.hooks.around("page_unlock", pp)

``k.hooks`` is ``None`` unless somebody wants to see individual calls: the
trace (:meth:`~pvnsim.kernel.Kernel.trace_on`) or a scheduler that can switch
threads (one whose ``switches`` is true).  Then the call costs one attribute
test and nothing else.  Otherwise :meth:`Hooks.around` looks the name up in
:data:`SPECS`, the one table that says for each routine how it is traced
and where it is a switch point, does what the table says before the call,
calls the very same function again (``entering`` names the call it is making,
so the guard lets that one through), and does what the table says after it.
Because primitives call primitives through the same guarded functions, the
trace nests: ``page_hashout`` inside ``page_destroy``, ``VN_DISPOSE`` inside
``page_release``.

Switch points (where a scheduler may run another thread) are where the C
could block or has just released something: before ``page_lock``, after
``page_unlock``, after a trylock that failed, and so on (the ``before`` and
``after`` columns of the table).  They are taken only for calls that are not
nested inside another primitive, so a primitive's body runs without
preemption, as its C counterpart runs under the locks it holds.

Threads sleep only through :func:`sleep`, which hands the wait to the
kernel's scheduler; without one a sleep can never end and is reported as a
:class:`~pvnsim.errors.DeadlockError` before anything changes.

Footprints.  When the scheduler records footprints (``sched.recording``:
a partial-order reduction or an incremental validator wants to know what
each step touched), ``around`` also calls the table's footprint functions
(:mod:`pvnsim.footprints`) for every call, nested ones included, and
:func:`sleep` tells the scheduler what a sleep waits on and why it might
never end.  Nothing of this runs otherwise.

This module knows the model only by duck typing (it imports nothing from
:mod:`pvnsim.vm`): the table renders pages through their ``name``.
"""

from __future__ import annotations

import contextlib
import enum
import functools
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from pvnsim import footprints as fp
from pvnsim.errors import DeadlockError, InternalError, KernelPanic, Wait
from pvnsim.flags import (
    P_FREE,
    BufFlag,
    HatAttr,
    HatFeature,
    HatSync,
    HatUnload,
    PageCreateFlag,
    PageRelease,
    Reclaim,
    Se,
    SegRw,
    SmFlag,
    flag_names,
)

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel
    from pvnsim.trace import Event

__all__ = [
    "SPECS",
    "Hooks",
    "Spec",
    "call_back",
    "implements",
    "note",
    "panic",
    "quiet",
    "render",
    "sleep",
    "switch_point",
    "update",
]

_U64 = 1 << 64


# -- rendering -----------------------------------------------------------------


def _enum(value: Any, kind: type[enum.IntEnum]) -> str:
    try:
        return kind(value).name
    except ValueError:
        return str(value)


_FLAG_KINDS: dict[str, type[enum.IntFlag]] = {
    "B": BufFlag,
    "G": PageCreateFlag,
    "H": HatSync,
    "A": HatAttr,
    "M": SmFlag,
}
_ENUM_KINDS: dict[str, type[enum.IntEnum]] = {
    "e": Se,
    "c": Reclaim,
    "u": HatUnload,
    "f": HatFeature,
    "w": SegRw,
    "r": PageRelease,
}


def render(kind: str, value: Any) -> str:
    """Render ``value`` as the trace writes an argument of kind ``kind``.

    ====  ==============================================================
    kind  rendering
    ====  ==============================================================
    p     page: ``v1@0x1000``, ``MARK(-1)``, ``NOIDENT``, ``NULL``
    v     vnode name                o  offset in hex
    l     vnode-list link: ``&v1.v_pages`` or ``&v1@0x1000.p_vpnext``
    i     decimal integer          a  address in hex
    B G   ``B_*`` buffer flags, ``PG_*`` page_create flags
    H A M ``HAT_SYNC_*``, ``P_*`` attribute bits, ``SM_*`` segmap flags
    e c   ``SE_*`` lock mode, ``P_RECLAIM``/``P_NO_RECLAIM``
    u f   ``HAT_*_PGUNLOAD``, ``HAT_*`` feature
    w r   ``S_*`` seg_rw, page_release result
    s m k segment, mutex or condition variable, kmem cache: its name
    R     a port's result: ``NULL`` or the value's text
    C     a callback's result: an int, or nothing
    x     text as is
    ====  ==============================================================
    """
    if kind == "p":
        return "NULL" if value is None else str(value.name)
    if kind == "i":
        return str(int(value))
    if kind == "v":
        return "NULL" if value is None else str(value.v_name)
    if kind == "o":
        return hex(int(value))
    if kind == "l":
        if hasattr(value, "p_vpnext"):
            return f"&{value.name}.p_vpnext"
        return f"&{value.v_name}.v_pages"
    if kind == "a":
        return hex(int(value) & (_U64 - 1))
    flag_kind = _FLAG_KINDS.get(kind)
    if flag_kind is not None:
        return flag_names(int(value), flag_kind)
    enum_kind = _ENUM_KINDS.get(kind)
    if enum_kind is not None:
        return _enum(value, enum_kind)
    if kind in "smk":
        return "NULL" if value is None else str(value.name)
    if kind == "R":
        return "NULL" if value is None else str(value)
    if kind == "C":
        return str(int(value))
    if callable(value):
        return str(getattr(value, "__name__", type(value).__name__))
    return str(value)


# -- the table -------------------------------------------------------------------


def _first(args: tuple[Any, ...], result: Any = None) -> Any:
    return args[0]


def _vnode_name(args: tuple[Any, ...], result: Any = None) -> Any:
    return args[0].v_name


def _lock_name(args: tuple[Any, ...], result: Any = None) -> Any:
    return args[0].name


def _always(result: Any, args: tuple[Any, ...]) -> bool:
    return True


def _failed(result: Any, args: tuple[Any, ...]) -> bool:
    return not result


def _busy(result: Any, args: tuple[Any, ...]) -> bool:
    # page_lookup_nowait came back empty-handed because the page is held by
    # another thread (not because it is absent or free).
    if result is not None:
        return False
    vp, off = args[0], args[1]
    pp = vp.kernel.page_hash[vp].get(off)
    return pp is not None and not pp.p_state & P_FREE


def _busy_page(args: tuple[Any, ...], result: Any = None) -> Any:
    vp, off = args[0], args[1]
    return vp.kernel.page_hash[vp].get(off)


# -- why a call came back empty-handed (for the trace) --------------------------
#
# Worked out after the call from its arguments and the state, only while
# tracing, so the routines themselves say nothing about it.


def _page_at(vp: Any, off: int) -> Any:
    return vp.kernel.page_hash.get(vp, {}).get(off)


def _lock_why(pp: Any) -> str:
    if pp.p_ewanted:
        return "wanted exclusively"
    return "locked"


def _why_lookup(args: tuple[Any, ...], result: Any) -> str | None:
    if result is not None:
        return None
    pp = _page_at(args[0], args[1])
    if pp is None:
        return "absent"
    return "changed identity while waiting"


def _why_lookup_nowait(args: tuple[Any, ...], result: Any) -> str | None:
    if result is not None:
        return None
    pp = _page_at(args[0], args[1])
    if pp is None:
        return "absent"
    if pp.p_state & P_FREE:
        return "free"
    return _lock_why(pp)


def _why_create(args: tuple[Any, ...], result: Any) -> str | None:
    if result is not None:
        return None
    vp, off, flags = args[0], args[1], args[3]
    if flags & PageCreateFlag.PG_EXCL and _page_at(vp, off) is not None:
        return "exists, PG_EXCL"
    return "not enough memory"


def _why_trylock(args: tuple[Any, ...], result: Any) -> str | None:
    return None if result else _lock_why(args[0])


def _why_tryupgrade(args: tuple[Any, ...], result: Any) -> str | None:
    if result:
        return None
    pp = args[0]
    return "wanted exclusively" if pp.p_ewanted else "other readers"


def _why_io_trylock(args: tuple[Any, ...], result: Any) -> str | None:
    return None if result else "i/o locked"


def _why_read_kluster(args: tuple[Any, ...], result: Any) -> str | None:
    if result is not None:
        return None
    if _page_at(args[0], args[1]) is not None:
        return "page exists"
    return "read-ahead declined"


class Spec:
    """How one routine is traced and where it is a switch point.

    Attributes:
        name: the C name.
        kind: ``"prim"``, ``"port"`` or ``"callback"``.
        args: one render kind per argument (see :func:`render`); ``-`` skips
            an argument.
        result: the render kind of the result, ``""`` for a void routine.
        before: a switch point before the call.
        after: when there is a switch point after the call:
            ``after(result, args)`` is true (``None``: never).
        what: what the switch point is about (given to the scheduler).
        why: ``why(args, result)``: why a call came back empty-handed
            (``None`` when it did not), recorded in the trace.
        pre, post, waits, scope, stuck: the footprint of a call (see
            :mod:`pvnsim.footprints`); ``None``: nothing of its own (its
            nested calls still record theirs).
        fn: the implementation, filled in by :func:`implements`.
    """

    __slots__ = (
        "after",
        "args",
        "before",
        "fn",
        "kind",
        "name",
        "post",
        "pre",
        "prim",
        "result",
        "scope",
        "stuck",
        "waits",
        "what",
        "why",
    )

    def __init__(
        self,
        name: str,
        kind: str,
        args: str,
        result: str = "",
        *,
        before: bool = False,
        after: Callable[[Any, tuple[Any, ...]], bool] | None = None,
        what: Callable[..., Any] = _first,
        why: Callable[[tuple[Any, ...], Any], str | None] | None = None,
        pre: Callable[[Any, tuple[Any, ...]], None] | None = None,
        post: Callable[[Any, tuple[Any, ...], Any], None] | None = None,
        waits: Callable[[tuple[Any, ...]], list[tuple[str, Hashable]]] | None = None,
        scope: Callable[[tuple[Any, ...]], frozenset[Hashable]] | None = None,
        stuck: Callable[[tuple[Any, ...]], str | None] | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.prim = kind == "prim"
        self.args = args
        self.result = result
        self.before = before
        self.after = after
        self.what = what
        self.why = why
        self.pre = pre
        self.post = post
        self.waits = waits
        self.scope = scope
        self.stuck = stuck
        self.fn: Callable[..., Any] | None = None

    def __repr__(self) -> str:
        return f"<Spec {self.kind} {self.name}({self.args}){' > ' + self.result if self.result else ''}>"


def _table(*specs: Spec) -> dict[str, Spec]:
    return {s.name: s for s in specs}


P, PORT, CB = "prim", "port", "callback"

#: Every routine of the model that goes through the hook point.
SPECS: dict[str, Spec] = _table(
    # page lists (vm/page.py)
    Spec("page_add", P, "pp", "p", post=fp.w_pg),
    Spec("page_sub", P, "pp", "p", post=fp.page_sub_post),
    Spec("page_vpadd", P, "lp", post=fp.vplist),
    Spec("page_vpsub", P, "lp", post=fp.vplist),
    Spec("page_list_add", P, "pi", post=fp.list_add_sub),
    Spec("page_list_sub", P, "p", post=fp.list_add_sub),
    # page locks (vm/page_lock.py)
    Spec(
        "page_lock",
        P,
        "pemc-",
        "i",
        before=True,
        post=fp.page_lock_post,
        waits=fp.page_lock_waits,
    ),
    Spec("page_lock_clr_exclwanted", P, "p", post=fp.w_se),
    Spec("page_trylock", P, "pe", "i", after=_failed, why=_why_trylock, post=fp.try_se),
    Spec("page_unlock", P, "p", after=_always, post=fp.w_se),
    Spec("page_tryupgrade", P, "p", "i", after=_failed, why=_why_tryupgrade, post=fp.try_se),
    Spec("page_downgrade", P, "p", post=fp.w_se),
    Spec("page_io_lock", P, "p", before=True, post=fp.w_io, waits=fp.io_waits),
    Spec("page_io_trylock", P, "p", "i", after=_failed, why=_why_io_trylock, post=fp.try_io),
    Spec("page_io_unlock", P, "p", after=_always, post=fp.w_io),
    Spec("page_io_wait", P, "p", before=True, post=fp.r_io, waits=fp.io_waits),
    Spec("page_io_locked", P, "p", "i", post=fp.r_io),
    # pages (vm/vm_page.py)
    Spec("page_hashin", P, "pvo", "i", post=fp.hashin_post),
    Spec("page_hashout", P, "p", pre=fp.hashout_pre),
    Spec(
        "page_create_va",
        P,
        "voiGsa",
        "p",
        before=True,
        what=_vnode_name,
        why=_why_create,
        pre=fp.create_pre,
        post=fp.create_post,
        waits=fp.create_waits,
    ),
    Spec("page_exists", P, "vo", "p", post=fp.r_id),
    Spec(
        "page_lookup",
        P,
        "voe",
        "p",
        before=True,
        what=_vnode_name,
        why=_why_lookup,
        pre=fp.lookup_pre,
        post=fp.lookup_post,
        waits=fp.lookup_waits,
    ),
    Spec(
        "page_lookup_nowait",
        P,
        "voe",
        "p",
        after=_busy,
        what=_busy_page,
        why=_why_lookup_nowait,
        pre=fp.lookup_pre,
        post=fp.lookup_post,
    ),
    Spec("page_reclaim", P, "pm", "i", post=fp.reclaim_post),
    Spec("page_free", P, "pi", post=fp.free_post),
    Spec("page_destroy", P, "pi", post=fp.free_post),
    Spec("page_destroy_free", P, "p", post=fp.free_post),
    Spec("page_release", P, "pi", "r", post=fp.release_post),
    # the HAT (vm/hat.py)
    Spec("hat_page_setattr", P, "pA", post=fp.w_hat),
    Spec("hat_page_clrattr", P, "pA", post=fp.w_hat),
    Spec("hat_page_getattr", P, "pA", "A", post=fp.r_hat),
    Spec("hat_ismod", P, "p", "A", post=fp.r_hat),
    Spec("hat_setmod", P, "p", post=fp.w_hat),
    Spec("hat_setmod_only", P, "p", post=fp.w_hat),
    Spec("hat_clrrefmod", P, "p", post=fp.w_hat),
    Spec("hat_pagesync", P, "pH", "A", before=True, post=fp.w_hat),
    Spec("hat_pageunload", P, "pu", "i", before=True, post=fp.w_hat),
    Spec("hat_page_is_mapped", P, "p", "i", post=fp.r_hat),
    Spec("hat_supported", P, "-f", "i"),
    Spec("hat_map", P, "pxx", post=fp.w_hat),
    Spec("hat_touch", P, "px-", post=fp.w_hat),
    Spec("hat_unmap", P, "p-", post=fp.w_hat),
    # vnodes, segments, kmem, mutexes
    Spec("VN_DISPOSE", P, "pBi-"),
    Spec("fs_dispose", P, "vpBi-"),
    Spec("SEGOP_KLUSTER", P, "sai", "i"),
    Spec("segmap_getmapflt", P, "svoiiw", "a", post=fp.w_seg),
    Spec("segmap_release", P, "saM", "i", post=fp.w_seg),
    Spec("kzero", P, "ai-"),
    Spec("kmem_cache_alloc", P, "k-", "p", post=fp.w_kmem),
    Spec("kmem_cache_free", P, "kp", post=fp.w_kmem),
    Spec(
        "mutex_enter",
        P,
        "m",
        before=True,
        what=_lock_name,
        post=fp.w_mutex,
        waits=fp.mutex_waits,
    ),
    Spec("mutex_exit", P, "m", after=_always, what=_lock_name, post=fp.w_mutex),
    Spec("cv_wait", P, "mm", post=fp.r_cv, waits=fp.cv_waits, stuck=fp.cv_stuck),
    Spec("cv_broadcast", P, "m", after=_always, what=_lock_name, post=fp.w_cv),
    # the ports (vm/vm_pvn.py)
    Spec("pvn_read_kluster", PORT, "vosaoii", "R", why=_why_read_kluster),
    Spec("pvn_write_kluster", PORT, "vpoiB", "R"),
    Spec("pvn_io_done", PORT, "p"),
    Spec("pvn_read_done", PORT, "pB"),
    Spec("pvn_write_done", PORT, "pB"),
    Spec("pvn_getdirty", PORT, "pB", "R"),
    Spec("pvn_init", PORT, "-"),
    Spec("pvn_vplist_dirty", PORT, "voxB-", "R", scope=fp.list_scope),
    Spec("pvn_vplist_setdirty", PORT, "vx", pre=fp.r_list),
    Spec("pvn_vpzero", PORT, "vii", pre=fp.r_list),
    Spec("pvn_getpages", PORT, "xvoixxisaw-", "R"),
    Spec("pvn_plist_init", PORT, "pxioiw"),
    # the callbacks the ports make (rendered from what call_back is shown)
    Spec("putapage", CB, "pB", "C"),
    Spec("getpage", CB, "voii", "C"),
    Spec("page_check", CB, "p", "C"),
)


F = TypeVar("F", bound=Callable[..., Any])


def implements(fn: F) -> F:
    """Mark ``fn`` as the implementation of the routine of the same name.

    The hook point calls it (the original, even if a module attribute of
    that name is later replaced, by a test's monkeypatch say).
    """
    spec = SPECS.get(fn.__name__)
    if spec is None:
        raise InternalError(f"{fn.__name__} is not in the hook table")
    spec.fn = fn
    return fn


# -- the hook point -------------------------------------------------------------


class _ThreadState:
    """Per simulated thread: the calls it is inside of."""

    __slots__ = ("calls", "depth", "events", "prims")

    def __init__(self) -> None:
        # How many calls it is inside of.
        self.depth = 0
        # The events of those that are recorded (the trace's parents).
        self.events: list[Event] = []
        # The table entry and arguments of those that may sleep (what a
        # sleep inside them waits on).
        self.calls: list[tuple[Spec, tuple[Any, ...]]] = []
        # How many of them are primitives (switch points only at 0).
        self.prims = 0


class Hooks:
    """What a hooked kernel runs around each call (see the module docstring).

    Attributes:
        kernel: the kernel.
        entering: the name of the call :meth:`around` is making right now;
            the guard of that routine lets it through.
        tracing: record events in ``kernel.trace``.
        sched: the kernel's scheduler, when it switches threads.
        rec: the scheduler's running footprint while it records footprints
            (see :mod:`pvnsim.footprints`), else None.
    """

    __slots__ = ("_name", "_state", "_states", "entering", "kernel", "rec", "sched", "tracing")

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.entering: str | None = None
        self.tracing = False
        self.sched: Any = None
        self.rec: Any = None
        self._states: dict[str, _ThreadState] = {}
        self._name: str | None = None
        self._state = _ThreadState()

    def _thread(self) -> _ThreadState:
        name = self.kernel.curthread
        if name != self._name:
            state = self._states.get(name)
            if state is None:
                state = self._states[name] = _ThreadState()
            self._name = name
            self._state = state
        return self._state

    def around(self, name: str, *args: Any) -> Any:
        """Run the routine ``name`` with the hooks its table entry asks for."""
        spec = SPECS[name]
        return self._call(spec, spec.fn, args, args)  # type: ignore[arg-type]

    def callback(
        self, name: str, shown: tuple[Any, ...], fn: Callable[..., Any], args: tuple[Any, ...]
    ) -> Any:
        """Call a user callback ``fn(*args)``, traced as ``name(shown...)``."""
        return self._call(SPECS[name], fn, args, shown)

    def _call(
        self, spec: Spec, fn: Callable[..., Any], args: tuple[Any, ...], shown: tuple[Any, ...]
    ) -> Any:
        # (Runs around nearly every call of a hooked kernel: the bookkeeping
        # is kept to what is needed, and only tracing builds events.)
        st = self._state if self.kernel.curthread == self._name else self._thread()
        sched = self.sched
        top = not st.prims
        if top and spec.before and sched is not None:
            sched.switch_point(spec.name, spec.what(args))
        rec = self.rec
        if rec is not None:
            if spec.pre is not None:
                spec.pre(rec, args)
            if spec.scope is not None:
                rec.stand(self.kernel.curthread, spec.scope(args))
        event = None
        if self.tracing:
            events = st.events
            rendered = tuple(
                render(c, a) for c, a in zip(spec.args, shown, strict=False) if c != "-"
            )
            event = self.kernel.trace.begin(
                spec.kind,
                spec.name,
                rendered,
                self.kernel.curthread,
                depth=st.depth,
                parent=events[-1].seq if events else None,
            )
            events.append(event)
        prim = spec.prim
        sleeps = spec.waits is not None
        if sleeps:
            st.calls.append((spec, args))
        st.depth += 1
        if prim:
            st.prims += 1
        self.entering = spec.name
        try:
            result = fn(*args)
        except DeadlockError:
            if event is not None:
                self.kernel.trace.end(event, "WOULDBLOCK")
            raise
        finally:
            self.entering = None
            st.depth -= 1
            if event is not None:
                st.events.pop()
            if sleeps:
                st.calls.pop()
            if prim:
                st.prims -= 1
            if rec is not None and spec.scope is not None:
                rec.sit(self.kernel.curthread)
        if event is not None:
            self.kernel.trace.end(event, render(spec.result, result) if spec.result else None)
            if spec.why is not None:
                event.why = spec.why(args, result)
        if rec is not None and spec.post is not None:
            spec.post(rec, args, result)
        after = spec.after
        if after is not None and top and sched is not None and after(result, args):
            sched.switch_point(spec.name, spec.what(args, result))
        return result

    def note_panic(self, message: str) -> None:
        """Record a panic as a primitive call (when tracing)."""
        if self.tracing:
            st = self._thread()
            event = self.kernel.trace.begin(
                "prim",
                "panic",
                (message,),
                self.kernel.curthread,
                depth=st.depth,
                parent=st.events[-1].seq if st.events else None,
            )
            self.kernel.trace.end(event, None)


def update(k: Kernel) -> None:
    """Install or remove ``k.hooks`` to match who wants to see each call.

    Hooks are needed while tracing is on or while the kernel's scheduler
    switches threads (its ``switches`` attribute is true).
    """
    sched = k.sched
    switching = sched is not None and bool(getattr(sched, "switches", True))
    if not (k.tracing or switching):
        k.hooks = None
        return
    hooks = k.hooks
    if hooks is None:
        hooks = k.hooks = Hooks(k)
    hooks.tracing = k.tracing
    hooks.sched = sched if switching else None
    hooks.rec = (
        getattr(sched, "footprint", None)
        if switching and getattr(sched, "recording", False)
        else None
    )


@contextlib.contextmanager
def quiet(k: Kernel) -> Iterator[None]:
    """Run a block with the kernel unhooked: nothing traced, no switch points.

    For building state directly (:func:`pvnsim.make_page`), which is not a
    call of the simulated kernel.
    """
    saved = k.hooks
    k.hooks = None
    try:
        yield
    finally:
        k.hooks = saved


def sleep(
    k: Kernel, what: str, holder: str | None, ready: Callable[[], bool], *, mutex: bool = False
) -> None:
    """Sleep until ``ready()``: the one place where a simulated thread waits.

    ``mutex``: the wait is mutex_enter's (an interrupt routine may block on
    a mutex but not sleep; see :meth:`pvnsim.sched.Simulation.block`).
    Without a scheduler nobody could ever wake the sleeper, so that is a
    :class:`~pvnsim.errors.DeadlockError` naming what it waited for and who
    holds it.
    """
    hooks = k.hooks
    sched = k.sched
    if hooks is not None:
        # Another thread runs while we sleep: the guard of the call we were
        # let into must not let its calls through.
        hooks.entering = None
        if sched is not None:
            # What the innermost call that knows says the sleep waits on.
            for spec, args in reversed(hooks._thread().calls):
                if spec.waits is not None:
                    stuck = spec.stuck
                    sched.note_wait(
                        spec.waits(args) if hooks.rec is not None else None,
                        None if stuck is None else functools.partial(stuck, args),
                    )
                    break
    if sched is None:
        raise DeadlockError([Wait(k.curthread, what, holder)])
    if mutex:
        sched.block(what, holder, ready, mutex=True)
    else:
        sched.block(what, holder, ready)


def switch_point(k: Kernel, kind: str, what: object) -> None:
    """A place where another simulated thread may run (for user code)."""
    hooks = k.hooks
    if hooks is not None and hooks.sched is not None:
        hooks.entering = None
        hooks.sched.switch_point(kind, what)


def note(k: Kernel, reads: Iterable[Hashable] = (), writes: Iterable[Hashable] = ()) -> None:
    """Record footprint keys read or written outside the primitives.

    For code that looks at the model directly (the other CPU reading a page's
    translations, say) while footprints are recorded; otherwise nothing.
    Keys are those of :mod:`pvnsim.footprints`.
    """
    hooks = k.hooks
    if hooks is not None and hooks.rec is not None:
        hooks.rec.reads.update(reads)
        hooks.rec.writes.update(writes)


def call_back(
    k: Kernel, name: str, shown: tuple[Any, ...], fn: Callable[..., Any], *args: Any
) -> Any:
    """Call ``fn(*args)``, a callback a port makes (putapage, getpage, ...).

    When the kernel is hooked the call is recorded as ``name(shown...)``.
    """
    hooks = k.hooks
    if hooks is None:
        return fn(*args)
    return hooks.callback(name, shown, fn, args)


def panic(k: Kernel, message: str) -> NoReturn:
    """The simulated kernel panics: recorded (when tracing), then raised."""
    hooks = k.hooks
    if hooks is not None:
        hooks.note_panic(message)
    raise KernelPanic(message)
