"""Generate `evals/datasets/documents.jsonl`: labelled documents written apart from the simulator.

Run `python -m evals.datasets.documents_gen` (or this file) from the repository root. The
output is a pure function of `SEED`, so a rerun reproduces the checked-in file byte for byte.

Independence: this module imports nothing from `simulator/` and shares none of its word lists
or patterns. Its vocabularies, layouts, date and amount formats and typos are its own, and
every label span comes from where the text was written, not from re-reading it.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED = 20261128
OUTPUT = Path(__file__).with_name("documents.jsonl")
COUNTS = {
    "invoice": 30,
    "purchase_order": 20,
    "legal_contract": 18,
    "support_email": 18,
    "resume": 10,
    "other": 8,
}

FIRST = (
    "Amara", "Bjorn", "Chiara", "Dmitri", "Eun-ji", "Farid", "Greta", "Hiroshi", "Ingrid",
    "Jonas", "Keisha", "Luca", "Mei", "Nikolai", "Olufemi", "Paloma", "Quentin", "Rania",
    "Stellan", "Tariq", "Ulla", "Valentin", "Wanjiru", "Yusuf", "Zofia",
)  # fmt: skip
LAST = (
    "Abernathy", "Bianchi", "Castellanos", "Drummond", "Eriksen", "Fitzgerald", "Gallo",
    "Haddad", "Iwasaki", "Jaramillo", "Kowalczyk", "Lindahl", "Moreau", "Nakamura",
    "Okonkwo", "Pellegrini", "Quispe", "Rasmussen", "Sandoval", "Thorne", "Underwood",
    "Varga", "Whitcombe", "Yilmaz", "Zielinski",
)  # fmt: skip
STEMS = (
    "Alderbrook", "Bluewater", "Copperleaf", "Driftwood", "Emberline", "Foxglove",
    "Granite Peak", "Hollowell", "Ironbridge", "Juniper", "Kestrel", "Lakeshore", "Mosaic",
    "Northgate", "Orchard", "Pinecrest", "Quarry Hill", "Redwood", "Silverline", "Tidewater",
)  # fmt: skip
TRADES = (
    "Logistics", "Analytics", "Foods", "Engineering", "Textiles", "Robotics", "Media",
    "Pharma", "Energy", "Interiors",
)  # fmt: skip
LEGAL_FORMS = (
    "Inc.", "LLC", "Ltd", "Ltd.", "GmbH", "S.A.", "plc", "Pty Ltd", "S.r.l.", "B.V.", "Oy",
    "Corp.",
)  # fmt: skip
US_STREETS = ("Maple Avenue", "Cedar Lane", "Hudson Street", "Sunset Boulevard", "Oak Drive")
US_CITIES = (("Denver", "CO", "80202"), ("Seattle", "WA", "98101"), ("Atlanta", "GA", "30303"))
UK_PLACES = (("Chapel Lane", "Leeds LS1 4DY"), ("Mill Road", "Cambridge CB1 2AD"))
DE_PLACES = (("Lindenweg", "80331 München"), ("Am Markt", "28195 Bremen"))
FR_PLACES = (("rue des Lilas", "69003 Lyon"), ("avenue Foch", "75116 Paris"))
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
GOODS = (
    ("oak veneer panels", 4850),
    ("thermal printer rolls", 1299),
    ("site survey (per day)", 72000),
    ("copywriting, landing page", 45000),
    ("hydraulic fittings", 2375),
    ("forklift rental, week", 61000),
    ("LED panel lights", 8990),
    ("annual software licence", 129900),
    ("translation, per page", 3500),
    ("espresso machine service", 18500),
    ("safety gloves (box)", 1425),
    ("cloud hosting, month", 34999),
)
"""Goods and services with their unit price in cents."""
TYPOS = {"received": "recieved", "address": "adress", "payment": "paymnet", "separate": "seperate"}

CURRENCIES = ("USD", "EUR", "GBP", "CHF")


@dataclass
class Doc:
    """A document being written: its text and the labels of what was written into it."""

    rng: random.Random
    parts: list[str] = field(default_factory=list)
    size: int = 0
    entities: list[dict[str, Any]] = field(default_factory=list)
    relationships: list[dict[str, str]] = field(default_factory=list)

    def add(self, text: str) -> Doc:
        """Append plain text (with an occasional typo)."""
        if self.rng.random() < 0.15:
            for right, wrong in TYPOS.items():
                text = text.replace(right, wrong)
        self.parts.append(text)
        self.size += len(text)
        return self

    def ent(self, kind: str, text: str, **extra: Any) -> str:
        """Append an entity's text and label its exact span; return the text."""
        self.entities.append(
            {"kind": kind, "text": text, "start": self.size, "end": self.size + len(text), **extra}
        )
        self.parts.append(text)
        self.size += len(text)
        return text

    def link(self, kind: str, source: str, target: str) -> None:
        """Label a relationship between two entity texts written into the document."""
        item = {"kind": kind, "source": source, "target": target}
        if item not in self.relationships:
            self.relationships.append(item)

    @property
    def text(self) -> str:
        """The document text written so far."""
        return "".join(self.parts)


def person(rng: random.Random) -> str:
    """Return a person's name."""
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def company(rng: random.Random) -> str:
    """Return a company name with its legal form."""
    return f"{rng.choice(STEMS)} {rng.choice(TRADES)} {rng.choice(LEGAL_FORMS)}"


def address(rng: random.Random) -> str:
    """Return a postal address in a US, UK, German or French layout."""
    style = rng.randrange(4)
    if style == 0:
        city, state, zipcode = rng.choice(US_CITIES)
        return f"{rng.randint(10, 9999)} {rng.choice(US_STREETS)}, {city}, {state} {zipcode}"
    if style == 1:
        street, town = rng.choice(UK_PLACES)
        return f"{rng.randint(1, 200)} {street}, {town}"
    if style == 2:
        street, town = rng.choice(DE_PLACES)
        return f"{street} {rng.randint(1, 90)}, {town}"
    street, town = rng.choice(FR_PLACES)
    return f"{rng.randint(1, 120)} {street}, {town}"


def when(rng: random.Random) -> str:
    """Return a valid date in 2025–2027 written in one of several styles."""
    year, month, day = rng.randint(2025, 2027), rng.randint(1, 12), rng.randint(1, 28)
    name = MONTHS[month - 1]
    return rng.choice(
        (
            f"{year}-{month:02d}-{day:02d}",
            f"{day} {name} {year}",
            f"{name} {day}, {year}",
            f"{day:02d}/{month:02d}/{year}",
            f"{day:02d}.{month:02d}.{year}",
            f"{name[:3]} {day}, {year}",
            f"{day}{_ordinal(day)} {name} {year}",
        )
    )


def _ordinal(day: int) -> str:
    if day in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def money(rng: random.Random, cents: int, currency: str) -> str:
    """Write an amount of `cents` in `currency` in one of that currency's usual styles."""
    units, rest = divmod(cents, 100)
    english = f"{units:,}.{rest:02d}"
    continental = f"{units:,}".replace(",", ".") + f",{rest:02d}"
    if currency == "USD":
        return rng.choice((f"${english}", f"USD {english}", f"{english} USD"))
    if currency == "GBP":
        return rng.choice((f"£{english}", f"GBP {english}", f"{english} GBP"))
    if currency == "CHF":
        return rng.choice((f"CHF {units:,}".replace(",", "'") + f".{rest:02d}", f"{english} CHF"))
    return rng.choice((f"{continental} €", f"€{continental}", f"EUR {continental}"))


def amount(doc: Doc, cents: int, currency: str, role: str) -> str:
    """Write an amount entity (value, currency and role labelled)."""
    text = money(doc.rng, cents, currency)
    return doc.ent("amount", text, value=cents / 100, currency=currency, role=role)


def ident(rng: random.Random, *prefixes: str) -> str:
    """Return a document identifier with one of `prefixes`."""
    prefix = rng.choice(prefixes)
    return rng.choice(
        (f"{prefix}-{rng.randint(1000, 99999)}", f"{prefix}-2026-{rng.randint(1, 999):03d}")
    )


def invoice(doc: Doc) -> str:
    """Write an invoice whose line items, tax and total add up."""
    rng = doc.rng
    currency = rng.choice(CURRENCIES)
    doc.add(rng.choice(("INVOICE\n\n", "Tax invoice\n", "Invoice\n---\n")))
    seller = doc.ent("organization", company(rng))
    doc.add("\n")
    doc.ent("address", address(rng))
    doc.add(rng.choice(("\n\nInvoice no.: ", "\n\nInvoice number ", "\n\nRef: ")))
    number = doc.ent("identifier", ident(rng, "INV", "FAC", "BILL"))
    doc.add(rng.choice(("\nIssued: ", "\nDate of issue: ", "\nDate: ")))
    issued = doc.ent("date", when(rng))
    doc.link("dated", number, issued)
    if rng.random() < 0.5:
        doc.add("\nYour order: ")
        order = doc.ent("identifier", ident(rng, "PO", "ORDER"))
        doc.link("references", number, order)
    doc.add(rng.choice(("\n\nBill to: ", "\n\nCustomer: ", "\n\nInvoiced to: ")))
    name = company(rng)
    while name == seller:
        name = company(rng)
    buyer = doc.ent("organization", name)
    doc.add("\n\n")
    lines = []
    for item, unit in rng.sample(GOODS, rng.randint(1, 4)):
        qty = rng.randint(1, 12)
        lines.append(qty * unit)
        doc.add(f"{rng.choice(('* ', '- ', ''))}{item}, {qty} @ ")
        doc.ent(
            "amount", money(rng, unit, currency), value=unit / 100, currency=currency, role="other"
        )
        doc.add(" ... ")
        amount(doc, qty * unit, currency, "line_item")
        doc.add("\n")
    subtotal = sum(lines)
    rate = rng.choice((0, 5, 7, 10, 19, 20))
    tax = round(subtotal * rate / 100)
    if rng.random() < 0.6:
        doc.add("\nSubtotal ")
        amount(doc, subtotal, currency, "subtotal")
    if rate:
        doc.add(f"\n{rng.choice(('VAT', 'Sales tax', 'GST'))} {rate}%: ")
        amount(doc, tax, currency, "tax")
    doc.add(rng.choice(("\nTOTAL: ", "\nTotal due ", "\nAmount payable: ")))
    total = amount(doc, subtotal + tax, currency, "total")
    doc.link("pays", buyer, total)
    doc.add(rng.choice(("\n\nPayment within 30 days to the account above.\n", "\n\nThank you!\n")))
    return f"Invoice {number}"


def purchase_order(doc: Doc) -> str:
    """Write a purchase order."""
    rng = doc.rng
    currency = rng.choice(CURRENCIES)
    doc.add(rng.choice(("PURCHASE ORDER ", "Purchase order no. ", "P.O. ")))
    number = doc.ent("identifier", ident(rng, "PO", "PORD"))
    doc.add("\nRaised on ")
    raised = doc.ent("date", when(rng))
    doc.link("dated", number, raised)
    doc.add("\n\nOrdering company: ")
    buyer = doc.ent("organization", company(rng))
    doc.add("\nContact person: ")
    doc.ent("person", person(rng))
    doc.add("\nVendor: ")
    doc.ent("organization", company(rng))
    doc.add("\nDeliver to: ")
    doc.ent("address", address(rng))
    doc.add("\n\n")
    cents = 0
    for item, unit in rng.sample(GOODS, rng.randint(1, 3)):
        qty = rng.randint(2, 40)
        cents += qty * unit
        doc.add(f"{qty} x {item} = ")
        amount(doc, qty * unit, currency, "line_item")
        doc.add("\n")
    doc.add("Order value: " if rng.random() < 0.5 else "Total: ")
    total = amount(doc, cents, currency, "total")
    doc.link("pays", buyer, total)
    doc.add("\nRequired delivery date: ")
    doc.ent("date", when(rng))
    doc.add("\n")
    return f"Purchase order {number}"


def legal_contract(doc: Doc) -> str:
    """Write a short contract between two parties, signed by one person for each."""
    rng = doc.rng
    kind = rng.choice(("SERVICES AGREEMENT", "SUPPLY CONTRACT", "LICENCE AGREEMENT", "LEASE"))
    doc.add(f"{kind}\nReference ")
    number = doc.ent("identifier", ident(rng, "AGR", "LIC", "LSE", "SVC"))
    doc.add("\n\nThis contract is concluded on ")
    signed = doc.ent("date", when(rng))
    doc.link("dated", number, signed)
    doc.add(" by and between ")
    first = doc.ent("organization", company(rng))
    doc.add(", with its registered office at ")
    doc.ent("address", address(rng))
    doc.add(' (hereinafter the "Provider"), and ')
    second = doc.ent("organization", company(rng))
    doc.add(' (hereinafter the "Recipient").\n\n')
    doc.link("party_to", first, number)
    doc.link("party_to", second, number)
    clauses = [
        "Scope. The Provider will render the services listed in Annex A with reasonable skill.",
        "Term. The contract commences on signature and continues for twenty-four months.",
        "Liability. Neither side is liable for indirect or consequential loss.",
        "Law. This contract is subject to the laws of the place of the Provider's seat.",
        "Notices. Notices must be sent in writing to the adress stated above.",
    ]
    rng.shuffle(clauses)
    for n, clause in enumerate(clauses[:3], start=1):
        doc.add(f"§{n} {clause}\n")
    doc.add("§4 Consideration. The Recipient pays a fee of ")
    fee = amount(doc, rng.randint(500, 90000) * 100, rng.choice(CURRENCIES), "other")
    doc.link("pays", second, fee)
    doc.add(" per quarter.\n\nFor the Provider: ")
    for party, label in ((first, "\nFor the Recipient: "), (second, "\n")):
        signer = doc.ent("person", person(rng))
        doc.link("signed_by", number, signer)
        doc.link("party_to", signer, number)
        doc.add(f" (on behalf of {party.split()[0]})" + label)
    return f"{kind.title()} {number}"


def support_email(doc: Doc) -> str:
    """Write a customer's e-mail to a support desk."""
    rng = doc.rng
    sender = person(rng)
    doc.add(f"From: {sender.lower().replace(' ', '.')}@mail.example\nSubject: ")
    topic = rng.choice(("Problem with my delivery", "Charged twice", "Wrong item", "Question"))
    doc.add(f"{topic}\n\nHello,\n\n")
    order = doc.ent("identifier", ident(rng, "ORD", "CASE", "ACCT"))
    doc.add(rng.choice((" was placed on ", " is from ")))
    placed = doc.ent("date", when(rng))
    doc.link("dated", order, placed)
    doc.add(" and I was charged ")
    amount(doc, rng.randint(500, 40000), "USD", "other")
    doc.add(rng.choice((". The parcel never arrived", ". I have not received a confirmation")))
    doc.add(". Could you please look into it?\n\nKind regards\n")
    doc.ent("person", sender)
    doc.add("\n")
    return topic


def resume(doc: Doc) -> str:
    """Write a short resume."""
    rng = doc.rng
    name = doc.ent("person", person(rng))
    doc.add("\n")
    doc.ent("address", address(rng))
    doc.add("\n\nProfile\nHands-on professional with a record of shipping on time.\n\n")
    doc.add("Experience\n")
    for _ in range(rng.randint(1, 3)):
        start = rng.randint(2008, 2022)
        doc.add(f"{start}-{start + rng.randint(1, 4)}  {rng.choice(TRADES)} lead at ")
        doc.ent("organization", company(rng))
        doc.add("\n")
    doc.add("\nEducation\nDegree awarded ")
    doc.ent("date", when(rng))
    doc.add("\n\nLanguages: English, Spanish\n")
    return f"CV {name}"


def other(doc: Doc) -> str:
    """Write a note that is none of the business types."""
    rng = doc.rng
    doc.add(rng.choice(("Team offsite ideas\n\n", "Garden club newsletter\n\n", "Recipe\n\n")))
    doc.add("A few thoughts collected over the week. Bring comfortable shoes and water. ")
    if rng.random() < 0.5:
        doc.add("Questions go to ")
        doc.ent("person", person(rng))
        doc.add(". ")
    doc.add("Next gathering on ")
    doc.ent("date", when(rng))
    doc.add(".\n")
    return "Note"


def ambiguous_forward(doc: Doc) -> str:
    """Write an e-mail that forwards an invoice: labelled support_email, and ambiguous."""
    doc.add("Subject: Fwd: please check this bill\n\nHi, is this correct? Forwarded below.\n\n")
    invoice(doc)
    return "Forwarded invoice"


WRITERS = {
    "invoice": invoice,
    "purchase_order": purchase_order,
    "legal_contract": legal_contract,
    "support_email": support_email,
    "resume": resume,
    "other": other,
}


def generate(seed: int = SEED) -> list[dict[str, Any]]:
    """Generate every labelled document.

    Args:
        seed: Seed of the generator.

    Returns:
        Rows of `{"input": {document_id, title, text}, "labels": {...}}`.
    """
    rng = random.Random(seed)
    rows = []
    n = 0
    for doc_type, count in COUNTS.items():
        for i in range(count):
            n += 1
            doc = Doc(rng)
            ambiguous = doc_type == "support_email" and i % 6 == 5
            title = (ambiguous_forward if ambiguous else WRITERS[doc_type])(doc)
            rows.append(
                {
                    "input": {"document_id": f"gen-{n:04d}", "title": title, "text": doc.text},
                    "labels": {
                        "doc_type": doc_type,
                        "entities": doc.entities,
                        "relationships": doc.relationships,
                        "needs_review": doc_type == "legal_contract" or ambiguous,
                    },
                }
            )
    rng.shuffle(rows)
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    """Return the JSONL text of `rows`."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def main() -> None:
    """Write `evals/datasets/documents.jsonl`."""
    OUTPUT.write_text(render(generate()), encoding="utf-8")


if __name__ == "__main__":
    main()
