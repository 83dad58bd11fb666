"""Data integrity under any mix of operations, memory pressure and write errors."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pvnsim.fs import Machine, Op

FILES = ("a", "b")
MAX = 48 * 1024

files = st.sampled_from(FILES)
offsets = st.integers(0, MAX)
lengths = st.integers(1, 12 * 1024)
tags = st.integers(1, 10**6)

ops = st.one_of(
    st.builds(Op, st.just("write"), files, offsets, lengths, tags),
    st.builds(Op, st.just("read"), files, offsets, lengths),
    st.builds(Op, st.just("fsync"), files),
    st.builds(Op, st.just("truncate"), files, st.just(0), offsets),
    st.builds(Op, st.just("invalidate"), files),
    st.builds(Op, st.just("free"), files, offsets, lengths),
    st.builds(Op, st.just("load"), files, offsets.map(lambda o: o - o % 8), st.just(8)),
    st.builds(Op, st.just("store"), files, offsets.map(lambda o: o - o % 8), st.just(8), tags),
    st.builds(Op, st.just("munmap"), files),
    st.builds(Op, st.just("sync")),
    st.builds(Op, st.just("sleep"), length=st.integers(0, 2_000_000_000)),
    st.builds(Op, st.just("pressure"), length=st.integers(0, 150)),
    st.builds(
        Op,
        st.just("fail"),
        files,
        offsets,
        tag=st.sampled_from([1, 2, 3, 0]),  # 0: permanent
        arg=st.sampled_from(["write", "write", "read"]),
    ),
)


def _apply(sim: Machine, op: Op) -> None:
    if op.kind == "fail":
        ino = sim.fs.inode(op.file)
        if op.off // sim.fs.bsize not in ino.bmap:
            # A hole has no disk block: fail the n-th next request instead.
            sim.disk.fail(op.arg, nth=1 + op.off % 4, times=op.tag or None)
            return
    sim.apply(op)


@given(
    steps=st.lists(ops, max_size=40),
    write_behind=st.booleans(),
    vmodsort=st.booleans(),
    maxcontig=st.sampled_from([1, 1, 3, 8]),
)
def test_every_byte_read_is_the_last_byte_written(steps, write_behind, vmodsort, maxcontig):
    """After any operations, pressure changes and injected errors, reads return the
    last write, and once the faults are gone nothing was lost: fsync writes every
    page an error left dirty, and the data comes back from disk."""
    sim = Machine(
        memory=256 * 4096,
        verify=True,
        poison=True,  # a page the kit forgot to fill would read as DEADBEEF
        write_behind=write_behind,
        vmodsort=vmodsort,
        maxcontig=maxcontig,
        keep_log=False,
    )
    for name in FILES:
        sim.create(name, 8192, tag=7)
    for op in steps:
        _apply(sim, op)  # verify=True checks every read against the model
        sim.check()
    sim.disk.clear_faults()
    sim.set_pressure(0)
    for name in FILES:
        assert sim.fsync(name) == 0
        assert sim.fs.dirty_pages(sim.fs.inode(name)) == 0
        assert sim.invalidate(name) == 0
        assert sim.kernel.page_hash[sim.fs.inode(name).vp] == {}
        err, data = sim.read(name, 0, MAX + 12 * 1024)
        assert err == 0
        assert sim.model is not None and data == bytes(sim.model[name])
    sim.check()


def test_poison_catches_a_file_system_that_exposes_an_unfilled_page():
    """With poison on, a created page the file system never fills reads as
    DEADBEEF, so verify's comparison with the last write fails."""
    from pvnsim import SegMap
    from pvnsim.vm import page_create_va

    sim = Machine(memory=64 * 4096, poison=True)
    k = sim.kernel
    vp = k.vnode("raw")
    pp = page_create_va(vp, 0, 4096, 2, SegMap(k, "s"), 0)  # PG_WAIT
    assert pp is not None and bytes(pp.p_data) == k.poison_pattern
    assert k.poison_pattern[:8] == bytes.fromhex("deadbeefdeadbeef")
    plain = Machine(memory=64 * 4096)
    fresh = page_create_va(plain.kernel.vnode("raw"), 0, 4096, 2, SegMap(plain.kernel, "s"), 0)
    assert fresh is not None and fresh.p_data is None  # never-used memory: nothing there
