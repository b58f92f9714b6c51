"""``handprop playground``: a page in the browser that trains handprop itself, live.

The page (``static/``: plain HTML, CSS and JavaScript, no build step, nothing from the network)
talks to a small Starlette app (``server``) over a WebSocket; each tab gets its own ``Run``
(``run``), handprop's ``fit`` in a thread. The server needs the ``playground`` extra
(``pip install "handprop[playground]"``: starlette and uvicorn); the data and export modules here
need only NumPy.
"""
