"""Kernel assertions and usage checks survive ``python -O``; the hierarchy is as documented."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pvnsim import (
    DeadlockError,
    InternalError,
    InvariantViolation,
    KernelAssertionError,
    KernelPanic,
    PvnsimError,
    UsageError,
)
from pvnsim.errors import Wait
from pvnsim.vm import vm_pvn

SCRIPT = """
import pvnsim
from pvnsim.vm import vm_pvn
try:
    vm_pvn._kassert(False, "off >= vp_off")
except pvnsim.KernelAssertionError as exc:
    print("kassert:", exc)
k = pvnsim.Kernel(total_pages=16)
vp = k.vnode("v1")
try:
    pvnsim.pvn_read_kluster(vp, 4097, pvnsim.SegMap(k, "s"), 0, 0, 8192, 0)
except pvnsim.UsageError as exc:
    print("usage:", exc)
"""


def test_assertions_survive_python_O():
    """Under python -O a kernel ASSERT still raises and bad arguments are still refused."""
    out = subprocess.run(
        [sys.executable, "-O", "-c", SCRIPT], capture_output=True, text=True, check=True
    ).stdout
    assert "kassert: assertion failed: off >= vp_off" in out
    assert "usage: pvn_read_kluster: off=0x1001 is not aligned to PAGESIZE" in out


def test_kassert_raises_kernel_assertion_error():
    """A failed port ASSERT is a KernelAssertionError, a KernelPanic and an AssertionError."""
    with pytest.raises(KernelAssertionError) as info:
        vm_pvn._kassert(0, "pp->p_vnode == vp")
    assert isinstance(info.value, KernelPanic)
    assert isinstance(info.value, AssertionError)
    assert str(info.value) == "assertion failed: pp->p_vnode == vp"


def test_hierarchy():
    """Every error is a PvnsimError and also the matching builtin."""
    assert issubclass(UsageError, ValueError)
    assert issubclass(InvariantViolation, AssertionError)
    assert issubclass(DeadlockError, RuntimeError)
    assert issubclass(InternalError, RuntimeError)
    for cls in (
        UsageError,
        KernelPanic,
        KernelAssertionError,
        InvariantViolation,
        DeadlockError,
        InternalError,
    ):
        assert issubclass(cls, PvnsimError)


def test_deadlock_error_lists_waits():
    """A DeadlockError names each waiting thread, what it waits for and the holder."""
    err = DeadlockError(
        [Wait("main", "i/o lock of v1@0x0", "other"), Wait("t2", "VVMLOCK of v1", None)]
    )
    assert str(err) == (
        "deadlock: main waits for i/o lock of v1@0x0, held by other; t2 waits for VVMLOCK of v1"
    )
    assert err.waits[0].holder == "other"
