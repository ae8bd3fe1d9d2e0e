"""The complaint desk's explanations: every demo strategy round-trips, links not in the log, the JSON contract, the CLI."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard import demo, issuing
from dashboard.cli import main
from dashboard.errors import BadInput
from dashboard.expiry import BoundBy, CredentialKind, State
from dashboard.inspect import CONTRACT_FIELDS, explain, explain_ticket, lookup, to_json
from dashboard.store import IssuanceLog
from dashboard.strategies import ShareRequest
from dashboard.urlparse import LinkKind, LinkParseError

SECOND = timedelta(seconds=1)
# AWS's documented SigV4 query-string example (GET /test.txt, signed 24 May 2013 for 86400 s).
AWS_EXAMPLE = (
    "https://examplebucket.s3.amazonaws.com/test.txt"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
)
TEMPORARY_EXAMPLE = (
    "https://examplebucket.s3.eu-west-1.amazonaws.com/reports/q3%20final%2Bv2.pdf"
    "?x-id=GetObject&response-content-disposition=attachment%3B%20filename%3D%22q3.pdf%22"
    "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=ASIAIOSFODNN7EXAMPLE%2F20260301%2Feu-west-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20260301T120000Z&X-Amz-Expires=604800&X-Amz-SignedHeaders=host"
    "&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2Ftoken%3D%3D"
    "&X-Amz-Signature=" + "ab" * 32
)
SIGV2_EXAMPLE = (
    "https://s3.amazonaws.com/examplebucket/photos/puppy.jpg"
    "?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D"
)
CLOUDFRONT_EXAMPLE = (
    "https://d111111abcdef8.cloudfront.net/image.jpg"
    "?Expires=1357034400&Signature=nitfHRCrtziwO2HwPfWw~yYDhUF5EwRunQA-j19DzZrvDh6hQ73lDx~-ar3UocvvRQVw6EkC~GdpGQyyOSKQim-TxAnW7d8F5Kkai9HVx0FIu-5jcQb0UEmatEXAMPLE3ReXySpLSMj0yCd3ZAB4UcBCAqEijkytL6f3fVYNGQI6&Key-Pair-Id=K2JCJMDEHXQW5F"
)


def _issue(desk, strategy: str, lifetime: timedelta = timedelta(days=7), ticket: str | None = None):
    request = ShareRequest(bucket=demo.SUPPORT_BUCKET, key="README.txt", lifetime=lifetime, issuer="alice", ticket=ticket)
    return issuing.issue(desk, [request], strategy)[0]


# --------------------------------------------------------------------------- every strategy round-trips


@pytest.mark.parametrize(
    ("strategy", "kind", "cut_short"),
    [
        ("ambient", LinkKind.S3_SIGV4, True),  # the simulated task role dies hours after the desk started
        ("role-session", LinkKind.S3_SIGV4, True),  # a 12 h session cannot carry 7 days
        ("iam-user", LinkKind.S3_SIGV4, False),
        ("cloudfront", LinkKind.CLOUDFRONT, False),
        ("stable", LinkKind.STABLE, False),
    ],
)
def test_every_demo_strategy_is_found_in_the_log_and_judged_right_over_time(demo_desk, strategy, kind, cut_short):
    link = _issue(demo_desk, strategy)
    entry = link.entry
    found = explain(demo_desk.log, link.url, at=entry.signed_at + SECOND)
    assert found.log_entry is not None and found.log_entry.id == entry.id
    assert found.kind is kind
    assert (found.bucket, found.key) == (demo.SUPPORT_BUCKET, "README.txt")
    assert found.nominal_expires_at == entry.nominal_expires_at == entry.signed_at + timedelta(days=7)
    assert found.effective_expires_at == entry.effective_expires_at
    assert found.reason == entry.reason
    assert found.state is State.LIVE
    assert found.cut_short is cut_short

    def state(at: datetime) -> State:
        return explain(demo_desk.log, link.url, at=at).state

    assert state(entry.signed_at - SECOND) is State.NOT_YET_VALID
    # A cut-short link stays cut short after its nominal expiry (dashboard.expiry.state_at).
    assert state(entry.nominal_expires_at + SECOND) is (State.CUT_SHORT if cut_short else State.EXPIRED)
    if cut_short:
        assert found.bound_by is BoundBy.CREDENTIALS and found.credential_kind is CredentialKind.TEMPORARY
        assert state(entry.effective_expires_at - SECOND) is State.LIVE
        assert state(entry.effective_expires_at + SECOND) is State.CUT_SHORT
    else:
        assert found.bound_by is BoundBy.NOMINAL
        assert state(entry.nominal_expires_at - SECOND) is State.LIVE


def test_ambient_link_is_cut_at_the_simulated_task_roles_credential_expiry(demo_desk):
    link = _issue(demo_desk, "ambient")
    found = explain(demo_desk.log, link.url, at=link.entry.signed_at)
    credentials = demo_desk.aws.ambient()
    assert found.access_key_id == credentials.access_key_id and found.access_key_id.startswith("ASIA")
    assert found.effective_expires_at == credentials.expires_at
    # The task role's credentials live 2 h 40 min from the desk's start, so a 7-day link gets at most that.
    # (plus the sub-second a refresh just before signing can add: signing times are whole seconds, expiries are not).
    assert timedelta(0) < found.effective_expires_at - found.signed_at <= demo.TASK_CREDENTIAL_LIFETIME + SECOND
    assert found.log_entry.credential_source == "container-role"


def test_revoked_stable_link_is_revoked_from_then_on_even_past_its_nominal_expiry(demo_desk):
    link = _issue(demo_desk, "stable")
    revoked_at = link.entry.signed_at + timedelta(hours=5)
    demo_desk.log.revoke(link.entry.id, at=revoked_at, by="lead")
    before = explain(demo_desk.log, link.url, at=revoked_at - SECOND)
    after = explain(demo_desk.log, link.url, at=revoked_at + SECOND)
    much_later = explain(demo_desk.log, link.url, at=link.entry.nominal_expires_at + timedelta(days=1))
    assert before.state is State.LIVE
    assert after.state is State.REVOKED and much_later.state is State.REVOKED
    assert after.effective_expires_at == revoked_at and after.bound_by is BoundBy.REVOKED
    assert after.reason.startswith("Revoked by lead at") and "withdrawn" in after.reason


def test_extended_stable_link_is_judged_by_its_new_expiry(demo_desk):
    link = _issue(demo_desk, "stable", timedelta(days=1))
    longer = link.entry.signed_at + timedelta(days=10)
    demo_desk.log.extend_stable(link.entry.id, longer, "Extended to 10 days by lead.")
    found = explain(demo_desk.log, link.url, at=link.entry.signed_at + timedelta(days=5))
    assert found.nominal_expires_at == longer and found.state is State.LIVE


def test_a_ticket_lists_its_links_from_the_log_alone(demo_desk):
    ticket = f"TCK-INSPECT-{datetime.now(UTC):%H%M%S%f}"
    first = _issue(demo_desk, "iam-user", ticket=ticket)
    second = _issue(demo_desk, "ambient", ticket=ticket)
    found = explain_ticket(demo_desk.log, ticket, at=second.entry.signed_at + SECOND)
    assert [e.log_entry.id for e in found] == [second.entry.id, first.entry.id]
    assert all(e.region == demo.REGION and e.kind is LinkKind.S3_SIGV4 for e in found)
    assert lookup(demo_desk.log, f"  {ticket} ")[0].log_entry.id == second.entry.id
    assert explain_ticket(demo_desk.log, "TCK-NO-SUCH-TICKET") == []


def test_a_bare_stable_token_finds_its_link(demo_desk):
    link = _issue(demo_desk, "stable")
    token = link.url.rsplit("/s/", 1)[1]
    (found,) = lookup(demo_desk.log, token)
    assert found.log_entry.id == link.entry.id and found.kind is LinkKind.STABLE


# --------------------------------------------------------------------------- links not in the log


@pytest.fixture
def empty_log(tmp_path):
    log = IssuanceLog.open(str(tmp_path / "log.sqlite3"))
    yield log
    log.close()


def test_aws_example_url_not_in_the_log_runs_its_course_on_a_long_term_key(empty_log):
    found = explain(empty_log, AWS_EXAMPLE, at=datetime(2013, 5, 24, 12, tzinfo=UTC))
    assert found.log_entry is None
    assert (found.kind, found.bucket, found.key, found.region) == (LinkKind.S3_SIGV4, "examplebucket", "test.txt", "us-east-1")
    assert found.access_key_id == "AKIAIOSFODNN7EXAMPLE" and found.credential_kind is CredentialKind.LONG_TERM
    assert found.signed_at == datetime(2013, 5, 24, tzinfo=UTC)
    assert found.nominal_expires_at == found.effective_expires_at == datetime(2013, 5, 25, tzinfo=UTC)
    assert found.state is State.LIVE and "deactivated" in found.reason
    assert explain(empty_log, AWS_EXAMPLE).state is State.EXPIRED
    assert any("not in this desk's issuance log" in w for w in found.warnings)


def test_temporary_credentials_not_in_the_log_leave_the_real_expiry_unknown(empty_log):
    found = explain(empty_log, TEMPORARY_EXAMPLE, at=datetime(2026, 3, 2, tzinfo=UTC))
    assert found.credential_kind is CredentialKind.TEMPORARY
    assert found.effective_expires_at is None and found.bound_by is BoundBy.CREDENTIALS
    assert (found.bucket, found.key, found.region) == ("examplebucket", "reports/q3 final+v2.pdf", "eu-west-1")
    assert "may have died before its nominal expiry" in found.reason and "no record" in found.reason
    assert found.state is State.LIVE  # as far as the URL says: only the probe can tell
    assert to_json(found)["effective_expires_at"] is None
    assert explain(empty_log, TEMPORARY_EXAMPLE, at=datetime(2026, 3, 9, tzinfo=UTC)).state is State.EXPIRED
    assert "…" in found.display_url and "IQoJ" not in found.display_url


def test_sigv2_url_is_explained_as_legacy(empty_log):
    found = explain(empty_log, SIGV2_EXAMPLE)
    assert found.kind is LinkKind.S3_SIGV2 and found.signed_at is None
    assert (found.bucket, found.key) == ("examplebucket", "photos/puppy.jpg")
    assert found.nominal_expires_at == datetime.fromtimestamp(1175139620, tz=UTC)
    assert "legacy SigV2" in found.reason and found.state is State.EXPIRED
    temporary = SIGV2_EXAMPLE.replace("AKIA", "ASIA") + "&x-amz-security-token=abc"
    assert explain(empty_log, temporary).effective_expires_at is None


def test_x_amz_expires_above_seven_days_never_worked(empty_log):
    url = AWS_EXAMPLE.replace("X-Amz-Expires=86400", "X-Amz-Expires=604801")
    found = explain(empty_log, url, at=datetime(2013, 5, 24, 1, tzinfo=UTC))
    assert "refuses" in found.reason and "never worked" in found.reason
    assert found.effective_expires_at == found.signed_at and found.state is State.CUT_SHORT
    assert any("AuthorizationQueryParametersError" in w for w in found.warnings)


def test_cloudfront_url_not_in_the_log_lasts_its_policy(empty_log):
    found = explain(empty_log, CLOUDFRONT_EXAMPLE, at=datetime(2012, 12, 31, tzinfo=UTC))
    assert found.kind is LinkKind.CLOUDFRONT and found.access_key_id == "K2JCJMDEHXQW5F"
    assert found.effective_expires_at == found.nominal_expires_at == datetime.fromtimestamp(1357034400, tz=UTC)
    assert found.host == "d111111abcdef8.cloudfront.net" and found.state is State.LIVE


def test_an_edited_expiry_is_pointed_out(demo_desk):
    link = _issue(demo_desk, "iam-user", timedelta(days=1))
    edited = link.url.replace("X-Amz-Expires=86400", "X-Amz-Expires=172800")
    found = explain(demo_desk.log, edited)
    assert found.log_entry.id == link.entry.id
    assert any("SignatureDoesNotMatch" in w for w in found.warnings)


def test_an_unknown_stable_token_is_a_sentence(demo_desk):
    with pytest.raises(BadInput, match="No stable link"):
        explain(demo_desk.log, "http://localhost:8501/s/" + "A" * 32)


# --------------------------------------------------------------------------- the JSON contract


def test_json_has_exactly_the_contract_fields_with_z_times(demo_desk):
    link = _issue(demo_desk, "ambient")
    payload = to_json(explain(demo_desk.log, link.url))
    assert list(payload) == list(CONTRACT_FIELDS)
    for name in ("signed_at", "nominal_expires_at", "effective_expires_at"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", payload[name])
    assert payload["kind"] == "s3-sigv4" and payload["credential_kind"] == "temporary" and payload["bound_by"] == "credentials"
    entry = payload["log_entry"]
    assert entry["id"] == link.entry.id and entry["issued_at"].endswith("Z") and entry["revoked_at"] is None
    json.dumps(payload)  # plain JSON all the way down


# --------------------------------------------------------------------------- the command line


def test_cli_json_prints_the_contract(demo_desk, capsys):
    link = _issue(demo_desk, "ambient")
    assert main(["inspect", link.url, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) == {*CONTRACT_FIELDS, "other_links", "found_by"}
    assert payload["log_entry"]["id"] == link.entry.id and payload["state"] == "live"
    assert payload["other_links"] == 0 and payload["found_by"] == []


def test_cli_json_keeps_one_object_for_the_first_link_of_a_paste_and_counts_the_others(demo_desk, capsys):
    first = _issue(demo_desk, "ambient")
    second = _issue(demo_desk, "iam-user")
    paste = f"Hi, neither <{first.url}> nor ({second.url}) works for me. Thanks!"
    assert main(["inspect", paste, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["log_entry"]["id"] == first.entry.id and payload["other_links"] == 1
    assert payload["found_by"] == ["found in the text around it"]
    assert main(["inspect", paste]) == 0
    out = capsys.readouterr().out
    assert "link 1 of 2" in out and "link 2 of 2" in out and f"#{second.entry.id}" in out


def test_cli_at_judges_the_link_at_that_moment(demo_desk, capsys):
    link = _issue(demo_desk, "ambient")
    later = link.entry.effective_expires_at + timedelta(minutes=5)
    assert main(["inspect", link.url, "--json", "--at", later.strftime("%Y-%m-%dT%H:%M:%SZ")]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "cut-short"
    assert main(["inspect", link.url, "--json", "--at", (link.entry.nominal_expires_at + SECOND).isoformat()]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "cut-short"  # and it stays so past its nominal expiry


def test_cli_text_is_a_short_readable_block(demo_desk, capsys):
    link = _issue(demo_desk, "ambient")
    assert main(["inspect", link.url]) == 0
    out = capsys.readouterr().out
    assert "s3://sharedesk-demo-support/README.txt" in out and f"#{link.entry.id}" in out
    assert "X-Amz-Signature" not in out and len(out.splitlines()) < 25


def test_cli_text_shows_outside_text_with_its_control_characters_escaped(demo_desk, capsys):
    # A key with a terminal escape (clear screen) and an OSC 8 hyperlink, percent-encoded in the pasted URL.
    hostile = AWS_EXAMPLE.replace("/test.txt", "/test%1B%5B2J%1B%5D8%3B%3Bhttps%3A%2F%2Fevil.example%07.txt")
    assert main(["inspect", hostile]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "s3://examplebucket/test\\x1b[2J\\x1b]8;;https://evil.example\\x07.txt" in out


def test_cli_lists_a_tickets_links(demo_desk, capsys):
    ticket = f"TCK-CLI-{datetime.now(UTC):%H%M%S%f}"
    _issue(demo_desk, "iam-user", ticket=ticket)
    _issue(demo_desk, "cloudfront", ticket=ticket)
    assert main(["inspect", ticket]) == 0
    out = capsys.readouterr().out
    assert f"2 link(s) under {ticket}" in out and "cloudfront" in out
    assert main(["inspect", ticket, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["links"]) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([AWS_EXAMPLE[: AWS_EXAMPLE.index("&X-Amz-Signature")]], "is missing X-Amz-Signature"),
        ([AWS_EXAMPLE[:-30]], "64 hexadecimal"),
        ([AWS_EXAMPLE.replace("20130524T000000Z", "20130524T250000Z")], "X-Amz-Date"),
        ([AWS_EXAMPLE.replace("aeeed9bb", "zzzzzzzz")], "non-hexadecimal"),
        (["x" * 100_000], "longer than 64 KB"),
        (["x" * 20_000], "longer than 16 KB"),
        (["not a link at all"], "spaces"),
        (["ftp://example.com/file"], "not a web link"),
        (["TCK-NO-SUCH-TICKET"], "No link in this desk's log has the ticket"),
        ([AWS_EXAMPLE, "--at", "yesterday"], "--at 'yesterday' is not a time"),
        (["TCK-1", "--probe"], "--probe needs the link itself"),
    ],
    ids=["truncated", "short-signature", "bad-date", "non-hex", "huge", "garbage", "not-a-url", "scheme", "no-ticket", "bad-at", "probe-ticket"],
)
def test_cli_bad_input_exits_2_with_one_line(demo_desk, capsys, args, message):
    assert main(["inspect", *args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.out == ""


# --------------------------------------------------------------------------- anything at all


URLISH = st.builds(
    lambda host, path, query: f"https://{host}/{path}?{query}",
    st.sampled_from(["b.s3.amazonaws.com", "s3.eu-west-1.amazonaws.com", "d1.cloudfront.net", "localhost:9000", "desk.example"]),
    st.text(max_size=30),
    st.lists(
        st.tuples(
            st.sampled_from(["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature",
                             "X-Amz-Security-Token", "AWSAccessKeyId", "Expires", "Signature", "Key-Pair-Id", "Policy", "x-id"]),
            st.text(max_size=40),
        ),
        max_size=8,
    ).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=300), URLISH, st.sampled_from([AWS_EXAMPLE, SIGV2_EXAMPLE, CLOUDFRONT_EXAMPLE]).map(lambda u: u[: len(u) // 2])))
def test_explain_on_arbitrary_text_raises_only_sentences(empty_log, text):
    try:
        found = explain(empty_log, text, at=datetime(2026, 1, 1, tzinfo=UTC))
    except (LinkParseError, BadInput) as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert found.state in set(State) and found.reason
        json.dumps(to_json(found))
