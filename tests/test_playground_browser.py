"""The playground in a real browser: Playwright driving Debian's headless Chromium (no download).

The server runs in this process (uvicorn, in a thread, on a free port of 127.0.0.1); the browser is
kept off the network (a dead proxy, no background networking) and every request it makes is
recorded: none may leave 127.0.0.1. Screenshots go to ``$HANDPROP_TEST_ARTIFACTS/playground``
(default: the test's temporary directory). Slow: run with ``--runslow``.
"""

import os
import shlex
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import handprop
from handprop.cli import main

pytestmark = pytest.mark.slow
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--proxy-server=http://127.0.0.1:9",
        "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"]
SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, "src"))


@pytest.fixture(scope="module")
def server():
    import uvicorn

    from handprop.playground.server import make_app

    app = make_app()
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "the playground server did not start"
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", app
    srv.should_exit = True
    thread.join(10)
    assert not thread.is_alive()
    assert not [t for t in threading.enumerate() if t.name == "handprop-playground-run"]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        # CI installs it (.ci/run), so there a missing browser is a failure; on a machine of
        # your own the browser tests wait for Debian's package.
        why = f"{CHROMIUM} is missing: apt-get install chromium (as .ci/run does)"
        pytest.fail(why) if os.environ.get("CI") else pytest.skip(why)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    base = os.environ.get("HANDPROP_TEST_ARTIFACTS")
    path = os.path.join(base, "playground") if base else str(tmp_path_factory.mktemp("playground-shots"))
    os.makedirs(path, exist_ok=True)
    return path


@pytest.fixture
def page(browser, server):
    base, _ = server
    context = browser.new_context(accept_downloads=True, viewport={"width": 1500, "height": 1100})
    requests = []
    context.on("request", lambda r: requests.append(r.url))
    pg = context.new_page()
    pg.requests = requests
    pg.base = base
    yield pg
    context.close()
    local = (base + "/", base.replace("http://", "ws://") + "/", "blob:" + base + "/", "data:")
    outside = [u for u in requests if not u.startswith(local)]
    assert requests and not outside, f"requests beyond 127.0.0.1: {outside}"


def _number(pg, element):
    text = pg.text_content(f"#{element}")
    return float(text) if text not in ("–", "") else None


def _wait_epoch(pg, at_least, timeout=30000):
    pg.wait_for_function(f"Number(document.getElementById('epoch').textContent) >= {at_least}", timeout=timeout)


def _paused_epoch(pg, seconds=60):
    """The epoch of a paused run, once it stays put and the doctor and the chain rule are of it."""
    deadline, previous = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        epoch = pg.text_content("#epoch")
        if (epoch == previous and pg.text_content("#doctor").startswith(f"epoch {epoch}:")
                and pg.text_content("#explain").startswith(f"epoch {epoch},")):
            return int(epoch)
        previous = epoch
        pg.wait_for_timeout(300)
    raise AssertionError(f"the paused run did not settle: epoch {pg.text_content('#epoch')}; doctor: "
                         f"{pg.text_content('#doctor')[:200]!r}; explain: {pg.text_content('#explain')[:200]!r}; "
                         f"error: {pg.text_content('#error')[:200]!r}")


def _open(pg, query):
    pg.goto(f"{pg.base}/?{query}")
    pg.wait_for_function("window.hpStats && window.hpStats.frames >= 1")


def test_play_trains_and_the_page_keeps_up(page, shots):
    _open(page, "dataset=spiral&layers=8,8&features=x1,x2&noise=0&batch-size=10&train-ratio=50")
    assert page.text_content("#epoch") == "0" and page.is_hidden("#error")
    first_test_loss = _number(page, "test-loss")
    page.screenshot(path=os.path.join(shots, "01-loaded.png"))
    page.click("#play")
    _wait_epoch(page, 5)
    # frame rate: 2-8-8-1 on 500 points, heatmaps drawn in the page while training runs
    before = page.evaluate("({f: window.hpStats.frames, e: window.hpStats.epoch, t: performance.now()})")
    page.wait_for_timeout(3000)
    after = page.evaluate("({f: window.hpStats.frames, e: window.hpStats.epoch, t: performance.now()})")
    rate = (after["f"] - before["f"]) / ((after["t"] - before["t"]) / 1000)
    epochs_per_s = (after["e"] - before["e"]) / ((after["t"] - before["t"]) / 1000)
    print(f"\nplayground: {rate:.1f} heatmap updates/s, {epochs_per_s:.0f} epochs/s (2-8-8-1, 500 points)")
    with open(os.path.join(shots, "frame-rate.txt"), "w") as f:
        f.write(f"{rate:.1f} heatmap updates/s, {epochs_per_s:.0f} epochs/s\n")
    assert rate >= 20, f"only {rate:.1f} heatmap updates per second"
    assert after["e"] > before["e"] + rate  # training went on between frames
    page.click("#play")  # pause
    page.wait_for_function("document.getElementById('play').textContent.includes('play')")
    epoch = _paused_epoch(page)  # paused means paused: the epoch stays, the doctor and chain rule are of it
    assert _number(page, "test-loss") != first_test_loss
    assert "dataset=spiral" in page.url and "layers=8%2C8" in page.url
    assert page.text_content("#explain").startswith(f"epoch {epoch}, training sample 0")
    assert "Backward pass" in page.text_content("#explain")
    assert page.text_content("#doctor").startswith(f"epoch {epoch}: Training doctor")
    page.screenshot(path=os.path.join(shots, "02-trained.png"), full_page=True)


def test_exports_reproduce_the_servers_predictions(page, shots, tmp_path, monkeypatch):
    _open(page, "dataset=circle&layers=6,4&noise=10&activation=relu&lr=0.05")
    for _ in range(3):
        page.click("#step")
    _wait_epoch(page, 3)
    with page.expect_download() as info:
        page.click("#export-model")
    model_path = tmp_path / "downloaded.npz"
    info.value.save_as(model_path)
    model = handprop.load(model_path)
    session = page.evaluate("state.session")
    served = page.evaluate(f"fetch('/api/predictions?session={session}').then(r => r.json())")
    data = page.evaluate(f"fetch('/export/data?session={session}').then(r => r.text())")
    (tmp_path / "playground-data.csv").write_text(data)
    X = handprop.data.load_data(tmp_path / "playground-data.csv").X
    assert served["epoch"] == 3
    np.testing.assert_array_equal(model.predict(model.info.prepare(X)), np.array(served["outputs"]))
    # the command, as the page prints it, run by the CLI
    page.click("#export-command")
    page.wait_for_function("document.getElementById('export-text').textContent.includes('handprop train')")
    command = [line for line in page.text_content("#export-text").splitlines() if line.startswith("handprop")][0]
    monkeypatch.chdir(tmp_path)
    assert main(shlex.split(command)[1:]) == 0
    cli_model = handprop.load(tmp_path / "playground-model.npz")
    np.testing.assert_array_equal(cli_model.predict(cli_model.info.prepare(X)), np.array(served["outputs"]))
    # the script, downloaded from the page and run on its own
    with page.expect_download() as info:
        page.click("#export-python")
    info.value.save_as(tmp_path / "playground_run.py")
    done = subprocess.run([sys.executable, "playground_run.py", "playground-data.csv", "rebuilt.npz"],
                          cwd=tmp_path, env=dict(os.environ, PYTHONPATH=SRC), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    rebuilt = handprop.load(tmp_path / "rebuilt.npz")
    np.testing.assert_array_equal(rebuilt.predict(rebuilt.info.prepare(X)), np.array(served["outputs"]))
    page.screenshot(path=os.path.join(shots, "03-exports.png"), full_page=True)


def test_upload_a_csv_then_a_bad_one_and_a_bad_setting(page, shots, tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    kind = np.where(X[:, 0] ** 2 + X[:, 1] ** 2 > 1.2, "outer", "inner")
    good = tmp_path / "rings.csv"
    good.write_text("u,v,w,kind\n" + "".join(f"{a},{b},{c},{k}\n" for (a, b, c), k in zip(X.tolist(), kind)))
    _open(page, "dataset=xor&layers=8")
    page.set_input_files("#upload", str(good))
    page.wait_for_function("document.getElementById('dataset').value === 'upload'")
    page.wait_for_function("state.data && state.data.name === 'rings.csv'")
    assert page.is_hidden("#error")
    assert page.is_visible("#x-axis") and page.input_value("#x-axis") == "0"
    page.click("#play")
    _wait_epoch(page, 20)
    page.click("#play")
    page.screenshot(path=os.path.join(shots, "04-uploaded.png"), full_page=True)
    bad = tmp_path / "broken.csv"
    bad.write_text("u,v,kind\n1,2,a\n3,three,b\n")
    page.set_input_files("#upload", str(bad))
    page.wait_for_selector("#error:not([hidden])")
    message = page.text_content("#error")
    assert message.startswith("broken.csv:3") and "'three'" in message and "handprop-upload" not in message
    page.screenshot(path=os.path.join(shots, "05-error.png"), full_page=True)
    assert page.evaluate("state.data.name") == "rings.csv"  # the good run is still there
    page.fill("#layers", "8,x")
    page.press("#layers", "Enter")
    page.wait_for_function("document.getElementById('error').textContent.includes('layers must be')")
    epoch = int(page.text_content("#epoch"))
    page.click("#step")  # the server keeps running
    _wait_epoch(page, epoch + 1)


def test_two_tabs_train_independently_and_a_closed_tab_stops(page, browser, server):
    base, app = server
    _open(page, "dataset=gauss&layers=3")
    page.select_option("#activation", "relu")  # a change of setting is written to the URL
    page.wait_for_function("window.location.search.includes('activation=relu')")
    assert "dataset=gauss" in page.url and "layers=3" in page.url
    other = page.context.new_page()
    other.goto(f"{base}/?dataset=xor&layers=4")
    other.wait_for_function("window.hpStats && window.hpStats.frames >= 1")
    other_id = other.evaluate("state.session")
    run = app.state.sessions[other_id].run
    other.click("#play")
    _wait_epoch(other, 10)
    assert page.text_content("#epoch") == "0"
    other.close()
    deadline = time.monotonic() + 10
    while run.thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not run.thread.is_alive() and other_id not in app.state.sessions
