"""Real-time events for the shared map: an in-process hub that ``GET /api/events`` streams (Server-Sent Events).

Any route (sync routes run in worker threads) calls :func:`publish` with an event name and a JSON-able
payload; every open page of the workspace receives it as ``event: <name>`` / ``data: <json>``.
Event names in use: ``comment`` (``{"element", "id"}``), ``blueprint`` (``{"touchpoint", "version"}``),
``map`` (``{"version"}``), ``presence`` (``{"viewers": [...]}``).

:func:`stream` is one page's stream: it subscribes, counts its user among the viewers (``presence`` goes
to every page on connect and disconnect), sends each event as it is published and a heartbeat comment
line every :data:`HEARTBEAT` seconds, and ends when the page goes (the server cancels it) or the hub
closes. It holds no database session.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI


class Hub:
    """Fan-out of events to subscribers' asyncio queues; :meth:`publish` is safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]] = {}
        self._next = 0
        self._viewers: Counter[str] = Counter()
        self.closed = False

    def subscribe(self, loop: asyncio.AbstractEventLoop, maxsize: int = 1000) -> tuple[int, asyncio.Queue[str]]:
        """A new subscriber's id and queue of ready-to-send SSE frames (call from the event loop)."""
        q: asyncio.Queue[str] = asyncio.Queue(maxsize)
        with self._lock:
            self._next += 1
            self._subscribers[self._next] = (loop, q)
            return self._next, q

    def unsubscribe(self, sid: int) -> None:
        """Forget subscriber ``sid`` (its page closed)."""
        with self._lock:
            self._subscribers.pop(sid, None)

    def publish(self, event: str, data: dict[str, Any]) -> None:
        """Send ``event`` with ``data`` to every subscriber; a subscriber whose queue is full misses it."""
        frame = f"event: {event}\ndata: {json.dumps(data, default=str, separators=(',', ':'))}\n\n"
        with self._lock:
            targets = list(self._subscribers.values())
        for loop, q in targets:
            try:
                loop.call_soon_threadsafe(_offer, q, frame)
            except RuntimeError:  # that subscriber's loop is closed
                continue

    def join(self, viewer: str) -> list[str]:
        """Count one more open page of ``viewer``; the distinct viewers now, sorted."""
        with self._lock:
            self._viewers[viewer] += 1
            return sorted(self._viewers)

    def leave(self, viewer: str) -> list[str]:
        """One page of ``viewer`` closed; the distinct viewers now, sorted."""
        with self._lock:
            self._viewers[viewer] -= 1
            if self._viewers[viewer] <= 0:
                del self._viewers[viewer]
            return sorted(self._viewers)

    def viewers(self) -> list[str]:
        with self._lock:
            return sorted(self._viewers)

    def close(self) -> None:
        """End every stream (the server is stopping); new streams end at once."""
        with self._lock:
            self.closed = True
            targets = list(self._subscribers.values())
        for loop, q in targets:
            try:
                loop.call_soon_threadsafe(_offer, q, "")
            except RuntimeError:
                continue


HEARTBEAT = 15.0
"""Seconds between heartbeat comment lines (``: heartbeat``) on an idle stream; proxies keep it open."""
RETRY_MS = 3000
"""The reconnection delay the stream asks browsers for (the SSE ``retry:`` field)."""


async def stream(app: FastAPI, viewer: str, heartbeat: float | None = None) -> AsyncIterator[str]:
    """One open page's Server-Sent Events (see the module's text); ``viewer`` is its user's email."""
    heartbeat = heartbeat or HEARTBEAT
    h = hub(app)
    sid, q = h.subscribe(asyncio.get_running_loop())
    joined = False
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        if h.closed:
            return
        joined = True
        h.publish("presence", {"viewers": h.join(viewer)})
        while True:
            try:
                frame = await asyncio.wait_for(q.get(), timeout=heartbeat)
            except TimeoutError:
                frame = ": heartbeat\n\n"
            if not frame:  # the hub closed
                return
            yield frame
    finally:
        h.unsubscribe(sid)
        if joined:
            h.publish("presence", {"viewers": h.leave(viewer)})


def _offer(q: asyncio.Queue[str], frame: str) -> None:
    try:
        q.put_nowait(frame)
    except asyncio.QueueFull:
        pass


def hub(app: FastAPI) -> Hub:
    """The app's hub (made on first use)."""
    h = getattr(app.state, "hub", None)
    if h is None:
        h = app.state.hub = Hub()
    return h


def publish(app: FastAPI, event: str, data: dict[str, Any]) -> None:
    """Publish ``event`` to every open page of ``app``'s workspace (see :class:`Hub`)."""
    hub(app).publish(event, data)


__all__ = ["HEARTBEAT", "Hub", "hub", "publish", "stream"]
