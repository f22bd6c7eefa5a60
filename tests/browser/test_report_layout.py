"""The printable report pages as laid out by Debian's chromium at a desktop width (1280 px) and a phone's (390 px):
no table runs past the page's column (a wide one scrolls sideways in a box of its own, so the page itself is never
wider than the window), every table fits a desktop page, the market response's figures start at one place, and the
page passes the console's accessibility checks (tests/browser/a11y.js).
Photographed when CONSOLE_SCREENSHOTS names a directory (as the console's browser tests)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Databases, Keys, serving
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from test_console_browser import A11Y, SHOTS, follow, new_browser, sign_in

WIDTHS = (1280, 390)
LAYOUT = """
const page = document.querySelector('.page');
const box = page.getBoundingClientRect(), style = getComputedStyle(page);
const left = box.left + parseFloat(style.paddingLeft), right = box.right - parseFloat(style.paddingRight);
const scroller = (el) => { for (let e = el.parentElement; e && e !== page; e = e.parentElement) {
  const o = getComputedStyle(e).overflowX; if (o === 'auto' || o === 'scroll') return e; } return null; };
const name = (t) => (t.caption || t.querySelector('th') || {textContent: ''}).textContent.trim();
const spills = [];
for (const t of document.querySelectorAll('table')) {
  const shown = (scroller(t) || t).getBoundingClientRect();
  const out = shown.right > right + 0.5 || shown.left < left - 0.5;
  if (out) spills.push(name(t) + ' ends at ' + Math.round(shown.right));
}
return {
  page: document.documentElement.scrollWidth,
  spills: spills,
  scrolling: [...document.querySelectorAll('.table-scroll')].filter((b) => b.scrollWidth > b.clientWidth + 1)
    .map((b) => b.getAttribute('aria-label')),
  values: [...document.querySelectorAll('#market-response dl.pairs')].map((dl) => [...dl.querySelectorAll('dd')]
    .map((dd) => [Math.round(dd.getBoundingClientRect().left), getComputedStyle(dd).textAlign])),
};
"""


def _api(base: str, key: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{base}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as r:
        data = r.read()
    return json.loads(data) if r.headers.get_content_type() == "application/json" else data.decode()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    driver = new_browser(tmp_path / "profile", tmp_path / "downloads")
    yield driver
    driver.quit()


@pytest.fixture
async def pages(databases: Databases, template_db: str) -> dict[str, str]:
    """The market report of the seeded exercise, every need matched, and an options appraisal of it not yet decided
    (its market evidence per need drawn in), as the API serves them (HTML, self-contained)."""
    dsn = databases.dsn(await databases.create("layout", template=template_db))
    _, key = await Keys(dsn).make("commissioner")
    options = [
        {"key": "vcse", "model": "single_prime", "label": "Outsource to a third-sector organisation"},
        {"key": "la", "model": "hosted", "partner": "A county council"},
    ]
    criteria = ("financial_viability", "performance_impact", "quality", "sustainability")
    scores = [
        {"option": o, "criterion": c, "assessor": "Ann", "score": s}
        for o, row in (("vcse", [5, 2, 5, 3]), ("la", [3, 4, 3, 4]))
        for c, s in zip(criteria, row, strict=True)
    ]
    body = {"title": "Delivery model", "options": options, "scores": scores}
    with serving(dsn, "layout-server.log") as base:
        _api(base, key, "POST", "/exercises/1/match")
        made = _api(base, key, "POST", "/exercises/1/appraisals", body)
        return {
            "market-report": _api(base, key, "GET", "/exercises/1/report?format=html"),
            "appraisal-report": _api(base, key, "GET", f"/appraisals/{made['id']}/report?format=html"),
        }


def test_report_tables_stay_inside_the_page_at_desktop_and_phone_widths(
    pages: dict[str, str], browser: WebDriver, tmp_path: Path
) -> None:
    driver = browser
    for name, html in pages.items():
        path = tmp_path / f"{name}.html"
        path.write_text(html, encoding="utf-8")
        for width in WIDTHS:
            driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            )
            driver.get(path.as_uri())
            got = driver.execute_script(LAYOUT)
            assert got["page"] <= width, (name, width, got)
            assert got["spills"] == [], (name, width)
            assert driver.execute_script(A11Y) == [], (name, width)
            if width == 1280:
                assert got["scrolling"] == [], (name, "a table too wide for a desktop page")
            if name == "market-report":
                figures = [value for need in got["values"] for value in need]
                assert figures, "the market response's figures"
                # every need's values start at one place, the same for every need, and read from the left
                assert len({x for x, _ in figures}) == 1 and {a for _, a in figures} <= {"left", "start"}, figures
            if SHOTS:
                Path(SHOTS).mkdir(parents=True, exist_ok=True)
                height = driver.execute_script("return document.documentElement.scrollHeight")
                driver.execute_cdp_cmd(
                    "Emulation.setDeviceMetricsOverride",
                    {"width": width, "height": min(int(height), 12000), "deviceScaleFactor": 1, "mobile": False},
                )
                driver.save_screenshot(str(Path(SHOTS) / f"{name}-{width}.png"))


def _photograph(element: WebElement, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        element.screenshot(str(Path(SHOTS) / f"{name}.png"))


async def test_the_console_freezes_the_market_report_from_its_page(
    databases: Databases, template_db: str, browser: WebDriver
) -> None:
    """The console's report page is the report with the console's controls above it: laid out as the API's at 1280
    and 390 px (the market response's figures too), it says what freezing means beside the button, and the button
    leads back to the exercise's page (breadcrumbs and all: it landed on the bare stored report), which says the
    report was frozen and links to it; the frozen report is the stored page, as the API serves it."""
    dsn = databases.dsn(await databases.create("freeze", template=template_db))
    _, key = await Keys(dsn).make("commissioner")
    driver = browser
    with serving(dsn, "freeze-server.log") as base:
        sign_in(driver, base, key)
        driver.get(f"{base}/console/exercises/1")
        follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Match every need']"))
        for width in WIDTHS:
            driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            )
            driver.get(f"{base}/console/exercises/1/report?format=html")
            got = driver.execute_script(LAYOUT)
            assert got["page"] <= width and got["spills"] == [], (width, got)
            assert driver.execute_script(A11Y) == [], width
            figures = [value for need in got["values"] for value in need]
            assert figures and len({x for x, _ in figures}) == 1, figures
            controls = driver.find_element(By.CLASS_NAME, "console-controls")
            button = controls.find_element(By.XPATH, ".//button[normalize-space()='Freeze this report']")
            assert button.is_displayed() and button.rect["x"] + button.rect["width"] <= width
            means = driver.find_element(By.ID, "freeze-means").text
            assert "never changes" in means and "match runs" in means
            _photograph(controls, f"console-report-controls-{width}")
        follow(driver, button)
        assert driver.current_url.startswith(f"{base}/console/exercises/1?frozen="), driver.current_url
        report_id = driver.current_url.split("?frozen=")[1]
        assert driver.execute_script(A11Y) == []
        said = driver.find_element(By.ID, "just-frozen")
        assert f"frozen as report {report_id}" in said.text
        crumbs = driver.find_element(By.CSS_SELECTOR, "nav.breadcrumbs")
        assert crumbs.find_element(By.LINK_TEXT, "Exercises").get_attribute("href") == f"{base}/console/exercises"
        follow(driver, said.find_element(By.LINK_TEXT, f"Open frozen report {report_id}"))
        frozen = driver.find_element(By.CSS_SELECTOR, "header.cover").text
        assert f"Frozen report\n{report_id}: stored as generated" in frozen
        assert not driver.find_elements(By.CLASS_NAME, "console-controls")  # the stored page, as the API serves it
        driver.get(f"{base}/console/exercises/1")
        assert driver.find_elements(By.CSS_SELECTOR, f"a[href='/console/reports/{report_id}?format=html']")
