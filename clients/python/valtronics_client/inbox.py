"""The bounded queue between the connection reader and the application (listen(),
`async for`, recv()).

Bounded on purpose: when the application falls behind, the reader stops reading from the
socket, TCP pushes back, and the server's slow-consumer handling takes over (it conflates
telemetry and keeps the newest values, see docs/protocol.md, "Rate limits and slow
consumers"). An unbounded queue would instead grow in the application's memory without limit
and hide the slowness from the server.

The queue outlives connections: messages received before a disconnect are still delivered
after it. Closing it ends consumption: normally (disconnect(), pending messages dropped), or
with an error raised once the messages already received have been consumed (so that, e.g.,
replayed alerts read before an authentication failure are not lost)."""

import asyncio
from collections import deque


class InboxClosed(Exception):
    """Raised by get() once the inbox is closed without an error and empty."""


class Inbox:
    def __init__(self, maxsize=0):
        self.maxsize = maxsize
        self._items = deque()
        self._not_empty = asyncio.Event()
        self._not_full = asyncio.Event()
        self._not_full.set()
        self._closed = False
        self._error = None

    def __len__(self):
        return len(self._items)

    @property
    def closed(self):
        return self._closed

    async def put(self, item):
        """Waits while the inbox is full; drops the item if the inbox is closed."""
        while self.maxsize and len(self._items) >= self.maxsize and not self._closed:
            self._not_full.clear()
            await self._not_full.wait()
        if self._closed:
            return
        self._items.append(item)
        self._not_empty.set()

    async def get(self):
        while not self._items:
            if self._closed:
                if self._error is not None:
                    raise self._error
                raise InboxClosed()
            self._not_empty.clear()
            await self._not_empty.wait()
        item = self._items.popleft()
        self._not_full.set()
        return item

    def close(self, error=None, discard=False):
        if self._closed:
            return
        self._closed = True
        self._error = error
        if discard:
            self._items.clear()
        self._not_empty.set()
        self._not_full.set()
