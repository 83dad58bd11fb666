"""Differential tests: the unmodified C vm_pvn.c against pvnsim's ports.

The C side is compiled once per session from the file named by
``PVNSIM_VM_PVN_C`` (CI: ../shared/illumos/vm_pvn.c).  Without gcc or that
file the tests skip, unless ``PVNSIM_REQUIRE_ORACLE`` is set (CI), where they
fail instead.  See docs/oracle.md.
"""

from __future__ import annotations

import difflib
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


def _unavailable(reason: str) -> None:
    if os.environ.get("PVNSIM_REQUIRE_ORACLE"):
        pytest.fail(f"the oracle must run here but cannot: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def oracle_bin(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    """Paths of the compiled C oracle (DEBUG and non-DEBUG builds)."""
    source = os.environ.get("PVNSIM_VM_PVN_C")
    if not source:
        _unavailable("PVNSIM_VM_PVN_C is not set (path to illumos vm_pvn.c)")
    assert source is not None
    if not pathlib.Path(source).is_file():
        _unavailable(f"PVNSIM_VM_PVN_C={source} does not exist")
    if shutil.which(os.environ.get("CC", "gcc")) is None:
        _unavailable("no C compiler (gcc) on PATH")
    out = tmp_path_factory.mktemp("oracle")
    proc = subprocess.run(
        ["bash", str(HERE / "c" / "build.sh"), str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PVNSIM_VM_PVN_C": source},
        check=False,
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


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
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
