"""A kmem object cache, as far as the pvn marker pages need one.

Derived from the behaviour of illumos kmem_cache_create/alloc/free
(usr/src/uts/common/os/kmem.c, CDDL-1.0).  The constructor runs only when an
object is first built; a freed object keeps its state and is handed out again
last-freed-first, as kmem's magazine layer does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pvnsim.errors import KernelPanic
from pvnsim.hooks import implements
from pvnsim.vm.page import Page, page_name

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel

__all__ = ["KM_NOSLEEP", "KM_SLEEP", "KmemCache", "kmem_cache_alloc", "kmem_cache_free"]

KM_SLEEP = 0
KM_NOSLEEP = 1


class KmemCache:
    """A cache of page-sized marker objects."""

    def __init__(
        self,
        kernel: Kernel,
        name: str,
        constructor: Callable[[Page, Any, int], int] | None,
    ) -> None:
        self.kernel = kernel
        self.name = name
        self.constructor = constructor
        self.free: list[Page] = []
        self.outstanding: set[int] = set()
        self.built = 0

    def __repr__(self) -> str:
        return f"<KmemCache {self.name} built={self.built} out={len(self.outstanding)}>"


@implements
def kmem_cache_alloc(cp: KmemCache, kmflags: int) -> Page:
    """An object of ``cp`` (never fails with KM_SLEEP)."""
    k = cp.kernel
    if k.hooks is not None and k.hooks.entering != "kmem_cache_alloc":
        return k.hooks.around("kmem_cache_alloc", cp, kmflags)  # type: ignore[no-any-return]
    if cp.free:
        obj = cp.free.pop()
    else:
        obj = Page(cp.kernel, -1 - cp.built)
        cp.built += 1
        if cp.constructor is not None:
            cp.constructor(obj, None, kmflags)
    cp.outstanding.add(id(obj))
    return obj


@implements
def kmem_cache_free(cp: KmemCache, obj: Page) -> None:
    """Give ``obj`` back to ``cp``."""
    k = cp.kernel
    if k.hooks is not None and k.hooks.entering != "kmem_cache_free":
        return k.hooks.around("kmem_cache_free", cp, obj)  # type: ignore[no-any-return]
    if id(obj) not in cp.outstanding:
        raise KernelPanic(f"kmem_cache_free: {page_name(obj)} was not allocated from {cp.name}")
    cp.outstanding.discard(id(obj))
    cp.free.append(obj)
    return None
