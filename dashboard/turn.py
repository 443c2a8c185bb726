"""A lock for code that must never wait on it: the fan-out hub checks it before it enters."""

from __future__ import annotations

import asyncio


class Turn:
    """An asyncio.Lock that also tells whether anyone holds it *or waits for it*.

    `asyncio.Lock.locked()` is False between a release and the woken waiter running, and an
    acquire then waits behind that waiter; the hub must never wait on a client, so it checks
    `free` instead.
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._claims = 0

    @property
    def free(self) -> bool:
        """Nobody holds or waits: `async with` will not suspend."""
        return self._claims == 0

    async def __aenter__(self) -> None:
        self._claims += 1
        try:
            await self._lock.acquire()
        except BaseException:
            self._claims -= 1
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock.release()
        self._claims -= 1
