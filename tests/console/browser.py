"""A real server and a real headless Chromium for the console's browser tests (and its screenshots).

Debian's ``chromium`` and ``chromedriver`` only: paths are given explicitly and Selenium Manager is kept
offline, so nothing ever downloads a browser. Missing ones FAIL the test, saying how to install them."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
HOW_TO_GET_A_BROWSER = (
    "The console's browser tests need Debian's Chromium and chromedriver (/usr/bin/chromium, "
    "/usr/bin/chromedriver). Run `bash scripts/ensure-browser.sh` as root (`make test` does), or "
    "`apt-get install chromium chromium-driver`."
)
LAPTOP = (1366, 900)  # the most common laptop viewport: every page must work at this size


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, name="console-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def chromium() -> Iterator[object]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}. {HOW_TO_GET_A_BROWSER}")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never fetch a browser or driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={LAPTOP[0]},{LAPTOP[1]}",
        "--force-color-profile=srgb",
        "--lang=en-GB",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot_dir(tmp: Path) -> Path:
    """docs/console/ when GATEWAY_CONSOLE_SCREENSHOTS names it (``make console-screenshots``), else tmp:
    an ordinary test run does not rewrite the committed pictures."""
    target = os.environ.get("GATEWAY_CONSOLE_SCREENSHOTS")
    path = Path(target) if target else tmp
    path.mkdir(parents=True, exist_ok=True)
    return path
