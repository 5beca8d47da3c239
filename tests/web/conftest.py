"""Fixtures for the web app's tests.

In process (fast): ``make_app(*overrides, hub=None, sources=(), recognizer_factory=None)`` ->
``(client, context)``, a ``TestClient`` at ``http://127.0.0.1`` on an app in a fresh workspace;
``login(client, password)`` logs a client in.

In a real browser (Playwright + Debian's Chromium, skipped with the reason when either is
missing): ``serve(*overrides, hub=None, sources=())`` -> ``(url, context)``, the app served by
uvicorn on a free port (stopped after the test); ``browser`` (one Chromium per session);
``page`` (a fresh browser context and page); ``logged_in_page(url, password)`` -> a page logged
in to the app at ``url``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from web_helpers import CHROMIUM, PASSWORD, browser_missing, csrf_of


@pytest.fixture
def workspace(tmp_path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.fixture
def web_config(workspace):
    """``web_config(*overrides)``: the config of a command run in ``workspace`` with ``--set overrides``."""
    from facecore.config import load_config
    from facecore.workspace import in_workspace

    def make(*overrides: str):
        return in_workspace(load_config(None, list(overrides)), workspace)

    return make


@pytest.fixture
def make_app(workspace, web_config):
    from fastapi.testclient import TestClient

    from web.app import create_app
    from web.context import WebContext

    def make(*overrides: str, hub=None, sources=(), recognizer_factory=None, config=None):
        context = WebContext(config or web_config(*overrides), workspace, hub, list(sources), recognizer_factory)
        client = TestClient(create_app(context), base_url="http://127.0.0.1", raise_server_exceptions=False)
        return client, context

    return make


@pytest.fixture
def login():
    def log_in(client, password: str = PASSWORD):
        token = csrf_of(client.get("/login").text)
        response = client.post("/login", data={"password": password, "csrf_token": token}, follow_redirects=False)
        assert response.status_code == 303, response.text
        return response

    return log_in


@pytest.fixture
def serve(workspace, web_config):
    """Serve the app for real (uvicorn on a thread, a free port); every server stops after the test."""
    from web.app import create_app
    from web.context import WebContext
    from web.server import WebServer, listen

    servers = []

    def start(*overrides: str, hub=None, sources=(), config=None, recognizer_factory=None):
        context = WebContext(config or web_config(*overrides), workspace, hub, list(sources), recognizer_factory)
        server = WebServer(create_app(context), listen("127.0.0.1", 0)).start()
        servers.append(server)
        return server.url.rstrip("/"), context

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session (Debian's /usr/bin/chromium, never a downloaded one)."""
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def logged_in_page(page):
    def log_in(url: str, password: str = PASSWORD):
        page.goto(f"{url}/login")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"^(?!.*/login).*$"))
        return page

    return log_in



@pytest.fixture(scope="session")
def biden_bundle(tmp_path_factory, facenet_config, facenet_models):
    """A bundle of Biden and Obama, trained (facenet) from the clips' stills, copied to tmp."""
    from enroll.training import train
    from helpers import VIDEOS, copy_people, need

    stills = {name: sorted(p for p in need(VIDEOS / "obama-biden" / "enroll" / name).iterdir() if p.is_file())
              for name in ("biden", "obama")}
    root = tmp_path_factory.mktemp("web-enrolled")
    data = copy_people(root / "people", stills)
    config = facenet_config.replace(train={"min_images": 1, "cache_dir": str(root / "cache")})
    return train(config, data, root / "model", models=facenet_models, progress=False).path
