"""The shape of the library: one hook point, downward imports, one public home.

These tests read the source (imports, ``__all__``) and exercise the hook
point itself; they are what keeps the restructured core from drifting back
into parallel mechanisms.
"""

from __future__ import annotations

import ast
import importlib
import pathlib
from collections import defaultdict

import pytest

import pvnsim
from pvnsim import Kernel, SegMap, check_kernel, make_page, pvn_read_done, pvn_read_kluster
from pvnsim.flags import B_ERROR, P_MOD, P_REF
from pvnsim.hooks import SPECS

SRC = pathlib.Path(pvnsim.__file__).parent

# Layers, lowest first.  A module may import from its own layer or lower ones.
LAYERS: dict[str, int] = {
    "errors": 0,
    "flags": 0,
    "sched": 1,
    "trace": 1,
    "hooks": 2,
    "footprints": 2,
    "kernel": 3,
    "vm": 3,
    "testing": 4,
    "fs": 4,
    "concurrency": 4,
    "viz": 5,
    "sweep": 5,
    "cli": 6,
    "__main__": 6,
    "pvnsim": 6,
}

#: The public modules: each public name has exactly one of them as its home.
PUBLIC_MODULES = (
    "pvnsim",
    "pvnsim.flags",
    "pvnsim.vm",
    "pvnsim.sched",
    "pvnsim.concurrency",
    "pvnsim.testing",
    "pvnsim.fs",
    "pvnsim.viz",
    "pvnsim.sweep",
)


def _module_name(path: pathlib.Path) -> str:
    parts = ("pvnsim", *path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    parts = module.split(".")
    if parts[-1].startswith("cli_") or (len(parts) > 2 and parts[-1] == "cli"):
        # A package's command-line front end (pvnsim.fs.cli_simulate,
        # pvnsim.sweep.cli) belongs to the command line's layer: it may draw
        # with viz, and only pvnsim.cli imports it.
        return LAYERS["cli"]
    return LAYERS[parts[1] if len(parts) > 1 else "pvnsim"]


def _runtime_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of every pvnsim import outside ``if TYPE_CHECKING:``."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in ast.walk(node):
                skip.add(id(inner))
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "pvnsim":  # ``from pvnsim import hooks``
                names = [f"pvnsim.{a.name}" for a in node.names]
            out.extend((node.lineno, n) for n in names if n.startswith("pvnsim"))
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names if a.name.startswith("pvnsim"))
    return out


def test_every_module_has_a_layer():
    """The layer table covers every package and module of pvnsim."""
    for path in SRC.rglob("*.py"):
        _layer(_module_name(path))


def test_imports_go_downward_only():
    """No module imports from a layer above its own, not even inside a function:
    the model (kernel, vm) knows nothing of fs, testing, concurrency or viz,
    and the scheduler nothing of the model."""
    upward = []
    for path in sorted(SRC.rglob("*.py")):
        module = _module_name(path)
        for line, imported in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if imported == "pvnsim":
                continue
            if _layer(imported) > _layer(module):
                upward.append(f"{path.relative_to(SRC)}:{line} imports {imported}")
    assert upward == []


def test_the_import_check_sees_an_upward_import(tmp_path):
    """The check above can fail: a function-level import of the views from the model is seen."""
    tree = ast.parse("def f():\n    from pvnsim.viz import show\n")
    assert _runtime_imports(tree) == [(2, "pvnsim.viz")]
    assert _layer("pvnsim.viz") > _layer("pvnsim.vm.page")
    tree = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pvnsim.viz import show\n"
    )
    assert _runtime_imports(tree) == []


def test_no_code_is_generated_or_cloned_at_import():
    """No exec, no code objects rebuilt: every routine has one implementation."""
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for banned in ("exec(", "types.FunctionType", "__code__", "register_boot_routine"):
            assert banned not in text, f"{path.relative_to(SRC)} uses {banned}"


def test_each_public_name_has_one_public_home():
    """Every name in a public module's __all__ exists there and in no other public module."""
    homes: dict[str, list[str]] = defaultdict(list)
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        for export in module.__all__:
            assert hasattr(module, export), f"{name}.__all__ names missing {export}"
            homes[export].append(name)
    assert {n: h for n, h in homes.items() if len(h) > 1} == {}


def test_the_low_level_api_is_exported_from_pvnsim_vm():
    """Every routine of the hook table is reachable from pvnsim (the ports) or pvnsim.vm."""
    import pvnsim.vm

    missing = [
        name
        for name, spec in SPECS.items()
        if spec.kind in ("prim", "port") and not (hasattr(pvnsim.vm, name) or hasattr(pvnsim, name))
    ]
    assert missing == []


def test_every_hooked_routine_is_implemented_once():
    """Each entry of the hook table (but the callbacks) names its one implementation."""
    for name, spec in SPECS.items():
        if spec.kind == "callback":
            assert spec.fn is None, name
        else:
            assert spec.fn is not None and spec.fn.__name__ == name, name


@pytest.mark.parametrize("traced", [False, True])
def test_a_monkeypatched_primitive_is_seen_by_the_ports(monkeypatch, traced):
    """Replacing pvnsim.vm.vm_pvn.page_create_va reaches the port, traced or not."""
    from pvnsim.vm import vm_pvn

    calls: list[int] = []
    original = vm_pvn.page_create_va

    def spy(vp, off, nbytes, flags, seg, vaddr):  # type: ignore[no-untyped-def]
        calls.append(off)
        return original(vp, off, nbytes, flags, seg, vaddr)

    monkeypatch.setattr(vm_pvn, "page_create_va", spy)
    k = Kernel(total_pages=64, minfree=0, throttlefree=0, pageout_reserve=0)
    if traced:
        k.trace_on()
    vp = k.vnode("v1")
    kl = pvn_read_kluster(vp, 0x1000, SegMap(k, "s"), 0x11000, 0, 0x3000, 0)
    assert kl is not None
    assert calls == [0x1000, 0x0, 0x2000]  # off, then backwards, then forwards (L145-186)
    if traced:
        assert [e.args[1] for e in k.trace.filter("page_create_va")] == ["0x1000", "0x0", "0x2000"]
    check_kernel(k)


@pytest.mark.parametrize("traced", [False, True])
def test_a_primitive_patched_where_a_primitive_calls_it_is_seen(monkeypatch, traced):
    """page_lookup_nowait calls page_trylock through pvnsim.vm.vm_page: a
    fault injected there makes it return NULL for a page that is there and
    unlocked, traced or not, and pvn_write_kluster (L274) then writes the
    dirty page alone."""
    import sys

    from pvnsim import pvn_write_kluster
    from pvnsim.flags import SE_SHARED
    from pvnsim.vm import page_lookup_nowait

    vm_page = sys.modules["pvnsim.vm.vm_page"]
    refused: list[str] = []

    def busy(pp, se):  # type: ignore[no-untyped-def]
        refused.append(pp.name)
        return 0

    k = Kernel(total_pages=64, minfree=0, throttlefree=0, pageout_reserve=0)
    vp = k.vnode("v1")
    make_page(vp, 0x0, nrm=P_MOD | P_REF)
    pp = make_page(vp, 0x1000, nrm=P_MOD | P_REF, lock="S", io="me")
    monkeypatch.setattr(vm_page, "page_trylock", busy)
    if traced:
        k.trace_on()
    assert page_lookup_nowait(vp, 0x0, SE_SHARED) is None
    kl = pvn_write_kluster(vp, pp, 0x0, 0x2000, 0)
    assert (kl.plist, kl.off, kl.len) == (pp, 0x1000, 0x1000)
    assert refused == ["v1@0x0", "v1@0x0"]
    if traced:
        assert [e.result for e in k.trace.filter("page_lookup_nowait")] == ["NULL", "NULL"]


def _tree(k: Kernel) -> list[str]:
    return [f"{'  ' * e.depth}{e.format()}" for e in k.trace]


def test_the_trace_nests_what_primitives_call_in_the_c_order():
    """pvn_read_done(B_ERROR) of a fresh page: VN_DISPOSE -> page_destroy ->
    hat_pageunload, page_hashout (under the list mutex), page_free (onto the
    free list, then unlocked), as vm_page.c orders them."""
    k = Kernel(total_pages=64, minfree=0, throttlefree=0, pageout_reserve=0)
    vp = k.vnode("v1")
    kl = pvn_read_kluster(vp, 0, SegMap(k, "s"), 0x10000, 0, 0x1000, 0)
    assert kl is not None
    k.trace_on()
    pvn_read_done(kl.plist, B_ERROR)
    assert _tree(k) == [
        "pvn_read_done(v1@0x0, B_ERROR)",
        "  page_sub(v1@0x0, v1@0x0) = NULL",
        "  page_io_unlock(v1@0x0)",
        "  VN_DISPOSE(v1@0x0, B_INVAL, 0)",
        "    page_destroy(v1@0x0, 0)",
        "      hat_pageunload(v1@0x0, HAT_FORCE_PGUNLOAD) = 0",
        "      page_hashout(v1@0x0)",
        "        mutex_enter(vphm(v1))",
        "        mutex_exit(vphm(v1))",
        "      page_free(NOIDENT, 0)",
        "        page_list_add(NOIDENT, 0)",
        "        page_unlock(NOIDENT)",
    ]
    events = list(k.trace)
    assert all(e.parent is None or events[e.parent].depth == e.depth - 1 for e in events)


def _contains(tree: list[str], chain: list[str]) -> bool:
    """``chain`` appears in ``tree`` as consecutive lines (indentation relative)."""
    for start in range(len(tree) - len(chain) + 1):
        window = tree[start : start + len(chain)]
        base = len(window[0]) - len(window[0].lstrip())
        if [w[base:] for w in window] == chain:
            return True
    return False


def _roomy() -> Kernel:
    return Kernel(
        total_pages=64, minfree=0, throttlefree=0, pageout_reserve=0, lotsfree=0, desfree=0
    )


def _read_kluster_one_page(k: Kernel) -> None:
    vp = k.vnode("v1")
    k.trace_on()
    pvn_read_kluster(vp, 0, SegMap(k, "s"), 0x10000, 0, 0x1000, 0)


def _read_done_release(k: Kernel) -> None:
    vp = k.vnode("v1")
    kl = pvn_read_kluster(vp, 0, SegMap(k, "s"), 0x10000, 0, 0x1000, 0)
    assert kl is not None
    k.trace_on()
    pvn_read_done(kl.plist, 0)


def _getdirty_invalidate_mapped(k: Kernel) -> None:
    from pvnsim import pvn_getdirty
    from pvnsim.flags import B_INVAL

    vp = k.vnode("v1")
    pp = make_page(vp, 0, nrm=P_REF, maps=["rm"], lock="X")
    k.trace_on()
    pvn_getdirty(pp, B_INVAL)


def _setdirty(k: Kernel) -> None:
    from pvnsim import pvn_vplist_setdirty

    vp = k.vnode("v1")
    make_page(vp, 0)
    k.trace_on()
    pvn_vplist_setdirty(vp, lambda pp: 1)


def _write_kluster_neighbour(k: Kernel) -> None:
    from pvnsim import pvn_getdirty, pvn_write_kluster

    vp = k.vnode("v1")
    make_page(vp, 0x1000, nrm=P_MOD)
    pp = make_page(vp, 0, nrm=P_MOD, lock="S")
    assert pvn_getdirty(pp, 0) == 1
    k.trace_on()
    pvn_write_kluster(vp, pp, 0, 0x2000, 0)


def _plist_init_releases(k: Kernel) -> None:
    from pvnsim import pvn_plist_init

    vp = k.vnode("v1")
    kl = pvn_read_kluster(vp, 0, SegMap(k, "s"), 0x10000, 0, 0x2000, 0)
    assert kl is not None
    pl: list[object] = [None] * 3
    k.trace_on()
    pvn_plist_init(kl.plist, pl, 0x1000, 0x1000, 0x2000, 1)  # type: ignore[arg-type]


# Each: a run, and a chain of nested calls its trace must show, as illumos's
# vm_page.c, page_lock.c and hat code make them (docs/primitives.md).
NESTED = {
    # page_create_va: identity first (page_hashin under the vnode's list
    # mutex), then the i/o lock, then onto the caller's list.
    "pvn_read_kluster": (
        _read_kluster_one_page,
        [
            "page_create_va(v1, 0x0, 4096, PG_EXCL|PG_WAIT, s, 0x10000) = v1@0x0",
            "  page_hashin(NOIDENT, v1, 0x0) = 1",
            "    mutex_enter(vphm(v1))",
            "    mutex_exit(vphm(v1))",
            "  page_io_lock(v1@0x0)",
            "  page_add(NULL, v1@0x0) = v1@0x0",
        ],
    ),
    # page_release of an unmapped page it holds exclusively frees it
    # through VN_DISPOSE(B_FREE): onto the cache list, then unlocked.
    "pvn_read_done": (
        _read_done_release,
        [
            "page_release(v1@0x0, 0) = PGREL_CLEAN",
            "  hat_page_is_mapped(v1@0x0) = 0",
            "  hat_page_is_mapped(v1@0x0) = 0",
            "  VN_DISPOSE(v1@0x0, B_FREE, 0)",
            "    page_free(v1@0x0, 0)",
            "      page_list_add(v1@0x0, 0)",
            "      page_unlock(v1@0x0)",
        ],
    ),
    # hat_pageunload folds the translation's ref/mod bits into p_nrm.
    "pvn_getdirty": (
        _getdirty_invalidate_mapped,
        [
            "hat_pageunload(v1@0x0, HAT_FORCE_PGUNLOAD) = 0",
            "  hat_page_setattr(v1@0x0, P_MOD|P_REF)",
        ],
    ),
    # hat_setmod_only is hat_page_setattr with P_NSH (no shuffle).
    "pvn_vplist_setdirty": (
        _setdirty,
        ["hat_setmod_only(v1@0x0)", "  hat_page_setattr(v1@0x0, P_MOD|P_NSH)"],
    ),
    # The neighbour is looked up without waiting (a trylock inside), then
    # handed to pvn_getdirty, a port called by a port.
    "pvn_write_kluster": (
        _write_kluster_neighbour,
        [
            "page_lookup_nowait(v1, 0x1000, SE_SHARED) = v1@0x1000",
            "  page_trylock(v1@0x1000, SE_SHARED) = 1",
            "pvn_getdirty(v1@0x1000, B_DELWRI) = 1",
            "  page_io_trylock(v1@0x1000) = 1",
        ],
    ),
    # A page before off is released: exclusively held, so freed at once,
    # after page_release's two hat_page_is_mapped tests (no upgrade needed)
    # and, for checkmod, hat_ismod (vm_page.c page_release).
    "pvn_plist_init": (
        _plist_init_releases,
        [
            "page_release(v1@0x0, 1) = PGREL_CLEAN",
            "  hat_page_is_mapped(v1@0x0) = 0",
            "  hat_page_is_mapped(v1@0x0) = 0",
            "  hat_ismod(v1@0x0) = 0",
            "  VN_DISPOSE(v1@0x0, B_FREE, 0)",
            "    page_free(v1@0x0, 0)",
        ],
    ),
}


@pytest.mark.parametrize("port", sorted(NESTED))
def test_each_port_trace_nests_primitives_calls(port):
    """The port's trace shows the calls its primitives make, nested, in C order."""
    run, chain = NESTED[port]
    k = _roomy()
    run(k)
    tree = _tree(k)
    assert tree[0].startswith(f"{port}("), tree[0]
    assert _contains(tree, chain), "\n".join(tree)
    check_kernel(k)


@pytest.mark.parametrize("traced", [False, True])
def test_a_callback_error_shows_real_files_and_leaves_the_walk_as_it_was(traced):
    """An exception in putapage reaches the caller with every frame in a real
    file (ports.py, vm_pvn.py, hooks.py: no File "<string>"); the walk's
    VVMLOCK stays set, so a second walk is a DeadlockError naming it."""
    import traceback

    from pvnsim import DeadlockError, pvn_vplist_dirty
    from pvnsim.flags import VVMLOCK

    k = _roomy()
    vp = k.vnode("f")
    make_page(vp, 0x0, nrm=P_MOD | P_REF)
    if traced:
        k.trace_on()

    def putapage(vp, pp, offp, lenp, flags, cred):  # type: ignore[no-untyped-def]
        raise RuntimeError("my putapage")

    with pytest.raises(RuntimeError, match="my putapage") as info:
        pvn_vplist_dirty(vp, 0, putapage, 0, None)
    files = [frame.filename for frame in traceback.extract_tb(info.value.__traceback__)]
    assert all(pathlib.Path(f).is_file() for f in files), files
    assert any(f.endswith("vm_pvn.py") for f in files), files
    assert vp.v_flag & VVMLOCK
    with pytest.raises(DeadlockError, match="VVMLOCK of f, held by main"):
        pvn_vplist_dirty(vp, 0, putapage, 0, None)
