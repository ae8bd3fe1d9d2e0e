"""Control characters in tickets, notes and issuers are refused once, at the service layer, everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import demo, issuing
from dashboard import inspect as inspection
from dashboard.errors import BadInput
from dashboard.store import NewLink
from dashboard.strategies import ShareRequest
from dashboard.strategies.base import text_problem
from tests.markup import plain

ROOT = Path(__file__).resolve().parent.parent
NAVIGATION = str(ROOT / "dashboard/ui/navigation.py")


def request(**fields) -> ShareRequest:
    return ShareRequest(**{"bucket": demo.SUPPORT_BUCKET, "key": "README.txt", "lifetime": timedelta(hours=1), "issuer": "alice", **fields})


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("ticket", "TCK-\x001", "\\x00"),
        ("ticket", "TCK-1\x1b[2J", "\\x1b"),
        ("ticket", "TCK\t1", "\\x09"),
        ("note", "first\rsecond", "\\x0d"),
        ("note", "a\x7fb", "\\x7f"),
        ("note", "a\x9bb", "\\x9b"),
        ("note", "a\u2029b", "\\u2029"),
        ("issuer", "mallory\x07", "\\x07"),
        ("issuer", "b\udcffob", "\\udcff"),
    ],
)
def test_a_control_character_is_refused_with_a_sentence_naming_it(field, value, shown):
    with pytest.raises(BadInput) as refused:
        request(**{field: value})
    message = str(refused.value)
    assert shown in message and "control character" in message and message.endswith(".")
    assert "\n" not in message and value not in message  # the raw text is never echoed


@pytest.mark.parametrize("value", ["TCK-1042", "Ticket für Grüße ✓", "客户-42", "=cmd|' /C calc'!A0", "  padded  "])
def test_ordinary_text_is_kept(value):
    assert text_problem("ticket", value) is None
    assert request(ticket=value).ticket == value.strip()


def test_over_long_text_is_refused():
    assert "2,000 at most" in (text_problem("note", "n" * 2001) or "")
    request(note="n" * 2000)


def test_the_issuing_service_never_logs_a_refused_request(demo_desk):
    before = demo_desk.log.count()
    with pytest.raises(BadInput):
        issuing.issue(demo_desk, [request(ticket="TCK\x1b]8;;https://evil.example\x07")], "iam-user")
    assert demo_desk.log.count() == before


def test_share_page_refuses_a_control_character_in_the_ticket_with_a_sentence(demo_desk):
    before = demo_desk.log.count()
    at = AppTest.from_file(NAVIGATION, default_timeout=60)
    at.session_state["sharedesk.selection"] = {
        f"s3://{demo.SUPPORT_BUCKET}/README.txt": {"bucket": demo.SUPPORT_BUCKET, "key": "README.txt", "size": 1, "storage_class": "STANDARD"}
    }
    at.run()
    at.switch_page("../../pages/share.py").run()
    at.text_input(key="sharedesk.issuer").input("alice").run()
    ticket = next(t for t in at.text_input if t.label == "Ticket reference")
    ticket.input("TCK-9\x1b[2J").run()
    assert not at.exception
    assert "The ticket reference contains a control character (\\x1b" in plain(at.error[0].value)
    assert not [b for b in at.button if b.label.startswith("Issue")]  # nothing to issue, nothing logged
    assert demo_desk.log.count() == before


def test_reissue_of_a_logged_link_whose_ticket_holds_a_control_character_explains_instead(demo_desk):
    # A row written before control characters were refused: re-issue says why it cannot copy it.
    now = datetime.now(UTC).replace(microsecond=0)
    [entry] = demo_desk.log.record_many(
        [
            NewLink(
                issued_at=now, issuer="old-cli", strategy="iam-user", bucket=demo.SUPPORT_BUCKET, key="README.txt", filename=None,
                ticket="TCK-\x07old", note=None, signed_at=now, nominal_expires_at=now + timedelta(hours=1),
                effective_expires_at=now + timedelta(hours=1), bound_by="nominal", reason="Runs its full 1 hour.",
                credential_source="explicit", access_key_id=demo.SIGNER_KEY_ID, credential_kind="long-term",
                credential_expires_at=None, fingerprint="e" * 64, display_url="https://example.invalid/README.txt",
            )
        ]
    )
    explanation = inspection.explain_entry(demo_desk.log, entry)
    plan = inspection.plan_reissue(demo_desk, explanation, "alice")
    assert not plan.possible
    assert "cannot re-issue this link as it stands" in plan.why and "\\x07" in plan.why
