"""The playground's web app (Starlette): the page, one WebSocket per tab, uploads and exports.

Routes::

    GET  /                      the page (static/index.html)
    GET  /static/...            its script and style sheet
    WS   /ws                    a tab's session: settings and commands in, data and frames out
    POST /upload?session=&name= a CSV file as the request body (at most MAX_UPLOAD bytes)
    GET  /export/model|data|command|python?session=   the exports (see ``exports``)
    GET  /api/predictions?session=   the network's outputs on every point at the last frame

A tab's session lives as long as its WebSocket: closing the tab stops its training.
"""

import asyncio
import collections
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
from importlib import resources
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocketDisconnect

from ..data import load_data
from ..errors import HandpropError
from . import exports
from .session import Session

MAX_UPLOAD = 50 * 1024 * 1024
STATIC = resources.files(__package__) / "static"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


class Outbox:
    """Messages from a run's thread to its WebSocket; a keyed message replaces an unsent one."""

    def __init__(self, loop):
        self.loop, self.wake = loop, asyncio.Event()
        self.items = collections.OrderedDict()
        self.lock = threading.Lock()
        self.closed = False

    def put(self, message, key=None):
        if self.closed:
            return
        key = key or object()
        with self.lock:
            self.items.pop(key, None)
            self.items[key] = message
        try:
            self.loop.call_soon_threadsafe(self.wake.set)
        except RuntimeError:  # the loop has closed: the tab is gone
            self.closed = True

    async def drain(self, websocket):
        while True:
            await self.wake.wait()
            self.wake.clear()
            while True:
                with self.lock:
                    if not self.items:
                        break
                    _, message = self.items.popitem(last=False)
                await websocket.send_text(json.dumps(message))


def _error_text(exc, tmpdir=None):
    text = str(exc)
    if tmpdir:
        text = text.replace(tmpdir + os.sep, "")
    return " / ".join(line.strip() for line in text.splitlines() if line.strip())


async def page(request):
    return FileResponse(str(STATIC / "index.html"), media_type="text/html")


async def socket(websocket):
    """A tab: its session lives as long as this WebSocket. Another site's page is refused (a page
    from elsewhere may try to open ws://127.0.0.1:8000/ws in your browser)."""
    origin = websocket.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != websocket.headers.get("host"):
        await websocket.close(code=1008)
        return
    await websocket.accept()
    state = websocket.app.state
    outbox = Outbox(asyncio.get_running_loop())
    session = Session(secrets.token_hex(8), outbox.put, file=state.data)
    state.sessions[session.id] = session
    sender = asyncio.create_task(outbox.drain(websocket))
    try:
        while True:
            message = json.loads(await websocket.receive_text())
            await run_in_threadpool(session.handle, message)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        outbox.closed = True
        sender.cancel()
        state.sessions.pop(session.id, None)
        session.close(wait=False)  # at once, even if this task is being cancelled


def _find(request):
    session = request.app.state.sessions.get(request.query_params.get("session", ""))
    if session is None:
        raise HandpropError("no such session: reload the page")
    return session


def _too_big(name, size=None):
    what = f"{size:,} bytes is" if size is not None else "it is"
    return JSONResponse({"error": f"{name}: {what} over the playground's limit of {MAX_UPLOAD:,} bytes (50 MB)"},
                        status_code=413)


async def _receive(request, path):
    """Write the request's body to ``path``; False (and nothing more read) once over MAX_UPLOAD."""
    total = 0
    with open(path, "wb") as f:
        async for chunk in request.stream():
            total += len(chunk)
            if total > MAX_UPLOAD:
                return False
            f.write(chunk)
    return True


async def upload(request):
    """A CSV file as the request body, read by ``load_data`` as the CLI reads it."""
    try:
        session = _find(request)
    except HandpropError as exc:
        return JSONResponse({"error": str(exc)}, status_code=404)
    name = _SAFE_NAME.sub("_", os.path.basename(request.query_params.get("name") or "upload.csv")) or "upload.csv"
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_UPLOAD:
        return _too_big(name, int(declared))
    tmpdir = tempfile.mkdtemp(prefix="handprop-upload-")
    try:
        path = os.path.join(tmpdir, name)
        if not await _receive(request, path):
            return _too_big(name)
        try:
            ds = await run_in_threadpool(load_data, path)
            result = await run_in_threadpool(session.use_upload, name, ds)
        except HandpropError as exc:
            message = _error_text(exc, tmpdir)
            session.emit({"type": "error", "message": message})
            return JSONResponse({"error": message}, status_code=400)
        return JSONResponse(result)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _exporter(kind):
    async def handler(request):
        try:
            return await run_in_threadpool(_export, _find(request), kind)
        except HandpropError as exc:
            return JSONResponse({"error": _error_text(exc)}, status_code=400)
    return handler


def make_app(data=None):
    """The app; ``data`` is ``(path, Dataset)`` from ``handprop playground --data``, or None."""
    routes = [Route("/", page), WebSocketRoute("/ws", socket), Route("/upload", upload, methods=["POST"]),
              Route("/api/predictions", _exporter("predictions"))]
    routes += [Route(f"/export/{kind}", _exporter(kind)) for kind in ("model", "data", "command", "python")]
    routes.append(Mount("/static", StaticFiles(directory=str(STATIC)), name="static"))
    app = Starlette(routes=routes)
    app.state.sessions = {}  # session id -> Session, one per open tab
    app.state.data = data
    return app


def _download(body, name, media_type):
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _export(session, kind):
    run = session.run
    if run is None:
        raise HandpropError("no run yet: the settings shown in the error need fixing first")
    if kind == "data":
        return _download(exports.data_csv(run), exports.DATA_NAME, "text/csv")
    epoch, model = run.model_at_snapshot()
    if kind == "predictions":
        with run.cond:
            outputs = run.snapshot["outputs"]
        return JSONResponse({"epoch": epoch, "outputs": outputs.tolist()})
    if kind == "command":
        return PlainTextResponse(exports.train_command(run, epoch) + "\n")
    if kind == "python":
        return _download(exports.python_script(run, epoch, model), exports.SCRIPT_NAME, "text/x-python")
    with tempfile.TemporaryDirectory(prefix="handprop-export-") as tmp:
        path = os.path.join(tmp, exports.MODEL_NAME)
        model.save(path)
        with open(path, "rb") as f:
            body = f.read()
    return _download(body, exports.MODEL_NAME, "application/octet-stream")
