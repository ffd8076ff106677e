"""Hypothesis strategies shared by the property tests: JSON values, tickets, resume payloads."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
"""Any text that is valid UTF-8 (surrogates excluded), NUL and control characters included."""

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)

JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
"""Any JSON value."""

GOOD_TICKET: dict[str, Any] = {
    "ticket_id": "T-PROP",
    "customer_id": "C008",
    "subject": "Where is it?",
    "body": "Where is my order ORD-10008? Tracking has not moved.",
    "channel": "chat",
}


@st.composite
def ticket_like(draw: st.DrawFn) -> dict[str, Any]:
    """A ticket-shaped object: each field kept, dropped, or replaced by any JSON value."""
    ticket: dict[str, Any] = {}
    for key, good in GOOD_TICKET.items():
        choice = draw(st.sampled_from(("keep", "keep", "drop", "junk")))
        if choice == "keep":
            ticket[key] = good
        elif choice == "junk":
            ticket[key] = draw(JSON)
    if draw(st.booleans()):
        ticket.update(draw(st.dictionaries(TEXT, JSON, max_size=2)))
    return ticket


AMOUNTS = (
    st.none()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, -1, 0.001, 0.5, 12.34, 60, 119.99, 120, 120.01, 5000])
    | TEXT
)

SHAPED_REVIEWS = st.fixed_dictionaries(
    {"decision": st.sampled_from(["approve", "reject", "edit", "maybe", "", "APPROVE"])},
    optional={"amount": AMOUNTS, "note": TEXT | JSON, "extra": JSON},
)
VALID_REVIEWS = st.one_of(
    st.just({"decision": "approve"}),
    st.fixed_dictionaries({"decision": st.just("reject")}, optional={"note": TEXT}),
    st.fixed_dictionaries(
        {
            "decision": st.just("edit"),
            "amount": st.integers(1, 20000).map(lambda cents: cents / 100),
        }
    ),
)

REVIEW_PAYLOADS = st.one_of(
    JSON, SHAPED_REVIEWS, SHAPED_REVIEWS, VALID_REVIEWS, VALID_REVIEWS, st.just({"retry": True})
)
"""Resume payloads a reviewer (or anyone) might send to an escalated run: any JSON, shaped
like a review with random fields, or valid (edits both within and above the order total)."""
