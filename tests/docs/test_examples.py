"""Every ```python block of README.md and docs/*.md runs as written.

A page is a session, as a reader who pastes its blocks one after another into
one interpreter would run them: its blocks run in order in one namespace, in a
fresh temporary directory that holds a copy of ``docs/examples`` (the pages
name those files by their path from the source tree's root), under a time
limit so that an example that hangs fails instead.  Functions named
``test_*`` that a page defines (a test a reader would hand to pytest) are
called at the end, with no arguments.

A block that cannot run on its own (a quotation of library code, a call that
needs a file the reader supplies) says so on the line before its fence with
``<!-- fragment: why -->``; the harness skips it and checks only that it
parses.  docs/index.md states the convention for contributors.

Where a page states the exact output of an example, and that value follows
from reasoning about the C or the scenario (not from the run itself),
``OUTPUT`` lists what the page says and what the run must then print.
"""

from __future__ import annotations

import ast
import re
import shutil
import signal
import sys
from collections.abc import Iterator
from contextlib import chdir, contextmanager
from pathlib import Path
from types import FrameType

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]
FRAGMENT = re.compile(r"<!-- fragment: \S.*-->")
TIME_LIMIT_S = 60  # a page's whole session; the slowest takes a few seconds

# (what the page says, what the run prints) for the outputs a page states.
# README.md: nothing of the file is cached, so a read kluster around 0x3000
# bounded by the window [0, 0x8000) grows both ways to the whole window:
# eight new pages from offset 0, 32768 bytes (vm_pvn.c L89-221).
# sweeps.md: the lost update's two increments leave the counter at 1.
# teaching.md: in the AB-BA deadlock, A takes the mutex (step 1), B the page
# (step 2: its own call, though A ran before), then B waits for the mutex.
_README_PLIST = " ".join(f"file@{off:#x}" for off in range(0, 0x8000, 0x1000))
OUTPUT: dict[str, list[tuple[str, str]]] = {
    "README.md": [
        (
            "# plist=[file@0x0 ... file@0x7000] off=0x0 len=32768",
            f"plist=[{_README_PLIST}] off=0x0 len=32768",
        )
    ],
    "docs/sweeps.md": [("lost update: counter is 1, not 2", "lost update: counter is 1, not 2")],
    "docs/teaching.md": [
        (
            "# step 2 of 4 [thread B]: page_lookup(f, 0x0, SE_EXCL) = f@0x0",
            "step 2 of 4 [thread B]: page_lookup(f, 0x0, SE_EXCL) = f@0x0",
        )
    ],
}


class Block:
    """One fenced ```python block: where it starts, its code, whether it is a fragment."""

    def __init__(self, where: str, code: str, fragment: bool) -> None:
        self.where, self.code, self.fragment = where, code, fragment


def parse_blocks(text: str, name: str) -> list[Block]:
    """The ```python blocks of the Markdown ``text``, in order; ``name`` names the page."""
    lines = text.splitlines()
    found = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            before = next((s for s in reversed(lines[:i]) if s.strip()), "")
            code = "\n".join(lines[i + 1 : end]) + "\n"
            fragment = bool(FRAGMENT.fullmatch(before.strip()))
            found.append(Block(f"{name}:{i + 2}", code, fragment))
            i = end
        i += 1
    return found


def blocks(page: str) -> list[Block]:
    """The ```python blocks of ``page`` (a path from the repository root)."""
    return parse_blocks((ROOT / page).read_text(encoding="utf-8"), page)


class ExampleTimeout(Exception):
    """A page's examples ran past TIME_LIMIT_S."""


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Raise ExampleTimeout in the running code after ``seconds`` (SIGALRM, main thread)."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise ExampleTimeout(f"the examples ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def session(tmp_path: Path) -> Iterator[None]:
    """Work in ``tmp_path``, laid out like the source tree; afterwards, the
    working directory, sys.path, its finders and the modules imported from
    ``tmp_path`` are as before (a page may import docs/examples modules)."""
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    path, modules, finders = list(sys.path), set(sys.modules), set(sys.path_importer_cache)
    try:
        with chdir(tmp_path):
            try:
                yield
            finally:
                for name in set(sys.modules) - modules:
                    file = getattr(sys.modules[name], "__file__", None)
                    if file and Path(file).resolve().is_relative_to(tmp_path.resolve()):
                        del sys.modules[name]
    finally:
        sys.path[:] = path
        for entry in set(sys.path_importer_cache) - finders:  # "docs/examples" is relative
            del sys.path_importer_cache[entry]


def run_blocks(found: list[Block]) -> dict[str, object]:
    """Run the blocks that are not fragments in order in one namespace, then
    the test functions they defined; return the namespace."""
    namespace: dict[str, object] = {"__name__": "__main__"}
    for block in found:
        if not block.fragment:
            exec(compile(block.code, block.where, "exec"), namespace)
    for name, value in list(namespace.items()):
        if name.startswith("test_") and callable(value):
            value()
    return namespace


def test_the_pages_have_python_examples() -> None:
    """The harness finds the blocks: README.md's example, and several pages' more."""
    assert len(blocks("README.md")) == 1
    assert sum(len(blocks(page)) for page in PAGES) >= 20


@pytest.mark.parametrize("page", PAGES)
def test_every_block_parses(page: str) -> None:
    """Every block, fragment or not, is Python (a fragment is a piece, not pseudo-code)."""
    for block in blocks(page):
        try:
            ast.parse(block.code)
        except SyntaxError as error:
            pytest.fail(f"{block.where} line {error.lineno} of the block: {error.msg}")


@pytest.mark.parametrize("page", PAGES)
def test_the_examples_of_the_page_run(
    page: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The page's blocks run as written, and print what the page says they print."""
    with session(tmp_path), time_limit(TIME_LIMIT_S):
        run_blocks(blocks(page))
    out = capsys.readouterr().out
    text = (ROOT / page).read_text(encoding="utf-8")
    for said, printed in OUTPUT.get(page, []):
        assert said in text, f"{page} no longer says {said!r}"
        assert printed in out, f"{page}: the run does not print {printed!r}:\n{out}"


@pytest.mark.parametrize("page", PAGES)
def test_python_blocks_are_fenced_as_python(page: str) -> None:
    """No block escapes the harness under another name for Python."""
    fences = re.findall(r"^\s*```\s*(\w+)", (ROOT / page).read_text(encoding="utf-8"), re.M)
    assert not {"py", "python3", "pycon", "ipython", "ipython3"} & set(fences)


def test_a_session_forgets_the_modules_it_imported(tmp_path: Path) -> None:
    """guide-filesystem.md imports tinyfs from the session's copy of docs/examples;
    the next session imports its own copy."""
    with session(tmp_path):
        run_blocks(blocks("docs/guide-filesystem.md"))
        assert "tinyfs" in sys.modules
    assert "tinyfs" not in sys.modules
    assert "docs/examples" not in sys.path


def test_fragments_are_rare_and_explained() -> None:
    """A fragment is the exception: at most a few, each with its reason."""
    fragments = [b.where for page in PAGES for b in blocks(page) if b.fragment]
    assert len(fragments) <= 4, fragments


PAGE = """\
Text.

```python
x = 1
```

<!-- fragment: pp is the primitive's argument -->
```python
x = pp
```

```python
def test_x():
    assert x == 1
    seen.append(x)
seen = []
```
"""


def test_the_harness_reads_fences_and_fragment_marks() -> None:
    """Three blocks; the one after the marker is a fragment; where names its first line."""
    found = parse_blocks(PAGE, "page.md")
    assert [b.where for b in found] == ["page.md:4", "page.md:9", "page.md:13"]
    assert [b.fragment for b in found] == [False, True, False]
    assert found[0].code == "x = 1\n"


def test_the_harness_runs_a_page_as_one_session() -> None:
    """Later blocks see earlier names, the fragment is not run, test functions are."""
    namespace = run_blocks(parse_blocks(PAGE, "page.md"))  # a run fragment: NameError
    assert namespace["seen"] == [1]
    failing = parse_blocks(PAGE.replace("x == 1", "x == 2"), "page.md")
    with pytest.raises(AssertionError):
        run_blocks(failing)


def test_an_example_that_hangs_fails_in_time() -> None:
    """The time limit interrupts a loop that never ends."""
    with pytest.raises(ExampleTimeout), time_limit(1):
        run_blocks(parse_blocks("```python\nwhile True:\n    pass\n```\n", "hang.md"))
