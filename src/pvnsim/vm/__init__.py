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
from pvnsim.vm import vm_pvn as _vm_pvn
from pvnsim.vm import vnode as _vnode
from pvnsim.vm.hat import HatMapping
from pvnsim.vm.kmem import KM_NOSLEEP, KM_SLEEP, KmemCache
from pvnsim.vm.lowlevel import exported as _exported
from pvnsim.vm.mutex import KCondvar, KMutex
from pvnsim.vm.page import NOOFFSET, PVN_VPLIST_HASH_TAG
from pvnsim.vm.seg_map import SEGKMAP_BASE
from pvnsim.vm.vm_pvn import PVN_FLAGS

# The primitives, each with its argument contract checked (pvnsim.vm.lowlevel).
hat_clrrefmod = _exported(_hat.hat_clrrefmod)
hat_ismod = _exported(_hat.hat_ismod)
hat_map = _exported(_hat.hat_map)
hat_page_clrattr = _exported(_hat.hat_page_clrattr)
hat_page_getattr = _exported(_hat.hat_page_getattr)
hat_page_is_mapped = _exported(_hat.hat_page_is_mapped)
hat_page_setattr = _exported(_hat.hat_page_setattr)
hat_pagesync = _exported(_hat.hat_pagesync)
hat_pageunload = _exported(_hat.hat_pageunload)
hat_setmod = _exported(_hat.hat_setmod)
hat_setmod_only = _exported(_hat.hat_setmod_only)
hat_supported = _exported(_hat.hat_supported)
hat_touch = _exported(_hat.hat_touch)
hat_unmap = _exported(_hat.hat_unmap)
kmem_cache_alloc = _exported(_kmem.kmem_cache_alloc)
kmem_cache_free = _exported(_kmem.kmem_cache_free)
cv_broadcast = _exported(_mutex.cv_broadcast)
cv_wait = _exported(_mutex.cv_wait)
mutex_enter = _exported(_mutex.mutex_enter)
mutex_exit = _exported(_mutex.mutex_exit)
page_add = _exported(_page.page_add)
page_hashin = _exported(_page.page_hashin)
page_hashout = _exported(_page.page_hashout)
page_list_add = _exported(_page.page_list_add)
page_list_sub = _exported(_page.page_list_sub)
page_sub = _exported(_page.page_sub)
page_vpadd = _exported(_page.page_vpadd)
page_vpsub = _exported(_page.page_vpsub)
page_downgrade = _exported(_page_lock.page_downgrade)
page_io_lock = _exported(_page_lock.page_io_lock)
page_io_locked = _exported(_page_lock.page_io_locked)
page_io_trylock = _exported(_page_lock.page_io_trylock)
page_io_unlock = _exported(_page_lock.page_io_unlock)
page_io_wait = _exported(_page_lock.page_io_wait)
page_lock = _exported(_page_lock.page_lock)
page_lock_clr_exclwanted = _exported(_page_lock.page_lock_clr_exclwanted)
page_trylock = _exported(_page_lock.page_trylock)
page_tryupgrade = _exported(_page_lock.page_tryupgrade)
page_unlock = _exported(_page_lock.page_unlock)
SEGOP_KLUSTER = _exported(_seg.SEGOP_KLUSTER)
kzero = _exported(_seg_map.kzero)
segmap_getmapflt = _exported(_seg_map.segmap_getmapflt)
segmap_release = _exported(_seg_map.segmap_release)
VN_DISPOSE = _exported(_vm_page.VN_DISPOSE)
fs_dispose = _exported(_vm_page.fs_dispose)
page_create_va = _exported(_vm_page.page_create_va)
page_destroy = _exported(_vm_page.page_destroy)
page_destroy_free = _exported(_vm_page.page_destroy_free)
page_exists = _exported(_vm_page.page_exists)
page_free = _exported(_vm_page.page_free)
page_lookup = _exported(_vm_page.page_lookup)
page_lookup_nowait = _exported(_vm_page.page_lookup_nowait)
page_reclaim = _exported(_vm_page.page_reclaim)
page_release = _exported(_vm_page.page_release)
PAGE_EXCL = _exported(_page.PAGE_EXCL)
PAGE_LOCKED = _exported(_page.PAGE_LOCKED)
PAGE_SHARED = _exported(_page.PAGE_SHARED)
PP_ISFREE = _exported(_page.PP_ISFREE)
page_iolock_assert = _exported(_page.page_iolock_assert)
page_name = _exported(_page.page_name)
ring = _exported(_page.ring)
IS_SWAPFSVP = _exported(_vnode.IS_SWAPFSVP)
IS_SWAPVP = _exported(_vnode.IS_SWAPVP)
IS_VMODSORT = _exported(_vnode.IS_VMODSORT)
page_vnode_mutex = _exported(_vnode.page_vnode_mutex)
marker_constructor = _exported(_vm_pvn.marker_constructor)

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
