"""Write the long example document (a master services agreement of >200,000 characters).

Run `python examples/make_long_document.py` from the repository root: it replaces the line of
`doc-msa-long` in `examples/documents.jsonl` (appending it when absent) and leaves every other
line as it is. The output is deterministic, so the checked-in line equals a fresh run.
"""

from __future__ import annotations

import json
from pathlib import Path

DOCUMENT_ID = "doc-msa-long"
EXAMPLES = Path(__file__).with_name("documents.jsonl")

TOPICS = (
    ("Services", "The Supplier shall perform the Services described in each Statement of Work"),
    ("Service levels", "The Supplier shall meet the service levels set out in Schedule 2"),
    ("Personnel", "The Supplier shall assign suitably qualified and experienced personnel"),
    ("Subcontracting", "The Supplier shall not subcontract any obligation without consent"),
    ("Fees", "The Customer shall pay the fees set out in the applicable Statement of Work"),
    ("Invoicing", "The Supplier shall invoice the Customer monthly in arrears"),
    ("Confidentiality", "Each party shall keep the other party's Confidential Information secret"),
    ("Data protection", "The Supplier shall process personal data only on documented instructions"),
    ("Security", "The Supplier shall maintain the security controls described in Schedule 4"),
    ("Intellectual property", "Each party retains ownership of its pre-existing materials"),
    ("Warranties", "The Supplier warrants that the Services will be performed with due care"),
    ("Indemnities", "The Supplier shall indemnify the Customer against third-party claims"),
    ("Limitation of liability", "Neither party excludes liability for fraud or death"),
    ("Insurance", "The Supplier shall maintain professional indemnity insurance"),
    ("Audit", "The Customer may audit the Supplier's compliance once in each contract year"),
    ("Change control", "Either party may request a change through the change control procedure"),
    ("Termination", "Either party may terminate this Agreement for material breach"),
    ("Exit assistance", "On termination the Supplier shall provide reasonable exit assistance"),
    ("Force majeure", "Neither party is liable for delay caused by events beyond its control"),
    ("Notices", "Notices shall be in writing and delivered to the addresses stated above"),
)
SENTENCES = (
    "{subject}, in accordance with Good Industry Practice and the Customer's reasonable "
    "instructions as notified from time to time.",
    "The obligations in this clause {n} apply to each Statement of Work entered into under "
    "this Agreement unless that Statement of Work expressly provides otherwise.",
    "Where the Supplier becomes aware of any circumstance that may prevent it from complying "
    "with this clause {n}, it shall notify the Customer promptly and propose remedial steps.",
    "Any dispute about this clause {n} shall first be referred to the contract managers, then "
    "to the executive sponsors, before either party starts proceedings.",
    "Nothing in this clause {n} limits the Customer's other rights and remedies under this "
    "Agreement or at law, all of which are cumulative.",
)
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def clause(n: int) -> str:
    """Return clause `n` (1-based) of the agreement: a heading and one paragraph."""
    title, subject = TOPICS[(n - 1) % len(TOPICS)]
    body = " ".join(sentence.format(subject=subject, n=n) for sentence in SENTENCES)
    if title == "Fees":
        fee = 12_000 + 750 * (n % 17)
        body += f" The monthly fee for the Services under this clause is ${fee:,.2f}."
    if title == "Insurance":
        body += " The minimum cover is USD 5,000,000.00 for each claim."
    if title == "Change control":
        day = 1 + n % 28
        body += f" Change requests raised before {MONTHS[n % 12]} {day}, 2027 follow CCP-{n:04d}."
    return f"{n}. {title}\n{body}"


def long_document() -> dict[str, str]:
    """Return the long example document as a JSON-ready dict."""
    header = (
        "MASTER SERVICES AGREEMENT\n"
        "Agreement number: MSA-2026-001\n\n"
        "This Master Services Agreement is made on 15 January 2026 between Contoso Holdings "
        'Inc., 48 Harbor Road, Boston, MA 02110 (the "Customer"), and Fabrikam Components '
        'LLC, 77 Lake Avenue, Chicago, IL 60601 (the "Supplier"), together the parties.\n\n'
        "WHEREAS the Customer wishes to obtain managed IT services from the Supplier, the "
        "parties agree as follows.\n\n"
    )
    clauses = "\n\n".join(clause(n) for n in range(1, 281))
    footer = (
        "\n\nIN WITNESS WHEREOF the parties have signed this Agreement on the date above.\n\n"
        "Contoso Holdings Inc.\nBy: Maria Lopez, Chief Operating Officer\n\n"
        "Fabrikam Components LLC\nBy: Daniel Kim, Chief Executive Officer\n"
    )
    return {
        "document_id": DOCUMENT_ID,
        "title": "Master services agreement MSA-2026-001",
        "text": header + clauses + footer,
        "source": "examples/legal",
    }


def main() -> None:
    """Replace (or append) the long document's line in `examples/documents.jsonl`."""
    lines = EXAMPLES.read_text(encoding="utf-8").splitlines() if EXAMPLES.exists() else []
    kept = [line for line in lines if json.loads(line)["document_id"] != DOCUMENT_ID]
    kept.append(json.dumps(long_document(), ensure_ascii=False))
    EXAMPLES.write_text("\n".join(kept) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
