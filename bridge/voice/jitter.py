"""Putting one speaker's packets back in order, and telling lost ones from late ones."""

from __future__ import annotations

from collections.abc import Iterator

SEQUENCES = 1 << 16
RESTART = 1000  # a packet this far behind is not late but from a new sequence
MAX_CONCEALED = 5  # a longer gap is a pause or a restart: resume there, don't invent 100 ms+


class JitterBuffer:
    """Holds up to ``depth`` packets while an earlier one is missing.

    ``push`` returns the payloads that are now in order; ``None`` stands for a packet given up as
    lost (the decoder conceals it). A packet older than what was already released is dropped.
    """

    def __init__(self, depth: int = 3) -> None:
        self.depth = depth
        self._next: int | None = None
        self._waiting: dict[int, bytes] = {}
        self.late = 0
        self.lost = 0

    def push(self, sequence: int, payload: bytes) -> list[bytes | None]:
        if self._next is None:
            self._next = sequence
        behind = (self._next - sequence) % SEQUENCES
        if SEQUENCES // 2 > behind > RESTART:  # the sender started over (a reconnect): follow
            self._waiting.clear()
            self._next = sequence
        elif 0 < behind < SEQUENCES // 2 or sequence in self._waiting:
            self.late += 1
            return []
        self._waiting[sequence] = payload
        return list(self._release(force=len(self._waiting) > self.depth))

    @property
    def holding(self) -> bool:
        """Packets wait here for an earlier one."""
        return bool(self._waiting)

    def flush(self) -> list[bytes | None]:
        """Everything still held, in order (the speaker went quiet: nothing more will come)."""
        released: list[bytes | None] = []
        while self._waiting:
            released.extend(self._release(force=True))
        return released

    def _release(self, *, force: bool) -> Iterator[bytes | None]:
        assert self._next is not None
        while self._waiting:
            if self._next in self._waiting:
                yield self._waiting.pop(self._next)
                self._next = (self._next + 1) % SEQUENCES
            elif force:
                gap = min((s - self._next) % SEQUENCES for s in self._waiting)
                self.lost += gap
                yield from [None] * min(gap, MAX_CONCEALED)
                self._next = (self._next + gap) % SEQUENCES
                force = len(self._waiting) > self.depth
            else:
                return
