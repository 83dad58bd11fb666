"""The system calls of a :class:`~pvnsim.fs.Machine`.

Each enters the kernel (its CPU time and the clock tick: ``_enter``), takes
the file's lock where the call changes the file or its mapping (writers:
write, truncate, an mmap store, munmap; readers: read and an mmap load; see
:func:`~pvnsim.fs.inode.rw_enter`), runs the file system's path
(:mod:`pvnsim.fs.rdwr`) and, with ``verify``, keeps the expected contents of
every file (under the lock, so that they change in the order the file does)
and checks every byte read against them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pvnsim.errors import InvariantViolation
from pvnsim.flags import EAGAIN
from pvnsim.fs import rdwr
from pvnsim.fs.inode import rw_enter, rw_exit

if TYPE_CHECKING:
    from pvnsim.fs.fs import Inode, RefFs

__all__ = ["SystemCalls"]


class SystemCalls:
    """The system calls a :class:`~pvnsim.fs.Machine` offers (a base class of it)."""

    fs: RefFs
    model: dict[str, bytearray] | None
    errors: int

    def _ino(self, name: str) -> Inode:
        return self.fs.inode(name)

    def _enter(self, nbytes: int = 0) -> None:  # pragma: no cover - the Machine's
        raise NotImplementedError

    def write(self, name: str, off: int, data: bytes | bytearray) -> int:
        """write(2); returns 0 or an errno."""
        ino = self._ino(name)
        self._enter(len(data))
        rw_enter(ino, True)
        try:
            err, done = rdwr.fs_write(self.fs, ino, off, data)
            model = self.model
            if model is not None and done:
                buf = model[name]
                if len(buf) < off:
                    buf.extend(bytes(off - len(buf)))
                buf[off : off + done] = data[:done]
        finally:
            rw_exit(ino, True)
        return self._result(err)

    def read(self, name: str, off: int, n: int) -> tuple[int, bytes]:
        """read(2); returns (errno, data)."""
        ino = self._ino(name)
        self._enter(n)
        rw_enter(ino, False)
        try:
            err, data = rdwr.fs_read(self.fs, ino, off, n)
            if self.model is not None:
                want = bytes(self.model[name][off : off + n])
                if err:
                    want = want[: len(data)]
                if data != want:
                    self._mismatch(name, off, data, want)
        finally:
            rw_exit(ino, False)
        return self._result(err), data

    def fsync(self, name: str) -> int:
        """fsync(2); returns 0 or the first write error."""
        ino = self._ino(name)
        self._enter()
        return self._result(rdwr.fs_fsync(self.fs, ino))

    def sync(self) -> int:
        """A pure B_ASYNC flush of every file; returns how many were busy."""
        self._enter()
        return rdwr.fs_sync(self.fs)

    def truncate(self, name: str, size: int) -> int:
        """Set the file's size; returns 0 or an errno."""
        ino = self._ino(name)
        self._enter()
        rw_enter(ino, True)
        try:
            err = rdwr.fs_truncate(self.fs, ino, size)
            if self.model is not None:
                buf = self.model[name]
                if size < len(buf):
                    del buf[size:]
                else:
                    buf.extend(bytes(size - len(buf)))
        finally:
            rw_exit(ino, True)
        return self._result(err)

    def invalidate(self, name: str) -> int:
        """Write back and destroy the file's pages; returns 0 or an errno."""
        ino = self._ino(name)
        self._enter()
        return self._result(rdwr.fs_invalidate(self.fs, ino))

    def free(self, name: str, off: int, n: int) -> int:
        """Free-behind of a range (B_ASYNC | B_FREE | B_DONTNEED)."""
        ino = self._ino(name)
        self._enter()
        return self._result(rdwr.fs_free(self.fs, ino, off, n))

    def load(self, name: str, off: int, n: int = 8) -> tuple[int, bytes]:
        """An mmap load; returns (errno, data)."""
        ino = self._ino(name)
        self._enter(n)
        rw_enter(ino, False)
        try:
            err, data = rdwr.fs_load(self.fs, ino, off, n)
            if self.model is not None and not err:
                want = bytes(self.model[name][off : off + n])
                if data != want:
                    self._mismatch(name, off, data, want)
        finally:
            rw_exit(ino, False)
        return self._result(err), data

    def store(self, name: str, off: int, data: bytes | bytearray) -> int:
        """An mmap store; returns 0 or an errno (EFAULT past end of file)."""
        ino = self._ino(name)
        self._enter(len(data))
        rw_enter(ino, True)
        try:
            err = rdwr.fs_store(self.fs, ino, off, data)
            if self.model is not None and not err:
                self.model[name][off : off + len(data)] = data
        finally:
            rw_exit(ino, True)
        return self._result(err)

    def munmap(self, name: str) -> int:
        """Unload the file's translations; returns how many."""
        ino = self._ino(name)
        self._enter()
        rw_enter(ino, True)
        try:
            return rdwr.fs_munmap(self.fs, ino)
        finally:
            rw_exit(ino, True)

    def _result(self, err: int) -> int:
        if err and err != EAGAIN:
            self.errors += 1
        return int(err)

    def _mismatch(self, name: str, off: int, got: bytes, want: bytes) -> None:
        at = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), None)
        if at is None:  # the same bytes as far as both go: only the lengths differ
            raise InvariantViolation(
                f"data mismatch in {name}: {len(got)} bytes from offset {off}, "
                f"the last writes make {len(want)}"
            )
        raise InvariantViolation(
            f"data mismatch in {name} at offset {off + at}: read {got[at : at + 8].hex()}, "
            f"last written {want[at : at + 8].hex()} (lengths {len(got)}, {len(want)})"
        )
