"""Verdict cards: the paper's claims and the sanity checks, each with its rule,
the numbers (with confidence intervals) that decide it, and a link to the
section of the page that holds them."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from captum_contrastive.report_html.markdown import inline

__all__ = ["claim_cards", "sanity_cards", "verdict_class"]

_CLASSES = {
    "holds": "good",
    "passes": "good",
    "does not hold": "bad",
    "fails": "bad",
    "inconclusive": "open",
}


def verdict_class(verdict: str) -> str:
    """The card's colour class: ``good``, ``bad``, ``open`` or ``none``
    (not evaluated).

    Examples::

        >>> verdict_class("does not hold"), verdict_class("not evaluated")
        ('bad', 'none')
    """
    return _CLASSES.get(verdict, "none")


def _card(
    anchor: str, title: str, verdict: str, rule: str, body: str, link: tuple[str, str]
) -> str:
    target, label = link
    rule_html = f'<p class="rule"><b>Rule:</b> {inline(rule)}</p>' if rule else ""
    return (
        f'<article class="verdict {verdict_class(verdict)}" id="{anchor}">'
        f'<header><h3>{inline(title)}</h3><span class="badge">{html.escape(verdict)}'
        f"</span></header>{rule_html}{body}"
        f'<p class="more"><a href="#{target}">{html.escape(label)}</a></p></article>'
    )


def _paragraphs(text: str, rule: str) -> str:
    """The verdict's text without the rule sentence (shown on its own)."""
    text = text.replace(f"Rule: {rule}.", "").strip() if rule else text
    return "".join(
        f"<p>{inline(' '.join(p.split()))}</p>" for p in text.split("\n\n") if p.strip()
    )


def claim_cards(claims: Iterable[tuple[Any, str, str]]) -> str:
    """One card per claim.

    Args:
        claims: ``(verdict, section anchor, section title)`` per claim, the
            verdict a :class:`~captum_contrastive.pipeline.units.base.Verdict`.

    Returns:
        The cards' HTML, by claim number.
    """
    cards = []
    for verdict, anchor, title in sorted(claims, key=lambda c: c[0].number):
        rule = str(verdict.details.get("rule", ""))
        cards.append(
            _card(
                f"claim-{verdict.number}",
                f"Claim {verdict.number}: {verdict.claim}",
                verdict.verdict,
                rule,
                _paragraphs(verdict.text, rule),
                (anchor, f"Numbers: {title}"),
            )
        )
    return "\n".join(cards)


def sanity_cards(sanity: dict[str, Any], anchor: str) -> str:
    """One card per method of the cascading-randomisation check
    (``results.json``'s ``sanity.verdicts``); none when it did not run."""
    cards = []
    for method, found in sanity.get("verdicts", {}).items():
        evidence = found.get("evidence") or ""
        control = " (the known-failing control)" if found.get("control") else ""
        cards.append(
            _card(
                f"sanity-{method.replace(' ', '-')}",
                f"Sanity: {method}{control}",
                str(found.get("verdict", "not evaluated")),
                str(found.get("rule", "")),
                f"<p>{inline(evidence)}</p>" if evidence else "",
                (anchor, "Numbers: Sanity checks"),
            )
        )
    return "\n".join(cards)
