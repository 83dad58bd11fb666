"""The model of the illumos VM primitives: pvnsim's low-level API.

One module per illumos file it stands in for, so that a reader can open the C
and the Python side by side: page.py (page.h, the page lists of vm_page.c and
vm_pagelist.c), page_lock.py, vm_page.py (with VN_DISPOSE and fs_dispose),
hat.py, vnode.py, seg.py, seg_map.py, kmem.py, mutex.py, and vm_pvn.py (the
ports; their checked public versions are in ports.py and exported by
:mod:`pvnsim`).

This package exports the primitives the ports call (page_create_va,
page_lookup, page_lock, hat_pagesync, VN_DISPOSE, ...), for file systems and
tests written against the model, the way ``trio.lowlevel`` exports trio's
machinery.  Each checks its arguments first (:mod:`pvnsim.vm.lowlevel`):
inside the library the ports call the primitives of their own modules, which
trust their arguments as the C does.  The user's vocabulary (Kernel, Vnode, Page, the twelve ports,
...) is exported by :mod:`pvnsim` itself.
"""

from pvnsim.vm import hat as _hat
from pvnsim.vm import kmem as _kmem
from pvnsim.vm import mutex as _mutex
from pvnsim.vm import page as _page
from pvnsim.vm import page_lock as _page_lock
from pvnsim.vm import seg as _seg
from pvnsim.vm import seg_map as _seg_map
from pvnsim.vm import vm_page as _vm_page
from pvnsim.vm.hat import HatMapping
from pvnsim.vm.kmem import KM_NOSLEEP, KM_SLEEP, KmemCache
from pvnsim.vm.lowlevel import exported
from pvnsim.vm.mutex import KCondvar, KMutex
from pvnsim.vm.page import (
    NOOFFSET,
    PAGE_EXCL,
    PAGE_LOCKED,
    PAGE_SHARED,
    PP_ISFREE,
    PVN_VPLIST_HASH_TAG,
    page_iolock_assert,
    page_name,
    ring,
)
from pvnsim.vm.seg_map import SEGKMAP_BASE
from pvnsim.vm.vm_pvn import PVN_FLAGS, marker_constructor
from pvnsim.vm.vnode import IS_SWAPFSVP, IS_SWAPVP, IS_VMODSORT, page_vnode_mutex

# The primitives, each with its argument contract checked (pvnsim.vm.lowlevel).
hat_clrrefmod = exported(_hat.hat_clrrefmod)
hat_ismod = exported(_hat.hat_ismod)
hat_map = exported(_hat.hat_map)
hat_page_clrattr = exported(_hat.hat_page_clrattr)
hat_page_getattr = exported(_hat.hat_page_getattr)
hat_page_is_mapped = exported(_hat.hat_page_is_mapped)
hat_page_setattr = exported(_hat.hat_page_setattr)
hat_pagesync = exported(_hat.hat_pagesync)
hat_pageunload = exported(_hat.hat_pageunload)
hat_setmod = exported(_hat.hat_setmod)
hat_setmod_only = exported(_hat.hat_setmod_only)
hat_supported = exported(_hat.hat_supported)
hat_touch = exported(_hat.hat_touch)
hat_unmap = exported(_hat.hat_unmap)
kmem_cache_alloc = exported(_kmem.kmem_cache_alloc)
kmem_cache_free = exported(_kmem.kmem_cache_free)
cv_broadcast = exported(_mutex.cv_broadcast)
cv_wait = exported(_mutex.cv_wait)
mutex_enter = exported(_mutex.mutex_enter)
mutex_exit = exported(_mutex.mutex_exit)
page_add = exported(_page.page_add)
page_hashin = exported(_page.page_hashin)
page_hashout = exported(_page.page_hashout)
page_list_add = exported(_page.page_list_add)
page_list_sub = exported(_page.page_list_sub)
page_sub = exported(_page.page_sub)
page_vpadd = exported(_page.page_vpadd)
page_vpsub = exported(_page.page_vpsub)
page_downgrade = exported(_page_lock.page_downgrade)
page_io_lock = exported(_page_lock.page_io_lock)
page_io_locked = exported(_page_lock.page_io_locked)
page_io_trylock = exported(_page_lock.page_io_trylock)
page_io_unlock = exported(_page_lock.page_io_unlock)
page_io_wait = exported(_page_lock.page_io_wait)
page_lock = exported(_page_lock.page_lock)
page_lock_clr_exclwanted = exported(_page_lock.page_lock_clr_exclwanted)
page_trylock = exported(_page_lock.page_trylock)
page_tryupgrade = exported(_page_lock.page_tryupgrade)
page_unlock = exported(_page_lock.page_unlock)
SEGOP_KLUSTER = exported(_seg.SEGOP_KLUSTER)
kzero = exported(_seg_map.kzero)
segmap_getmapflt = exported(_seg_map.segmap_getmapflt)
segmap_release = exported(_seg_map.segmap_release)
VN_DISPOSE = exported(_vm_page.VN_DISPOSE)
fs_dispose = exported(_vm_page.fs_dispose)
page_create_va = exported(_vm_page.page_create_va)
page_destroy = exported(_vm_page.page_destroy)
page_destroy_free = exported(_vm_page.page_destroy_free)
page_exists = exported(_vm_page.page_exists)
page_free = exported(_vm_page.page_free)
page_lookup = exported(_vm_page.page_lookup)
page_lookup_nowait = exported(_vm_page.page_lookup_nowait)
page_reclaim = exported(_vm_page.page_reclaim)
page_release = exported(_vm_page.page_release)

__all__ = [
    "IS_SWAPFSVP",
    "IS_SWAPVP",
    "IS_VMODSORT",
    "KM_NOSLEEP",
    "KM_SLEEP",
    "NOOFFSET",
    "PAGE_EXCL",
    "PAGE_LOCKED",
    "PAGE_SHARED",
    "PP_ISFREE",
    "PVN_FLAGS",
    "PVN_VPLIST_HASH_TAG",
    "SEGKMAP_BASE",
    "SEGOP_KLUSTER",
    "VN_DISPOSE",
    "HatMapping",
    "KCondvar",
    "KMutex",
    "KmemCache",
    "cv_broadcast",
    "cv_wait",
    "fs_dispose",
    "hat_clrrefmod",
    "hat_ismod",
    "hat_map",
    "hat_page_clrattr",
    "hat_page_getattr",
    "hat_page_is_mapped",
    "hat_page_setattr",
    "hat_pagesync",
    "hat_pageunload",
    "hat_setmod",
    "hat_setmod_only",
    "hat_supported",
    "hat_touch",
    "hat_unmap",
    "kmem_cache_alloc",
    "kmem_cache_free",
    "kzero",
    "marker_constructor",
    "mutex_enter",
    "mutex_exit",
    "page_add",
    "page_create_va",
    "page_destroy",
    "page_destroy_free",
    "page_downgrade",
    "page_exists",
    "page_free",
    "page_hashin",
    "page_hashout",
    "page_io_lock",
    "page_io_locked",
    "page_io_trylock",
    "page_io_unlock",
    "page_io_wait",
    "page_iolock_assert",
    "page_list_add",
    "page_list_sub",
    "page_lock",
    "page_lock_clr_exclwanted",
    "page_lookup",
    "page_lookup_nowait",
    "page_name",
    "page_reclaim",
    "page_release",
    "page_sub",
    "page_trylock",
    "page_tryupgrade",
    "page_unlock",
    "page_vnode_mutex",
    "page_vpadd",
    "page_vpsub",
    "ring",
    "segmap_getmapflt",
    "segmap_release",
]
