"""The dashboard served on loopback and opened in Debian's Chromium by Playwright: each page
shows its key text; screenshots are saved to test-artifacts/ for people to look at."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from chain.node import free_loopback_port

pytestmark = [pytest.mark.integration, pytest.mark.needs_data]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
PAGES = [("", "Overview", "Waiting in the timelock"), ("proposals", "Proposals", "Attestation verified"),
         ("markets", "Markets", "Parameter history"), ("enclave", "Enclave", "Registration on chain"),
         ("backtests", "Backtests", "Strategy against baseline")]


@pytest.fixture(scope="module")
def served(demo_db):
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (make test installs it: apt-get install chromium)")
    db, home = demo_db
    port = free_loopback_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py"),
         "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"],
        env={**os.environ, "RISK_AGENT_DASHBOARD_DB": str(db), "RISK_AGENT_HOME": str(home)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if requests.get(f"{url}/_stcore/health", timeout=1).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.25)
    yield url
    server.terminate()
    server.wait(timeout=10)


def test_every_page_in_a_real_browser(served):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for path, title, key_text in PAGES:
            page.goto(f"{served}/{path}", wait_until="domcontentloaded")
            page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
            page.get_by_text(key_text).first.wait_for(timeout=60_000)
            time.sleep(1.0)  # let charts finish drawing before the screenshot
            page.screenshot(path=str(ARTIFACTS / f"{title.lower()}.png"), full_page=True)
        browser.close()
    assert all((ARTIFACTS / f"{title.lower()}.png").stat().st_size > 20_000 for _, title, _ in PAGES)
