"""The real-model batch report: figures from output lines, log events, ledger and states."""

from __future__ import annotations

from typing import Any

from conductor_cli.local_report import build_report

ORDER: Any = {
    "order_id": "ORD-10001",
    "customer_id": "C001",
    "status": "delivered",
    "total": 35.0,
    "currency": "USD",
    "item": "mouse",
    "ordered_at": "2025-06-20",
}


def test_report_counts_statuses_calls_refusals_and_refunds_without_a_passed_gate() -> None:
    records = [
        {"ticket_id": "T-1", "status": "resolved", "refund": {"issued": True}, "errors": []},
        {
            "ticket_id": "T-2",
            "status": "escalated",
            "refund": None,
            "errors": [
                "model_error: endpoint local-small (http://x/v1) refused the call for "
                "classify_intent: HTTP 400: context window exceeded"
            ],
        },
    ]
    events = [
        {"event": "model_call", "duration_ms": ms, "result_status": "ok"} for ms in (100, 200, 900)
    ] + [{"event": "route"}]
    ledger = [
        {
            "ticket_id": "T-1",
            "order_id": "ORD-10001",
            "amount": 35.0,
            "currency": "USD",
            "issued_at": "2025-06-30",
        },
        {
            "ticket_id": "T-2",
            "order_id": "ORD-10001",
            "amount": 99.0,
            "currency": "USD",
            "issued_at": "2025-06-30",
        },
    ]
    states = {
        "T-1": {"gates": {"decide": {"status": "passed"}}, "errors": []},
        "T-2": {
            "gates": {"decide": {"status": "failed"}},
            "errors": [
                {
                    "kind": "gate_failed",
                    "subtask": "extract",
                    "message": "consistency:order_id: order id 'ORD-99999' is not in the ticket; "
                    "plausibility:amount: amount 1e9 is outside [0, 1,000,000); "
                    "consistency:amount: extracted 0.30; the ticket asks 35.00",
                }
            ],
        },
    }
    report = build_report(
        records,
        events,
        ledger,
        states,
        order_of={"ORD-10001": ORDER}.get,
        customers={"T-1": "C001", "T-2": "C001"},
        wall_s=12.5,
    )
    assert report.tickets == 2
    assert dict(report.statuses) == {"resolved": 1, "escalated": 1}
    assert report.refunds_issued == 1
    assert report.refunds_without_passed_gate == ["T-2"]
    assert any("exceeds the total" in b for b in report.breaches)
    assert dict(report.refusals_by_kind) == {"consistency": 2, "plausibility": 1}
    assert report.refusals[2]["message"] == "extracted 0.30; the ticket asks 35.00"
    assert report.refusals[0]["message"] == "order id 'ORD-99999' is not in the ticket"
    assert report.percentile(0.5) == 200 and report.percentile(0.95) == 900
    assert len(report.provider_errors) == 1
    text = "\n".join(report.lines())
    assert "per-call p50: 200 ms, p95: 900 ms" in text
    assert "caught (T-2 extract): consistency:order_id" in text
