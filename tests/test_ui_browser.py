"""The web app in a real browser (headless Debian Chromium through Playwright), as a person uses it:
ask for films, open an agent's step, dislike a pick, ask again. Screenshots of each stage go to
test-artifacts/ui/ (git-ignored) to look at.

Playwright cannot download its own browsers here: it drives /usr/bin/chromium, which
scripts/ensure_browser.sh installs (make test runs it; this test runs it too when the browser is
missing). Without the browser, and without root to install it, the test skips and says why."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect, sync_playwright

from recteam.agents.messages import ROLES

pytest_plugins = ["tests.ui_server"]
pytestmark = pytest.mark.usefixtures("chromium", "app_output")  # no app start without a browser

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-artifacts" / "ui"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
TIMEOUT_MS = 20_000  # for any one wait; an offline turn takes about a second


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed by scripts/ensure_browser.sh when missing; else a skip."""
    if not CHROMIUM.exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "ensure_browser.sh")], check=False)
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing and scripts/ensure_browser.sh could not install it (it needs "
            "root and Debian's package registry): `apt-get install chromium` enables this test"
        )
    return CHROMIUM


@pytest.fixture
def page(chromium: Path, live_app: str) -> Iterator[Page]:
    """A fresh page on the live app. Requests may go to the app only; the test fails on any
    JavaScript error or attempt to reach outside this machine."""
    for old in SHOTS.glob("*.png"):  # no screenshot of an earlier run passes for this one's
        old.unlink()
    outside: list[str] = []
    errors: list[str] = []

    def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            page.route(re.compile(r"^https?://"), loopback_only)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(live_app)
            yield page
            _shot(page, "99-last")  # the final state, also when the test failed
        finally:
            browser.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not outside, f"the page tried to reach outside this machine: {outside}"


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _send(page: Page, text: str, turn: int) -> list[str]:
    """Types `text`, clicks Send and waits for the turn-th reply (its cards come with the turn's
    end); returns the films it names in bold."""
    page.locator("#message textarea").fill(text)
    page.locator("#send").click()
    replies = page.locator("#chat .rt-cards")
    expect(replies).to_have_count(turn)
    return replies.nth(turn - 1).locator("b").all_inner_texts()


def _expect_picks(page: Page, titles: list[str]) -> None:
    """The picks panel shows exactly these films, one row (elem_classes "pick") each."""
    expect(page.locator("#picks .pick strong")).to_have_text(titles)


def test_ask_open_a_step_dislike_a_pick_and_ask_again(page: Page) -> None:
    user = page.locator("#user input, #user textarea").first
    expect(user).to_have_value(re.compile(r"\S"))  # the app names each new tab's guest
    user.fill("ui-browser-test")
    _shot(page, "01-start")

    # 1. A first request: the reply names films in bold, and the picks panel lists the same films.
    first = _send(page, "I want a crime film from the 90s", turn=1)
    assert first, "the reply names no film in bold"
    _expect_picks(page, first)
    _shot(page, "02-first-reply")

    # 2. A finished turn is one folded group of agent steps; opening it, then the searcher's
    #    step, shows the search_catalog call with its arguments and result.
    turn = page.locator("#chat [data-testid='bot'] > .thought-group > .title").last
    expect(turn).not_to_have_class(re.compile(r"\bexpanded\b"))
    turn.click()
    expect(turn).to_have_class(re.compile(r"\bexpanded\b"))
    steps = turn.locator("xpath=following-sibling::div[contains(@class, 'content')]")
    step_titles = steps.locator(".thought-group > .title")
    expect(step_titles.first).to_be_visible()
    agents = {re.sub(r"^\W*", "", t).split(" ")[0] for t in step_titles.all_inner_texts()}
    assert agents == set(ROLES), f"a recommending turn shows a step of every agent, not {agents}"
    searcher = step_titles.filter(has_text=re.compile(r"^\W*searcher\b"))
    searcher.click()
    found = searcher.locator("xpath=following-sibling::div[contains(@class, 'content')]")
    expect(found).to_be_visible()
    expect(found).to_contain_text("search_catalog")
    expect(found).to_contain_text(first[0])  # its result lists the film that was then picked
    found.scroll_into_view_if_needed()
    _shot(page, "03-searcher-step")

    # 3. 👎 on the first pick: it leaves the panel and the profile lists it as disliked.
    disliked = first[0]
    row = page.locator("#picks .pick").first
    expect(row.locator(".dislike")).to_have_text("👎")
    expect(row.locator(".like")).to_have_text("👍")
    row.locator(".dislike").click()
    expect(page.locator("#picks .pick").filter(has_text=disliked)).to_have_count(0)
    expect(page.locator("#profile")).to_contain_text(disliked)
    _shot(page, "04-disliked")

    # 4. More of the same: the disliked film is not picked again.
    second = _send(page, "more crime films", turn=2)
    assert second, "the second reply names no film in bold"
    assert disliked not in second
    _expect_picks(page, second)
    _shot(page, "05-second-reply")

    # 5. A new tab, the same person, the first request again: the team remembers the dislike.
    #    A new session does not avoid the old session's picks, so the others may come back: the
    #    disliked film's absence is the dislike's doing.
    page.reload()
    expect(user).to_have_value(re.compile(r"\S"))
    user.fill("ui-browser-test")
    expect(page.locator("#profile")).to_contain_text(disliked)
    third = _send(page, "I want a crime film from the 90s", turn=1)
    assert third, "the reply in the new tab names no film in bold"
    assert disliked not in third
    assert set(third) & (set(first) - {disliked}), f"{third} repeats none of {first}"
    _shot(page, "06-new-tab-same-user")
