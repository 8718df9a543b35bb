"""Open ``report.html`` in a headless Chromium: for the docs' screenshot
(``make -C docs figures``) and the browser tests.

Needs the ``playwright`` package (the ``test`` extra) and a Chromium on the
machine (Debian: ``apt-get install chromium``); Playwright drives that
executable, so nothing is downloaded. Every request the page makes is
intercepted: one that does not stay on ``file://`` is aborted and recorded.

Run as a script, it writes a screenshot of a page's explorer::

    python -m captum_contrastive.report_html.browser report.html shot.png
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CHROMIUM_NAMES",
    "OpenedPage",
    "find_chromium",
    "opened_browser",
    "opened_page",
    "screenshot",
]

#: Executable names tried, in order, after the ``CHROMIUM`` environment variable.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    """The Chromium executable: ``$CHROMIUM``, else the first of
    :data:`CHROMIUM_NAMES` on the ``PATH``; ``None`` when there is none."""
    chosen = os.environ.get("CHROMIUM")
    if chosen:
        return chosen if Path(chosen).exists() else shutil.which(chosen)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class OpenedPage:
    """A page open in the browser, with what it reported.

    Attributes:
        page: Playwright's ``Page``.
        errors: console errors and warnings, and uncaught exceptions.
        requests: every URL the page asked for.
        blocked: the requested URLs that were not ``file://`` (aborted).
    """

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def open(self, path: Path, anchor: str = "") -> None:
        """Load ``path`` (``#anchor`` appended) and wait until its script ran."""
        self.page.goto(Path(path).resolve().as_uri() + (f"#{anchor}" if anchor else ""))
        self.page.wait_for_selector("body[data-ready='1']", state="attached")


@contextmanager
def opened_browser(executable: str | None = None) -> Iterator[Any]:
    """A headless Chromium (Playwright's ``Browser``), closed afterwards."""
    from playwright.sync_api import sync_playwright

    executable = executable or find_chromium()
    if executable is None:
        raise FileNotFoundError(
            "no Chromium found: install it (Debian: `apt-get install chromium`) or "
            "set CHROMIUM to its executable"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            browser.close()


def opened_page(browser: Any, width: int = 1400, height: int = 1000) -> OpenedPage:
    """A new page of ``browser`` that records console errors and requests,
    and aborts every request that is not ``file://``."""
    page = browser.new_page(viewport={"width": width, "height": height})
    opened = OpenedPage(page)

    def on_console(message: Any) -> None:
        if message.type in ("error", "warning"):
            opened.errors.append(f"console {message.type}: {message.text}")

    def on_request(route: Any) -> None:
        url = route.request.url
        opened.requests.append(url)
        if url.startswith("file://"):
            route.continue_()
        else:
            opened.blocked.append(url)
            route.abort()

    page.on("console", on_console)
    page.on("pageerror", lambda error: opened.errors.append(f"page error: {error}"))
    page.route("**/*", on_request)
    return opened


def screenshot(page_path: Path, png_path: Path, executable: str | None = None) -> Path:
    """A PNG of the top of ``page_path``'s image explorer (1400 x 1000 pixels),
    sorted by Enhanced GBP's ρ minus GuidedBP's when the run has both.

    Raises:
        RuntimeError: when the page logged an error or asked for anything
            outside ``file://``.
    """
    with opened_browser(executable) as browser:
        opened = opened_page(browser)
        opened.open(page_path)
        page = opened.page
        methods = page.eval_on_selector_all(
            "select[name=sort] option", "options => options.map(o => o.value)"
        )
        if {"enhanced_gbp", "guided_backprop"} <= set(methods):
            page.select_option("select[name=sort]", "enhanced_gbp")
            page.select_option("select[name=minus]", "guided_backprop")
        page.eval_on_selector("#explorer", "node => node.scrollIntoView()")
        page.wait_for_timeout(300)
        if opened.errors or opened.blocked:
            raise RuntimeError(f"the page failed: {opened.errors + opened.blocked}")
        Path(png_path).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(png_path))
    return Path(png_path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=screenshot.__doc__.split("\n")[0])
    parser.add_argument("page", type=Path, help="a run's report.html")
    parser.add_argument("png", type=Path, help="the screenshot to write")
    args = parser.parse_args(argv)
    print(screenshot(args.page, args.png))


if __name__ == "__main__":
    main()
