"""The issuing service: log before link, nothing secret in the log, recommendations and refusals in sentences.

The desk runs against moto exactly as in tests/test_strategies.py (same world
builder): a signing role, a signer user's key, a bucket with objects including
an archived one, a CloudFront key, and task-role-like ambient credentials with
a known expiry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from moto import mock_aws

from dashboard import issuing
from dashboard.errors import BadInput, DeskError, NotAllowed, NotFound
from dashboard.store import IssuanceLog, LogWriteError, fingerprint
from dashboard.strategies import ShareRequest
from tests.test_strategies import (
    ARCHIVED_KEY,
    BUCKET,
    CF_PEM,
    KEY,
    ODD_KEY,
    OTHER_BUCKET,
    PUBLIC_BASE_URL,
    World,
    build_world,
    cf_params,
    make_desk,
    query,
    request,
    task_role_credentials,
)

ALL_STRATEGIES = ("ambient", "role-session", "stable", "cloudfront", "iam-user")


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with mock_aws():
        yield build_world()


@pytest.fixture
def creds():
    return task_role_credentials(timedelta(hours=2))


@pytest.fixture
def desk(world, tmp_path, creds):
    return make_desk(world, tmp_path, ambient=creds)


def signature_of(url: str) -> str:
    """The secret part of a link as it appears in it: S3 SigV4 signature, CloudFront signature or stable token."""
    if url.startswith(f"{PUBLIC_BASE_URL}/s/"):
        return url.removeprefix(f"{PUBLIC_BASE_URL}/s/")
    params = query(url) if "X-Amz-Signature=" in url else cf_params(url)[1]
    return params.get("X-Amz-Signature") or params["Signature"]


# --- the log is written, and committed, before any link is returned -----------------


def test_issue_commits_the_row_before_returning_the_link(desk, creds):
    (link,) = issuing.issue(desk, [request(timedelta(hours=1), ticket="TCK-1042", note="customer asked")], "ambient")
    # A second, independent connection to the same file sees the row as soon as issue() returns.
    with IssuanceLog(desk.settings.database_url) as other:
        assert other.count() == 1
        row = other.get(link.entry.id)
    assert row == link.entry
    assert (row.strategy, row.bucket, row.key, row.issuer, row.ticket, row.note) == (
        "ambient", BUCKET, KEY, "ann@example.com", "TCK-1042", "customer asked"
    )
    assert row.access_key_id == creds.access_key_id and row.credential_source == "container-role"
    assert row.credential_kind == "temporary" and row.credential_expires_at == creds.expires_at
    assert row.fingerprint == hashlib.sha256(signature_of(link.url).encode()).hexdigest()
    assert "X-Amz-Signature=…" in row.display_url and "X-Amz-Security-Token=…" in row.display_url


def test_logged_expiry_of_an_ambient_link_is_its_credentials_expiry(desk, creds):
    (link,) = issuing.issue(desk, [request(timedelta(hours=6))], "ambient")
    entry = link.entry
    assert entry.credential_expires_at == entry.effective_expires_at == creds.expires_at
    assert entry.nominal_expires_at == entry.signed_at + timedelta(hours=6)
    assert entry.bound_by == "credentials" and "task role" in entry.reason


@pytest.mark.parametrize("name", ALL_STRATEGIES)
def test_every_link_is_signed_at_its_rows_issue_time(desk, name):
    """The issue's clock is the signing clock: a batch that takes seconds still promises each link from its row's issue time."""
    issued_at = issuing.utcnow() - timedelta(seconds=3)
    lifetime = timedelta(minutes=50)
    (link,) = issuing.issue(desk, [request(lifetime)], name, now=issued_at)
    entry = link.entry
    assert entry.issued_at == entry.signed_at == issued_at
    assert entry.nominal_expires_at == issued_at + lifetime
    if "X-Amz-Date=" in link.url:
        assert query(link.url)["X-Amz-Date"] == issued_at.strftime("%Y%m%dT%H%M%SZ")


def test_a_failing_log_write_raises_a_desk_error_and_returns_no_link(desk, monkeypatch):
    message = "The issuance log could not be written (disk I/O error): no link was issued. Check the disk, then try again."

    def fail(*args, **kwargs):
        raise LogWriteError(message)

    monkeypatch.setattr(desk.log, "record_many", fail)
    progress: list[tuple[int, int]] = []
    result = None
    with pytest.raises(DeskError) as raised:
        result = issuing.issue(desk, [request()], "iam-user", progress=lambda d, t: progress.append((d, t)))
    assert result is None  # nothing came back to show
    assert progress == [(1, 1)]  # the link was signed, then thrown away
    assert str(raised.value) == message
    assert raised.value.__suppress_context__  # no chained traceback reaches the user
    assert "X-Amz-Signature" not in str(raised.value)


def test_an_unusable_log_directory_refuses_to_issue(world, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the log's folder should be")
    desk = make_desk(world, tmp_path, database_url=str(blocker / "log.sqlite3"))
    with pytest.raises(DeskError, match="issuance log could not be opened") as raised:
        issuing.issue(desk, [request()], "iam-user")
    assert "no link can be issued" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_an_unsupported_log_location_refuses_with_a_desk_error(world, tmp_path):
    desk = make_desk(world, tmp_path, database_url="postgresql://db.example/sharedesk")
    with pytest.raises(DeskError, match="PostgreSQL"):
        issuing.issue(desk, [request()], "iam-user")


def test_a_bulk_of_50_objects_logs_50_rows_and_reports_progress_50_times(desk):
    keys = [f"bulk/file-{i:03d}.txt" for i in range(50)]
    progress: list[tuple[int, int]] = []
    links = issuing.issue(desk, [request(timedelta(hours=1), key=k) for k in keys], "role-session", progress=lambda d, t: progress.append((d, t)))
    assert progress == [(i, 50) for i in range(1, 51)]
    assert [link.entry.key for link in links] == keys
    assert [quote(k) in link.url for k, link in zip(keys, links)] == [True] * 50
    assert len({link.entry.id for link in links}) == 50
    assert len({link.entry.fingerprint for link in links}) == 50
    with IssuanceLog(desk.settings.database_url) as other:
        assert other.count() == 50
        assert sorted(e.key for e in other.recent(100)) == keys
    assert desk.strategies["role-session"].assumed == 1  # one session for the whole batch


def test_a_batch_with_one_missing_object_signs_and_logs_nothing(desk):
    requests = [request(key="bulk/file-001.txt"), request(key="bulk/no-such-file.txt"), request(key="bulk/file-002.txt")]
    progress: list[tuple[int, int]] = []
    with pytest.raises(NotFound, match="bulk/no-such-file.txt does not exist"):
        issuing.issue(desk, requests, "iam-user", progress=lambda d, t: progress.append((d, t)))
    assert progress == []
    assert desk.log.count() == 0


def test_issued_link_repr_keeps_the_signature_out(desk):
    (link,) = issuing.issue(desk, [request()], "iam-user")
    assert signature_of(link.url) not in repr(link)
    assert f"id={link.entry.id}" in repr(link)


# --- no secret ever reaches the database file ------------------------------------------


def test_no_secret_reaches_the_database_or_its_wal(desk, creds, world):
    assert set(desk.strategies) >= set(ALL_STRATEGIES)
    links = []
    for name in desk.strategies:
        links += issuing.issue(desk, [request(timedelta(hours=3), filename="rapport été.pdf"), request(timedelta(minutes=20), key=ODD_KEY)], name)
    links += issuing.issue(desk, [request(timedelta(days=90), ip_range="192.0.2.0/24")], "cloudfront")
    role = desk.strategies["role-session"]._session
    pem_body = [line for line in CF_PEM.splitlines() if line and not line.startswith("-----")]
    secrets = {
        "ambient secret key": creds.secret_access_key,
        "ambient session token": creds.session_token,
        "ambient session token, URL-encoded": quote(creds.session_token, safe=""),
        "role session secret key": role.secret_access_key,
        "role session token": role.session_token,
        "role session token, URL-encoded": quote(role.session_token, safe=""),
        "signer user secret key": world.signer_secret,
        "CloudFront private key": "".join(pem_body),
    }
    secrets |= {f"PEM line {i}": line for i, line in enumerate(pem_body)}
    for link in links:
        secrets[f"signature of link {link.entry.id}"] = signature_of(link.url)
        secrets[f"URL of link {link.entry.id}"] = link.url

    db = Path(desk.settings.database_url)
    wal = Path(f"{db}-wal")
    assert wal.exists()  # WAL mode: the rows just written are (at least) in the -wal file

    def scan() -> None:
        raw = db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        # The scan reads real rows: the public parts are there.
        assert creds.access_key_id.encode() in raw and links[-1].entry.fingerprint.encode() in raw
        leaked = [what for what, secret in secrets.items() if secret.encode() in raw]
        assert leaked == []

    scan()
    desk.log.close()  # the last connection checkpoints the WAL into the main file
    scan()


@pytest.mark.parametrize("name", ALL_STRATEGIES)
def test_find_by_fingerprint_finds_the_row_for_a_pasted_url(desk, name):
    links = issuing.issue(desk, [request(key=KEY), request(key=ODD_KEY, filename="x.csv")], name)
    with IssuanceLog(desk.settings.database_url) as other:
        for link in links:
            found = other.find_by_fingerprint(fingerprint(signature_of(link.url)))
            assert found is not None and found.id == link.entry.id and found.strategy == name
        assert other.find_by_fingerprint(fingerprint("0" * 64)) is None


# --- previews and the recommendation -----------------------------------------------


def test_previews_list_every_strategy_safest_first_with_sentences_for_the_unavailable(world, tmp_path):
    desk = make_desk(world, tmp_path, signer_access_key_id=None, signer_secret_access_key=None)
    options = issuing.previews(desk, request(timedelta(days=10)))
    assert [p.strategy for p in options] == list(desk.strategies)
    by_name = {p.strategy: p for p in options}
    assert by_name["cloudfront"].available
    for name in ("ambient", "role-session"):
        assert "at most 7 days" in by_name[name].unavailable
    assert by_name["iam-user"].unavailable.startswith("S3 presigned links can last at most 7 days")


@pytest.mark.parametrize(
    ("lifetime", "overrides", "expected"),
    [
        (timedelta(hours=1), {}, "ambient"),  # the task role's 2 h cover it: the safest wins
        (timedelta(hours=6), {}, "stable"),  # ambient dies at 2 h, a chained role session at 1 h
        (timedelta(hours=6), {"signing_role_source": "signer-user"}, "role-session"),  # a 12 h session from the user's key
        (timedelta(days=7), {}, "stable"),  # revocable, and safer than cloudfront or the user key
        (timedelta(days=7), {"public_base_url": None}, "cloudfront"),  # no stable links: cloudfront before the user key
        (timedelta(days=7), {"public_base_url": None, "cloudfront_private_key": None}, "iam-user"),
        (timedelta(days=30), {"public_base_url": None}, "cloudfront"),  # beyond S3's 7 days
        (timedelta(days=120), {}, "cloudfront"),  # beyond the stable links' 90 days
    ],
)
def test_recommend_picks_the_safest_strategy_that_reaches_the_asked_lifetime(world, tmp_path, lifetime, overrides, expected):
    desk = make_desk(world, tmp_path, **overrides)
    options = issuing.previews(desk, request(lifetime))
    choice = issuing.recommend(options, lifetime)
    assert choice.strategy == expected
    chosen = next(p for p in options if p.strategy == expected)
    assert chosen.reaches_asked
    safer = [p for p in options if p.risk_rank < chosen.risk_rank]
    assert not any(p.reaches_asked for p in safer)
    assert choice.why.startswith(f"{expected} lasts the full ") and choice.why.endswith(".")


def test_recommend_names_the_other_strategies_that_would_also_last(desk):
    choice = issuing.recommend(issuing.previews(desk, request(timedelta(hours=6))), timedelta(hours=6))
    assert choice.strategy == "stable"
    risk = desk.strategies["stable"].risk.rstrip(".").lower()
    assert choice.why == (
        f"stable lasts the full 6 hours asked with the least standing risk ({risk}); "
        "cloudfront, iam-user would also last, with more standing risk."
    )


def test_recommend_explains_when_no_strategy_reaches_and_offers_the_longest(world, tmp_path, creds):
    desk = make_desk(
        world, tmp_path, ambient=creds, public_base_url=None, cloudfront_private_key=None, signer_access_key_id=None, signer_secret_access_key=None
    )
    now = creds.expires_at - timedelta(hours=2)
    choice = issuing.recommend(issuing.previews(desk, request(timedelta(days=3)), now), timedelta(days=3))
    assert choice.strategy == "ambient"
    assert choice.why == "No strategy reaches the 3 days asked; ambient lasts longest (2 hours)."


def test_recommend_says_so_when_no_strategy_can_sign_the_lifetime(desk):
    choice = issuing.recommend(issuing.previews(desk, request(timedelta(days=400))), timedelta(days=400))
    assert choice.strategy is None
    assert choice.why == "No configured strategy can sign a link for 400 days: shorten the lifetime or configure another strategy."


# --- the message for the customer ----------------------------------------------------


def test_customer_message_states_the_real_expiry_not_the_promised_one(desk, creds):
    (link,) = issuing.issue(desk, [request(timedelta(hours=6), filename="Invoice 2026-11.pdf")], "ambient")
    now = creds.expires_at - timedelta(hours=2)
    message = issuing.customer_message([link], now=now)
    real = creds.expires_at
    assert f"This link works until {real:%A %d %B %Y, %H:%M} UTC (2 hours from now)." in message
    assert f"{link.entry.nominal_expires_at:%H:%M} UTC" not in message
    assert "Invoice 2026-11.pdf:\n" + link.url in message
    assert message.startswith("Hello,\n\nHere is your download link.\n")


def test_customer_message_for_several_links_names_each_file(desk):
    links = issuing.issue(desk, [request(timedelta(days=2), key=KEY), request(timedelta(days=2), key=ODD_KEY)], "iam-user")
    message = issuing.customer_message(links, now=links[0].entry.issued_at)
    assert "Here are your download links." in message
    assert "summary.pdf:\n" in message and "données été + final (1).csv:\n" in message
    assert message.count("This link works until ") == 2
    for link in links:
        assert f"{link.url}\nThis link works until {link.entry.effective_expires_at:%A %d %B %Y, %H:%M} UTC (2 days" in message


def test_customer_message_does_not_promise_a_future_for_a_link_already_dead(desk):
    (link,) = issuing.issue(desk, [request(timedelta(hours=1))], "iam-user")
    message = issuing.customer_message([link], now=link.entry.effective_expires_at + timedelta(hours=3))
    assert "from now" not in message


# --- refusals, each with a sentence, and nothing logged ------------------------------



@pytest.mark.parametrize(
    "name",
    [
        "ambient",
        "role-session",
        "iam-user",
        "cloudfront",
        "stable",
    ],
)
def test_a_zero_lifetime_is_refused_by_every_strategy(desk, name):
    with pytest.raises(DeskError):
        issuing.issue(desk, [request(timedelta(0))], name)
    assert desk.log.count() == 0



@pytest.mark.parametrize(
    ("make", "strategy", "error", "sentence"),
    [
        (lambda: request(), "nope", BadInput, "Unknown strategy 'nope': choose one of ambient, role-session, "),
        (lambda: request(key=ARCHIVED_KEY), "iam-user", BadInput, f"s3://{BUCKET}/{ARCHIVED_KEY} is in GLACIER and cannot be downloaded until it is restored"),
        (lambda: request(key="reports/missing.pdf"), "iam-user", NotFound, f"s3://{BUCKET}/reports/missing.pdf does not exist"),
        (lambda: ShareRequest(bucket=OTHER_BUCKET, key=KEY, lifetime=timedelta(hours=1), issuer="ann"), "iam-user", NotAllowed, f"not allowed to share from bucket '{OTHER_BUCKET}'"),
        (lambda: request(issuer="   "), "iam-user", BadInput, "The desk does not know who is issuing this link: sign in or type your name first."),
        (lambda: request(key=""), "iam-user", BadInput, f"s3://{BUCKET}/ names no object"),
        (lambda: ShareRequest(bucket="Bad_Bucket", key=KEY, lifetime=timedelta(hours=1), issuer="ann"), "iam-user", BadInput, "is not a valid bucket name"),
        (lambda: request(timedelta(seconds=0)), "iam-user", BadInput, "S3 presigned links must last at least 1 second"),
        (lambda: request(timedelta(days=8)), "ambient", BadInput, "S3 presigned links can last at most 7 days"),
        (lambda: request(timedelta(days=400)), "cloudfront", NotAllowed, "The desk signs CloudFront links for at most 365 days: ask for less."),
    ],
    ids=["unknown-strategy", "archived", "missing", "bucket-not-allowed", "no-issuer", "no-key", "bad-bucket", "zero-lifetime", "eight-days", "cloudfront-cap"],
)
def test_refusals_are_sentences_and_log_nothing(desk, make, strategy, error, sentence):
    with pytest.raises(error) as raised:
        issuing.issue(desk, [make()], strategy)
    message = str(raised.value)
    assert sentence in message
    assert message.endswith(".") and "\n" not in message
    assert desk.log.count() == 0
