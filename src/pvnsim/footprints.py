"""What each routine of the hook table reads and writes: its footprint.

Theory of operation
-------------------
While a scheduler records footprints (a partial-order reduction or an
incremental validator asked for them), :mod:`pvnsim.hooks` calls the
functions named in a routine's table entry around every call, top-level or
nested (a primitive called from inside a primitive runs without a switch
point, but its accesses belong to the running step):

* ``pre(fp, args)`` before the call, for keys that depend on the state the
  call is about to change (the identity page_hashout removes);
* ``post(fp, args, result)`` after it (a trylock writes the lock word if it
  got it and only reads it otherwise);
* ``waits(args)`` when the call sleeps: the (mode, key) pairs the sleep
  reads (and the wake-up that ends it writes);
* ``scope(args)`` keys read by *every* step taken inside the call (a port
  that reads a list without its mutex, vm_pvn.c L757 and L776);
* ``stuck(args)`` once nobody else can run: why a sleep inside the call can
  never end (a lost wakeup), or None.

Keys name one object the same way in every run of a scenario (runs are
re-executed from scratch): pages by ``p_id``, vnodes by name, mutexes and
condition variables by name.  Two kernels in one run may share a key; that
only adds dependences.

========================  ==============================================
key                       the object
========================  ==============================================
``("se", p_id)``          the page's shared/exclusive lock word (and
                          SE_EWANTED; a page's free state changes only
                          under it)
``("io", p_id)``          the page's i/o lock
``("hat", p_id)``         the page's attribute bits and translations
``("pg", p_id)``          the rest of the page: list links, free state
``("id", vnode, off)``    the page identity (vnode, offset): the page
                          hash entry
``("list", vnode)``       the vnode's page list ``v_pages``
mutex or cv name          ``vphm(f)``, ``v_lock(f)``, ``v_cv(f)``, ...
``"mem"``                 freemem, the free and cache lists
``("kmem", cache)``       a kmem cache (the marker cache)
``("seg", name)``         a segment's windows (segmap)
``"clock"``               virtual time and the event queue (written by
                          the scheduler)
========================  ==============================================

Taking or releasing a lock (mutex, page lock, i/o lock), even one that
never blocks (a successful trylock, a page_lookup_nowait hit), writes it; a
failed trylock or a sleep reads it; so does every lookup of the page it
finds.  docs/concurrency.md lists every routine's footprint and the
dependence relation built on it.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from pvnsim.flags import SE_EXCL_WANTED

__all__ = [
    "MEM",
    "identity_key",
    "list_key",
    "page_key",
]

#: freemem and the free and cache lists.
MEM = "mem"

Keys = list[tuple[str, Hashable]]


def page_key(kind: str, pp: Any) -> tuple[str, int]:
    """The key of one part of a page: ``kind`` is ``se``, ``io``, ``hat`` or ``pg``."""
    return (kind, pp.p_id)


def identity_key(vp: Any, off: int) -> tuple[str, str, int]:
    """The key of the identity (``vp``, ``off``): its page hash entry."""
    return ("id", vp.v_name, off)


def list_key(vp: Any) -> tuple[str, str]:
    """The key of ``vp``'s page list."""
    return ("list", vp.v_name)


# -- locks --------------------------------------------------------------------


def w_se(fp: Any, args: tuple[Any, ...], result: Any = None) -> None:
    """W se(pp): a lock operation that always changes the word."""
    fp.writes.add(("se", args[0].p_id))


def try_se(fp: Any, args: tuple[Any, ...], result: Any) -> None:
    """W se(pp) if the trylock got it, else R se(pp)."""
    (fp.writes if result else fp.reads).add(("se", args[0].p_id))


def w_io(fp: Any, args: tuple[Any, ...], result: Any = None) -> None:
    """W io(pp)."""
    fp.writes.add(("io", args[0].p_id))


def r_io(fp: Any, args: tuple[Any, ...], result: Any = None) -> None:
    """R io(pp)."""
    fp.reads.add(("io", args[0].p_id))


def try_io(fp: Any, args: tuple[Any, ...], result: Any) -> None:
    """W io(pp) if the trylock got it, else R io(pp)."""
    (fp.writes if result else fp.reads).add(("io", args[0].p_id))


def page_lock_post(fp: Any, args: tuple[Any, ...], result: Any) -> None:
    """W se(pp) when it got the lock; R se(pp) when it slept and returned 0."""
    (fp.writes if result else fp.reads).add(("se", args[0].p_id))


def page_lock_waits(args: tuple[Any, ...]) -> Keys:
    """R se(pp) and its identity (page_hashout wakes the sleeper); W se(pp)
    when the sleeper sets SE_EWANTED."""
    pp = args[0]
    es = args[4] if len(args) > 4 else 0
    keys: Keys = [("w" if es & SE_EXCL_WANTED else "r", ("se", pp.p_id))]
    vp = pp.p_vnode
    if vp is not None:
        keys.append(("r", ("id", vp.v_name, pp.p_offset)))
    return keys


def io_waits(args: tuple[Any, ...]) -> Keys:
    """R io(pp)."""
    return [("r", ("io", args[0].p_id))]


def w_mutex(fp: Any, args: tuple[Any, ...], result: Any = None) -> None:
    """W the mutex."""
    fp.writes.add(args[0].name)


def mutex_waits(args: tuple[Any, ...]) -> Keys:
    """R the mutex (its release wakes the sleeper)."""
    return [("r", args[0].name)]


def r_cv(fp: Any, args: tuple[Any, ...], result: Any = None) -> None:
    """R the condition variable."""
    fp.reads.add(args[0].name)


def w_cv(fp: Any, args: tuple[Any, ...], result: Any = None) -> None:
    """W the condition variable."""
    fp.writes.add(args[0].name)


def cv_waits(args: tuple[Any, ...]) -> Keys:
    """R the condition variable (a broadcast wakes the sleeper)."""
    return [("r", args[0].name)]


def cv_stuck(args: tuple[Any, ...]) -> str | None:
    """A lost wakeup: the condition the sleeper waits for is already clear."""
    cv = args[0]
    pending = getattr(cv, "pending", None)
    if pending is None or pending():
        return None
    return f"it is already clear and nobody will broadcast {cv.name}"


# -- lists, identity, memory -----------------------------------------------------


def w_pg(fp: Any, args: tuple[Any, ...], result: Any = None) -> None:
    """W pg(pp) of the page argument (I/O-list links, free state)."""
    fp.writes.add(("pg", args[1].p_id))


def page_sub_post(fp: Any, args: tuple[Any, ...], result: Any) -> None:
    """W pg(pp) and pg(new head): the ring it left."""
    writes = fp.writes
    writes.add(("pg", args[1].p_id))
    if result is not None:
        writes.add(("pg", result.p_id))


def vplist(fp: Any, args: tuple[Any, ...], result: Any = None) -> None:
    """W list(vnode) and pg(pp): page_vpadd/page_vpsub (``link`` a vnode or a page)."""
    link, pp = args[0], args[1]
    vp = pp.p_vnode
    if vp is None:
        vp = link.p_vnode if hasattr(link, "p_vpnext") else link
    writes = fp.writes
    writes.add(("pg", pp.p_id))
    if vp is not None:
        writes.add(("list", vp.v_name))


def list_add_sub(fp: Any, args: tuple[Any, ...], result: Any = None) -> None:
    """W mem and pg(pp): a page goes on or off the free or cache list."""
    fp.writes.add(MEM)
    fp.writes.add(("pg", args[0].p_id))


def hashin_post(fp: Any, args: tuple[Any, ...], result: Any) -> None:
    """W id(vp, off), list(vp), pg(pp) when it hashed the page; else R id."""
    pp, vp, off = args
    if result:
        writes = fp.writes
        writes.add(("id", vp.v_name, off))
        writes.add(("list", vp.v_name))
        writes.add(("pg", pp.p_id))
    else:
        fp.reads.add(("id", vp.v_name, off))


def hashout_pre(fp: Any, args: tuple[Any, ...]) -> None:
    """W id, list of the identity it removes, and pg, hat of the page."""
    pp = args[0]
    vp = pp.p_vnode
    writes = fp.writes
    writes.add(("pg", pp.p_id))
    if vp is not None:
        writes.add(("id", vp.v_name, pp.p_offset))
        writes.add(("list", vp.v_name))
        writes.add(("hat", pp.p_id))


def _range(vp: Any, off: int, nbytes: int) -> range:
    k = vp.kernel
    return range(off, off + max(nbytes, 1), k.pagesize)


def create_pre(fp: Any, args: tuple[Any, ...]) -> None:
    """R id of every page of the range, and se of the pages that exist."""
    vp, off, nbytes = args[0], args[1], args[2]
    bucket = vp.kernel.page_hash[vp]
    reads = fp.reads
    name = vp.v_name
    for o in _range(vp, off, nbytes):
        reads.add(("id", name, o))
        pp = bucket.get(o)
        if pp is not None:
            reads.add(("se", pp.p_id))
    fp.writes.add(MEM)


def create_post(fp: Any, args: tuple[Any, ...], result: Any) -> None:
    """W mem (the reservation) and se, pg of every page it returns."""
    writes = fp.writes
    writes.add(MEM)
    if result is not None:
        pp = result
        while True:
            writes.add(("se", pp.p_id))
            writes.add(("pg", pp.p_id))
            pp = pp.p_next
            if pp is result:
                break


def create_waits(args: tuple[Any, ...]) -> Keys:
    """R mem, and id and se of every page of the range (memory, or an existing page's lock)."""
    vp, off, nbytes = args[0], args[1], args[2]
    bucket = vp.kernel.page_hash[vp]
    keys: Keys = [("r", MEM)]
    name = vp.v_name
    for o in _range(vp, off, nbytes):
        keys.append(("r", ("id", name, o)))
        pp = bucket.get(o)
        if pp is not None:
            keys.append(("r", ("se", pp.p_id)))
    return keys


def lookup_pre(fp: Any, args: tuple[Any, ...]) -> None:
    """R id(vp, off) and R se of the page found there (its free state)."""
    vp, off = args[0], args[1]
    fp.reads.add(("id", vp.v_name, off))
    pp = vp.kernel.page_hash[vp].get(off)
    if pp is not None:
        fp.reads.add(("se", pp.p_id))


def lookup_post(fp: Any, args: tuple[Any, ...], result: Any) -> None:
    """W se(pp) of the page it returns locked."""
    if result is not None:
        fp.writes.add(("se", result.p_id))


def lookup_waits(args: tuple[Any, ...]) -> Keys:
    """R id(vp, off) and R se of the page there."""
    vp, off = args[0], args[1]
    keys: Keys = [("r", ("id", vp.v_name, off))]
    pp = vp.kernel.page_hash[vp].get(off)
    if pp is not None:
        keys.append(("r", ("se", pp.p_id)))
    return keys


def r_id(fp: Any, args: tuple[Any, ...], result: Any = None) -> None:
    """R id(vp, off)."""
    fp.reads.add(("id", args[0].v_name, args[1]))


def reclaim_post(fp: Any, args: tuple[Any, ...], result: Any) -> None:
    """R mem (freemem is checked), W se(pp) (unlocked when it fails)."""
    fp.reads.add(MEM)
    fp.writes.add(("se", args[0].p_id))


def free_post(fp: Any, args: tuple[Any, ...], result: Any = None) -> None:
    """W pg, hat of the page (its bits are cleared; the list and lock are nested calls)."""
    pp = args[0]
    fp.writes.add(("pg", pp.p_id))
    fp.writes.add(("hat", pp.p_id))


def release_post(fp: Any, args: tuple[Any, ...], result: Any) -> None:
    """R hat(pp) (mappings and modified bit decide), W se(pp)."""
    pp = args[0]
    fp.reads.add(("hat", pp.p_id))
    fp.writes.add(("se", pp.p_id))


# -- the HAT ------------------------------------------------------------------------


def w_hat(fp: Any, args: tuple[Any, ...], result: Any = None) -> None:
    """W hat(pp)."""
    fp.writes.add(("hat", args[0].p_id))


def r_hat(fp: Any, args: tuple[Any, ...], result: Any = None) -> None:
    """R hat(pp)."""
    fp.reads.add(("hat", args[0].p_id))


# -- vnodes, segments, kmem ---------------------------------------------------------


def w_kmem(fp: Any, args: tuple[Any, ...], result: Any = None) -> None:
    """W the kmem cache."""
    fp.writes.add(("kmem", args[0].name))


def w_seg(fp: Any, args: tuple[Any, ...], result: Any = None) -> None:
    """W the segment's windows."""
    seg = args[0]
    fp.writes.add(("seg", getattr(seg, "name", "?")))


def list_scope(args: tuple[Any, ...]) -> frozenset[Hashable]:
    """R list(vp) in every step: the port reads ``v_pages`` without its mutex."""
    return frozenset((("list", args[0].v_name),))


def r_list(fp: Any, args: tuple[Any, ...]) -> None:
    """R list(vp): the port reads ``v_pages`` without its mutex at entry."""
    fp.reads.add(("list", args[0].v_name))
