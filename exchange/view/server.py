"""The view's HTTP face: the static page, the run's entries, their stream, and documents with badges.

    GET /                         the page (static/index.html)
    GET /static/{path}            its scripts, styles and vendored libraries
    GET /api/entries              {"entries": [...], "finished": bool}: everything so far
    GET /api/stream?after=N       server-sent events: each entry after the first N, then `finished`
    GET /api/documents/{name}     one message: XML, family, type, signature and validation badges
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from exchange.errors import CaravanError
from exchange.view.documents import inspect_document
from exchange.view.feed import RunFeed

__all__ = ["serve_view", "view_application"]

STATIC = Path(__file__).with_name("static")
_FEED = web.AppKey("feed", RunFeed)
_KEEPALIVE = 15.0  # seconds between comments on an idle stream, so proxies and browsers keep it open


def view_application(feed: RunFeed) -> web.Application:
    app = web.Application()
    app[_FEED] = feed
    app.router.add_get("/", _index)
    app.router.add_get("/api/entries", _entries)
    app.router.add_get("/api/stream", _stream)
    app.router.add_get("/api/documents/{name}", _document)
    app.router.add_static("/static", STATIC)
    return app


async def serve_view(feed: RunFeed, listener: socket.socket, announce: Callable[[str], None],
                     until: Awaitable[object] | None = None) -> None:
    """Serve `feed` behind `listener` until `until` completes (or forever), then close the server.

    The caller binds `listener` first (`exchange.listener.bind_listener`), so a port in use is told before
    anything runs, and port 0 gets any free port: `announce` is given the URL with the port actually bound.
    The page has no login, so it listens on loopback unless asked otherwise: a container asks for 0.0.0.0 and
    publishes the port on the host's loopback only (docker-compose.yml, service `view`).
    """
    host, port = listener.getsockname()[:2]
    runner = web.AppRunner(view_application(feed), handle_signals=False)
    await runner.setup()
    try:
        await web.SockSite(runner, listener).start()
        announce(f"http://{host}:{port}/")
        await (until if until is not None else asyncio.Event().wait())
    finally:
        await runner.cleanup()


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def _entries(request: web.Request) -> web.Response:
    feed = request.app[_FEED]
    return web.json_response({"entries": feed.entries, "finished": feed.finished})


async def _stream(request: web.Request) -> web.StreamResponse:
    """Entries after `after`, as they come; the stream ends with a `finished` event."""
    feed = request.app[_FEED]
    try:
        sent = max(0, int(request.query.get("after", "0")))
    except ValueError:
        raise web.HTTPBadRequest(text="after: a whole number of entries already read") from None
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    while True:
        await feed.wait_beyond(sent, _KEEPALIVE)
        if len(feed.entries) == sent and not feed.finished:
            await response.write(b": still here\n\n")
            continue
        for entry in feed.entries[sent:]:
            await response.write(f"data: {json.dumps(entry, ensure_ascii=False)}\n\n".encode())
        sent = len(feed.entries)
        if feed.finished:
            await response.write(b"event: finished\ndata: {}\n\n")
            return response


async def _document(request: web.Request) -> web.Response:
    feed = request.app[_FEED]
    name = request.match_info["name"]
    message = next((entry for entry in feed.entries
                    if entry.get("kind") == "message" and entry.get("file") == f"messages/{name}"), None)
    if message is None:
        return web.json_response({"error": "not-found", "message": f"no message {name} in this run"}, status=404)
    try:
        view = await asyncio.to_thread(inspect_document, feed.run_dir, message["file"], str(message.get("at", "")))
    except CaravanError as exc:
        return web.json_response(exc.as_dict(), status=422)
    return web.json_response(view.as_dict())
