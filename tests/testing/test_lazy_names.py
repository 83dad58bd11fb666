"""pvnsim.testing's lazy-import table stays in step with its modules."""

from __future__ import annotations

import importlib

import pvnsim.testing as testing


def test_lazy_table_matches_each_modules_all():
    """Each module's __all__ is exactly what pvnsim.testing lists for it, and every name loads."""
    for module, names in testing._MODULES.items():
        mod = importlib.import_module(f"pvnsim.testing.{module}")
        assert sorted(names) == sorted(mod.__all__), module
        for name in names:
            assert getattr(testing, name) is getattr(mod, name)
