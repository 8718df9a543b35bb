"""report.html of a tiny run: its numbers against summary.csv, its explorer's
sample, and (in headless Chromium) that it works offline, without errors."""

from __future__ import annotations

import io
import json
import math
import os
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from captum_contrastive.report_html import ExplorerBound, explorer_data
from captum_contrastive.report_html.browser import (
    find_chromium,
    opened_browser,
    opened_page,
)
from captum_contrastive.report_html.page import _sample_note
from tests.report_html.run_page import records, results, summary_rows, tiny_run


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    return tiny_run(out), out


class _Tables(HTMLParser):
    """The rows of the page's summary tables: per cell, (data-value, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[tuple[str, str]]] = []
        self._inside = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "table":
            self._inside = "summary-table" in (found.get("class") or "")
        elif self._inside and tag == "tr":
            self.rows.append([])
        elif self._inside and tag == "td":
            self._cell = [found["data-value"], ""]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data

    def handle_endtag(self, tag):
        if tag == "table":
            self._inside = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append(tuple(self._cell))
            self._cell = None


def test_the_tables_hold_the_numbers_of_summary_csv(written) -> None:
    _, out = written
    parser = _Tables()
    parser.feed((out / "report.html").read_text())
    page = [row for row in parser.rows if row]  # the header rows hold no <td>
    csv_rows = summary_rows(out)
    assert len(page) == len(csv_rows) > 0
    for cells, expected in zip(page, csv_rows, strict=True):
        assert [value for value, _ in cells] == list(expected.values())
        for (value, shown), column in zip(cells, expected, strict=True):
            if column in ("mean", "ci_low", "ci_high") and value not in ("", "nan"):
                assert math.isclose(float(shown), float(value), rel_tol=1e-3)
            elif column not in ("mean", "ci_low", "ci_high"):
                assert shown == value


def test_the_run_lists_report_html_among_its_outputs(written) -> None:
    _, out = written
    assert "report.html" in json.loads((out / "outputs.json").read_text())["files"]


def test_a_run_past_the_bound_shows_a_seeded_sample_and_says_so(written) -> None:
    run, _ = written
    bound = ExplorerBound(pixels=1, min_images=2)
    first, again = explorer_data(run, bound), explorer_data(run, bound)
    rows = [image["row"] for image in first["images"]]
    assert rows == [image["row"] for image in again["images"]] and len(rows) == 2
    assert len(first["cards"]) == 2 * len(first["runs"]) == 4
    assert first["sample"] == {**first["sample"], "sampled": True, "shown": 2, "of": 6}
    note = _sample_note(first["sample"], len(first["runs"]))
    assert "seeded random sample of 2" in note and "all 6 images" in note


# ---- in a real browser ----------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module. Missing, the tests skip, except
    in CI (CI=true), where they fail."""
    missing = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "the playwright package is missing (pip install -e '.[test]')"
    if missing is None and find_chromium() is None:
        missing = (
            "no Chromium on this machine (apt-get install chromium, or CHROMIUM=path)"
        )
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser tests must run in CI: {missing}")
        pytest.skip(f"browser tests skipped: {missing}")
    with opened_browser() as found:
        yield found


@pytest.fixture
def page(browser, written):
    _, out = written
    opened = opened_page(browser)
    yield opened, out
    opened.page.close()


def _visible_ids(page) -> list[str]:
    return page.eval_on_selector_all(
        ".card:not([hidden])", "nodes => nodes.map(node => node.id)"
    )


def test_it_opens_offline_without_errors(page) -> None:
    opened, out = page
    opened.open(out / "report.html")
    assert opened.errors == []
    assert opened.requests == [(out / "report.html").resolve().as_uri()]
    assert opened.blocked == []
    # an image from the network is refused by the page's policy, and seen here
    opened.page.evaluate(
        "() => { const image = new Image(); image.src = 'https://example.org/x.png';"
        " document.body.appendChild(image); }"
    )
    opened.page.wait_for_timeout(100)
    assert any("example.org" in error for error in opened.errors)
    assert all(url.startswith("file://") for url in opened.requests)


def test_one_card_per_image_and_attack_run(page) -> None:
    opened, out = page
    opened.open(out / "report.html")
    found = results(out)
    runs = found["run"]["main_runs"]
    expected = [f"card-{r}-{index}" for r in runs for index in found["run"]["indices"]]
    assert _visible_ids(opened.page) == expected
    assert opened.page.locator(".card").count() == 6 * 2


def test_sorting_a_table_orders_its_rows(page) -> None:
    opened, out = page
    opened.open(out / "report.html")
    view = opened.page
    view.click("#study-adversarial-numbers > summary")
    table = "#numbers-adversarial"
    rows = [r for r in summary_rows(out) if r["study"] == "adversarial"]
    means = [float(r["mean"]) for r in rows if r["mean"] not in ("", "nan")]
    missing = len(rows) - len(means)
    assert missing > 0 and len(means) > 10  # NaN means sort last either way
    column = f"{table} tbody tr td:nth-child(5)"
    read = "cells => cells.map(cell => cell.dataset.value)"

    def shown() -> list[str]:
        return view.eval_on_selector_all(column, read)

    assert shown() == [r["mean"] for r in rows]
    view.click(f"{table} th:nth-child(5) button")
    assert shown() == [repr(m) for m in sorted(means)] + ["nan"] * missing
    view.click(f"{table} th:nth-child(5) button")
    assert shown() == [repr(m) for m in sorted(means, reverse=True)] + ["nan"] * missing
    view.click(f"{table} th:nth-child(4) button")
    measures = view.eval_on_selector_all(
        f"{table} tbody tr td:nth-child(4)", "cells => cells.map(c => c.textContent)"
    )
    assert measures == sorted(measures) and len(set(measures)) > 1


def test_filters_change_the_cards_shown(page) -> None:
    opened, out = page
    opened.open(out / "report.html")
    view = opened.page
    found = results(out)
    view.select_option("select[name=run]", "bim")
    shown = _visible_ids(view)
    assert len(shown) == 6 and all(i.startswith("card-bim-") for i in shown)
    view.select_option("select[name=success]", "fooled")
    fooled = found["adversarial"]["bim"]["groups"]["adv_s"]
    assert 0 < fooled < 6
    assert len(_visible_ids(view)) == fooled
    assert view.locator(".count").text_content() == f"{fooled} of 12 cards shown"
    view.uncheck("input[name=method][value=saliency]")
    assert (
        view.locator(
            ".card:not([hidden]) .method[data-method=saliency]:visible"
        ).count()
        == 0
    )
    assert view.locator(".card:not([hidden]) .method:visible").count() == 2 * fooled
    view.click("button[type=reset]")
    view.wait_for_function(
        "() => document.querySelectorAll('.card:not([hidden])').length == 12"
    )


def test_cards_sort_by_one_rho_minus_another(page) -> None:
    opened, out = page
    opened.open(out / "report.html")
    view = opened.page
    found, per_image = results(out), records(out)["adversarial"]
    expected = []
    for run in found["run"]["main_runs"]:
        egbp = per_image[run]["enhanced_gbp"]["main"]["spearman"]
        gbp = per_image[run]["guided_backprop"]["main"]["spearman"]
        for row, index in enumerate(found["run"]["indices"]):
            expected.append((egbp[row] - gbp[row], f"card-{run}-{index}"))
    view.select_option("select[name=sort]", "enhanced_gbp")
    view.select_option("select[name=minus]", "guided_backprop")
    assert _visible_ids(view) == [i for _, i in sorted(expected, key=lambda e: e[0])]
    view.select_option("select[name=order]", "descending")
    assert _visible_ids(view) == [i for _, i in sorted(expected, key=lambda e: -e[0])]


def test_keys_step_through_cards_and_a_permalink_opens_its_card(page) -> None:
    opened, out = page
    indices = results(out)["run"]["indices"]
    opened.open(out / "report.html", anchor=f"card-bim-{indices[1]}")
    view = opened.page
    active = "() => document.activeElement.id"
    assert view.evaluate(active) == f"card-bim-{indices[1]}"
    view.keyboard.press("j")
    assert view.evaluate(active) == f"card-bim-{indices[2]}"
    assert view.evaluate("() => location.hash") == f"#card-bim-{indices[2]}"
    view.keyboard.press("k")
    view.keyboard.press("k")
    assert view.evaluate(active) == f"card-bim-{indices[0]}"
    # a permalink to a card hidden by a filter clears the filters
    view.select_option("select[name=run]", "cw-k0")
    view.evaluate(f"() => {{ location.hash = 'card-bim-{indices[3]}'; }}")
    view.wait_for_function(
        f"() => document.activeElement.id == 'card-bim-{indices[3]}'"
    )
    assert len(_visible_ids(view)) == 12


def test_a_screenshot_of_the_explorer_is_not_blank(page) -> None:
    opened, out = page
    opened.open(out / "report.html")
    opened.page.eval_on_selector(".card", "node => node.scrollIntoView()")
    shot = opened.page.screenshot()
    pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"), dtype=float)
    assert pixels.shape == (1000, 1400, 3)
    assert pixels.std() > 20
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500
