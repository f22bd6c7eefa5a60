"""The console in a real browser: Debian's chromium, driven through its chromedriver by selenium, headless, against
`marketplace serve` on a database of its own. Every page visited is checked for accessibility (a11y.js: language,
headings, labels, alt text, contrast) and, when CONSOLE_SCREENSHOTS names a directory, photographed there.

`make test` installs chromium and chromium-driver when /usr/bin/chromedriver is missing (see the Makefile)."""

from __future__ import annotations

import csv
import io
import json
import os
import time
import urllib.request
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Databases, Keys, LiveServer, serving
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys as Key
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")
A11Y = (Path(__file__).parent / "a11y.js").read_text()
SHOTS = os.environ.get("CONSOLE_SCREENSHOTS")


def test_the_browser_and_its_driver_are_installed() -> None:
    """Never skipped: without them the console's browser tests below would fail, not pass unseen."""
    assert CHROMEDRIVER.exists() and CHROMIUM.exists(), "needs chromium and chromium-driver: `make test` installs them"


@pytest.fixture(scope="module")
async def server(databases: Databases, template_db: str) -> AsyncIterator[LiveServer]:
    """`marketplace serve` on a clone of the seeded template database of this module's own."""
    dsn = databases.dsn(await databases.create("browser", template=template_db))
    with serving(dsn, "browser-server.log") as base:
        yield base


def new_browser(profile: Path, downloads: Path) -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads)})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # what the page's console says (`logged`)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    return driver


@pytest.fixture
def browsers(tmp_path: Path) -> Iterator[list[WebDriver]]:
    """Opens browsers on demand (`open_browser`), each with a fresh profile; all quit at the end."""
    made: list[WebDriver] = []
    yield made
    for driver in made:
        driver.quit()


def open_browser(browsers: list[WebDriver], tmp_path: Path) -> WebDriver:
    n = len(browsers)
    driver = new_browser(tmp_path / f"profile-{n}", tmp_path / f"downloads-{n}")
    browsers.append(driver)
    return driver


def check(driver: WebDriver, name: str) -> None:
    """The page is accessible (a11y.js finds nothing), its skip link works by keyboard; photographed if asked."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, max(800, min(int(height) + 120, 12000)))
        driver.save_screenshot(str(Path(SHOTS) / f"{name}.png"))
        driver.set_window_size(1280, 1000)
    assert driver.execute_script(A11Y) == [], f"{name}: {driver.current_url}"


def skip_link_works(driver: WebDriver) -> None:
    driver.find_element(By.TAG_NAME, "body").send_keys(Key.TAB)
    first = driver.switch_to.active_element
    assert first.get_attribute("class") == "skip-link" and first.text == "Skip to main content"
    first.send_keys(Key.ENTER)
    assert driver.execute_script("return location.hash") == "#main"
    driver.switch_to.active_element.send_keys(Key.TAB)
    assert driver.execute_script("return document.querySelector('main').contains(document.activeElement)")


def sign_in(driver: WebDriver, base: str, key: str, *, shot: str | None = None) -> None:
    driver.get(f"{base}/console/home")
    assert "/console/sign-in" in driver.current_url  # sent to sign in first
    if shot:
        check(driver, shot)
        skip_link_works(driver)
    driver.find_element(By.ID, "f-api_key").send_keys(key)
    follow(driver, driver.find_element(By.CSS_SELECTOR, "form[action='/console/sign-in'] button"))
    assert driver.current_url.endswith("/console/home")


def _gone(element: WebElement) -> bool:
    """The element's page has been replaced. As selenium's staleness_of, but chromium may also answer a probe of a
    node from an unloaded page with "Node with given id does not belong to the document": gone too."""
    try:
        element.is_enabled()
    except WebDriverException:  # StaleElementReferenceException among them
        return True
    return False


def follow(driver: WebDriver, element: WebElement, keys: str | None = None) -> None:
    """Click (or type `keys` into) an element that leads to another page, and wait for that page to load."""
    old = driver.find_element(By.TAG_NAME, "html")
    if keys is None:
        element.click()
    else:
        element.send_keys(keys)
    WebDriverWait(driver, 60).until(lambda _: _gone(old))
    WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.readyState") == "complete")


def h1(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "h1").text


async def test_a_commissioner_searches_compares_shortlists_and_downloads_a_report(server, browsers, tmp_path):
    _, key = await Keys(server.dsn).make("commissioner", name="Ada Commissioner")
    driver = open_browser(browsers, tmp_path)

    # a wrong key first: the problem beside the field, and in the summary at the top
    driver.get(f"{server}/console/sign-in")
    driver.find_element(By.ID, "f-api_key").send_keys("prv_wrong")
    follow(driver, driver.find_element(By.CSS_SELECTOR, "form[action='/console/sign-in'] button"))
    summary = driver.find_element(By.CLASS_NAME, "error-summary")
    assert "this is not an API key" in summary.text
    assert "this is not an API key" in driver.find_element(By.ID, "f-api_key-error").text
    check(driver, "01-sign-in-error")

    sign_in(driver, server, key, shot="00-sign-in")
    check(driver, "02-home")
    skip_link_works(driver)

    # a provider's number out of range in the address: a console page that says so, not the API's JSON
    driver.get(f"{server}/console/providers/12345678901234567890")
    said = driver.find_element(By.CSS_SELECTOR, "main").text
    assert "This page's address has a value the console cannot take." in said  # a sentence, as a page shows it
    assert "must be 999999999999 or less" in said
    check(driver, "02b-number-out-of-range")
    driver.back()

    # search with a typo: corrected, with facet counts to filter by
    follow(driver, driver.find_element(By.LINK_TEXT, "Find providers"))
    box = driver.find_element(By.ID, "f-q")
    box.send_keys("tenancy sustainmnet")
    follow(driver, box, Key.ENTER)
    assert "found" in driver.find_element(By.ID, "results").text
    assert "sustainment" in driver.find_element(By.CSS_SELECTOR, "main").text
    first = driver.find_element(By.CSS_SELECTOR, ".results__item h3 a")
    assert driver.find_elements(By.CSS_SELECTOR, "input[name='pathway']")  # facet checkboxes, counted
    check(driver, "03-search")
    name = first.text
    follow(driver, first)
    assert h1(driver) == name
    assert driver.find_elements(By.CSS_SELECTOR, "section.service")
    check(driver, "04-provider")

    # an exercise, a need, a match run
    follow(driver, driver.find_element(By.LINK_TEXT, "Exercises"))
    check(driver, "05-exercises")
    follow(driver, driver.find_element(By.CSS_SELECTOR, "main table a"))
    check(driver, "06-exercise")
    exercise_url = driver.current_url
    follow(driver, driver.find_element(By.CSS_SELECTOR, "main table a"))
    check(driver, "07-need")
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Run a match now']"))
    assert h1(driver).startswith("Match run")
    check(driver, "08-match-run")

    # compare three side by side
    boxes = driver.find_elements(By.CSS_SELECTOR, "input[name='provider']")[:3]
    names = [
        driver.find_element(By.CSS_SELECTOR, f"label[for='{b.get_attribute('id')}']").get_attribute("textContent")
        for b in boxes
    ]
    for b in boxes:
        b.click()
    follow(driver, driver.find_element(By.ID, "compare-button"))
    assert h1(driver) == "Compare providers"
    headers = [th.text for th in driver.find_elements(By.CSS_SELECTOR, ".table--compare thead th")][1:]
    assert [f"Compare {h}" for h in headers] == names
    rows = [th.text for th in driver.find_elements(By.CSS_SELECTOR, ".table--compare tbody th[scope='row']")]
    assert "Overall" in rows and len(rows) >= 9
    shares = [r.split("\n") for r in rows if r.endswith("% of the score)")]  # each criterion with its share
    assert "Coverage" in [name for name, _ in shares] and len(shares) >= 8, rows
    assert round(sum(float(share.strip("(").split("%")[0]) for _, share in shares), 6) == 100
    assert driver.find_elements(By.CSS_SELECTOR, ".table--compare td li")  # evidence in the cells
    check(driver, "09-compare")

    # shortlist one: the comparison again, saying so; then see it on the need
    compared = driver.current_url
    follow(driver, driver.find_element(By.CSS_SELECTOR, ".table--compare form button"))
    assert h1(driver) == "Compare providers" and driver.current_url == compared
    assert driver.find_element(By.CSS_SELECTOR, ".table--compare .tag").text == "Shortlisted"
    driver.find_element(By.CSS_SELECTOR, ".breadcrumbs li:nth-child(3) a").click()
    assert h1(driver) != "Compare providers"
    shortlisted = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "main table a[href^='/console/providers/']")]
    assert headers[0] in shortlisted
    check(driver, "10-need-shortlisted")

    # the report page, and the CSV download
    driver.get(exercise_url)
    driver.find_element(By.PARTIAL_LINK_TEXT, "Download the market report").click()
    downloads = tmp_path / "downloads-0"
    deadline = time.monotonic() + 30
    while not list(downloads.glob("*.csv")) and time.monotonic() < deadline:
        time.sleep(0.2)
    (report_csv,) = downloads.glob("*.csv")
    rows_csv = list(csv.reader(io.StringIO(report_csv.read_text(encoding="utf-8-sig"))))
    assert len(rows_csv) > 2
    follow(driver, driver.find_element(By.PARTIAL_LINK_TEXT, "Open the market report"))
    assert "report" in driver.title.lower()
    check(driver, "11-report")  # the reports' own page, served to the console's session

    # sign out: the session is gone
    driver.get(f"{server}/console/home")
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Sign out']"))
    assert "/console/sign-in" in driver.current_url
    driver.get(f"{server}/console/home")
    assert "/console/sign-in" in driver.current_url


async def test_a_provider_edits_with_a_validation_error_then_a_conflict(server, browsers, tmp_path):
    keys = Keys(server.dsn)
    _, key = await keys.make("provider", provider_id=3, name="Provider staff")
    _, colleague = await keys.make("provider", provider_id=3, name="A colleague")
    mine, theirs = open_browser(browsers, tmp_path), open_browser(browsers, tmp_path)
    sign_in(mine, server, key)
    sign_in(theirs, server, colleague)

    follow(mine, mine.find_element(By.LINK_TEXT, "Your profile"))
    check(mine, "12-own-profile")
    follow(mine, mine.find_element(By.LINK_TEXT, "Edit profile"))
    check(mine, "13-edit-profile")

    # a validation error: the API's problem beside the field, the summary linking to it, nothing saved
    email = mine.find_element(By.ID, "f-contact-email")
    email.clear()
    email.send_keys("not an address")
    follow(mine, mine.find_element(By.XPATH, "//button[normalize-space()='Save changes']"))
    assert "There is a problem" in mine.find_element(By.CLASS_NAME, "error-summary").text
    assert mine.find_element(By.ID, "f-contact-email-error").is_displayed()
    assert mine.find_element(By.ID, "f-contact-email").get_attribute("value") == "not an address"
    check(mine, "14-edit-profile-error")
    assert mine.switch_to.active_element.get_attribute("class") == "error-summary"  # focused on arrival (console.js)
    mine.find_element(By.CSS_SELECTOR, ".error-summary a").click()
    assert mine.switch_to.active_element.get_attribute("id") == "f-contact-email"

    # meanwhile a colleague opens the same form and saves first
    theirs.get(f"{server}/console/providers/3/edit")
    description = theirs.find_element(By.ID, "f-description")
    description.clear()
    description.send_keys("Changed by a colleague in another browser.")
    follow(theirs, theirs.find_element(By.XPATH, "//button[normalize-space()='Save changes']"))
    assert "Your changes have been saved" in theirs.find_element(By.TAG_NAME, "main").text

    # mine, opened before theirs: told what changed, nothing of mine saved
    email = mine.find_element(By.ID, "f-contact-email")
    email.clear()
    email.send_keys("referrals@example.org.uk")
    follow(mine, mine.find_element(By.XPATH, "//button[normalize-space()='Save changes']"))
    warning = mine.find_element(By.CLASS_NAME, "notification--warning")
    assert "This was changed since you opened it" in warning.text
    assert "Changed by a colleague in another browser." in warning.text
    check(mine, "15-edit-profile-conflict")

    # saving again, having seen it, applies mine on top of theirs
    follow(mine, mine.find_element(By.XPATH, "//button[normalize-space()='Save changes']"))
    assert "Your changes have been saved" in mine.find_element(By.TAG_NAME, "main").text

    # a service, and confirming the profile
    mine.get(f"{server}/console/providers/3")
    follow(mine, mine.find_element(By.PARTIAL_LINK_TEXT, "Edit this service"))
    check(mine, "16-edit-service")
    mine.get(f"{server}/console/providers/3")
    follow(mine, mine.find_element(By.XPATH, "//button[normalize-space()='Confirm the profile is current']"))
    assert "Last confirmed" in mine.find_element(By.TAG_NAME, "main").text
    with urllib.request.urlopen(f"{server}/providers/3") as r:
        profile = __import__("json").load(r)
    assert profile["contact"]["email"] == "referrals@example.org.uk"
    assert profile["description"] == "Changed by a colleague in another browser."


def _api(server: LiveServer, path: str, key: str, body: Any = None) -> Any:
    """GET the API's `path` as `key`; with a `body`, POST it as JSON."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{server}{path}", data=data, headers=headers)
    with urllib.request.urlopen(request) as r:
        return json.load(r)


async def test_a_provider_responds_to_an_open_exercise(server, browsers, tmp_path):
    keys = Keys(server.dsn)
    _, staff = await keys.make("commissioner")
    provider_id = next(
        pid
        for pid in range(1, 125)
        if any(not x["responded"] for x in _api(server, f"/providers/{pid}/open-exercises", staff))
    )
    _, key = await keys.make("provider", provider_id=provider_id, name="Bid writer")
    driver = open_browser(browsers, tmp_path)
    sign_in(driver, server, key)

    follow(driver, driver.find_element(By.LINK_TEXT, "Open exercises"))
    check(driver, "20-open-exercises")
    follow(driver, driver.find_element(By.CSS_SELECTOR, "main table a[href$='/notice']"))
    assert driver.find_element(By.ID, "clarifications")
    check(driver, "21-notice")
    follow(driver, driver.find_element(By.LINK_TEXT, "Respond to this exercise"))
    check(driver, "22-respond")

    # the first need: lead, with the first service offered; every question answered; a cost that is no number
    first = driver.find_element(By.CSS_SELECTOR, "section.need-response--match")
    first.find_element(By.CSS_SELECTOR, "input[type='radio'][value='lead']").click()
    first.find_element(By.CSS_SELECTOR, "input[type='checkbox'][name*='.service.']").click()
    first.find_element(By.CSS_SELECTOR, "input[name$='.partner.0.name']").send_keys("Local youth work network")
    cost = first.find_element(By.CSS_SELECTOR, "input[name$='.unit_cost']")
    cost_id = cost.get_attribute("id")
    cost.send_keys("lots")
    for box in driver.find_elements(By.CSS_SELECTOR, "textarea[name^='answer.']"):
        box.send_keys("Eight years of mentoring young people leaving custody.")
    for number in driver.find_elements(By.CSS_SELECTOR, "input[type='text'][name^='answer.']"):
        number.send_keys("6")
    groups = {
        r.get_attribute("name") for r in driver.find_elements(By.CSS_SELECTOR, "input[type='radio'][name^='answer.']")
    }
    for name in sorted(groups):
        driver.find_element(By.CSS_SELECTOR, f"input[type='radio'][name='{name}']").click()
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Submit your response']"))
    assert "There is a problem" in driver.find_element(By.CLASS_NAME, "error-summary").text
    assert driver.find_element(By.ID, f"{cost_id}-error").is_displayed()
    assert driver.find_element(By.ID, cost_id).get_attribute("value") == "lots"
    check(driver, "23-respond-error")
    driver.find_element(By.CSS_SELECTOR, ".error-summary a").click()
    assert driver.switch_to.active_element.get_attribute("id") == cost_id

    cost = driver.find_element(By.ID, cost_id)
    cost.clear()
    cost.send_keys("1500")
    # a second partner, a directory provider typed with a letter left out: asked about, then kept by its number
    other = next(pid for pid in range(1, 125) if pid != provider_id)
    other_name = _api(server, f"/providers/{other}", staff)["name"]
    first = driver.find_element(By.CSS_SELECTOR, "section.need-response--match")
    first.find_element(By.CSS_SELECTOR, "input[name$='.partner.1.name']").send_keys(other_name[:3] + other_name[4:])
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Submit your response']"))
    assert f"Did you mean {other_name}, in this directory?" in driver.find_element(By.TAG_NAME, "main").text
    check(driver, "23b-respond-did-you-mean")
    driver.find_element(By.CSS_SELECTOR, f"input[type='radio'][name$='.partner.1.meant'][value='{other}']").click()
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Submit your response']"))
    assert "Your response has been saved" in driver.find_element(By.TAG_NAME, "main").text
    assert "£1,500" in driver.find_element(By.TAG_NAME, "main").text
    assert "Local youth work network" in driver.find_element(By.TAG_NAME, "main").text  # the partner, kept
    directory_partner = driver.find_element(By.CSS_SELECTOR, f"main a[href='/console/providers/{other}']")
    assert directory_partner.text == other_name
    check(driver, "24-response")


async def test_a_commissioner_reads_engagement_and_an_options_appraisal(server, browsers, tmp_path):
    _, key = await Keys(server.dsn).make("commissioner", name="Ada Commissioner")
    driver = open_browser(browsers, tmp_path)
    sign_in(driver, server, key)
    follow(driver, driver.find_element(By.LINK_TEXT, "Exercises"))
    follow(driver, driver.find_element(By.PARTIAL_LINK_TEXT, "market engagement 2026"))
    assert driver.find_element(By.ID, "engagement")
    check(driver, "25-exercise-engagement")
    follow(driver, driver.find_element(By.CSS_SELECTOR, "main a[href*='/responses/']"))
    assert h1(driver).startswith("Response from")
    check(driver, "26-response-staff")

    follow(driver, driver.find_element(By.LINK_TEXT, "Appraisals"))
    check(driver, "27-appraisals")
    follow(driver, driver.find_element(By.CSS_SELECTOR, "main table a[href^='/console/appraisals/']"))
    assert "Criteria and weights" in driver.find_element(By.TAG_NAME, "main").text
    check(driver, "28-appraisal")
    follow(driver, driver.find_element(By.PARTIAL_LINK_TEXT, "Open the appraisal report"))
    assert "options appraisal" in h1(driver)
    check(driver, "29-appraisal-report")  # the appraisals room's own page, served to the console's session


async def test_a_provider_adds_an_outcomes_record_with_a_mistake_then_fixes_it(server, browsers, tmp_path):
    _, key = await Keys(server.dsn).make("provider", provider_id=5, name="Outcomes lead")
    driver = open_browser(browsers, tmp_path)
    sign_in(driver, server, key)
    follow(driver, driver.find_element(By.LINK_TEXT, "Your profile"))
    follow(driver, driver.find_element(By.PARTIAL_LINK_TEXT, "Edit this service"))
    service_url = driver.current_url
    check(driver, "30-edit-service-every-field")

    # the blank record at the end, with a figure that is no number
    new = driver.find_element(By.ID, "outcomes-new")
    prefix = new.find_element(By.CSS_SELECTOR, "input[name$='.outcome']").get_attribute("name").removesuffix(".outcome")
    box = f"f-{prefix.replace('.', '-')}"
    driver.find_element(By.ID, f"{box}-outcome").send_keys("Into work")
    driver.find_element(By.ID, f"{box}-measure").send_keys("% in work at 13 weeks")
    driver.find_element(By.ID, f"{box}-period").send_keys("2025")
    driver.find_element(By.ID, f"{box}-value").send_keys("lots")
    driver.find_element(By.ID, "f-eligibility-max_age").clear()
    driver.find_element(By.ID, "f-eligibility-max_age").send_keys("64")
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Save changes']"))
    summary = driver.find_element(By.CLASS_NAME, "error-summary")
    assert "There is a problem" in summary.text
    said = driver.find_element(By.ID, f"{box}-value-error").text
    assert "enter a number, for example 12.5" in said and "null" not in summary.text
    assert driver.find_element(By.ID, f"{box}-value").get_attribute("value") == "lots"
    check(driver, "31-edit-service-outcome-error")
    driver.find_element(By.CSS_SELECTOR, ".error-summary a").click()
    assert driver.switch_to.active_element.get_attribute("id") == f"{box}-value"

    # fixed, and saved with "Save and add another": back at a new blank record
    value = driver.find_element(By.ID, f"{box}-value")
    value.clear()
    value.send_keys("58")
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Save and add another outcomes record']"))
    assert "Your changes have been saved" in driver.find_element(By.TAG_NAME, "main").text
    assert driver.current_url.endswith("#outcomes-new") and driver.current_url.startswith(service_url)
    check(driver, "32-edit-service-saved")
    service_id = service_url.split("/services/")[1].split("/")[0]
    saved = _api(server, f"/providers/5/services/{service_id}", key)
    assert saved["outcomes"][-1]["outcome"] == "Into work" and saved["outcomes"][-1]["value"] == 58
    assert saved["outcomes"][-1]["measure"] == "% in work at 13 weeks" and saved["eligibility"]["max_age"] == 64


def logged(driver: WebDriver) -> list[str]:
    """What the browser's console has said since last asked."""
    return [str(entry["message"]) for entry in driver.get_log("browser")]


PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}


STYLED = """
const loaded = (sheet) => { try { return sheet.cssRules.length > 0; } catch (e) { return false; } };
return document.styleSheets.length > 0 && [...document.styleSheets].every(loaded);"""
"""Every stylesheet the page links to is loaded and parsed (unstyled, a table lays out at its natural width)."""


def page_width(driver: WebDriver, path: str) -> int:
    """How wide the page at `path` is laid out (its scrolling width) on the screen the driver emulates, once its
    stylesheets apply (a page measured before would be measured unstyled; once in a full run, under load, the match
    run's page measured 616 pixels, as it does with no stylesheet, and 390 styled). What the browser logged is said
    if they never do."""
    driver.get(path)
    try:
        WebDriverWait(driver, 30).until(lambda d: d.execute_script(STYLED))
    except TimeoutException:
        raise AssertionError(f"{path}: its stylesheets never applied; the browser logged {logged(driver)}") from None
    return int(driver.execute_script("return document.documentElement.scrollWidth"))


async def test_a_form_shows_every_problem_at_once_and_pages_fit_a_phone(server, browsers, tmp_path):
    keys = Keys(server.dsn)
    _, key = await keys.make("provider", provider_id=12, name="Wrekin staff")
    _, staff = await keys.make("commissioner", name="Ada Commissioner")
    driver = open_browser(browsers, tmp_path)
    sign_in(driver, server, key)
    driver.get(f"{server}/console/providers/12/edit")
    typed = {
        "f-name": "",
        "f-founded_year": "nineteen",
        "f-contact-email": "not an address",
        "f-finances-reserves_months": "lots",
        "f-resources-volunteers": "-5",
    }
    for box, text in typed.items():
        driver.find_element(By.ID, box).clear()
        driver.find_element(By.ID, box).send_keys(text)
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Save changes']"))
    links = driver.find_elements(By.CSS_SELECTOR, ".error-summary a")
    assert [a.get_attribute("href").split("#")[1] for a in links] == list(typed)  # every one, in the form's order
    assert links[0].text == "Organisation name: must not be empty: at least 2 characters"  # as the form labels it
    for box, text in typed.items():
        assert driver.find_element(By.ID, f"{box}-error").is_displayed(), box  # beside its box
        assert driver.find_element(By.ID, box).get_attribute("value") == text, box  # as typed
    check(driver, "40-edit-profile-every-problem")
    assert not [m for m in logged(driver) if "favicon" in m]  # the app's own icon: nothing failed to load

    # a phone's screen: the form's selects (the pathway's longest name) and the tables fit it or scroll in a box
    service_id = _api(server, "/providers/12/services", key)[0]["id"]
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    for path in ("/console/providers/12/edit", f"/console/providers/12/services/{service_id}/edit"):
        assert page_width(driver, f"{server}{path}") <= PHONE["width"], path
    staffed = open_browser(browsers, tmp_path)
    sign_in(staffed, server, staff)
    staffed.get(f"{server}/console/needs/1")
    follow(staffed, staffed.find_element(By.XPATH, "//button[normalize-space()='Run a match now']"))
    run = staffed.current_url
    staffed.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    for path in (run, f"{server}/console/exercises/1", f"{server}/console/exercises"):
        assert page_width(staffed, path) <= PHONE["width"], path
    staffed.get(run)
    box = staffed.find_element(By.CSS_SELECTOR, ".table-scroll")
    assert not staffed.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth + 1", box)
    assert staffed.execute_script(CUT_OFF, "#compare-form td") == []  # stacked: a block per provider, all in view
    check(staffed, "41-match-run-on-a-phone")


async def test_a_commissioner_runs_an_options_appraisal(server, browsers, tmp_path):
    """Start one standing alone, add an option with a mistake and fix it, score a grid, open the decision form:
    every page accessible, the problem beside its box."""
    _, key = await Keys(server.dsn).make("commissioner", name="Appraisal lead")
    driver = open_browser(browsers, tmp_path)
    sign_in(driver, server, key)
    follow(driver, driver.find_element(By.LINK_TEXT, "Appraisals"))
    driver.find_element(By.ID, "f-title").send_keys("Youth justice delivery model (browser)")
    driver.find_element(By.ID, "f-annual_budget").send_keys("1130000")
    follow(driver, driver.find_element(By.CSS_SELECTOR, "form[action='/console/appraisals'] button"))
    assert "The appraisal has been started" in driver.find_element(By.TAG_NAME, "main").text
    check(driver, "60-appraisal-started")

    follow(driver, driver.find_element(By.CSS_SELECTOR, "main a[href$='/options']"))
    driver.find_element(By.ID, "f-option-0-key").send_keys("hosted_pcc")
    driver.find_element(By.ID, "f-option-0-label").send_keys("Hosted by the police and crime commissioner")
    driver.find_element(By.CSS_SELECTOR, "#f-option-0-model option[value='hosted']").click()
    follow(driver, driver.find_element(By.CSS_SELECTOR, "main form button.button"))
    assert driver.find_element(By.ID, "f-option-0-partner-error").text.endswith(
        "a hosted option names its partner organisation"
    )
    assert driver.find_element(By.ID, "f-option-0-label").get_attribute("value").startswith("Hosted by the police")
    check(driver, "61-appraisal-options-error")
    driver.find_element(By.ID, "f-option-0-partner").send_keys("The PCC's office")
    follow(driver, driver.find_element(By.CSS_SELECTOR, "main form button.button"))
    assert "The options have been saved" in driver.find_element(By.TAG_NAME, "main").text

    follow(driver, driver.find_element(By.LINK_TEXT, "a new assessor"))
    driver.find_element(By.ID, "f-assessor").send_keys("Assessor A")
    for criterion in ("financial_viability", "performance_impact", "quality", "sustainability"):
        driver.find_element(By.ID, f"f-score-hosted_pcc-{criterion}").send_keys("4")
    check(driver, "62-appraisal-scores-grid")
    follow(driver, driver.find_element(By.CSS_SELECTOR, "main form button.button"))
    follow(driver, driver.find_element(By.LINK_TEXT, "Youth justice delivery model (browser)"))
    assert driver.find_element(By.ID, "decision")
    check(driver, "63-appraisal-decision-form")


CUT_OFF = """
const width = document.documentElement.clientWidth;
return [...document.querySelectorAll(arguments[0])].filter((e) => e.getBoundingClientRect().right > width + 1)
  .map((e) => e.textContent.trim().slice(0, 60));"""
"""The text of the elements matching a selector that reach past the screen's right edge (cut off, or only to be seen
by scrolling a table's box sideways)."""


async def test_on_a_phone_list_tables_show_every_column_and_the_suitable_line_is_read_whole(server, browsers, tmp_path):
    """At 390 pixels a list table (exercises, an exercise's needs and responses, appraisals, a provider's open
    exercises) lays each row out as a block, every cell on screen after its column's name, so the last column (a
    provider's *Respond*, or *View* and *Revise*, a need's budget, a response's status) is never left past the edge;
    at a desktop's width they are tables as before. The ranking still scrolls in its box, but the suitable line's
    sentence is wrapped to the screen and stays in view."""
    keys = Keys(server.dsn)
    _, staff = await keys.make("commissioner", name="Ada Commissioner")
    _, own = await keys.make("provider", provider_id=3, name="Hollybrook staff")
    driver = open_browser(browsers, tmp_path)
    sign_in(driver, server, staff)
    driver.get(f"{server}/console/needs/3")
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Run a match now']"))
    run = driver.current_url
    lists = [f"{server}/console/exercises", f"{server}/console/appraisals", f"{server}/console/exercises/1"]
    driver.get(lists[-1])
    assert driver.find_element(By.CSS_SELECTOR, ".table--stack thead").is_displayed()  # a table at 1280
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    for path in lists:
        assert page_width(driver, path) <= PHONE["width"], path
        assert driver.find_elements(By.CSS_SELECTOR, ".table--stack td"), path
        assert driver.execute_script(CUT_OFF, ".table--stack td") == [], path
    budget = driver.execute_script(
        "return getComputedStyle(document.querySelector('td[data-label=\"Budget a year\"]'), '::before').content"
    )
    assert budget == '"Budget a year: "'  # each cell (here the exercise's needs') says which column it is
    check(driver, "42-exercise-on-a-phone")
    page_width(driver, run)
    line = driver.find_element(By.CSS_SELECTOR, ".threshold-line__text")
    assert line.text.startswith("The suitable line")
    assert driver.execute_script(CUT_OFF, ".threshold-line__text") == []
    check(driver, "43-match-run-suitable-line-on-a-phone")
    # Find providers on a phone: the filters come first, and a link skips them to the results
    page_width(driver, f"{server}/console/providers?q=housing")
    skip = driver.find_element(By.CSS_SELECTOR, ".only-narrow a")
    assert skip.is_displayed() and skip.text.startswith("Skip the filters to the")
    skip.click()  # within the page
    assert driver.current_url.endswith("#results")
    check(driver, "43b-search-on-a-phone")
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    driver.get(f"{server}/console/providers?q=housing")
    assert not driver.find_element(By.CSS_SELECTOR, ".only-narrow a").is_displayed()  # side by side: no need

    provider = open_browser(browsers, tmp_path)
    sign_in(provider, server, own)
    provider.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    assert page_width(provider, f"{server}/console/open-exercises") <= PHONE["width"]
    actions = provider.find_elements(By.CSS_SELECTOR, "td[data-label='Your response'] a")
    assert actions and all(a.text.startswith(("Respond", "View", "Revise")) and a.is_displayed() for a in actions)
    assert provider.execute_script(CUT_OFF, ".table--stack td") == []
    check(provider, "44-open-exercises-on-a-phone")


def png_rows(png: bytes) -> list[list[tuple[int, int, int]]]:
    """A screenshot's pixels (8-bit RGB or RGBA, as chromium writes them), row by row: red, green, blue."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at, data, width, height, step = 8, b"", 0, 0, 0
    while at < len(png):
        size, kind = int.from_bytes(png[at : at + 4], "big"), png[at + 4 : at + 8]
        chunk = png[at + 8 : at + 8 + size]
        if kind == b"IHDR":
            width, height = int.from_bytes(chunk[:4], "big"), int.from_bytes(chunk[4:8], "big")
            assert chunk[8] == 8 and chunk[9] in (2, 6) and chunk[12] == 0, "8-bit RGB(A), not interlaced"
            step = 3 if chunk[9] == 2 else 4
        elif kind == b"IDAT":
            data += chunk
        at += 12 + size
    raw, stride, rows, above = zlib.decompress(data), width * step, [], bytearray(width * step)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - step] if i >= step else 0
            b, c = above[i], above[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([(line[x], line[x + 1], line[x + 2]) for x in range(0, stride, step)])
        above = line
    return rows


def photographed(driver: WebDriver, name: str) -> None:
    """The screen as it is (the phone's, say), photographed when CONSOLE_SCREENSHOTS names a directory."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(SHOTS) / f"{name}.png"))


def shaded(rows: list[list[tuple[int, int, int]]], x: int) -> float:
    """How much of the pixel column `x` (from the left; negative: from the right) is shaded, not white."""
    return sum(1 for row in rows if min(row[x]) < 245) / len(rows)


async def test_on_a_phone_a_table_that_scrolls_sideways_shows_there_is_more_to_see(server, browsers, tmp_path):
    """At 390 pixels the match run's ranking and the compare table scroll sideways inside their box, and nothing
    showed that more of the table lay to the right. The box now has a shadow on each side where more of it is out
    of view (CSS only): on the right at first, on the left once scrolled to its end; a table that fits has none.
    The ranking now stacks instead, a block per provider, every column in view."""
    _, staff = await Keys(server.dsn).make("commissioner", name="Ada Commissioner")
    driver = open_browser(browsers, tmp_path)
    sign_in(driver, server, staff)
    driver.get(f"{server}/console/needs/2")
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Run a match now']"))
    run = driver.current_url
    for box in driver.find_elements(By.CSS_SELECTOR, "#compare-form input[name='provider']")[:3]:
        driver.execute_script("arguments[0].click()", box)
    follow(driver, driver.find_element(By.ID, "compare-button"))
    compare = driver.current_url
    assert "/compare?" in compare
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    # the ranking stacks, a block per provider (its strengths, weaknesses and Add were out of view to the right)
    assert page_width(driver, run) <= PHONE["width"]
    ranking = driver.find_element(By.CSS_SELECTOR, ".table-scroll")
    assert not driver.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth + 1", ranking)
    for label in ("Score", "Strengths", "Weaknesses", "Shortlist"):
        assert driver.find_element(By.CSS_SELECTOR, f"td[data-label='{label}']").is_displayed(), label
    assert driver.execute_script(CUT_OFF, "#compare-form td") == []
    check(driver, "45-match-run-stacks-on-a-phone")
    for path, name in ((compare, "46-compare-scrolls-on-a-phone"),):
        assert page_width(driver, path) <= PHONE["width"], path
        box = driver.find_element(By.CSS_SELECTOR, ".table-scroll")
        assert driver.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth + 100", box), path
        first = png_rows(box.screenshot_as_png)
        assert shaded(first, -2) > 0.6 and shaded(first, 1) < 0.4, (path, shaded(first, -2), shaded(first, 1))
        driver.execute_script("arguments[0].scrollLeft = arguments[0].scrollWidth", box)
        last = png_rows(box.screenshot_as_png)
        assert shaded(last, 1) > 0.6 and shaded(last, -2) < 0.4, (path, shaded(last, 1), shaded(last, -2))
        driver.execute_script("arguments[0].scrollLeft = arguments[0].scrollWidth / 3", box)
        photographed(driver, f"{name}-scrolled")  # a shadow each side
        driver.execute_script("arguments[0].scrollLeft = 0", box)
        check(driver, name)
    driver.get(f"{server}/console/exercises")  # a list table, one block per row at this width: nothing to scroll
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(STYLED))
    fits = png_rows(driver.find_element(By.CSS_SELECTOR, ".table-scroll").screenshot_as_png)
    assert shaded(fits, 1) < 0.4 and shaded(fits, -2) < 0.4


async def test_a_commissioner_removes_a_need_added_by_mistake_after_reading_what_it_does(server, browsers, tmp_path):
    """On a draft exercise's page each need has *Remove*, leading to a step that says what the need is and what
    removing it does; its button removes it (as DELETE /needs/{id}) and the exercise's page says so, without it.
    A question added last that belongs first is moved up by its button. Each page is accessible (the warning
    button's contrast among it)."""
    _, staff = await Keys(server.dsn).make("commissioner", name="Draft editor")
    exercise = _api(server, "/exercises", staff, {"title": "Wyre Forest 2027", "commissioning_body": "Worcestershire"})
    need = {"pathway": "ETE", "areas": ["E10000034"], "annual_volume": 40, "annual_budget": 90000}
    kept, mistaken = (
        _api(server, f"/exercises/{exercise['id']}/needs", staff, {**need, "title": title})["id"]
        for title in ("Jobs, Worcestershire", "Jobs, Worcestershire (again)")
    )
    driver = open_browser(browsers, tmp_path)
    sign_in(driver, server, staff)
    driver.get(f"{server}/console/exercises/{exercise['id']}")
    follow(driver, driver.find_element(By.CSS_SELECTOR, f"a[href='/console/needs/{mistaken}/remove']"))
    assert h1(driver) == "Remove the need “Jobs, Worcestershire (again)”?"
    assert "audit log" in driver.find_element(By.ID, "what-removing-does").text
    check(driver, "56-remove-a-need")
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Remove this need']"))
    assert driver.find_element(By.ID, "just-removed").is_displayed()
    assert [n["id"] for n in _api(server, f"/exercises/{exercise['id']}/needs", staff)] == [kept]
    assert not driver.find_elements(By.CSS_SELECTOR, f"a[href='/console/needs/{mistaken}']")
    check(driver, "57-need-just-removed")
    # a question that belongs first, added last: *Move up* beside it
    asked = [
        _api(server, f"/exercises/{exercise['id']}/questions", staff, {"kind": "yes_no", "text": text})["id"]
        for text in ("Can you start in April?", "Have you delivered this pathway before?")
    ]
    driver.get(f"{server}/console/exercises/{exercise['id']}")
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Move up question 2']"))
    assert "It is question 1 of the questions now" in driver.find_element(By.ID, "just-moved-question").text
    assert [q["id"] for q in _api(server, f"/exercises/{exercise['id']}/questions", staff)] == asked[::-1]
    check(driver, "57b-question-just-moved")
    # the kept need's service users a year: the county's box and its districts' grouped under its name
    driver.get(f"{server}/console/needs/{kept}")
    driver.find_element(By.CSS_SELECTOR, "#change summary").click()
    group = driver.find_element(By.CSS_SELECTOR, "#f-need-area_volumes fieldset.fieldset--group")
    assert group.find_element(By.TAG_NAME, "legend").text == "Worcestershire"
    labels = [label.text for label in group.find_elements(By.TAG_NAME, "label")]
    assert labels[0] == "All of Worcestershire" and {"Worcester", "Redditch", "Wyre Forest"} <= set(labels[1:])
    check(driver, "57c-need-volumes-grouped")


async def test_a_commissioner_publishes_after_reading_what_the_notice_will_make_public(server, browsers, tmp_path):
    """*Check and publish* leads to a step showing each need with its budget as the notice will show it, and what
    publishing fixes; its button publishes (as POST /exercises/{id}/publish) and the exercise's page says so. Each
    page is accessible."""
    _, staff = await Keys(server.dsn).make("commissioner", name="Publisher")
    dates = {"opens_on": "2026-12-01", "closes_on": "2027-12-31"}
    exercise = _api(server, "/exercises", staff, {"title": "Herefordshire 2027", "commissioning_body": "H", **dates})
    need = {"title": "Money advice", "pathway": "FINANCE", "areas": ["E06000019"], "annual_volume": 50}
    _api(server, f"/exercises/{exercise['id']}/needs", staff, {**need, "annual_budget": 180000})
    driver = open_browser(browsers, tmp_path)
    sign_in(driver, server, staff)
    driver.get(f"{server}/console/exercises/{exercise['id']}")
    driver.find_element(
        By.XPATH, "//label[normalize-space()='The band it is in (for example £150,000 to £250,000)']"
    ).click()
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Check and publish']"))
    assert h1(driver) == "Publish “Herefordshire 2027” for market engagement?"
    assert "£150,000 to £250,000" in driver.find_element(By.CSS_SELECTOR, "table").text
    check(driver, "57d-publish-step")
    assert _api(server, f"/exercises/{exercise['id']}", staff)["status"] == "draft"  # nothing done by the step
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Publish for market engagement']"))
    assert "Published for market engagement" in driver.find_element(By.CSS_SELECTOR, ".notification--success").text
    assert _api(server, f"/exercises/{exercise['id']}", staff)["status"] == "engagement_open"


async def test_a_commissioner_sets_a_need_s_weights_with_a_mistake_then_changes_the_need(server, browsers, tmp_path):
    """On a draft need's page, *Set this need's own weights* with percentages not adding up to 100 says so above
    the boxes, the form open and the change form closed; corrected, the page shows the weights in force. *Change
    this need* saves a new volume typed into the box the page filled, with a weighted local priority and the service
    users a year in its area. Each page is accessible, the open forms too."""
    _, staff = await Keys(server.dsn).make("commissioner", name="Weights editor")
    exercise = _api(server, "/exercises", staff, {"title": "Shropshire 2027", "commissioning_body": "Shropshire"})
    need = {"title": "Jobs, Shropshire", "pathway": "ETE", "areas": ["E06000051"], "annual_volume": 30}
    need_id = _api(server, f"/exercises/{exercise['id']}/needs", staff, {**need, "annual_budget": 60000})["id"]
    driver = open_browser(browsers, tmp_path)
    sign_in(driver, server, staff)
    driver.get(f"{server}/console/needs/{need_id}")
    driver.find_element(By.CSS_SELECTOR, "#weights summary").click()
    driver.find_element(By.ID, "f-weights-quality").send_keys("60")
    driver.find_element(By.ID, "f-weights-capacity").send_keys("30")
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Save the weights']"))
    assert (
        "these add up to 90, not 100: scaled to 100 they would be capacity 33.3%, quality 66.7%"
        in driver.find_element(By.ID, "weights-error").text
    )
    assert driver.find_element(By.ID, "weights").get_attribute("open") is not None
    assert driver.find_element(By.ID, "change").get_attribute("open") is None
    check(driver, "58-need-weights-refused")
    driver.find_element(By.ID, "f-weights-pathway_fit").send_keys("10")
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Save the weights']"))
    assert driver.find_element(By.ID, "just-weighted").is_displayed()
    assert _api(server, f"/needs/{need_id}", staff)["weight_overrides"] == {
        "pathway_fit": 10,
        "capacity": 30,
        "quality": 60,
    }
    driver.find_element(By.CSS_SELECTOR, "#change summary").click()
    volume = driver.find_element(By.ID, "f-need-annual_volume")
    assert volume.get_attribute("value") == "30"
    volume.clear()
    volume.send_keys("35")
    assert driver.find_element(By.ID, "f-need-areas").get_attribute("value") == "Shropshire"  # by name
    driver.find_element(By.ID, "f-need-local_priorities-0-text").send_keys("prison leavers")
    driver.find_element(By.ID, "f-need-local_priorities-0-weight").send_keys("2")
    driver.find_element(By.ID, "f-need-area_volumes-E06000051").send_keys("35")
    check(driver, "59-need-change-form-open")
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Save the changes']"))
    assert driver.find_element(By.ID, "just-changed").is_displayed()
    changed = _api(server, f"/needs/{need_id}", staff)
    assert (changed["annual_volume"], changed["area_volumes"]) == (35, {"E06000051": 35})
    assert changed["local_priorities"] == [{"text": "prison leavers", "weight": 2.0}]


async def test_an_auditor_reads_the_audit_log_and_a_record_s_change_history(server, browsers, tmp_path):
    """An auditor's key signs in and its start page says what it reads. The audit log, narrowed to one key by name,
    names that key (its name and role) beside each change; the change to a need leads to the need's change history,
    each field before and after; the exercise and the need read as staff read them, without a form that changes them;
    a filter it cannot read is said beside its box. Each page is accessible, and the two logs fit a phone's screen."""
    keys = Keys(server.dsn)
    staff_id, staff = await keys.make("commissioner", name="Cleo Commissioner")
    _, key = await keys.make("auditor", name="External auditor")
    body = {"title": "Audited 2027", "commissioning_body": "Herefordshire", "description": "A round to audit. " * 12}
    exercise = _api(server, "/exercises", staff, body)
    need = {"title": "Housing, Telford", "pathway": "ACCOM", "areas": ["E06000020"], "annual_volume": 60}
    need_id = _api(server, f"/exercises/{exercise['id']}/needs", staff, {**need, "annual_budget": 120000})["id"]
    change = urllib.request.Request(
        f"{server}/needs/{need_id}",
        data=json.dumps({"annual_budget": 150000, "areas": ["E06000020", "E06000051"]}).encode(),
        headers={"Authorization": f"Bearer {staff}", "Content-Type": "application/json", "If-Match": '"v1"'},
        method="PATCH",
    )
    with urllib.request.urlopen(change) as r:
        assert r.status == 200
    driver = open_browser(browsers, tmp_path)
    sign_in(driver, server, key)
    assert "Nothing you do here changes anything" in driver.find_element(By.ID, "auditor-reads").text
    assert driver.find_elements(By.LINK_TEXT, "Exercises")  # it reads them, as staff do
    check(driver, "70-auditor-home")

    follow(driver, driver.find_element(By.LINK_TEXT, "Audit log"))
    assert h1(driver) == "Audit log"
    Select(driver.find_element(By.ID, "f-key_id")).select_by_value(str(staff_id))
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Apply filters']"))
    rows = driver.find_elements(By.CSS_SELECTOR, "table.table--audit tbody tr")
    assert len(rows) == 3 and all(f"Cleo Commissioner\ncommissioner, key {staff_id}" in r.text for r in rows)
    assert f"Updated need {need_id}" in rows[0].text and "UK time" in rows[0].text  # newest first
    check(driver, "71-audit-log-of-one-key")

    follow(driver, rows[0].find_element(By.PARTIAL_LINK_TEXT, "What it changed"))
    assert h1(driver) == "Change history"
    assert driver.find_element(By.ID, "f-record_id").get_attribute("value") == str(need_id)
    newest = driver.find_element(By.CSS_SELECTOR, "section.change")
    assert newest.find_element(By.TAG_NAME, "h3").text in (
        f"Need {need_id} changed",
        f"Need {need_id}: need area added",
    )
    budget = driver.find_element(By.XPATH, "//tr[th[normalize-space()='Annual budget']]")
    assert [td.text for td in budget.find_elements(By.TAG_NAME, "td")] == ["120000", "150000"]
    check(driver, "72-change-history-of-a-need")
    driver.get(f"{server}/console/changes?table=exercise&record_id={exercise['id']}")
    opened = driver.find_element(By.CSS_SELECTOR, "details.details--cell")  # the long description, shortened
    opened.find_element(By.TAG_NAME, "summary").click()
    assert ("A round to audit. " * 12).strip() in opened.text
    check(driver, "73-change-history-a-long-value-opened")

    # the exercise and its need, read without the forms that change them: only signing out posts
    follow(driver, driver.find_element(By.LINK_TEXT, "Exercises"))
    follow(driver, driver.find_element(By.LINK_TEXT, "Audited 2027"))
    assert h1(driver) == "Audited 2027"
    assert "You are reading as an auditor" in driver.find_element(By.ID, "reading-only").text
    posts = [f.get_attribute("action") for f in driver.find_elements(By.CSS_SELECTOR, "form[method='post']")]
    assert posts == [f"{server}/console/sign-out"], posts
    check(driver, "73b-auditor-reads-an-exercise")
    follow(driver, driver.find_element(By.LINK_TEXT, "Housing, Telford"))
    assert h1(driver) == "Housing, Telford" and not driver.find_elements(
        By.XPATH, "//button[normalize-space()='Run a match now']"
    )
    check(driver, "73c-auditor-reads-a-need")

    driver.get(f"{server}/console/audit?since=yesterday")
    assert "Since: must be a time written" in driver.find_element(By.CLASS_NAME, "error-summary").text
    assert driver.find_element(By.ID, "f-since-error").is_displayed()
    check(driver, "74-audit-log-bad-filter")

    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    for path in (f"/console/audit?key_id={staff_id}", f"/console/changes?table=need&record_id={need_id}"):
        assert page_width(driver, f"{server}{path}") <= PHONE["width"], path
    driver.get(f"{server}/console/audit?key_id={staff_id}")
    driver.execute_script("document.getElementById('entries').scrollIntoView()")
    check(driver, "75-audit-log-on-a-phone")  # each entry a block, each cell after its column's name


async def test_an_admin_rejects_a_pending_registration_through_its_confirmation_page(server, browsers, tmp_path):
    """A pending profile's page has *Reject this registration (archive it)* beside *Publish this profile*; it leads
    to the archive step worded for a registration, whose button archives the profile, and its page then says the
    registration was rejected. Each page is accessible (the red button's contrast in the pending box among it)."""
    body = {
        "name": "Kington Kites CIC",
        "legal_form": "cic",
        "services": [
            {
                "pathway": "ETE",
                "name": "Kite jobs club",
                "description": "Weekly jobs club in Kington.",
                "cohorts": ["ADULTS"],
                "areas": ["E06000019"],
            }
        ],
    }
    request = urllib.request.Request(
        f"{server}/registrations", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request) as r:
        pid = json.load(r)["provider"]["id"]
    _, admin = await Keys(server.dsn).make("admin", name="Registrations admin")
    driver = open_browser(browsers, tmp_path)
    sign_in(driver, server, admin)
    driver.get(f"{server}/console/providers/{pid}")
    check(driver, "53-pending-profile-an-admin-may-reject")
    follow(driver, driver.find_element(By.LINK_TEXT, "Reject this registration (archive it)"))
    assert (
        driver.current_url.endswith(f"/console/providers/{pid}/archive") and h1(driver) == "Reject this registration?"
    )
    check(driver, "54-reject-a-registration")
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Reject this registration (archive it)']"))
    assert driver.find_element(By.ID, "just-rejected").is_displayed()
    assert _api(server, f"/providers/{pid}", admin)["status"] == "archived"
    check(driver, "55-registration-just-rejected")


async def test_an_admin_archives_a_profile_after_reading_what_it_does_then_publishes_it_again(
    server, browsers, tmp_path
):
    """*Archive this profile* on a published profile's page leads to a page saying what archiving does; its button
    archives it, and the profile's page says so with *Publish this profile*, which brings it back. Each page is
    accessible (the warning button's contrast among it). Last in the module: the profile is published at the end."""
    _, admin = await Keys(server.dsn).make("admin", name="Directory admin")
    pid = max(p["id"] for p in _api(server, "/providers?per_page=100", admin)["items"] if p["status"] == "published")
    driver = open_browser(browsers, tmp_path)
    sign_in(driver, server, admin)
    driver.get(f"{server}/console/providers/{pid}")
    check(driver, "50-profile-an-admin-may-archive")
    follow(driver, driver.find_element(By.LINK_TEXT, "Archive this profile"))
    assert driver.current_url.endswith(f"/console/providers/{pid}/archive") and h1(driver) == "Archive this profile?"
    assert "match runs do not rank it" in driver.find_element(By.ID, "what-archiving-does").text
    check(driver, "51-archive-a-profile")
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Archive this profile']"))
    assert driver.find_element(By.ID, "just-archived").is_displayed()
    assert _api(server, f"/providers/{pid}", admin)["status"] == "archived"
    check(driver, "52-profile-just-archived")
    follow(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Publish this profile']"))
    assert driver.find_element(By.ID, "just-published").is_displayed()
    assert _api(server, f"/providers/{pid}", admin)["status"] == "published"
