"""On-disk spool: every report is written here before any attempt to send it.

One file per report, named by its sequence number, written to a temporary name, fsynced and
renamed, so a crash or `kill -9` leaves either the whole report or nothing. Reports leave the
spool only when the transport confirms delivery, oldest first. Bounded by total size and by
age; when a bound is hit the oldest reports are dropped, logged and counted (never silently).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger("energy_agent.spool")


class Spool:
    def __init__(self, directory: Path, max_bytes: int, max_age_s: float) -> None:
        self.dir = directory
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dropped = 0  # since this process started; the agent persists the running total
        self._entries: dict[int, tuple[int, float]] = {}  # seq -> (size, mtime)
        for tmp in self.dir.glob("*.tmp"):
            tmp.unlink(missing_ok=True)  # a write interrupted by a crash: never renamed
        for path in self.dir.glob("*.json"):
            if path.stem.isdigit():
                st = path.stat()
                self._entries[int(path.stem)] = (st.st_size, st.st_mtime)
        self._bytes = sum(size for size, _ in self._entries.values())

    def _path(self, seq: int) -> Path:
        return self.dir / f"{seq:012d}.json"

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def seqs(self) -> list[int]:
        return sorted(self._entries)

    def max_seq(self) -> int | None:
        return max(self._entries) if self._entries else None

    def put(self, seq: int, data: bytes) -> None:
        path = self._path(seq)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(self.dir)
        old = self._entries.get(seq)
        if old:
            self._bytes -= old[0]
        self._entries[seq] = (len(data), time.time())
        self._bytes += len(data)
        self.enforce_bounds()

    def read(self, seq: int) -> bytes | None:
        try:
            return self._path(seq).read_bytes()
        except FileNotFoundError:
            self._forget(seq)
            return None

    def remove(self, seq: int) -> None:
        self._path(seq).unlink(missing_ok=True)
        self._forget(seq)

    def set_aside(self, seq: int, why: str) -> None:
        """The collector said this report is invalid: keep it in `rejected/` (for a look by
        hand), out of the queue, so one bad report cannot block the rest."""
        data = self.read(seq)
        aside = self.dir / "rejected"
        aside.mkdir(parents=True, exist_ok=True)
        if data is not None:
            (aside / f"{seq:012d}.json").write_bytes(data)
        self.remove(seq)
        log.error("spool: collector rejected report seq=%d (%s); kept in %s", seq, why, aside)

    def _forget(self, seq: int) -> None:
        entry = self._entries.pop(seq, None)
        if entry:
            self._bytes -= entry[0]

    def enforce_bounds(self, now: float | None = None) -> int:
        """Drop the oldest reports past the size or age bound; returns how many went."""
        now = time.time() if now is None else now
        dropped = 0
        for seq in sorted(self._entries):
            _size, mtime = self._entries[seq]
            too_big = self._bytes > self.max_bytes and len(self._entries) > 1
            too_old = now - mtime > self.max_age_s
            if not (too_big or too_old):
                break
            self.remove(seq)
            dropped += 1
            log.warning(
                "spool: dropped report seq=%d (%s bound reached: %d reports, %d bytes left)",
                seq,
                "age" if too_old else "size",
                len(self._entries),
                self._bytes,
            )
        self.dropped += dropped
        return dropped


def _fsync_dir(directory: Path) -> None:
    if os.name == "nt":
        return  # directories cannot be opened for fsync on Windows; NTFS journals the rename
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
