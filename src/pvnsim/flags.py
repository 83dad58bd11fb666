"""C constants of the illumos VM layer as Python flags, with C-named aliases.

Values come from sys/buf.h, vm/page.h, vm/hat.h, sys/vnode.h, vm/seg_enum.h and
vm/seg_map.h.  Each group is
an :class:`enum.IntFlag` or :class:`enum.IntEnum`; the module also exports
every member under its C name (``B_INVAL``, ``PG_EXCL``, ``SE_SHARED`` ...) so
a port reads like the C.  Ports accept plain ``int`` flags as well.
"""

from __future__ import annotations

import enum
import inspect

__all__ = [
    "BufFlag",
    "HatAttr",
    "HatFeature",
    "HatSync",
    "HatUnload",
    "PageCreateFlag",
    "PageRelease",
    "Reclaim",
    "Se",
    "SegRw",
    "SmFlag",
    "VFlag",
    "VType",
    "flag_names",
]


class BufFlag(enum.IntFlag):
    """``b_flags`` bits of sys/buf.h, as the pvn routines use them."""

    B_BUSY = 0x0001
    B_DONE = 0x0002
    B_ERROR = 0x0004
    B_PAGEIO = 0x0010
    B_PHYS = 0x0020
    B_READ = 0x0040
    B_WANTED = 0x0080
    B_WRITE = 0x0100
    B_AGE = 0x0200
    B_ASYNC = 0x0400
    B_DELWRI = 0x0800
    B_STALE = 0x1000
    B_DONTNEED = 0x2000
    B_REMAPPED = 0x4000
    B_FREE = 0x8000
    B_INVAL = 0x10000
    B_FORCE = 0x20000
    B_NOCACHE = 0x80000
    B_TRUNC = 0x100000
    B_SHADOW = 0x200000
    B_RETRYWRI = 0x400000
    B_FAILFAST = 0x1000000
    B_STARTED = 0x2000000
    B_ABRWRITE = 0x4000000


class PageCreateFlag(enum.IntFlag):
    """``page_create_va`` flags of vm/page.h."""

    PG_EXCL = 0x0001
    PG_WAIT = 0x0002
    PG_PHYSCONTIG = 0x0004
    PG_MATCH_COLOR = 0x0008
    PG_NORELOC = 0x0010
    PG_PANIC = 0x0020
    PG_PUSHPAGE = 0x0040
    PG_LOCAL = 0x0080
    PG_NORMALPRI = 0x0100


class Se(enum.IntEnum):
    """``se_t``: the page lock mode."""

    SE_SHARED = 0
    SE_EXCL = 1


class Reclaim(enum.IntEnum):
    """``reclaim_t``: whether page_lock pulls a free page off its list."""

    P_RECLAIM = 0
    P_NO_RECLAIM = 1


class PageRelease(enum.IntEnum):
    """Results of ``page_release``."""

    PGREL_NOTREL = 1
    PGREL_CLEAN = 2
    PGREL_MOD = 3


class HatSync(enum.IntFlag):
    """``hat_pagesync`` flags of vm/hat.h."""

    HAT_SYNC_DONTZERO = 0x00
    HAT_SYNC_ZERORM = 0x01
    HAT_SYNC_STOPON_REF = 0x02
    HAT_SYNC_STOPON_MOD = 0x04
    HAT_SYNC_STOPON_RM = 0x06
    HAT_SYNC_STOPON_SHARED = 0x08


class HatUnload(enum.IntEnum):
    """``hat_pageunload`` force flags."""

    HAT_ADV_PGUNLOAD = 0x00
    HAT_FORCE_PGUNLOAD = 0x01
    HAT_CURPROC_PGUNLOAD = 0x02


class HatAttr(enum.IntFlag):
    """Software reference/modify attribute bits kept in ``p_nrm``."""

    P_MOD = 0x1
    P_REF = 0x2
    P_RO = 0x4
    P_NSH = 0x8


class HatFeature(enum.IntEnum):
    """``enum hat_features`` for ``hat_supported``."""

    HAT_SHARED_PT = 0
    HAT_DYNAMIC_ISM_UNMAP = 1
    HAT_VMODSORT = 2
    HAT_SHARED_REGIONS = 3


class VFlag(enum.IntFlag):
    """``v_flag`` bits of sys/vnode.h."""

    VROOT = 0x01
    VNOCACHE = 0x02
    VNOMAP = 0x04
    VDUP = 0x08
    VNOSWAP = 0x10
    VNOMOUNT = 0x20
    VISSWAP = 0x40
    VSWAPLIKE = 0x80
    VVFSLOCK = 0x100
    VVFSWAIT = 0x200
    VVMLOCK = 0x400
    VDIROPEN = 0x800
    VVMEXEC = 0x1000
    VPXFS = 0x2000
    V_XATTRDIR = 0x4000
    V_LOCALITY = 0x8000
    VMODSORT = 0x10000
    VISSWAPFS = 0x20000
    V_SYSATTR = 0x40000
    VTRAVERSE = 0x80000


class VType(enum.IntEnum):
    """``vtype_t``."""

    VNON = 0
    VREG = 1
    VDIR = 2
    VBLK = 3
    VCHR = 4
    VLNK = 5
    VFIFO = 6
    VDOOR = 7
    VPROC = 8
    VSOCK = 9
    VPORT = 10
    VBAD = 11


class SegRw(enum.IntEnum):
    """``enum seg_rw``."""

    S_OTHER = 0
    S_READ = 1
    S_WRITE = 2
    S_EXEC = 3
    S_CREATE = 4
    S_READ_NOCOW = 5


class SmFlag(enum.IntFlag):
    """``segmap_release`` flags of vm/seg_map.h."""

    SM_WRITE = 0x01
    SM_ASYNC = 0x02
    SM_FREE = 0x04
    SM_INVAL = 0x08
    SM_DONTNEED = 0x10
    SM_DESTROY = 0x20


def flag_names(value: int, kind: type[enum.IntFlag]) -> str:
    """Spell ``value`` as C flag names joined by ``|`` (``0`` when empty).

    Bits that ``kind`` does not name are shown in hex at the end.

    >>> flag_names(0x18000, BufFlag)
    'B_FREE|B_INVAL'
    >>> flag_names(0, BufFlag)
    '0'
    """
    if value == 0:
        return "0"
    parts: list[str] = []
    rest = value
    for member in kind:
        bit = int(member)
        if bit and bit & (bit - 1) == 0 and value & bit:
            parts.append(str(member.name))
            rest &= ~bit
    if rest:
        parts.append(hex(rest))
    return "|".join(parts)


# C-named module-level aliases, so ports can say B_INVAL as the C does.  They
# are plain ints: IntFlag arithmetic costs microseconds per operation.
B_BUSY = int(BufFlag.B_BUSY)
B_DONE = int(BufFlag.B_DONE)
B_ERROR = int(BufFlag.B_ERROR)
B_PAGEIO = int(BufFlag.B_PAGEIO)
B_PHYS = int(BufFlag.B_PHYS)
B_READ = int(BufFlag.B_READ)
B_WANTED = int(BufFlag.B_WANTED)
B_WRITE = int(BufFlag.B_WRITE)
B_AGE = int(BufFlag.B_AGE)
B_ASYNC = int(BufFlag.B_ASYNC)
B_DELWRI = int(BufFlag.B_DELWRI)
B_STALE = int(BufFlag.B_STALE)
B_DONTNEED = int(BufFlag.B_DONTNEED)
B_REMAPPED = int(BufFlag.B_REMAPPED)
B_FREE = int(BufFlag.B_FREE)
B_INVAL = int(BufFlag.B_INVAL)
B_FORCE = int(BufFlag.B_FORCE)
B_NOCACHE = int(BufFlag.B_NOCACHE)
B_TRUNC = int(BufFlag.B_TRUNC)
B_SHADOW = int(BufFlag.B_SHADOW)
B_RETRYWRI = int(BufFlag.B_RETRYWRI)
B_FAILFAST = int(BufFlag.B_FAILFAST)
B_STARTED = int(BufFlag.B_STARTED)
B_ABRWRITE = int(BufFlag.B_ABRWRITE)
ALL_BUF_FLAGS = 0
for _m in BufFlag:
    ALL_BUF_FLAGS |= int(_m)

PG_EXCL = int(PageCreateFlag.PG_EXCL)
PG_WAIT = int(PageCreateFlag.PG_WAIT)
PG_PHYSCONTIG = int(PageCreateFlag.PG_PHYSCONTIG)
PG_MATCH_COLOR = int(PageCreateFlag.PG_MATCH_COLOR)
PG_NORELOC = int(PageCreateFlag.PG_NORELOC)
PG_PANIC = int(PageCreateFlag.PG_PANIC)
PG_PUSHPAGE = int(PageCreateFlag.PG_PUSHPAGE)
PG_LOCAL = int(PageCreateFlag.PG_LOCAL)
PG_NORMALPRI = int(PageCreateFlag.PG_NORMALPRI)

SE_SHARED = int(Se.SE_SHARED)
SE_EXCL = int(Se.SE_EXCL)
P_RECLAIM = int(Reclaim.P_RECLAIM)
P_NO_RECLAIM = int(Reclaim.P_NO_RECLAIM)

PGREL_NOTREL = int(PageRelease.PGREL_NOTREL)
PGREL_CLEAN = int(PageRelease.PGREL_CLEAN)
PGREL_MOD = int(PageRelease.PGREL_MOD)

HAT_SYNC_DONTZERO = int(HatSync.HAT_SYNC_DONTZERO)
HAT_SYNC_ZERORM = int(HatSync.HAT_SYNC_ZERORM)
HAT_SYNC_STOPON_REF = int(HatSync.HAT_SYNC_STOPON_REF)
HAT_SYNC_STOPON_MOD = int(HatSync.HAT_SYNC_STOPON_MOD)
HAT_SYNC_STOPON_RM = int(HatSync.HAT_SYNC_STOPON_RM)
HAT_SYNC_STOPON_SHARED = int(HatSync.HAT_SYNC_STOPON_SHARED)
HAT_ADV_PGUNLOAD = int(HatUnload.HAT_ADV_PGUNLOAD)
HAT_FORCE_PGUNLOAD = int(HatUnload.HAT_FORCE_PGUNLOAD)
HAT_CURPROC_PGUNLOAD = int(HatUnload.HAT_CURPROC_PGUNLOAD)
P_MOD = int(HatAttr.P_MOD)
P_REF = int(HatAttr.P_REF)
P_RO = int(HatAttr.P_RO)
P_NSH = int(HatAttr.P_NSH)
HAT_VMODSORT = int(HatFeature.HAT_VMODSORT)

VISSWAP = int(VFlag.VISSWAP)
VSWAPLIKE = int(VFlag.VSWAPLIKE)
VVMLOCK = int(VFlag.VVMLOCK)
VVMEXEC = int(VFlag.VVMEXEC)
VMODSORT = int(VFlag.VMODSORT)
VISSWAPFS = int(VFlag.VISSWAPFS)
ALL_V_FLAGS = 0
for _v in VFlag:
    ALL_V_FLAGS |= int(_v)

VREG = int(VType.VREG)
VCHR = int(VType.VCHR)
VBLK = int(VType.VBLK)
VDIR = int(VType.VDIR)

S_OTHER = int(SegRw.S_OTHER)
S_READ = int(SegRw.S_READ)
S_WRITE = int(SegRw.S_WRITE)
S_EXEC = int(SegRw.S_EXEC)
S_CREATE = int(SegRw.S_CREATE)
S_READ_NOCOW = int(SegRw.S_READ_NOCOW)

SM_WRITE = int(SmFlag.SM_WRITE)
SM_ASYNC = int(SmFlag.SM_ASYNC)
SM_FREE = int(SmFlag.SM_FREE)
SM_INVAL = int(SmFlag.SM_INVAL)
SM_DONTNEED = int(SmFlag.SM_DONTNEED)
SM_DESTROY = int(SmFlag.SM_DESTROY)

# Sizes that do not depend on PAGESIZE (sys/param.h, vm/seg_map.h).
MAXBSIZE = 8192
MAXBSHIFT = 13
MAXBOFFSET = MAXBSIZE - 1
MAXBMASK = ~MAXBOFFSET

# errno values the pvn routines return.
EIO = 5
EAGAIN = 11
EFAULT = 14

# A page lock held exclusively is -1 in our p_selock (see vm/page.py).
SE_WRITER = -1

# page_lock_es's ``es`` flag: the caller wants the exclusive lock and marks
# the page so that new readers and plain exclusive requests wait (SE_EWANTED).
SE_EXCL_WANTED = 0x2

PAGE_IO_INUSE = 0x1
PAGE_IO_WANTED = 0x2

# p_state bits.
P_FREE = 0x80
P_NORELOC = 0x40
P_MIGRATE = 0x20
P_SWAP = 0x10
P_BOOTPAGES = 0x08


def _list_members(cls: type[enum.IntEnum] | type[enum.IntFlag]) -> None:
    # help() and the API reference show every member with its C value (hex
    # for bit sets, as the headers write them), aliases and 0 included.
    bits = issubclass(cls, enum.IntFlag)
    rows = [
        f"``{name}`` = ``{int(member):#x}``" if bits else f"``{name}`` = ``{int(member)}``"
        for name, member in cls.__members__.items()
    ]
    cls.__doc__ = f"{inspect.cleandoc(cls.__doc__ or '')}\n\nMembers: {', '.join(rows)}."


for _cls in (
    BufFlag,
    PageCreateFlag,
    Se,
    Reclaim,
    PageRelease,
    HatSync,
    HatUnload,
    HatAttr,
    HatFeature,
    VFlag,
    VType,
    SegRw,
    SmFlag,
):
    _list_members(_cls)


# Export every C name as well as the flag classes.
__all__ += sorted(
    name
    for name, value in list(globals().items())
    if name.isupper() and not name.startswith("_") and isinstance(value, int)
)
