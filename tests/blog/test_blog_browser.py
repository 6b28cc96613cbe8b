"""The blog in a real browser: Debian's chromium, headless, driven by Playwright.

The blog runs under uvicorn on a free 127.0.0.1 port (a subprocess, stopped by
its PID). One browser registers, logs in, writes, edits and deletes a post; a
second browser (its own profile, not logged in) keeps the index open and must
see each change appear without a reload. Screenshots of the index and the editor
are saved under tests/artifacts/ for a person to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from blog_testing import CHROMIUM, serve_blog
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
#: How long the page may take to show a change (a generous bound, not a timing assertion).
LIVE_LIMIT_MS = 10_000
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_blog(tmp_path_factory.mktemp("blog-server")) as url:
        yield url


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    expect.set_options(timeout=LIVE_LIMIT_MS)
    with sync_playwright() as running:
        yield running


def open_browser(playwright: Playwright, profile: Path, base_url: str) -> BrowserContext:
    """Debian's chromium, headless, on a fresh profile folder."""
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        base_url=base_url,
        viewport={"width": 1000, "height": 760},
        timeout=30_000,
    )
    context.set_default_timeout(LIVE_LIMIT_MS)
    return context


@pytest.fixture
def writer(playwright: Playwright, tmp_path: Path, base_url: str) -> Iterator[Page]:
    context = open_browser(playwright, tmp_path / "writer-profile", base_url)
    try:
        yield context.pages[0] if context.pages else context.new_page()
    finally:
        context.close()


@pytest.fixture
def watcher(playwright: Playwright, tmp_path: Path, base_url: str) -> Iterator[Page]:
    context = open_browser(playwright, tmp_path / "watcher-profile", base_url)
    try:
        yield context.pages[0] if context.pages else context.new_page()
    finally:
        context.close()


def flash(page: Page) -> str:
    return page.locator(".flash").first.inner_text()


def test_write_edit_delete_seen_live(writer: Page, watcher: Page):
    ARTIFACTS.mkdir(exist_ok=True)

    # Register and log in.
    writer.goto("/auth/register")
    writer.fill("#username", "writer")
    writer.fill("#password", "writer-pw")
    writer.click("button[type=submit]")
    expect(writer).to_have_url(re.compile(r"/auth/login$"))
    assert flash(writer) == "Registered. You can log in now."
    writer.fill("#username", "writer")
    writer.fill("#password", "writer-pw")
    writer.click("main button[type=submit]")
    expect(writer.locator(".who")).to_have_text("writer")

    # A second browser, not logged in, keeps the index open.
    watcher.goto("/")
    expect(watcher.locator("#live-status")).to_have_text("live")
    watcher.evaluate("window.stillTheSamePage = true")
    expect(watcher.locator("#no-posts")).to_be_visible()

    # Write a post (with HTML in it, which must come out as text).
    writer.click("text=New post")
    writer.fill("#title", "Hello <b>browser</b>")
    writer.fill("#body", "Written in chromium.\nSecond line.")
    writer.screenshot(path=str(ARTIFACTS / "blog-editor.png"), full_page=True)
    writer.click("text=Publish")
    expect(writer.locator(".flash")).to_have_text("Your post is published.")
    expect(writer.locator("article.post h2")).to_have_text("Hello <b>browser</b>")

    card = watcher.locator("article.post").first
    expect(card.locator("h2")).to_have_text("Hello <b>browser</b>")
    expect(card.locator(".body")).to_have_text("Written in chromium.\nSecond line.")
    expect(card.locator("text=Edit")).to_have_count(0)  # not the watcher's post
    expect(watcher.locator("#no-posts")).to_be_hidden()
    assert watcher.evaluate("window.stillTheSamePage") is True
    writer.screenshot(path=str(ARTIFACTS / "blog-index.png"), full_page=True)
    watcher.screenshot(path=str(ARTIFACTS / "blog-index-live.png"), full_page=True)

    # Edit it.
    writer.click("article.post >> text=Edit")
    expect(writer.locator("#title")).to_have_value("Hello <b>browser</b>")
    writer.fill("#title", "Hello again")
    writer.screenshot(path=str(ARTIFACTS / "blog-editor-update.png"), full_page=True)
    writer.click("text=Save")
    expect(writer.locator(".flash")).to_have_text("Your changes are saved.")
    expect(watcher.locator("article.post h2")).to_have_text(["Hello again"])

    # Delete it (the page asks first).
    writer.click("article.post >> text=Edit")
    writer.once("dialog", lambda dialog: dialog.accept())
    writer.click("button.danger")
    expect(writer.locator(".flash")).to_have_text("The post is deleted.")
    expect(watcher.locator("article.post")).to_have_count(0)
    expect(watcher.locator("#no-posts")).to_be_visible()
    assert watcher.evaluate("window.stillTheSamePage") is True


def test_bad_input_in_the_browser(writer: Page):
    writer.goto("/auth/login")
    writer.fill("#username", "nobody")
    writer.fill("#password", "wrong")
    writer.click("main button[type=submit]")
    expect(writer.locator(".flash.error")).to_have_text("Incorrect username or password.")

    writer.goto("/123456/update")
    expect(writer).to_have_url(re.compile(r"/auth/login\?next=/123456/update$"))
    expect(writer.locator(".flash.error")).to_have_text("Please log in first.")

    writer.goto("/nope")
    expect(writer.locator("h1")).to_have_text("404 Not Found")
