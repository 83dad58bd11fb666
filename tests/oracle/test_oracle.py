"""Differential tests: the unmodified C vm_pvn.c against pvnsim's ports.

The C side is compiled once per session from the vendored copy of the
unmodified illumos file (tests/oracle/c/illumos/vm_pvn.c), or from the file
``PVNSIM_VM_PVN_C`` names.  Without a C compiler the tests skip, unless
``PVNSIM_REQUIRE_ORACLE`` is set (CI), where they fail instead.  See
docs/oracle.md.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import pathlib
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, note, settings

from tests.oracle import pydriver
from tests.oracle.scenario_gen import scenarios

HERE = pathlib.Path(__file__).parent
CORPUS = sorted(HERE.glob("scenarios/*.scn"))
BUILD = HERE / "c" / "build.sh"
VENDORED = HERE / "c" / "illumos" / "vm_pvn.c"
# SHA-256 of illumos-gate's usr/src/uts/common/vm/vm_pvn.c as vendored
# (tests/oracle/c/illumos/README.md).
VENDORED_SHA256 = "83d681a54e33c89b26300fa041a385eeadc20e48cd0a20b97c3d2e256b2285b7"


def _unavailable(reason: str) -> None:
    if os.environ.get("PVNSIM_REQUIRE_ORACLE"):
        pytest.fail(f"the oracle must run here but cannot: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def oracle_bin(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    """Paths of the compiled C oracle (DEBUG and non-DEBUG builds)."""
    override = os.environ.get("PVNSIM_VM_PVN_C")
    if override and not pathlib.Path(override).is_file():
        # An explicit request for another file: a wrong path is an error,
        # never a reason to skip.
        pytest.fail(f"PVNSIM_VM_PVN_C={override} is not a file")
    if shutil.which(os.environ.get("CC", "gcc")) is None:
        _unavailable("no C compiler (gcc) on PATH")
    out = tmp_path_factory.mktemp("oracle")
    proc = subprocess.run(
        ["bash", str(BUILD), str(out)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"building the C oracle failed:\n{proc.stdout}\n{proc.stderr}")
    bins = {"debug": out / "pvn_oracle", "nodebug": out / "pvn_oracle_nodebug"}
    for path in bins.values():
        assert path.is_file(), f"build.sh did not produce {path}"
    return bins


def _run_c(bins: dict[str, pathlib.Path], text: str, tmp: pathlib.Path) -> str:
    scn = pydriver.Scenario(text)
    which = "debug" if pydriver._num(scn.tunables.get("debug", "1")) else "nodebug"
    path = tmp / "scenario.scn"
    path.write_text(text)
    proc = subprocess.run(
        [str(bins[which]), str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, f"C oracle crashed ({proc.returncode}):\n{proc.stderr}"
    return proc.stdout


def _compare(bins: dict[str, pathlib.Path], text: str, tmp: pathlib.Path) -> None:
    """C against pvnsim traced (whole dumps, traces included), then against
    pvnsim untraced, where the ports run as their unhooked variants (dumps
    without their trace sections)."""
    c_raw = _run_c(bins, text, tmp)
    c_dump, py_dump = pydriver.comparable(c_raw, pydriver.run_text(text))
    _assert_same(text, c_dump, py_dump, "pvnsim")
    c_dump, py_dump = pydriver.comparable(c_raw, pydriver.run_text(text, traced=False))
    _assert_same(
        text,
        pydriver.without_trace(c_dump),
        pydriver.without_trace(py_dump),
        "pvnsim untraced",
    )


def _assert_same(text: str, c_dump: str, py_dump: str, label: str) -> None:
    if c_dump != py_dump:
        diff = "\n".join(
            difflib.unified_diff(
                c_dump.splitlines(), py_dump.splitlines(), "C vm_pvn.c", label, lineterm=""
            )
        )
        pytest.fail(f"C and {label} disagree on this scenario:\n{text}\n{diff}")


def test_corpus_is_not_empty():
    """The hand-written scenario corpus exists (a silent empty corpus proves nothing)."""
    assert len(CORPUS) >= 10


def test_vendored_vm_pvn_c_is_the_unmodified_illumos_file():
    """The vendored vm_pvn.c is illumos's file byte for byte, CDDL header first."""
    data = VENDORED.read_bytes()
    assert hashlib.sha256(data).hexdigest() == VENDORED_SHA256
    assert data.startswith(b"/*\n * CDDL HEADER START\n")


def test_build_compiles_the_vendored_copy_without_the_environment_variable(tmp_path):
    """build.sh with PVNSIM_VM_PVN_C unset compiles tests/oracle/c/illumos/vm_pvn.c
    (what a fresh clone does); with it set, it compiles that file instead."""
    if shutil.which("gcc") is None:
        _unavailable("no C compiler (gcc) on PATH")
    log = tmp_path / "cc.log"
    cc = tmp_path / "cc"
    cc.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> {log}\nexec gcc "$@"\n')
    cc.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PVNSIM_VM_PVN_C"}
    proc = subprocess.run(
        ["bash", str(BUILD), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env={**env, "CC": str(cc)},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    compiled = [line for line in log.read_text().splitlines() if line.endswith("vm_pvn.c")]
    assert compiled and all(pathlib.Path(c).resolve() == VENDORED.resolve() for c in compiled)
    assert (tmp_path / "out" / "pvn_oracle").is_file()

    missing = tmp_path / "no-such-vm_pvn.c"
    proc = subprocess.run(
        ["bash", str(BUILD), str(tmp_path / "out2")],
        capture_output=True,
        text=True,
        env={**env, "CC": str(cc), "PVNSIM_VM_PVN_C": str(missing)},
        check=False,
    )
    assert proc.returncode == 1
    assert f"PVNSIM_VM_PVN_C={missing} is not a readable file" in proc.stderr


# Hand-written scenarios on which pvnsim is known to differ from the C, with
# the reason (the C line and what each side does).  Strict: once pvnsim is
# fixed the scenario passes, the xfail fails, and its entry must go.
KNOWN_DIFFERENCES: dict[str, str] = {
    # scenario name (stem) -> why pvnsim differs from the C there; each entry
    # marks its scenario xfail(strict), so a fix shows up as an XPASS.
}


def _corpus_param(path: pathlib.Path) -> object:
    reason = KNOWN_DIFFERENCES.get(path.stem)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(path, marks=marks, id=path.stem)


def test_known_differences_name_existing_scenarios():
    """Every known difference names a scenario of the corpus."""
    assert set(KNOWN_DIFFERENCES) <= {p.stem for p in CORPUS}


@pytest.mark.parametrize("path", [_corpus_param(p) for p in CORPUS])
def test_hand_written_scenario(oracle_bin, tmp_path, path):
    """Each hand-written scenario gives identical dumps from C and pvnsim."""
    _compare(oracle_bin, path.read_text(), tmp_path)


@settings(
    max_examples=int(os.environ.get("PVNSIM_ORACLE_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=scenarios())
def test_generated_scenario(oracle_bin, tmp_path, text):
    """Random scenarios give identical dumps from C and pvnsim."""
    note(text)
    _compare(oracle_bin, text, tmp_path)
