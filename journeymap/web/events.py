"""Real-time events for the shared map: an in-process hub that ``GET /api/events`` streams (Server-Sent Events).

Any route (sync routes run in worker threads) calls :func:`publish` with an event name and a JSON-able
payload; every open page of the workspace receives it as ``event: <name>`` / ``data: <json>``.
Event names in use: ``comment`` (``{"element", "id"}``), ``blueprint`` (``{"touchpoint", "version"}``),
``map`` (``{"version"}``), ``presence`` (``{"viewers": [...]}``).
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from fastapi import FastAPI


class Hub:
    """Fan-out of events to subscribers' asyncio queues; :meth:`publish` is safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]] = {}
        self._next = 0

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


__all__ = ["Hub", "hub", "publish"]
