from captum_contrastive.pipeline.units.base import Verdict
from captum_contrastive.report_html.explorer import ExplorerBound, sampled_rows
from captum_contrastive.report_html.markdown import markdown_html
from captum_contrastive.report_html.tables import csv_text, summary_table
from captum_contrastive.report_html.verdicts import claim_cards


def test_report_markdown_becomes_html_and_nothing_is_read_as_markup() -> None:
    text = (
        "## Title <b>\n\nA **bold** `code<x>` line\ncontinued.\n\n"
        "| method | rho |\n|---|---|\n| saliency \\|abs\\| | 0.1 |\n\n- one\n- <two>\n"
    )
    page = markdown_html(text)
    assert "<h3>Title &lt;b&gt;</h3>" in page
    assert (
        "<p>A <strong>bold</strong> <code>code&lt;x&gt;</code> line continued.</p>"
        in page
    )
    assert '<table class="sortable">' in page and "<td>saliency |abs|</td>" in page
    assert "<li>&lt;two&gt;</li>" in page and "<b>" not in page


def test_summary_cells_hold_the_csv_text_and_show_it_rounded() -> None:
    row = dict(
        study="s",
        attack="",
        method="m",
        measure="auc",
        mean=0.123456789,
        ci_low=None,
        ci_high=float("nan"),
        n=6,
    )
    table = summary_table("s", [row])
    assert '<td class="num" data-value="0.123456789">0.1235</td>' in table
    assert '<td class="num" data-value="">' in table and 'data-value="nan"' in table
    assert (csv_text(None), csv_text(6), csv_text(0.1)) == ("", "6", "0.1")


def test_a_claim_card_holds_the_rule_once_the_numbers_and_the_link() -> None:
    verdict = Verdict(
        3,
        "adversarial_change",
        "maps change",
        "holds",
        {"rule": "lowest rho"},
        "Rule: lowest rho. rho is 0.1 [0.0, 0.2].",
    )
    card = claim_cards([(verdict, "study-adversarial", "Adversarial")])
    assert card.count("lowest rho") == 1 and "0.1 [0.0, 0.2]" in card
    assert 'class="verdict good"' in card and 'href="#study-adversarial"' in card


def test_the_bound_holds_the_default_run_and_samples_imagenet_runs() -> None:
    bound = ExplorerBound()
    assert bound.images_that_fit((3, 32, 32), n_methods=12, n_runs=4) >= 80
    imagenet = bound.images_that_fit((3, 224, 224), n_methods=12, n_runs=4)
    assert bound.min_images <= imagenet < 80
    assert ExplorerBound(pixels=1).images_that_fit((3, 8, 8), 1, 1) == 8


def test_the_sample_is_seeded_and_in_selection_order() -> None:
    assert sampled_rows(5, 9, seed=0) == [0, 1, 2, 3, 4]
    rows = sampled_rows(100, 10, seed=3)
    assert (
        rows == sorted(rows) == sampled_rows(100, 10, seed=3) and len(set(rows)) == 10
    )
    assert rows != sampled_rows(100, 10, seed=4)
    assert max(rows) < 100
