"""Tier rules the tiers experiment tries beside the support spec's own (experiment 2).

The support spec routes as DESIGN.md says: classify and extract on the small tier, decide on
the large tier, the reply by complexity, and any retry after a failed gate one tier up.
These are the alternatives a developer would write without looking at the dataset or the
simulator's error model, declared as `SubtaskSpec.tier` values:

- by *verifiability*: a subtask whose answer no deterministic gate can check against the
  ticket or the store (the intent and the legal flag, which steer every later step) goes to
  the large tier; one whose answer its gates check (the entities against the text, the
  decision against the order's facts and the policy, the reply's promises against what was
  issued) stays on the small tier, its failed gate retried on the large one;
- by *input difficulty* (`input_tier`): the large tier when the ticket is ambiguous for a
  reader, read from the ticket alone before any model ran.
"""

from __future__ import annotations

from nodes.spec import Limits, State
from nodes.support.rules import settings_of
from validators.money import money_in_text
from validators.request import ORDER_ID_IN_TEXT

FOREIGN_SHARE = 20
"""More than one letter in this many outside ASCII reads as another language."""


def input_tier(state: State, limits: Limits) -> str:
    """Tier by the ticket's own difficulty.

    Large when the text names several amounts (paid vs asked, "the difference"), several
    order ids, is long (over the reply's `complex_ticket_chars`), or is mostly written in
    another script or with accents (another language than the prompts'); small otherwise.
    """
    ticket = state.get("ticket") or {}
    text = f"{ticket.get('subject') or ''}\n{ticket.get('body') or ''}"
    letters = [ch for ch in text if ch.isalpha()]
    foreign = sum(1 for ch in letters if not ch.isascii())
    hard = (
        len(money_in_text(text)) > 1
        or len({m.group(0).upper() for m in ORDER_ID_IN_TEXT.finditer(text)}) > 1
        or len(text) > settings_of(limits).complex_ticket_chars
        or foreign > len(letters) // FOREIGN_SHARE
    )
    return "large" if hard else "small"
