"""The curated public API: __all__ matches what the package exports."""

from __future__ import annotations

import inspect

import pvnsim

PORTS = [
    "pvn_read_kluster",
    "pvn_write_kluster",
    "pvn_io_done",
    "pvn_read_done",
    "pvn_write_done",
    "pvn_getdirty",
    "pvn_init",
    "pvn_vplist_dirty",
    "pvn_vplist_setdirty",
    "pvn_vpzero",
    "pvn_getpages",
    "pvn_plist_init",
]


def test_all_names_exist():
    """Every name in pvnsim.__all__ is an attribute of the package."""
    missing = [name for name in pvnsim.__all__ if not hasattr(pvnsim, name)]
    assert missing == []


def test_all_lists_every_public_attribute():
    """Every public attribute imported into pvnsim is listed in __all__."""
    public = {
        name
        for name, value in vars(pvnsim).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert public - set(pvnsim.__all__) == set()


def test_all_has_no_duplicates():
    """__all__ names each export once."""
    assert len(pvnsim.__all__) == len(set(pvnsim.__all__))


def test_every_vm_pvn_routine_is_importable():
    """All twelve public routines of vm_pvn.c import from pvnsim."""
    for name in PORTS:
        assert name in pvnsim.__all__
        assert callable(getattr(pvnsim, name))


def test_ports_name_their_c_source():
    """Each port names vm_pvn.c and a line range; its public function names the port."""
    from pvnsim.vm import vm_pvn

    for name in PORTS:
        doc = getattr(vm_pvn, name).__doc__ or ""
        assert "usr/src/uts/common/vm/vm_pvn.c, lines" in doc, name
        public = getattr(pvnsim, name).__doc__ or ""
        assert f"pvnsim.vm.vm_pvn.{name}" in public, name
