"""The dashboard served by `risk-agent dashboard` on loopback and opened in Debian's Chromium by
Playwright: each page shows its key text; then a proposal's risk report (`risk-agent report
--format html`) opened in the same browser. Screenshots of every page go to
test-artifacts/dashboard/ for people to look at."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from chain.node import free_loopback_port
from tests.agent.cli_runner import SCRIPT

pytestmark = [pytest.mark.integration, pytest.mark.needs_data, pytest.mark.xdist_group("demo")]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
# (path, title, texts that must show, screenshot name)
PAGES = [
    ("", "Overview", ("Waiting in the timelock", "cast send", "Executable from"), "overview"),
    ("proposals", "Proposals", ("Verified: the attested key", "Monte Carlo bad debt over the horizon", "Risk report"),
     "proposals"),
    ("markets", "Markets", ("price and the parameters in force", "Utilization", "rate curve: in force against proposed",
                            "Health factors of the positions"), "markets"),
    ("enclave", "Enclave", ("Registration on chain", "Attestation verified"), "enclave"),
    ("backtests", "Backtests", ("Strategy against baseline",), "backtests"),
]


@pytest.fixture(scope="module")
def served(dashboard_db):
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (make test installs it: apt-get install chromium)")
    db, home, queued_id = dashboard_db
    port = free_loopback_port()
    server = subprocess.Popen([str(SCRIPT), "dashboard", "--db", str(db), "--port", str(port), "--trust-dev-root"],
                              env={**os.environ, "RISK_AGENT_HOME": str(home)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            if requests.get(f"{url}/_stcore/health", timeout=1).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.25)
    yield url, db, home, queued_id
    server.terminate()
    server.wait(timeout=10)


# Every Altair chart drawn (vega-embed's SVG marks in it) and every image loaded.
DRAWN = """() => [...document.querySelectorAll('[data-testid=stVegaLiteChart]')].every(c => c.querySelector('svg.marks'))
    && [...document.images].every(i => i.complete)"""


def wait_until_drawn(page) -> None:
    """Charts drawn, then two animation frames so the layout the screenshot takes is painted
    (instead of a fixed sleep: the test held a core idle for 12.5 s)."""
    page.wait_for_function(DRAWN, timeout=60_000)
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


def screenshot_whole(page, path: Path) -> None:
    """Streamlit scrolls inside its main block, not the document: the viewport is made as tall
    as that block's content so the screenshot holds the whole page."""
    height = page.evaluate("Math.max(...[...document.querySelectorAll('[data-testid=stMain], section.main, "
                           "[data-testid=stAppViewContainer]')].map(e => e.scrollHeight), 1000)")
    page.set_viewport_size({"width": 1400, "height": int(height) + 40})
    wait_until_drawn(page)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_every_page_and_the_risk_report_in_a_real_browser(served, tmp_path):
    from playwright.sync_api import sync_playwright

    url, db, home, queued_id = served
    report = tmp_path / f"proposal-{queued_id}.html"
    made = subprocess.run([str(SCRIPT), "report", str(queued_id), "--db", str(db), "--format", "html", "--out",
                           str(report),
                           "--trust-dev-root", str(home / "dev-ca" / "root.pem")], capture_output=True, text=True,
                           timeout=300)
    assert made.returncode == 0, made.stderr
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for path, title, key_texts, name in PAGES:
            page.goto(f"{url}/{path}", wait_until="domcontentloaded")
            page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
            for text in key_texts:
                page.get_by_text(text).first.wait_for(timeout=60_000)
            page.wait_for_function("document.querySelectorAll('[data-testid=stSkeleton]').length === 0", timeout=60_000)
            wait_until_drawn(page)
            screenshot_whole(page, ARTIFACTS / f"{name}.png")
        page.goto(report.as_uri(), wait_until="load")
        page.get_by_role("heading", name=f"Risk report: proposal #{queued_id}, WETH").wait_for(timeout=30_000)
        for heading in ("Before and after", "Method", "Value at risk and expected shortfall",
                        "Where the inputs came from",
                        "Positions that become liquidatable", "Monte Carlo bad debt",
                        "Backtest, current against proposed",
                        "Attestation", "How to verify it", "How to veto it"):
            assert page.get_by_role("heading", name=heading).count() == 1, heading
        assert page.locator("img").count() >= 3
        images = page.locator("img")
        assert all(images.nth(i).evaluate("i => i.naturalWidth > 300") for i in range(images.count()))
        page.get_by_text("Verified.").first.wait_for(timeout=5_000)
        page.screenshot(path=str(ARTIFACTS / "risk-report.png"), full_page=True)
        browser.close()
    for name in [p[3] for p in PAGES] + ["risk-report"]:
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 20_000, name
