"""The guide's complete example, docs/examples/tinyfs.py, runs and behaves as the guide says.

The expected numbers come from the example's geometry: 4 KiB pages, 8 KiB
blocks, so a 20 KiB file is five pages in three blocks (two, two and one).
"""

from __future__ import annotations

import errno
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from pvnsim import Kernel, check_kernel
from pvnsim.flags import B_INVAL, S_READ
from pvnsim.vm import hat_ismod, ring
from pvnsim.vm.page import PP_ISFREE
from pvnsim.vm.page_lock import page_io_locked, page_unlock

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "tinyfs.py"
DATA = bytes(range(256)) * 80  # 20 KiB


@pytest.fixture(scope="module")
def tinyfs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tinyfs", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fs(tinyfs: ModuleType) -> object:
    fs = tinyfs.TinyFs(Kernel(total_pages=1024), bsize=8192)
    fs.create("f")
    return fs


def pages(fs: object, name: str = "f") -> list:
    vp = fs.vnodes[name]  # type: ignore[attr-defined]
    return list(ring(vp.v_pages, vp_list=True))


def test_the_demo_runs(tinyfs: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    """``python docs/examples/tinyfs.py`` runs its own checks and prints what the guide says.

    20 KiB written whole pages at a time (S_CREATE: no read), read back from
    the page cache, fsync'd as one kluster per 8 KiB block (3 writes), then
    truncated to 5000 bytes: pvn_vpzero's asynchronous putpage writes the
    page holding the new end (1 write), and the read after it hits the cache.
    """
    tinyfs.demo()
    assert capsys.readouterr().out == "4 disk writes, 0 disk reads; invariants hold\n"


def test_write_dirties_pages_and_fsync_writes_one_kluster_per_block(fs: object) -> None:
    """Five dirty pages; fsync writes blocks 0, 1 and 2 as three klusters and cleans them."""
    fs.write("f", 0, DATA)
    assert [pp.p_offset for pp in pages(fs)] == [0, 4096, 8192, 12288, 16384]
    assert all(hat_ismod(pp) for pp in pages(fs))
    assert fs.fsync("f") == 0
    assert fs.writes == 3
    assert not any(hat_ismod(pp) for pp in pages(fs))
    # No page is mapped, so pvn_write_done leaves each on the cache list.
    assert all(PP_ISFREE(pp) for pp in pages(fs))
    assert bytes(fs.disk[("f", 0)]) == DATA[:8192]
    assert bytes(fs.disk[("f", 2)][:4096]) == DATA[16384:]
    check_kernel(fs.k)


def test_reads_come_back_from_disk_with_read_ahead(fs: object) -> None:
    """After B_INVAL drops every page, reading page 0 reads block 0 and starts an
    asynchronous read of block 1; the whole file then needs one more read (block 2)."""
    fs.write("f", 0, DATA)
    assert fs.putpage(fs.vnodes["f"], 0, 0, B_INVAL, None) == 0
    assert fs.vnodes["f"].v_pages is None
    assert fs.read("f", 0, 4096) == DATA[:4096]
    assert fs.reads == 1 and len(fs.in_flight) == 1
    ahead = {pp.p_offset: pp for pp in pages(fs)}
    assert page_io_locked(ahead[8192]) and page_io_locked(ahead[12288])
    assert fs.read("f", 0, len(DATA)) == DATA
    assert fs.reads == 3 and not fs.in_flight
    check_kernel(fs.k)


def test_truncate_destroys_pages_past_the_end_and_zeroes_the_last_one(fs: object) -> None:
    """Truncating to 5000 keeps pages 0 and 1 (1 holds the new end), zeroes page 1
    from byte 5000, and frees blocks 1 and 2; growing again reads zeros there."""
    fs.write("f", 0, DATA)
    assert fs.fsync("f") == 0
    assert fs.truncate("f", 5000) == 0
    assert sorted(pp.p_offset for pp in pages(fs)) == [0, 4096]
    assert sorted(fs.disk) == [("f", 0)]
    assert fs.read("f", 0, 20480) == DATA[:5000]
    fs.interrupt()  # the zeroed page's asynchronous write-back
    assert fs.truncate("f", 20480) == 0
    assert fs.read("f", 0, 20480) == DATA[:5000] + bytes(20480 - 5000)
    check_kernel(fs.k)


def test_pageout_pushes_dirty_pages_and_frees_them_when_written(fs: object) -> None:
    """Unreferenced dirty pages are pushed with B_ASYNC | B_FREE, one kluster per
    block; when the writes complete, pvn_write_done frees all five pages."""
    fs.write("f", 0, DATA)
    freemem = fs.k.freemem
    assert fs.pageout("f") == (0, 3)
    assert len(fs.in_flight) == 3
    fs.interrupt()
    assert all(PP_ISFREE(pp) for pp in pages(fs))
    assert fs.k.freemem == freemem + 5
    assert fs.read("f", 0, len(DATA)) == DATA  # reclaimed from the cache list
    assert fs.reads == 0
    check_kernel(fs.k)


def test_pageout_frees_clean_pages_at_once(fs: object) -> None:
    """Clean pages in use, unreferenced since the front hand, go straight to the cache list."""
    fs.write("f", 0, DATA)
    assert fs.fsync("f") == 0
    assert fs.read("f", 0, len(DATA)) == DATA  # reclaims the five cached pages
    assert fs.reads == 0 and not any(PP_ISFREE(pp) for pp in pages(fs))
    assert fs.pageout("f") == (5, 0)
    assert all(PP_ISFREE(pp) for pp in pages(fs))
    check_kernel(fs.k)


def test_a_failed_write_leaves_its_pages_dirty(fs: object) -> None:
    """fsync reports EIO for block 1; pvn_write_done(B_ERROR) keeps pages 2 and 3 dirty,
    and the next fsync writes just that block."""
    fs.write("f", 0, DATA)
    fs.bad.add(("f", 1))
    assert fs.fsync("f") == errno.EIO
    dirty = sorted(pp.p_offset for pp in pages(fs) if hat_ismod(pp))
    assert dirty == [8192, 12288]
    fs.bad.clear()
    writes = fs.writes
    assert fs.fsync("f") == 0
    assert fs.writes == writes + 1
    assert bytes(fs.disk[("f", 1)]) == DATA[8192:16384]
    check_kernel(fs.k)


def test_a_failed_read_destroys_the_pages_read_into(fs: object) -> None:
    """A read error: pvn_read_done(B_ERROR) destroys the kluster's pages and read fails."""
    fs.write("f", 0, DATA)
    assert fs.fsync("f") == 0
    assert fs.putpage(fs.vnodes["f"], 0, 0, B_INVAL, None) == 0
    fs.bad.add(("f", 0))
    with pytest.raises(OSError) as exc:
        fs.read("f", 0, 100)
    assert exc.value.errno == errno.EIO
    assert fs.vnodes["f"].v_pages is None
    check_kernel(fs.k)


def test_getpage_of_several_pages_goes_through_pvn_getpages(fs: object) -> None:
    """A three-page getpage fills pl with the pages at 0, 4K and 8K, shared, then None."""
    fs.write("f", 0, DATA)
    vp = fs.vnodes["f"]
    pl = [None] * 4
    assert fs.getpage(vp, 0, 3 * 4096, None, pl, 3 * 4096, fs.seg, 0x1000_0000, S_READ, None) == 0
    assert [pp.p_offset for pp in pl[:3]] == [0, 4096, 8192] and pl[3] is None
    assert all(pp.p_selock == 1 for pp in pl[:3])  # one reader each
    for pp in pl[:3]:
        page_unlock(pp)
    check_kernel(fs.k)
