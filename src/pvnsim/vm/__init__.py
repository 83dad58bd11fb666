"""The model of the illumos VM primitives and the ports of vm_pvn.c.

One module per illumos file it stands in for: page.py (page.h and the list
operations of vm_page.c), page_lock.py, vm_page.py, hat.py, vnode.py, seg.py,
seg_map.py, kmem.py, and vm_pvn.py (the ports).
"""
