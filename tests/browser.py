"""Open a page in Debian's headless Chromium through Playwright: what rendered, what the console
said, and a screenshot."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@dataclass
class Rendered:
    charts: dict[str, int]  # data-chart name -> drawn marks (lines, points, bars, flows and nodes)
    tables: list[str]
    errors: list[str]
    requests: list[str]  # anything fetched besides the page itself


def render(url: str, screenshot: Path) -> Rendered:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: scripts/bootstrap.sh installs it (Debian package chromium)"
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("request", lambda request: requests.append(request.url) if request.url != url else None)
            page.goto(url, wait_until="load")
            charts = {
                svg.get_attribute("data-chart"): svg.locator(
                    "path.series, circle.point, rect.bar, path.flow, rect.node"
                ).count()
                for svg in page.locator("svg.chart").all()
            }
            tables = [t.get_attribute("data-section") for t in page.locator("table[data-section]").all()]
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return Rendered(charts, tables, errors, requests)
