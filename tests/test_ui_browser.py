"""The web app in a real browser (headless Debian Chromium through Playwright), as a person uses it:
ask for films, open an agent's step, dislike a pick, ask again. Screenshots of each stage go to
test-artifacts/ui/ (git-ignored) to look at.

Playwright cannot download its own browsers here: it drives /usr/bin/chromium, which
scripts/ensure_browser.sh installs (make test runs it; this test runs it too when the browser is
missing). Without the browser, and without root to install it, the test skips and says why."""

from __future__ import annotations

import json
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
FILMS = ROOT / "tests" / "fixtures" / "films.jsonl"
# The fixture catalog's poster URLs: the only addresses outside this machine a page may ask for.
POSTERS = {
    film["thumbnail"]: film["title"]
    for film in map(json.loads, FILMS.read_text().splitlines())
    if film.get("thumbnail")
}
POSTERS_ASKED: list[str] = []


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


@pytest.fixture(scope="session")
def shots() -> Path:
    """The screenshot folder, emptied once per run: no screenshot of an earlier run passes for
    this one's."""
    for old in SHOTS.glob("*.png"):
        old.unlink()
    return SHOTS


@pytest.fixture
def page(
    chromium: Path, live_app: str, shots: Path, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A fresh page on the live app. Requests may go to the app only; the test fails on any
    JavaScript error or attempt to reach outside this machine."""
    outside: list[str] = []
    errors: list[str] = []
    POSTERS_ASKED.clear()

    def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:  # a catalog poster may be asked for (and is not served here), nothing else
            (POSTERS_ASKED if route.request.url in POSTERS else outside).append(route.request.url)
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
            _shot(page, f"99-last-{request.node.name}")  # the final state, also on a failure
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


def _expect_cards(page: Page, turn: int, titles: list[str]) -> None:
    """The turn-th reply's cards show exactly these films, each with its three buttons."""
    cards = page.locator("#chat .rt-cards").nth(turn - 1).locator(".rt-card")
    expect(cards.locator(".rt-card-title b")).to_have_text(titles)
    for card in cards.all():
        expect(card.locator("button.rt-act")).to_have_text(
            ["👍 Like", "👎 Not for me", "👁 Seen it"]
        )


def test_ask_open_a_step_dislike_a_pick_and_ask_again(page: Page) -> None:
    user = page.locator("#user input, #user textarea").first
    expect(user).to_have_value(re.compile(r"\S"))  # the app names each new tab's guest
    user.fill("ui-browser-test")
    _shot(page, "01-start")

    # 1. A first request: the reply names films in bold, and the picks panel lists the same films.
    first = _send(page, "I want a crime film from the 90s", turn=1)
    assert first, "the reply names no film in bold"
    _expect_cards(page, 1, first)
    # Posters: the browser asks the catalog's address for each pick that has one (not served
    # here), and a poster that cannot load leaves no empty frame on its card.
    with_poster = {title for title in POSTERS.values() if title in first}
    assert with_poster, f"none of {first} has a poster in the fixture catalog"
    for _ in range(100):  # the image requests follow the cards' rendering
        if {POSTERS[url] for url in POSTERS_ASKED} >= with_poster:
            break
        page.wait_for_timeout(100)
    assert {POSTERS[url] for url in POSTERS_ASKED} == with_poster
    expect(page.locator("#chat img.rt-poster:visible")).to_have_count(0)
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

    # 3. 👎 on the first pick's card: the chat says so in a line, the card shows the verdict
    #    instead of its buttons, and the profile lists the film as disliked.
    disliked = first[0]
    card = page.locator("#chat .rt-card").filter(has_text=disliked).first
    card.locator("button.rt-disliked").click()
    expect(page.locator("#chat")).to_contain_text(f"You disliked {disliked}")
    expect(card.locator(".rt-verdict")).to_contain_text("Not for you")
    expect(card.locator("button.rt-act")).to_have_count(0)
    expect(page.locator("#profile")).to_contain_text(disliked)
    _shot(page, "04-disliked")

    # 4. More of the same: the disliked film is not picked again.
    second = _send(page, "more crime films", turn=2)
    assert second, "the second reply names no film in bold"
    assert disliked not in second
    _expect_cards(page, 2, second)
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


def _name(page: Page, name: str) -> None:
    user = page.locator("#user input, #user textarea").first
    expect(user).to_have_value(re.compile(r"\S"))
    user.fill(name)


def test_slips_are_notices_markup_stays_text_and_forget_me_can_be_cancelled(page: Page) -> None:
    _name(page, "ui-browser-slips")
    # An empty message: a notice in the chat, no error pill on any component.
    page.locator("#send").click()
    expect(page.locator("#chat")).to_contain_text("Type a message first")
    expect(page.locator(".error")).to_have_count(0)
    _shot(page, "10-empty-message")

    # Markup in a message is shown as text: the page fixture fails the test if the browser asks
    # for either address (192.0.2.0/24 is reserved for documentation).
    said = "a crime film <img src=http://192.0.2.1/x.png> ![p](http://192.0.2.1/y.png)"
    _send(page, said, turn=1)
    mine = page.locator("#chat [data-testid='user']").last
    expect(mine).to_contain_text("<img src=http://192.0.2.1/x.png>")
    expect(mine.locator("img")).to_have_count(0)
    _shot(page, "11-markup-as-text")

    # Forget me asks first; Cancel keeps everything.
    page.locator("#forget").click()
    expect(page.locator("#forget-confirm")).to_be_visible()
    _shot(page, "12-forget-confirm")
    page.locator("#forget-cancel").click()
    expect(page.locator("#forget-confirm")).to_be_hidden()
    expect(page.locator("#chat .rt-cards")).to_have_count(1)
    expect(page.locator("#profile")).to_contain_text("crime")


def _remembered(page: Page) -> int:
    """How many entries the open memory panel says it holds (0 when it says nothing yet)."""
    note = page.locator("#memory-note")
    expect(note).to_contain_text(re.compile(r"entries about|Nothing yet"))
    found = re.search(r"(\d+) entries about", note.inner_text())
    return int(found.group(1)) if found else 0


def test_the_memory_panel_fills_when_opened_and_follows_the_turns_while_open(page: Page) -> None:
    _name(page, "ui-browser-memory")
    _send(page, "a crime film from the 90s", turn=1)
    panel = page.get_by_text("What I remember about you")
    panel.click()  # drawn now: nothing was sent to it while it was closed
    first = _remembered(page)
    assert first > 0
    expect(page.locator("#memory-table")).to_contain_text("a crime film from the 90s")

    _send(page, "something funny with Jim Carrey", turn=2)  # open: refreshed after the turn
    expect(page.locator("#memory-note")).not_to_contain_text(f"{first} entries")
    second = _remembered(page)
    assert second > first
    expect(page.locator("#memory-table")).to_contain_text("Jim Carrey")
    _shot(page, "13-memory-open")

    panel.click()  # closed: the next turn leaves it, opening it again shows what is new
    _send(page, "more like that", turn=3)
    panel.click()
    expect(page.locator("#memory-note")).not_to_contain_text(f"{second} entries")
    assert _remembered(page) > second


def test_cards_and_candidate_bus_fit_at_1440_and_at_phone_width(page: Page) -> None:
    _name(page, "ui-browser-widths")
    picked = _send(page, "a funny film from the 90s", turn=1)
    page.get_by_text("Candidate bus").click()
    table = page.locator("#candidates")
    for column in ("title", "year", "relevance", "why (top reasons)", "fit"):
        expect(table.get_by_text(column, exact=True).first).to_be_visible()
    expect(table.get_by_text(picked[0], exact=True).first).to_be_visible()
    table.scroll_into_view_if_needed()
    overflow = table.evaluate(
        "t => [...t.querySelectorAll('*')].filter(e => e.scrollWidth > e.clientWidth + 2 &&"
        " ['auto', 'scroll'].includes(getComputedStyle(e).overflowX)).map(e => e.className)"
    )
    assert not overflow, f"the candidate bus scrolls sideways at 1400 px: {overflow}"
    _shot(page, "20-candidates-1400")

    page.set_viewport_size({"width": 390, "height": 844})
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 392, f"the page is {wide} px wide in a 390 px window"
    card = page.locator("#chat .rt-card").first
    card.scroll_into_view_if_needed()
    box = card.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 392, box
    _shot(page, "21-phone-390")
    table.scroll_into_view_if_needed()
    _shot(page, "22-candidates-390")


def test_replay_steps_through_an_export_one_step_per_click(page: Page, tmp_path: Path) -> None:
    _name(page, "ui-browser-replay")
    _send(page, "a crime film from the 90s", turn=1)
    page.get_by_text("Trace export and replay").click()
    with page.expect_download() as download:
        page.locator("#export").click()
    export = tmp_path / "trace.jsonl"
    download.value.save_as(export)

    page.locator("#replay-speed").get_by_text("one step per click").click()
    page.locator("#replay-file input[type=file]").set_input_files(str(export))
    status = page.locator("#replay-status")
    expect(status).to_contain_text(re.compile(r"Step 1 of \d+: turn 1: the user's message"))
    total = int(re.findall(r"Step 1 of (\d+)", status.inner_text())[0])
    expect(page.locator("#chat .rt-cards")).to_have_count(0)  # the message only, no reply yet
    _shot(page, "30-replay-first-step")

    nxt = page.locator("#replay-next")
    expect(nxt).to_be_visible()
    nxt.click()
    expect(status).to_contain_text(re.compile(r"Step 2 of \d+: \w+ · "))  # an agent's step
    _shot(page, "31-replay-second-step")
    for step in range(3, total + 1):
        nxt.click()
        expect(status).to_contain_text(f"Step {step} of {total}")
    expect(status).to_contain_text("The end of the export")
    expect(nxt).to_be_hidden()
    expect(page.locator("#chat .rt-cards")).to_have_count(1)
    _shot(page, "32-replay-end")
