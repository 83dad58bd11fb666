"""Valid arguments that miss a port's one-test fast path take the naming checks
and then behave exactly like the plain-int arguments the fast path accepts."""

from __future__ import annotations

from pvnsim import Kernel, SegMap, make_page, pvn_getdirty, pvn_read_kluster
from pvnsim.flags import P_MOD, P_REF, BufFlag


def _roomy_kernel() -> Kernel:
    return Kernel(total_pages=64, minfree=0, throttlefree=0, pageout_reserve=0)


def test_read_kluster_accepts_a_bool_isra():
    """isra=False (a bool, not an int) goes through the checks and klusters as 0."""
    k = _roomy_kernel()
    vp = k.vnode("v1")
    kl = pvn_read_kluster(vp, 4096, SegMap(k, "s"), 0x10000, 0, 8192, False)
    assert kl is not None
    assert (kl.off, kl.len) == (0, 8192)


def test_getdirty_accepts_enum_flags():
    """A BufFlag member (an int subclass) is checked and then used like its value."""
    k = _roomy_kernel()
    vp = k.vnode("v1")
    pp = make_page(vp, 0, nrm=P_MOD | P_REF, lock="S")
    assert pvn_getdirty(pp, BufFlag.B_ASYNC) == 1
    assert pp.p_nrm & (P_MOD | P_REF) == 0
    assert pp.p_iolock_state
