"""The Python side of the fidelity oracle: run a scenario through pvnsim.

Reads the scenario format of docs/oracle.md, builds the state with pvnsim's
public API, runs each call and prints the canonical dump, which the C driver
(tests/oracle/c/driver.c, built around the unmodified vm_pvn.c) prints too.

Usage: ``python tests/oracle/pydriver.py SCENARIO``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pvnsim
from pvnsim import (
    DeadlockError,
    Kernel,
    KernelAssertionError,
    KernelPanic,
    Kluster,
    Page,
    SegCallable,
    SegMap,
    SegVn,
    UsageError,
    Vnode,
    VnodeOps,
    make_page,
)
from pvnsim.flags import (
    B_ERROR,
    B_WRITE,
    EIO,
    P_FREE,
    P_MOD,
    P_REF,
    SE_SHARED,
    BufFlag,
    HatAttr,
    SegRw,
    VFlag,
    VType,
    flag_names,
)
from pvnsim.trace import Event
from pvnsim.vm import page_name, ring
from pvnsim.vm.cint import UINT_T, int_t
from pvnsim.vm.describe import vnode_pages
from pvnsim.vm.vm_page import page_lookup_nowait


def _uint(x: int) -> int:
    """``x`` converted to uint_t, as driver.c's ``(uint_t)`` cast does."""
    return x & UINT_T


STATS = (
    "dfree",
    "pgrec",
    "pgout",
    "pgpgout",
    "anonpgout",
    "anonfree",
    "fspgout",
    "fsfree",
    "execpgout",
    "execfree",
)


class ScenarioError(ValueError):
    """The scenario text is not in the documented format."""


U64_LIMIT = 1 << 64


def _num(text: str) -> int:
    """A scenario number: decimal or 0x hex, within 64 bits (two's complement
    for a negative one, as the C driver reads it)."""
    try:
        value = int(text, 0)
    except ValueError:
        raise ScenarioError(f"bad number {text!r}") from None
    if not -(U64_LIMIT >> 1) <= value < U64_LIMIT:
        raise ScenarioError(f"{text} does not fit in 64 bits")
    return value


def _unum(text: str) -> int:
    """A scenario number that must not be negative (offsets, lengths, addresses)."""
    value = _num(text)
    if value < 0:
        raise ScenarioError(f"{text} must not be negative")
    return value


def _flagval(text: str, names: dict[str, int]) -> int:
    if text in ("0", ""):
        return 0
    value = 0
    for part in text.split("|"):
        if part not in names:
            try:
                value |= int(part, 0)
                continue
            except ValueError:
                raise ScenarioError(f"unknown flag {part!r}") from None
        value |= names[part]
    return value


_BUF = {m.name: int(m) for m in BufFlag if m.name}
_VF = {m.name: int(m) for m in VFlag if m.name}
_ATTR = {m.name: int(m) for m in HatAttr if m.name}


def _kv(words: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for w in words:
        if "=" not in w:
            raise ScenarioError(f"expected key=value, got {w!r}")
        key, _, value = w.partition("=")
        out[key] = value
    return out


class Scenario:
    """A parsed scenario: the state to build and the calls to run."""

    def __init__(self, text: str) -> None:
        self.kernel: dict[str, str] = {}
        self.tunables: dict[str, str] = {}
        self.vnodes: list[tuple[str, dict[str, str]]] = []
        self.segs: list[tuple[str, dict[str, str]]] = []
        self.pages: list[tuple[str, int, dict[str, str]]] = []
        self.calls: list[tuple[str, list[str], str]] = []
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            words = line.split()
            head = words[0]
            if head == "kernel":
                self.kernel = _kv(words[1:])
            elif head == "tunable":
                self.tunables.update(_kv(words[1:]))
            elif head == "vnode":
                self.vnodes.append((words[1], _kv(words[2:])))
            elif head == "seg":
                self.segs.append((words[1], _kv(words[2:])))
            elif head == "page":
                self.pages.append((words[1], _unum(words[2]), _kv(words[3:])))
            elif head == "call":
                self.calls.append((words[1], words[2:], line[len("call ") :]))
            else:
                raise ScenarioError(f"unknown directive {head!r}")


def visible(events: list[Event], start: int) -> list[Event]:
    """The events from ``start`` that the C side records: primitives and
    callbacks called from a port's or a callback's own statements (the C
    model does not trace calls primitives make to each other)."""
    out = []
    for e in events[start:]:
        if e.kind not in ("prim", "callback"):
            continue
        if e.parent is None or events[e.parent].kind in ("port", "callback"):
            out.append(e)
    return out


def _lock_text(pp: Page) -> str:
    if pp.p_selock == 0:
        return "-"
    owner = pp.p_sowner
    if pp.p_selock < 0:
        return "X" if owner == "main" else "X@other"
    names = owner if isinstance(owner, list) else [owner]
    text = f"S{pp.p_selock}"
    if all(n != "main" for n in names):
        text += "@other"
    return text


def _maps(pp: Page) -> str:
    if not pp.p_mapping:
        return "none"
    out = []
    for m in pp.p_mapping:
        bits = ("r" if m.hw & P_REF else "") + ("m" if m.hw & P_MOD else "")
        out.append(bits or "-")
    return ",".join(out)


class Runner:
    """Builds a scenario's state in pvnsim and runs its calls."""

    def __init__(self, scn: Scenario) -> None:
        self.scn = scn
        kp = scn.kernel
        free = _num(kp.get("free", "0"))
        other = _num(kp.get("other", "0"))
        tun = scn.tunables
        # The tunables converted to their C types as driver.c's casts do.
        self.k = Kernel(
            total_pages=free + other + len(scn.pages),
            pagesize=_num(kp.get("pagesize", "4096")),
            kernel_pages=other,
            minfree=_num(kp.get("minfree", "0")),
            desfree=_num(kp.get("desfree", "0")),
            lotsfree=_num(kp.get("lotsfree", "0")),
            throttlefree=_num(kp.get("throttlefree", "0")),
            pageout_reserve=_num(kp.get("pageout_reserve", "0")),
            pvn_nofodklust=int_t(_num(tun.get("pvn_nofodklust", "0"))),
            pvn_write_noklust=int_t(_num(tun.get("pvn_write_noklust", "0"))),
            pvn_vmodsort_disable=_uint(_num(tun.get("pvn_vmodsort_disable", "0"))),
            write_free=int_t(_num(tun.get("write_free", "1"))),
            pages_before_pager=_num(tun.get("pages_before_pager", "200")),
            hat_vmodsort=int_t(_num(tun.get("hat_vmodsort", "1"))),
            debug=bool(_num(tun.get("debug", "1"))),
        )
        k = self.k
        self.vnodes: dict[str, Vnode] = {}
        for name, attrs in scn.vnodes:
            ops = VnodeOps(getpage=_null_getpage, putpage=_null_putpage)
            self.vnodes[name] = k.vnode(
                name,
                v_flag=_flagval(attrs.get("flags", "0"), _VF),
                v_type=VType[attrs.get("type", "VREG")],
                ops=ops,
            )
        self.segs: dict[str, Any] = {}
        for name, attrs in scn.segs:
            kind = attrs.get("kind", "segmap")
            if kind == "segvn":
                self.segs[name] = SegVn(
                    k,
                    name,
                    _unum(attrs["base"]),
                    _unum(attrs["size"]),
                    attrs.get("advice", "normal"),
                )
            elif kind == "segmap":
                self.segs[name] = SegMap(k, name)
            elif kind == "refuse":
                deltas = {_num(d) for d in attrs.get("deltas", "").split(",") if d}
                self.segs[name] = SegCallable(
                    k, name, lambda addr, delta, d=deltas: -1 if delta in d else 0
                )
            else:
                raise ScenarioError(f"unknown segment kind {kind!r}")
        for vname, off, attrs in scn.pages:
            vp = self.vnodes[vname]
            maps = tuple(m for m in attrs.get("map", "").split(",") if m)
            io = attrs.get("io")
            cached = attrs.get("free") == "cache"
            ewanted = attrs.get("ew", "0")
            if ewanted not in ("0", "1"):
                raise ScenarioError(f"ew must be 0 or 1, not {ewanted!r}")
            lock = attrs.get("lock")
            if lock == "-":
                lock = None
            pp = make_page(
                vp,
                off,
                nrm=_flagval(attrs.get("nrm", "0"), _ATTR),
                maps=maps,
                lckcnt=_num(attrs.get("lck", "0")),
                cowcnt=_num(attrs.get("cow", "0")),
                cached=cached,
                lock=None if cached else lock,
                io=None if io == "-" else io,
                at="tail",
                ewanted=ewanted == "1",
            )
            if cached and lock is not None:
                # A locked cache-list page exists in the kernel only while a
                # walk holds it (P_NO_RECLAIM); make_page refuses to build
                # one, so lock it by hand as that walk would.
                _hand_lock(pp, lock)
        self.last: Page | None = None
        self.putapage_calls = 0

    # -- dump ---------------------------------------------------------------

    def dump(self, header: str, result: str, start: int) -> str:
        k = self.k
        out = [f"== {header}", f"result: {result}"]
        cache = [page_name(p) for p in ring(k.page_cachelist)] if k.page_cachelist else []
        out.append(
            f"mem: freemem={k.freemem} freelist={k.freelist_count + k.unused_pages} "
            f"cachelist=[{' '.join(cache)}]"
        )
        for name, _ in self.scn.vnodes:
            vp = self.vnodes[name]
            pages = " ".join(page_name(p) for p in vnode_pages(vp))
            out.append(f"vnode {name} flags={flag_names(vp.v_flag, VFlag)} pages=[{pages}]")
        for name, _ in self.scn.vnodes:
            vp = self.vnodes[name]
            for off in sorted(k.page_hash[vp]):
                pp = k.page_hash[vp][off]
                out.append(
                    f"page {page_name(pp)} lock={_lock_text(pp)} ew={pp.p_ewanted} "
                    f"io={1 if pp.p_iolock_state & 1 else 0} "
                    f"nrm={flag_names(pp.p_nrm & (P_MOD | P_REF | 4), HatAttr)} map={_maps(pp)} "
                    f"lck={pp.p_lckcnt} cow={pp.p_cowcnt} "
                    f"free={'cache' if pp.p_state & P_FREE else '-'}"
                )
        stats = k.vm.as_dict()
        out.append("stats: " + " ".join(f"{n}={stats[n]}" for n in STATS))
        out.append("trace:")
        for e in visible(list(k.trace), start):
            out.append("  " + e.format())
        return "\n".join(out)

    # -- calls --------------------------------------------------------------

    def _list(self, spec: str) -> Page | None:
        if spec == "last":
            return self.last
        vname, _, offs = spec.partition(":")
        vp = self.vnodes[vname]
        head: Page | None = None
        for o in offs.split(","):
            pp = self.k.page_hash[vp][_unum(o)]
            pp.p_next = pp
            pp.p_prev = pp
            if head is None:
                head = pp
            else:
                tail = head.p_prev
                pp.p_next = head
                pp.p_prev = tail
                tail.p_next = pp
                head.p_prev = pp
        return head

    def _putapage(self, blk: int, fail: set[int], failn: set[int]) -> Callable[..., int]:
        def putapage(vp: Vnode, pp: Page, offp: Any, lenp: Any, flags: int, cred: Any) -> int:
            self.putapage_calls += 1
            kl = pvnsim.pvn_write_kluster(vp, pp, pp.p_offset & ~(blk - 1), blk, flags)
            err = EIO if (kl.off in fail or self.putapage_calls in failn) else 0
            pvnsim.pvn_write_done(kl.plist, (B_ERROR if err else 0) | B_WRITE | flags)
            return err

        return putapage

    def run_call(self, name: str, words: list[str]) -> str:
        a = _kv(words[1:]) if words and "=" not in words[0] else _kv(words)
        vp = self.vnodes.get(words[0]) if words and "=" not in words[0] else None
        k = self.k
        if name == "pvn_read_kluster":
            assert vp is not None
            kl = pvnsim.pvn_read_kluster(
                vp,
                _unum(a["off"]),
                self.segs[a["seg"]],
                _unum(a["addr"]),
                _unum(a["vp_off"]),
                _unum(a["vp_len"]),
                _unum(a.get("isra", "0")),
            )
            return self._kluster(kl)
        if name == "pvn_write_kluster":
            assert vp is not None
            pp = k.page_hash[vp][_unum(a["page"])]
            kl2 = pvnsim.pvn_write_kluster(
                vp, pp, _unum(a["vp_off"]), _unum(a["vp_len"]), _flagval(a.get("flags", "0"), _BUF)
            )
            return self._kluster(kl2)
        if name == "pvn_getdirty":
            assert vp is not None
            pp = k.page_hash[vp][_unum(a["page"])]
            return f"ret={pvnsim.pvn_getdirty(pp, _flagval(a.get('flags', '0'), _BUF))}"
        if name == "pvn_io_done":
            pvnsim.pvn_io_done(self._list(a["list"]))
            return "void"
        if name == "pvn_read_done":
            pvnsim.pvn_read_done(self._list(a["list"]), _flagval(a.get("flags", "0"), _BUF))
            return "void"
        if name == "pvn_write_done":
            pvnsim.pvn_write_done(self._list(a["list"]), _flagval(a.get("flags", "0"), _BUF))
            return "void"
        if name == "pvn_plist_init":
            plsz = _unum(a["plsz"])
            head = self._list(a["list"])
            # Slots for the pages pl can receive (no more than the list holds).
            npl = 0 if head is None else len(ring(head))
            pl: list[Page | None] = [None] * (min(plsz // k.pagesize, npl) + 2)
            pvnsim.pvn_plist_init(
                head,
                pl,
                plsz,
                _unum(a["off"]),
                _unum(a.get("io_len", "0")),
                SegRw[a.get("rw", "S_READ")],
            )
            return f"void pl=[{self._pl(pl)}]"
        if name == "pvn_vplist_dirty":
            assert vp is not None
            fail = {_unum(x) for x in a.get("fail", "").split(",") if x}
            failn = {_num(x) for x in a.get("failn", "").split(",") if x}
            put = self._putapage(_unum(a.get("blk", "8192")), fail, failn)
            ret = pvnsim.pvn_vplist_dirty(
                vp, _unum(a.get("off", "0")), put, _flagval(a.get("flags", "0"), _BUF), None
            )
            return f"ret={ret}"
        if name == "pvn_vplist_setdirty":
            assert vp is not None
            check = a.get("check", "none")
            offs = {_num(x) for x in check.split(",")} if check not in ("all", "none") else set()

            def page_check(pp: Page) -> int:
                if check == "all":
                    return 1
                if check == "none":
                    return 0
                return 1 if pp.p_offset in offs else 0

            pvnsim.pvn_vplist_setdirty(vp, page_check)
            return "void"
        if name == "pvn_getpages":
            assert vp is not None
            plsz = _unum(a["plsz"])
            # plsz=0 means pl == NULL, as in the C driver.
            pl2: list[Page | None] | None = [None] * (plsz // k.pagesize + 2) if plsz > 0 else None
            fail_off = _unum(a["fail"]) if "fail" in a else None

            def getpage(
                gvp: Vnode, off: int, length: int, protp: Any, ppp: Any, sz: int, *rest: Any
            ) -> int:
                if fail_off is not None and off == fail_off:
                    return EIO
                if ppp is not None:
                    ppp[0] = page_lookup_nowait(gvp, off, SE_SHARED)
                    ppp[1] = None
                return 0

            ret = pvnsim.pvn_getpages(
                getpage,
                vp,
                _unum(a["off"]),
                _unum(a["len"]),
                None,
                pl2,
                plsz,
                self.segs.get(a.get("seg", "")),
                _unum(a.get("addr", "0")),
                SegRw[a.get("rw", "S_READ")],
                None,
            )
            shown = "NULL" if pl2 is None else f"[{self._pl(pl2)}]"
            return f"ret={ret} pl={shown}"
        if name == "pvn_vpzero":
            assert vp is not None
            pvnsim.pvn_vpzero(vp, _unum(a["vplen"]), _unum(a["zbytes"]))
            return "void"
        raise ScenarioError(f"unknown call {name!r}")

    def _kluster(self, kl: Kluster | None) -> str:
        if kl is None:
            self.last = None
            return "plist=NULL"
        self.last = kl.plist
        names = " ".join(page_name(p) for p in ring(kl.plist))
        return f"plist=[{names}] off={kl.off} len={kl.len}"

    @staticmethod
    def _pl(pl: list[Page | None]) -> str:
        out = []
        for pp in pl:
            if pp is None:
                break
            out.append(page_name(pp))
        return " ".join(out)

    def run(self, *, traced: bool = True) -> str:
        """Run every call, dumping the state after each; ``traced=False``
        runs with the kernel unhooked (the ports' fast variants) and leaves
        the dumps' trace sections empty."""
        k = self.k
        trace = k.trace_on() if traced else k.trace
        out = []
        for index, (name, words, text) in enumerate(self.scn.calls, 1):
            start = len(trace)
            stop = False
            try:
                result = self.run_call(name, words)
            except DeadlockError as exc:
                blocked = [e for e in visible(list(trace), start) if e.result == "WOULDBLOCK"]
                what = blocked[-1].format()[: -len(" = WOULDBLOCK")] if blocked else str(exc)
                result = f"WOULDBLOCK {what}"
                stop = True
            except (UsageError, KernelAssertionError):
                # DEVIATION: pvnsim checks a routine's entry ASSERTs before it
                # starts and raises UsageError; the C panics in the ASSERT.
                # Both leave the state untouched.  The text of a failed ASSERT
                # (C expression vs. our message) is not compared.
                result = "PANIC assertion failed"
                stop = True
            except KernelPanic as exc:
                result = f"PANIC {exc}"
                stop = True
            out.append(self.dump(f"call {index}: {text}", result, start))
            if stop:
                break
        return "\n".join(out) + "\n"


def _hand_lock(pp: Page, lock: str) -> None:
    holder = "other" if lock.endswith("@other") else "main"
    if lock.startswith("X"):
        pp.p_selock, pp.p_sowner = -1, holder
    elif lock.startswith("SS"):
        pp.p_selock, pp.p_sowner = 2, ["main", "other"]
    else:
        pp.p_selock, pp.p_sowner = 1, holder


def _null_getpage(*args: Any) -> int:
    return 0


def _null_putpage(*args: Any) -> int:
    return 0


# ASSERTs the C checks inside a loop, after it has already changed some
# pages, but that pvnsim checks on the whole list before it starts (so that a
# bad call changes nothing).  DEVIATION: after such a panic the C has handled
# the pages before the bad one and pvnsim none, so for these (and only these)
# the state and trace of that call are not compared.
LOOP_ASSERTS_CHECKED_AT_ENTRY = ("PAGE_LOCKED(pp) && page_iolock_assert(pp)",)


def _blocks(dump: str) -> list[list[str]]:
    blocks: list[list[str]] = []
    for line in dump.splitlines():
        if line.startswith("== ") or not blocks:
            blocks.append([])
        blocks[-1].append(line)
    return blocks


def normalize(dump: str) -> str:
    """Drop the expression of a failed ASSERT (pvnsim words it its own way)."""
    out = []
    for line in dump.splitlines():
        if line.startswith("result: PANIC assertion failed"):
            line = "result: PANIC assertion failed"
        out.append(line)
    return "\n".join(out) + "\n"


def comparable(c_dump: str, py_dump: str) -> tuple[str, str]:
    """The two dumps as compared: normalized, and for a call whose C result is
    one of LOOP_ASSERTS_CHECKED_AT_ENTRY, cut to its header and result line."""
    c_blocks = _blocks(c_dump)
    py_blocks = _blocks(py_dump)
    for i, block in enumerate(c_blocks):
        result = next((x for x in block if x.startswith("result: ")), "")
        expr = result.partition("assertion failed: ")[2]
        if expr in LOOP_ASSERTS_CHECKED_AT_ENTRY:
            c_blocks[i] = block[:2]
            if i < len(py_blocks):
                py_blocks[i] = py_blocks[i][:2]
    c_text = "\n".join("\n".join(b) for b in c_blocks) + "\n"
    py_text = "\n".join("\n".join(b) for b in py_blocks) + "\n"
    return normalize(c_text), normalize(py_text)


def run_text(text: str, *, traced: bool = True) -> str:
    """Run a scenario given as text; return the dump."""
    return Runner(Scenario(text)).run(traced=traced)


def without_trace(dump: str) -> str:
    """A dump with its trace sections emptied and a WOULDBLOCK result cut to
    that word (an untraced run cannot say which call blocked)."""
    out = []
    for line in dump.splitlines():
        if line.startswith("  "):
            continue
        if line.startswith("result: WOULDBLOCK"):
            line = "result: WOULDBLOCK"
        out.append(line)
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as fh:
        sys.stdout.write(run_text(fh.read()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
