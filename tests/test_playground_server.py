"""The playground's web app, through Starlette's test client: the page, a tab's WebSocket, uploads,
exports, and sessions that live and die with their tabs."""

import json
import threading
import time

import numpy as np
import pytest

import handprop

pytest.importorskip("starlette")
pytest.importorskip("httpx")

# ------------------------------------------------------------------------------------ the web app


def _run_threads():
    return [t for t in threading.enumerate() if t.name == "handprop-playground-run"]


def _ends(thread, seconds=10):
    """True once ``thread`` has ended (within ``seconds``)."""
    thread.join(seconds)
    return not thread.is_alive()


@pytest.fixture(autouse=True)
def no_run_left_behind():
    """Every test ends with its tabs closed, and a closed tab's training stopped."""
    yield
    deadline = time.monotonic() + 5
    while _run_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _run_threads(), "a training thread outlived its tab"


@pytest.fixture
def client():
    from starlette.testclient import TestClient

    from handprop.playground.server import make_app

    app = make_app()
    with TestClient(app) as c:
        c.app_state = app.state
        yield c


def _receive_until(ws, predicate, limit=500):
    for _ in range(limit):
        m = json.loads(ws.receive_text())
        if predicate(m):
            return m
    raise AssertionError("the message never came")


def _hello(ws, **s):
    """Open a session with settings ``s``; returns its id once its first frame has come."""
    ws.send_text(json.dumps({"cmd": "hello", "settings": s}))
    session = _receive_until(ws, lambda m: m["type"] == "hello")["session"]
    _receive_until(ws, lambda m: m["type"] == "frame")
    return session


def test_the_page_and_its_files_are_served_from_the_package(client):
    page = client.get("/")
    assert page.status_code == 200
    for element in ("play", "step", "reset", "epoch", "train-loss", "test-loss", "dataset", "upload", "layers",
                    "activation", "lr", "regularization", "reg-rate", "batch-size", "noise", "train-ratio",
                    "heatmap", "explain", "doctor", "export-model", "export-command", "export-python", "error"):
        assert f'id="{element}"' in page.text, element
    assert "http://" not in page.text and "https://" not in page.text  # nothing from the network
    for name in ("playground.js", "playground.css"):
        body = client.get(f"/static/{name}")
        assert body.status_code == 200 and "https://" not in body.text


def test_a_bad_upload_shows_the_readers_error_and_the_run_goes_on(client):
    with client.websocket_connect("/ws") as ws:
        sid = _hello(ws, dataset="xor")
        r = client.post(f"/upload?session={sid}&name=bad.csv", content=b"a,b,label\n1,2,0\n3,oops,1\n")
        assert r.status_code == 400
        assert r.json()["error"].startswith("bad.csv")
        assert "oops" in r.json()["error"] and "handprop-upload" not in r.json()["error"]
        shown = _receive_until(ws, lambda m: m["type"] == "error" and m["message"])
        assert shown["message"] == r.json()["error"]
        ws.send_text(json.dumps({"cmd": "step"}))
        frame = _receive_until(ws, lambda m: m["type"] == "frame" and m["epoch"] == 1)
        assert frame["train_loss"] > 0


def test_an_upload_over_the_limit_is_refused_before_reading(client, monkeypatch):
    from handprop.playground import server

    monkeypatch.setattr(server, "MAX_UPLOAD", 100)
    with client.websocket_connect("/ws") as ws:
        sid = _hello(ws)
        r = client.post(f"/upload?session={sid}&name=big.csv", content=b"a,b\n" + b"1,0\n" * 50)
        assert r.status_code == 413 and "over the playground's limit" in r.json()["error"]


def test_a_good_upload_trains_on_its_last_column(client):
    rows = "".join(f"{i},{i % 5},{int(i % 5 > 2)}\n" for i in range(40))
    with client.websocket_connect("/ws") as ws:
        sid = _hello(ws)
        r = client.post(f"/upload?session={sid}&name=my data.csv", content=("p,q,hit\n" + rows).encode())
        assert r.json() == {"ok": True, "name": "my_data.csv", "rows": 40, "features": ["p", "q"], "target": "hit"}
        data = _receive_until(ws, lambda m: m["type"] == "data" and m["name"] == "my_data.csv")
        assert data["task"] == "classification" and data["axes"] == ["p", "q"] and data["classes"] == ["0", "1"]


def test_tabs_train_independently_and_closing_one_stops_its_training(client):
    with client.websocket_connect("/ws") as quiet:
        _hello(quiet, dataset="gauss")
        with client.websocket_connect("/ws") as busy:
            busy_id = _hello(busy, dataset="spiral")
            run = client.app_state.sessions[busy_id].run
            busy.send_text(json.dumps({"cmd": "play"}))
            _receive_until(busy, lambda m: m["type"] == "frame" and m["epoch"] >= 5)
            quiet_run = [s for k, s in client.app_state.sessions.items() if k != busy_id][0].run
            assert quiet_run.epoch == 0
        assert _ends(run.thread) and busy_id not in client.app_state.sessions
        assert quiet_run.thread.is_alive()
    assert _ends(quiet_run.thread)


def test_the_model_download_loads_with_the_servers_predictions(client, tmp_path):
    with client.websocket_connect("/ws") as ws:
        sid = _hello(ws, dataset="circle", layers="8,8")
        assert "nothing trained yet" in client.get(f"/export/command?session={sid}").json()["error"]
        ws.send_text(json.dumps({"cmd": "step"}))
        ws.send_text(json.dumps({"cmd": "step"}))
        _receive_until(ws, lambda m: m["type"] == "frame" and m["epoch"] == 2)
        r = client.get(f"/export/model?session={sid}")
        assert r.headers["content-disposition"] == 'attachment; filename="playground-model.npz"'
        (tmp_path / "m.npz").write_bytes(r.content)
        (tmp_path / "d.csv").write_text(client.get(f"/export/data?session={sid}").text)
        served = client.get(f"/api/predictions?session={sid}").json()
    model = handprop.load(tmp_path / "m.npz")
    X = handprop.data.load_data(tmp_path / "d.csv").X
    assert served["epoch"] == 2
    np.testing.assert_array_equal(model.predict(model.info.prepare(X)), np.array(served["outputs"]))


def test_unknown_sessions_and_settings_are_errors_not_crashes(client):
    assert client.get("/export/model?session=nope").json() == {"error": "no such session: reload the page"}
    with client.websocket_connect("/ws") as ws:
        _hello(ws)
        ws.send_text(json.dumps({"cmd": "settings", "settings": {"layers": "8,x"}}))
        m = _receive_until(ws, lambda m: m["type"] == "error" and m["message"])
        assert "layers must be comma-separated sizes" in m["message"]
        ws.send_text(json.dumps({"cmd": "step"}))  # the old run is still there
        _receive_until(ws, lambda m: m["type"] == "frame" and m["epoch"] == 1)




def test_the_servers_data_file_is_offered_to_every_tab(tmp_path):
    from starlette.testclient import TestClient

    from handprop.cli.playground import load_file
    from handprop.playground.server import make_app

    path = tmp_path / "house.csv"
    path.write_text("rooms,area,price\n" + "".join(f"{i % 6 + 1},{50 + 7 * i},{100.5 + 3 * i}\n" for i in range(30)))
    with TestClient(make_app(data=load_file(str(path), "price"))) as c, c.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"cmd": "hello", "settings": {"dataset": "file", "x-axis": "1", "y-axis": "0"}}))
        assert _receive_until(ws, lambda m: m["type"] == "hello")["file"] == str(path)
        data = _receive_until(ws, lambda m: m["type"] == "data" and m["axes"] == ["area", "rooms"])
        assert data["task"] == "regression" and data["target_name"] == "price"
        assert data["range"] == [100.5, 100.5 + 3 * 29]


@pytest.mark.slow
def test_the_command_serves_the_page_on_127_0_0_1(tmp_path):
    """`handprop playground --no-browser --port P` as a user runs it, stopped at the end."""
    import os
    import socket
    import subprocess
    import sys
    import urllib.request

    pytest.importorskip("uvicorn")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = os.path.join(os.path.dirname(__file__), os.pardir, "src")
    proc = subprocess.Popen([sys.executable, "-m", "handprop", "playground", "--no-browser", "--port", str(port)],
                            env=dict(os.environ, PYTHONPATH=os.path.abspath(src)), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout.readline().strip() == f"handprop playground: http://127.0.0.1:{port}/ (Ctrl-C stops it)"
        deadline, page = time.monotonic() + 20, None
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy for 127.0.0.1
        while page is None and time.monotonic() < deadline:
            try:
                page = direct.open(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
            except OSError:
                time.sleep(0.1)
        assert page is not None and 'id="heatmap"' in page
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_page_from_another_site_cannot_open_a_session(client):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect("/ws", headers={"origin": "http://evil.example"}) as ws:
            ws.receive_text()
    assert client.app_state.sessions == {}
    with client.websocket_connect("/ws", headers={"origin": "http://testserver"}) as ws:
        assert _hello(ws)


def test_the_same_link_gives_the_same_run(client):
    """Two tabs opened on one URL's settings train identical networks."""
    link = {"dataset": "spiral", "layers": "5,5", "noise": "20", "seed": "3", "features": "x1,x2,sinx1"}
    runs = []
    for _ in range(2):
        with client.websocket_connect("/ws") as ws:
            sid = _hello(ws, **link)
            for _ in range(4):
                ws.send_text(json.dumps({"cmd": "step"}))
            _receive_until(ws, lambda m: m["type"] == "frame" and m["epoch"] == 4)
            runs.append(client.app_state.sessions[sid].run)
    a, b = (r.snapshot for r in runs)
    assert a["epoch"] == b["epoch"] == 4
    for wa, wb in zip(a["weights"], b["weights"]):
        np.testing.assert_array_equal(wa, wb)
    assert runs[0].settings == runs[1].settings and runs[0].settings["seed"] == 3
