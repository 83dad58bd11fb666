"""The flag classes list their members with the C values (help(), API reference)."""

from __future__ import annotations

from pvnsim.flags import BufFlag, HatSync, Se, VFlag


def test_bit_sets_list_each_member_in_hex_as_the_headers_write_it() -> None:
    # sys/buf.h: B_ASYNC 0x400, B_INVAL 0x10000; sys/vnode.h: VMODSORT 0x10000.
    assert "``B_ASYNC`` = ``0x400``" in (BufFlag.__doc__ or "")
    assert "``B_INVAL`` = ``0x10000``" in (BufFlag.__doc__ or "")
    assert "``VMODSORT`` = ``0x10000``" in (VFlag.__doc__ or "")


def test_zero_and_multi_bit_members_are_listed_too() -> None:
    # vm/hat.h: HAT_SYNC_DONTZERO is 0 and HAT_SYNC_STOPON_RM is REF|MOD (0x6);
    # iterating an IntFlag would skip both.
    doc = HatSync.__doc__ or ""
    assert "``HAT_SYNC_DONTZERO`` = ``0x0``" in doc
    assert "``HAT_SYNC_STOPON_RM`` = ``0x6``" in doc


def test_enumerations_list_their_values_in_decimal() -> None:
    assert (Se.__doc__ or "").endswith("Members: ``SE_SHARED`` = ``0``, ``SE_EXCL`` = ``1``.")
