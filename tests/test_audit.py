"""The Expiry timeline's queries: SQL figures equal a plain Python count over the same links.

The reference here reads every link and judges it with the expiry model
itself (`compute` with the revocation and the filter's tolerance, then
`state_at(..., at_risk=True)`), so the SQL's definitions of "cut short", "at
risk" and of each state cannot drift from the model.
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
from collections import Counter
from dataclasses import dataclass, replace
from unittest.mock import patch
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from dashboard import audit, charts
from dashboard.expiry import CUT_SHORT_TOLERANCE, CUT_SHORT_TOLERANCES, Caps, CredentialFacts, CredentialKind, SigningFacts, State, compute, state_at
from dashboard.store import IssuanceLog, LogEntry, NewLink, fingerprint
from dashboard.store import audit as queries
from dashboard.store.audit import AUDIT_STATES, AuditFilter
from dashboard.store import audit_rollup, rollup, synthetic
from dashboard.store.synthetic import bulk_fill
from tests.postgres_server import fresh_schema_url

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)  # a Sunday: New York moved its clocks two weeks before
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")  # UTC+5:30
MINUTE = timedelta(minutes=1)
STRATEGIES = ("ambient", "role-session", "iam-user", "cloudfront", "stable")
ISSUERS = ("alice", "bob", "chen")
KEYS = ("customers/acme/a.csv", "customers/acme/b b.csv", "customers/globex/c.csv", "manuals/x.pdf", "customers/acme")
TICKETS = (None, "TCK-1", "TCK-2")


# --- links made by the expiry model, and the plain-Python reference ----------------


@dataclass(frozen=True)
class Spec:
    """One link to log: everything relative to NOW, in minutes."""

    issued_ago: int
    strategy: str
    issuer: str
    bucket: str
    key: str
    ticket: str | None
    lifetime: int
    credentials_in: int | None  # temporary credentials' expiry after signing; None: not visible
    revoked_after: int | None  # minutes after issue, or never

    @property
    def issued_at(self) -> datetime:
        return NOW - self.issued_ago * MINUTE

    @property
    def revoked_at(self) -> datetime | None:
        return None if self.revoked_after is None else self.issued_at + self.revoked_after * MINUTE

    def facts(self, *, revoked: bool) -> SigningFacts:
        if self.strategy in ("ambient", "role-session"):
            expires = None if self.credentials_in is None else self.issued_at + self.credentials_in * MINUTE
            credentials = CredentialFacts(kind=CredentialKind.TEMPORARY, expires_at=expires, access_key_id="ASIAEXAMPLE")
        else:
            credentials = CredentialFacts(kind=CredentialKind.LONG_TERM, access_key_id="AKIAEXAMPLE")
        return SigningFacts(self.strategy, self.issued_at, self.lifetime * MINUTE, credentials, Caps(), self.revoked_at if revoked else None)


def new_link(spec: Spec, n: int) -> NewLink:
    expiry = compute(spec.facts(revoked=False))  # what the desk knew when it issued the link
    return NewLink(
        issued_at=spec.issued_at,
        issuer=spec.issuer,
        strategy=spec.strategy,
        bucket=spec.bucket,
        key=spec.key,
        filename=None,
        ticket=spec.ticket,
        note=None,
        signed_at=expiry.signed_at,
        nominal_expires_at=expiry.nominal_expires_at,
        effective_expires_at=expiry.effective_expires_at,
        bound_by=str(expiry.bound_by),
        reason=expiry.reason,
        credential_source="test",
        access_key_id="ASIAEXAMPLE",
        credential_kind="temporary",
        credential_expires_at=None,
        fingerprint=fingerprint(f"sig-{n}"),
        display_url=f"https://{spec.bucket}.example/{spec.key}",
    )


def _sqlite_location() -> str:
    return str(Path(tempfile.mkdtemp(prefix="sharedesk-audit-")) / "log.sqlite3")


_location = _sqlite_location


@pytest.fixture(autouse=True)
def _on_each_backend(log_backend, request):
    """Every audit test runs on SQLite and on PostgreSQL (tests/conftest.py)."""
    global _location
    if log_backend == "postgresql":
        server = request.getfixturevalue("postgres_url")
        _location = lambda: fresh_schema_url(server)  # noqa: E731
    yield log_backend
    _location = _sqlite_location


def fresh_log() -> IssuanceLog:
    """A new, empty log on the backend under test (a log that keeps nothing is refused, even in tests)."""
    return IssuanceLog(_location())


def logged(specs: list[Spec]) -> tuple[IssuanceLog, dict[int, Spec]]:
    log = fresh_log()
    entries = log.record_many([new_link(spec, n) for n, spec in enumerate(specs)])
    for entry, spec in zip(entries, specs):
        if spec.revoked_at is not None:
            log.revoke(entry.id, at=spec.revoked_at, by="lead")
    return log, {entry.id: spec for entry, spec in zip(entries, specs)}


def state_now(spec: Spec, now: datetime, tolerance: timedelta = CUT_SHORT_TOLERANCE) -> State:
    """The model's own answer: the expiry with the revocation and the tolerance, judged at ``now``.

    A link signed after ``now`` (a replica's clock ahead) counts as what it is first.
    """
    return state_at(compute(spec.facts(revoked=True), tolerance=tolerance), max(now, spec.issued_at), at_risk=True)


def matches(entry: LogEntry, spec: Spec, f: AuditFilter) -> bool:
    return (
        (f.since is None or entry.issued_at >= f.since)
        and (f.until is None or entry.issued_at < f.until)
        and (not f.strategies or entry.strategy in f.strategies)
        and (not f.issuers or entry.issuer in f.issuers)
        and (f.bucket is None or entry.bucket == f.bucket)
        and entry.key.startswith(f.prefix)
        and (f.ticket is None or entry.ticket == f.ticket)
        and (f.state is None or state_now(spec, f.now, f.tolerance) == f.state)
    )


def lost_seconds(entry: LogEntry) -> float:
    return entry.nominal_expires_at.timestamp() - entry.effective_expires_at.timestamp()


@dataclass(frozen=True)
class Expected:
    issued: int
    cut_short: int
    median_hours_lost: float | None
    at_risk: int


def expected(entries: list[LogEntry], states: dict[int, State]) -> Expected:
    lost = [lost_seconds(e) for e in entries if states[e.id] is State.CUT_SHORT]
    at_risk = sum(states[e.id] is State.AT_RISK for e in entries)
    return Expected(len(entries), len(lost), statistics.median(lost) / 3600 if lost else None, at_risk)


def same(figures: queries.Summary, want: Expected, *, binned: bool = False) -> bool:
    """Counts equal; the median exactly, or (``binned``, from the rollup's histogram) within its stated error."""
    if (figures.issued, figures.cut_short, figures.at_risk) != (want.issued, want.cut_short, want.at_risk):
        return False
    if want.median_hours_lost is None or figures.median_hours_lost is None:
        return figures.median_hours_lost is want.median_hours_lost
    if binned:
        error = max(rollup.MEDIAN_ERROR * want.median_hours_lost, 1 / 60) + 1e-9  # 9 %, or a minute below one
        return abs(figures.median_hours_lost - want.median_hours_lost) <= error
    return figures.median_hours_lost == pytest.approx(want.median_hours_lost, rel=1e-12, abs=1e-9)


def same_figures(got: queries.Figures, want: queries.Figures, *, binned: bool) -> bool:
    """Two sets of figures alike: every count, and medians exactly or within the rollup's error."""

    def expect(s: queries.Summary) -> Expected:
        return Expected(s.issued, s.cut_short, s.median_hours_lost, s.at_risk)

    return (
        same(got.summary, expect(want.summary), binned=binned)
        and [s.name for s in got.by_strategy] == [s.name for s in want.by_strategy]
        and [s.name for s in got.by_issuer] == [s.name for s in want.by_issuer]
        and all(same(g, expect(w), binned=binned) for g, w in zip(got.by_strategy + got.by_issuer, want.by_strategy + want.by_issuer))
        and got.per_day == want.per_day
    )


def check(log: IssuanceLog, specs: dict[int, Spec], f: AuditFilter, tz=NEW_YORK) -> None:
    """Every query of the timeline against the reference, for one filter."""
    everything = log.recent(10_000)
    hits = [e for e in everything if matches(e, specs[e.id], f)]
    states = {e.id: state_now(specs[e.id], f.now, f.tolerance) for e in hits}

    assert same(queries.summary(log, f), expected(hits, states))
    for column, splits in (("strategy", queries.by_strategy(log, f)), ("issuer", queries.by_issuer(log, f))):
        groups: dict[str, list[LogEntry]] = {}
        for e in hits:
            groups.setdefault(getattr(e, column), []).append(e)
        assert {s.name for s in splits} == set(groups)
        for split in splits:
            assert same(split, expected(groups[split.name], states)), (column, split.name)
        assert [s.issued for s in splits] == sorted((s.issued for s in splits), reverse=True)
    per_day = Counter(e.issued_at.astimezone(tz).date() for e in hits)
    cut_per_day = Counter(e.issued_at.astimezone(tz).date() for e in hits if states[e.id] is State.CUT_SHORT)
    days = queries.cut_short_per_day(log, f, tz)
    assert [(d.day, d.issued, d.cut_short) for d in days] == [(day, per_day[day], cut_per_day[day]) for day in sorted(per_day)]

    # All at once, from the links: by (strategy, issuer, day) cells and by the two plain passes alike.
    alone = queries.Figures(queries.summary(log, f), queries.by_strategy(log, f), queries.by_issuer(log, f), tuple(days))
    for links_per_cell in (0, 10**9):  # cell by cell, and by two passes
        with patch.object(queries, "_LINKS_PER_CELL", links_per_cell):
            assert queries.counted(log, f, tz) == alone
    # And from the rollup, wherever it serves: the same counts, medians within its error;
    # also for a zone whose midnight falls on a half hour (the hour cells' edges are read link by link).
    rolled = queries.figures(log, f, tz)
    assert same_figures(rolled, alone, binned=audit_rollup.servable(f)), (rolled, alone)
    assert same_figures(queries.figures(log, f, KOLKATA), queries.counted(log, f, KOLKATA), binned=audit_rollup.servable(f))

    newest = sorted(hits, key=lambda e: (e.issued_at, e.id), reverse=True)
    for limit in (0, 3, 10_000):
        found = queries.rows(log, f, limit)
        assert [r.id for r in found] == [e.id for e in newest[:limit]]
        assert all(r.state == state_now(specs[r.id], f.now, f.tolerance) for r in found)
        model = {r.id: compute(specs[r.id].facts(revoked=True), tolerance=f.tolerance) for r in found}
        assert all(r.cut_short == model[r.id].cut_short for r in found)


# --- hypothesis: any links, any filter ------------------------------------------------

@hs.composite
def specs(draw) -> Spec:
    lifetime = draw(hs.integers(1, 10 * 24 * 60))
    # Credentials that end anywhere, or a few minutes either side of a tolerance before the promise.
    near = hs.sampled_from([int(t.total_seconds() // 60) + d for t in CUT_SHORT_TOLERANCES for d in (-1, 0, 1)]).map(lambda lost: lifetime - lost)
    return Spec(
        issued_ago=draw(hs.integers(1, 45 * 24 * 60)),
        strategy=draw(hs.sampled_from(STRATEGIES)),
        issuer=draw(hs.sampled_from(ISSUERS)),
        bucket=draw(hs.sampled_from(("b-one", "b-two"))),
        key=draw(hs.sampled_from(KEYS)),
        ticket=draw(hs.sampled_from(TICKETS)),
        lifetime=lifetime,
        credentials_in=draw(hs.none() | hs.integers(-60, 3 * 24 * 60) | near),
        revoked_after=draw(hs.none() | hs.integers(0, 12 * 24 * 60)),
    )

filters = hs.builds(
    lambda since, span, strategies, issuers, bucket, prefix, ticket, state, tolerance: AuditFilter(
        tolerance=tolerance,
        now=NOW,
        since=None if since is None else NOW - since * timedelta(hours=1),
        until=None if since is None or span is None else NOW - since * timedelta(hours=1) + span * timedelta(hours=1),
        strategies=strategies,
        issuers=issuers,
        bucket=bucket,
        prefix=prefix,
        ticket=ticket,
        state=state,
    ),
    since=hs.none() | hs.integers(1, 50 * 24),
    span=hs.none() | hs.integers(1, 20 * 24),
    strategies=hs.lists(hs.sampled_from(STRATEGIES), max_size=2, unique=True).map(tuple),
    issuers=hs.lists(hs.sampled_from(ISSUERS), max_size=2, unique=True).map(tuple),
    bucket=hs.none() | hs.sampled_from(("b-one", "b-two")),
    prefix=hs.sampled_from(("", "customers/", "customers/acme/", "manuals/", "nothing/")),
    ticket=hs.sampled_from((None, "TCK-1", "TCK-9")),
    state=hs.none() | hs.sampled_from(AUDIT_STATES),
    tolerance=hs.sampled_from(CUT_SHORT_TOLERANCES),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(links=hs.lists(specs(), max_size=30, unique_by=lambda s: s.issued_ago), f=filters)
def test_every_figure_equals_a_python_count_for_any_links_and_filter(links, f):
    log, by_id = logged(links)
    with log:
        check(log, by_id, f)


# --- table-driven: one case per state and per filter -----------------------------------


def spec(**changes) -> Spec:
    values = dict(
        issued_ago=60, strategy="ambient", issuer="alice", bucket="b-one", key="customers/acme/a.csv",
        ticket="TCK-1", lifetime=24 * 60, credentials_in=None, revoked_after=None,
    )
    values.update(changes)
    return Spec(**values)


STATE_CASES = {
    "credentials outlive the link, still running": (spec(credentials_in=3000, lifetime=120), State.LIVE),
    "cut by credentials, before its nominal expiry": (spec(credentials_in=30, lifetime=24 * 60), State.CUT_SHORT),
    "cut by credentials, nominal expiry passed too: still cut short": (spec(issued_ago=3000, credentials_in=30, lifetime=120), State.CUT_SHORT),
    "credentials will end before its promise": (spec(credentials_in=600, lifetime=24 * 60), State.AT_RISK),
    "died 3 minutes early, within the tolerance": (spec(issued_ago=3000, credentials_in=117, lifetime=120), State.EXPIRED),
    "died exactly the tolerance early": (spec(issued_ago=100, credentials_in=55, lifetime=60), State.EXPIRED),
    "died a minute more than the tolerance early": (spec(issued_ago=100, credentials_in=54, lifetime=60), State.CUT_SHORT),
    "will die 3 minutes early: live, not at risk": (spec(credentials_in=117, lifetime=120), State.LIVE),
    "ran its course": (spec(strategy="iam-user", issued_ago=3000, lifetime=120), State.EXPIRED),
    "long-term key, still running": (spec(strategy="iam-user", lifetime=7 * 24 * 60), State.LIVE),
    "unknown credential expiry, before nominal": (spec(credentials_in=None, lifetime=120), State.LIVE),
    "unknown credential expiry, after nominal": (spec(credentials_in=None, issued_ago=3000, lifetime=120), State.EXPIRED),
    "revoked while live": (spec(strategy="stable", lifetime=7 * 24 * 60, revoked_after=10), State.REVOKED),
    "revocation still to come": (spec(strategy="stable", lifetime=7 * 24 * 60, revoked_after=120), State.LIVE),
    "revoked before credentials would have cut it": (spec(credentials_in=600, lifetime=24 * 60, revoked_after=10), State.REVOKED),
    "revoked after it had already been cut": (spec(credentials_in=10, lifetime=24 * 60, revoked_after=30), State.CUT_SHORT),
    "revoked after it had expired": (spec(strategy="iam-user", issued_ago=3000, lifetime=60, revoked_after=600), State.EXPIRED),
    "revoked the moment it was signed": (spec(strategy="stable", revoked_after=0), State.REVOKED),
    "credentials dead before signing": (spec(credentials_in=-5, lifetime=120), State.CUT_SHORT),
}


@pytest.mark.parametrize("case", list(STATE_CASES), ids=list(STATE_CASES))
def test_state_now_is_what_the_expiry_model_says(case):
    link, state = STATE_CASES[case]
    assert state_now(link, NOW) is state  # the reference agrees with the case's name
    log, by_id = logged([link, spec(issued_ago=5, strategy="cloudfront")])
    with log:
        for candidate in AUDIT_STATES:
            f = AuditFilter(now=NOW, state=candidate)
            found = {r.id for r in queries.rows(log, f)}
            assert (min(by_id) in found) is (candidate is state), candidate
            check(log, by_id, f)


MIXED = [
    spec(issued_ago=10, strategy="ambient", issuer="alice", credentials_in=5, key="customers/acme/a.csv", ticket="TCK-1"),
    spec(issued_ago=20, strategy="ambient", issuer="bob", credentials_in=100, key="customers/globex/c.csv", ticket="TCK-2"),
    spec(issued_ago=30, strategy="role-session", issuer="bob", credentials_in=700, lifetime=3 * 24 * 60, bucket="b-two"),
    spec(issued_ago=2 * 24 * 60, strategy="iam-user", issuer="chen", key="manuals/x.pdf", ticket=None),
    spec(issued_ago=5 * 24 * 60, strategy="cloudfront", issuer="alice", lifetime=30 * 24 * 60),
    spec(issued_ago=9 * 24 * 60, strategy="stable", issuer="chen", lifetime=30 * 24 * 60, revoked_after=60),
    spec(issued_ago=40 * 24 * 60, strategy="ambient", issuer="alice", credentials_in=90, key="customers/acme"),
]
FILTER_CASES = {
    "everything": AuditFilter(now=NOW),
    "last 7 days": AuditFilter(now=NOW, since=NOW - timedelta(days=7)),
    "a closed window": AuditFilter(now=NOW, since=NOW - timedelta(days=10), until=NOW - timedelta(days=1)),
    "one strategy": AuditFilter(now=NOW, strategies=("ambient",)),
    "two issuers": AuditFilter(now=NOW, issuers=("bob", "chen")),
    "a bucket": AuditFilter(now=NOW, bucket="b-two"),
    "a folder": AuditFilter(now=NOW, prefix="customers/acme/"),
    "a prefix that is also a key": AuditFilter(now=NOW, prefix="customers/acme"),
    "a ticket": AuditFilter(now=NOW, ticket="TCK-2"),
    "an unknown ticket": AuditFilter(now=NOW, ticket="TCK-404"),
    "cut short now": AuditFilter(now=NOW, state=State.CUT_SHORT),
    "revoked": AuditFilter(now=NOW, state=State.REVOKED),
    "everything at once": AuditFilter(
        now=NOW, since=NOW - timedelta(days=3), strategies=("ambient", "role-session"), issuers=("alice", "bob"), bucket="b-one", prefix="customers/", ticket="TCK-1"
    ),
}


@pytest.mark.parametrize("name", list(FILTER_CASES), ids=list(FILTER_CASES))
def test_each_filter_narrows_every_figure_alike(name):
    log, by_id = logged(MIXED)
    with log:
        check(log, by_id, FILTER_CASES[name])


def test_median_of_an_even_count_is_the_mean_of_the_middle_two():
    links = [spec(issued_ago=2000 + i, credentials_in=60 * (i + 1), lifetime=24 * 60) for i in range(4)]  # all cut by now
    log, _ = logged(links)
    with log:
        figures = queries.summary(log, AuditFilter(now=NOW))
    assert figures.cut_short == 4
    assert figures.median_hours_lost == pytest.approx(24 - 2.5)  # lost 23, 22, 21, 20 hours
    assert figures.share == 1.0


def test_an_empty_log_has_no_share_and_no_median():
    with fresh_log() as log:
        f = AuditFilter(now=NOW)
        assert queries.summary(log, f) == queries.Summary(0, 0, None)
        assert queries.summary(log, f).share is None
        assert queries.by_strategy(log, f) == () and queries.cut_short_per_day(log, f) == [] and queries.rows(log, f) == []
        assert queries.strategies(log) == queries.issuers(log) == queries.buckets(log) == []


def test_filter_widgets_list_each_value_once_sorted():
    log, _ = logged(MIXED)
    with log:
        assert queries.strategies(log) == sorted(set(STRATEGIES))
        assert queries.issuers(log) == ["alice", "bob", "chen"]
        assert queries.buckets(log) == ["b-one", "b-two"]


def test_a_filter_refuses_naive_times_a_backwards_window_and_unknown_states():
    with pytest.raises(ValueError, match="timezone-aware"):
        AuditFilter(now=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="ends before it starts"):
        AuditFilter(now=NOW, since=NOW, until=NOW - MINUTE)
    with pytest.raises(ValueError, match="not-yet-valid"):
        AuditFilter(now=NOW, state=State.NOT_YET_VALID)
    same_filter = AuditFilter(now=NOW, strategies=("b", "a", "b"), ticket="  ", prefix="")
    assert same_filter == AuditFilter(now=NOW, strategies=("a", "b")) and hash(same_filter)


def test_days_follow_the_viewers_midnights_across_a_clock_change():
    def at(moment: datetime) -> Spec:
        return spec(issued_ago=int((NOW - moment) / MINUTE))

    # New York is on summer time (UTC-4) since 8 March: 03:30 UTC is 23:30 the evening
    # before there, and 04:30 UTC already 00:30 the same day (winter time would say 23:30).
    log, _ = logged([at(datetime(2026, 3, 27, 3, 30, tzinfo=UTC)), at(datetime(2026, 3, 28, 4, 30, tzinfo=UTC))])
    with log:
        local = [d.day for d in queries.cut_short_per_day(log, AuditFilter(now=NOW), NEW_YORK)]
        utc = [d.day for d in queries.cut_short_per_day(log, AuditFilter(now=NOW), UTC)]
    assert local == [date(2026, 3, 26), date(2026, 3, 28)]
    assert utc == [date(2026, 3, 27), date(2026, 3, 28)]


# --- the demo history and bulk_fill -----------------------------------------------------


def test_demo_history_shows_credential_bound_strategies_cut_short_and_the_others_not(demo_desk):
    splits = {s.name: s for s in queries.by_strategy(demo_desk.log, AuditFilter(now=datetime.now(UTC), issuers=("alice", "bob", "chen", "dana")))}
    assert splits["ambient"].cut_short > 0 and splits["role-session"].cut_short > 0
    assert splits["ambient"].median_hours_lost > 1 and splits["role-session"].median_hours_lost > 1
    assert splits["iam-user"].issued > 0 and splits["iam-user"].cut_short == 0 and splits["iam-user"].median_hours_lost is None
    assert splits["cloudfront"].issued > 0 and splits["cloudfront"].cut_short == 0
    whole = queries.summary(demo_desk.log, AuditFilter(now=datetime.now(UTC)))
    assert 0.2 < whole.share < 0.8


@pytest.fixture
def file_log(tmp_path, log_backend):
    if log_backend != "sqlite":
        pytest.skip("reads the SQLite file and its query plans directly")
    with IssuanceLog(tmp_path / "log.sqlite3") as log:
        yield log


def test_bulk_fill_makes_n_realistic_rows_the_same_for_one_seed(file_log, tmp_path):
    assert bulk_fill(file_log, 3000, seed=7, now=NOW, batch=700) == 3000
    assert file_log.count() == 3000
    f = AuditFilter(now=NOW)
    splits = {s.name: s for s in queries.by_strategy(file_log, f)}
    assert set(splits) == set(STRATEGIES)
    assert splits["ambient"].share > 0.3 and splits["role-session"].share > 0.1
    assert all(splits[name].cut_short == 0 for name in ("iam-user", "cloudfront", "stable"))
    assert queries.rows(file_log, AuditFilter(now=NOW, state=State.REVOKED), 1)
    assert all(e.issued_at <= NOW - MINUTE and e.issued_at >= NOW - timedelta(days=28) for e in file_log.recent(3000))
    with IssuanceLog(tmp_path / "again.sqlite3") as again:
        bulk_fill(again, 3000, seed=7, now=NOW)
        def rows(log):
            return [(e.issued_at, e.strategy, e.issuer, e.nominal_expires_at, e.effective_expires_at, e.fingerprint) for e in log.recent(3000)]

        assert rows(again) == rows(file_log)  # whatever the batch size
    with sqlite3.connect(tmp_path / "log.sqlite3") as raw:
        assert raw.execute("SELECT COUNT(*) FROM links WHERE effective_expires_at IS NULL").fetchone()[0] > 0
        assert raw.execute("SELECT COUNT(*) FROM links WHERE effective_expires_at > nominal_expires_at").fetchone()[0] == 0


def test_a_big_bulk_fill_rebuilds_every_index_and_keeps_earlier_rows(file_log, tmp_path, monkeypatch):
    def indexes() -> list[tuple[str, str]]:
        with sqlite3.connect(tmp_path / "log.sqlite3") as raw:
            return raw.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name").fetchall()

    before = indexes()
    bulk_fill(file_log, 10, seed=1, now=NOW)
    monkeypatch.setattr(synthetic, "_REBUILD_AT", 100)
    bulk_fill(file_log, 500, seed=2, now=NOW)
    assert file_log.count() == 510 and indexes() == before
    assert len({e.fingerprint for e in file_log.recent(600)}) == 510
    # The indexes answer: the time index finds exactly the rows a full scan does.
    with sqlite3.connect(tmp_path / "log.sqlite3") as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def plan_of(log: IssuanceLog, sql: str, params) -> str:
    with log.reading() as conn:
        return " / ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))


def test_the_rollup_is_read_by_index_seeks_and_running_links_from_their_partial_indexes(file_log):
    bulk_fill(file_log, 2000, seed=3, now=NOW)
    f = AuditFilter(now=NOW, since=NOW - timedelta(days=30, hours=5, minutes=7), strategies=("ambient",), bucket="sharedesk-demo-support", state=State.CUT_SHORT)
    dims = audit_rollup.Dimensions(tuple(queries.strategies(file_log)), tuple(queries.issuers(file_log)), tuple(queries.buckets(file_log)))
    plan = audit_rollup.Plan(f, NEW_YORK, dims, queries._query(file_log, "SELECT MIN(issued_at) FROM links")[0][0])
    plans = [plan_of(file_log, sql, params) for sql, params in plan.statements()]
    counts, edge, ending, revoked, hours, *chart_edges = plans
    # Two rows per combination: its all-time count, and one seek to its count before the window.
    assert counts == "SEARCH c USING PRIMARY KEY (strategy=?) / CORRELATED SCALAR SUBQUERY 1 / SEARCH h USING PRIMARY KEY (strategy=? AND issuer=? AND bucket=? AND bin=? AND hour<?)"
    assert "COVERING INDEX links_audit_time (issued_at>? AND issued_at<?)" in edge
    assert ending == "SEARCH links USING COVERING INDEX links_audit_ending (effective_expires_at>?)"
    assert revoked == "SEARCH links USING COVERING INDEX links_audit_revoked (revoked_at>?)"
    assert hours.startswith("SEARCH audit_hours USING PRIMARY KEY (strategy=? AND issuer=? AND bucket=? AND hour>?)"), hours
    assert chart_edges and all("links_audit_time" in p for p in chart_edges)
    assert not any("SCAN" in p for p in plans)  # nothing reads a table or an index whole


def test_a_prefix_uses_the_bucket_and_key_index_and_a_ticket_its_own(file_log):
    bulk_fill(file_log, 2000, seed=3, now=NOW)
    where, params = queries._where(AuditFilter(now=NOW, prefix="customers/acme/"))
    assert "INDEX links_bucket_key (bucket=? AND key>? AND key<?)" in plan_of(file_log, f"SELECT COUNT(*) FROM links{where}", params)
    where, params = queries._where(AuditFilter(now=NOW, ticket="TCK-1"))
    assert "INDEX links_ticket (ticket=?)" in plan_of(file_log, f"SELECT COUNT(*) FROM links{where}", params)
    for prefix in ("customers/acme/", "customers/", "c", "nothing/"):
        f = AuditFilter(now=NOW, prefix=prefix)
        want = sum(e.key.startswith(prefix) for e in file_log.recent(5000))
        assert queries.figures(file_log, f).summary.issued == want
    assert queries.prefix_end("a/") == "a0" and queries.prefix_end("a\U0010ffff") == "b"


# --- the service and the charts ------------------------------------------------------------


def test_windows_and_state_names_become_a_filter():
    f = audit.build_filter(window="7 days", state="cut short", strategies=["ambient"], ticket=" TCK-1 ", prefix=" customers/ ", now=NOW)
    assert (f.since, f.until, f.state, f.strategies, f.ticket, f.prefix) == (NOW - timedelta(days=7), None, State.CUT_SHORT, ("ambient",), "TCK-1", "customers/")
    assert audit.build_filter(window="All time", now=NOW).since is None
    custom = audit.build_filter(window=audit.CUSTOM, dates=(date(2026, 3, 1), date(2026, 3, 9)), tz=NEW_YORK, now=NOW)
    assert custom.since == datetime(2026, 3, 1, 5, tzinfo=UTC)  # midnight in New York, still winter time
    assert custom.until == datetime(2026, 3, 10, 4, tzinfo=UTC)  # the end of the 9th, summer time
    assert audit.viewer_zone("Not/AZone") is UTC and audit.viewer_zone(None) is UTC


def test_the_timeline_gives_rows_frames_and_csv_in_the_viewers_zone():
    log, _ = logged(MIXED)
    with log:
        f = AuditFilter(now=NOW)
        result = audit.timeline(log, f, NEW_YORK, limit=5)
        assert result.partial and len(result.rows) == 5 and result.summary.issued == len(MIXED)
        frame = audit.rows_frame(result.rows, NOW, NEW_YORK)
        assert str(frame["Issued"].dt.tz) == "America/New_York"
        assert list(frame["Log id"]) == [r.id for r in result.rows]
        assert list(frame["Inspect"]) == [f"inspect?id={r.id}" for r in result.rows]  # each row opens Inspect on its link
        assert frame["Life left"].between(0, 100).all() and frame["Life left"].max() > 0
        assert set(frame["State"]) <= set(audit.STATE_LABELS.values())
        assert all(text.endswith(" UTC)") and ("EDT" in text or "EST" in text) for text in frame["issued_text"])
        csv = audit.export_csv(log, f, NEW_YORK)
    lines = csv.strip().splitlines()
    assert lines[0].startswith("log_id,issued_at,issued (America/New_York),issuer,strategy,bucket,key") and len(lines) == len(MIXED) + 1
    assert lines[1].split(",")[1].endswith("Z") and lines[1].split(",")[2].endswith(("EDT", "EST"))
    splits = audit.splits_frame(result.by_strategy, "Strategy")
    assert list(splits.columns) == ["Strategy", "Links", "Cut short", "Share cut short", "Median lost", "At risk"]
    assert splits["Share cut short"].between(0, 100).all()
    assert (audit.percent(0.456), audit.percent(None), audit.percent(0.001), audit.hours(2.25)) == ("46%", "—", "<1%", "2.2 h")


def test_the_csv_keeps_hostile_text_as_data_and_numbers_as_numbers():
    import csv as csvlib
    import io

    hostile = spec(key="[Click here](https://evil.example)", ticket="=cmd|' /C calc'!A0", issuer="@alice", credentials_in=10, issued_ago=600)
    log, _ = logged([hostile])
    with log:
        text = audit.export_csv(log, AuditFilter(now=NOW))
    [row] = list(csvlib.DictReader(io.StringIO(text)))
    assert row["ticket"] == "'=cmd|' /C calc'!A0" and row["issuer"] == "'@alice"  # OWASP: a leading quote
    assert row["key"] == "[Click here](https://evil.example)"  # plain text in a spreadsheet
    assert row["hours_lost"] == "23.833" and row["log_id"] == "1"  # numbers stay numbers (no quote)
    assert row["state"] == "cut-short" and row["cut_short"] == "True"


def test_timeline_chart_layers_bars_cut_marks_and_now():
    log, _ = logged([*MIXED, spec(issued_ago=5, credentials_in=600, lifetime=24 * 60, ticket="TCK-RISK")])
    with log:
        result = audit.timeline(log, AuditFilter(now=NOW), NEW_YORK)
    frame = audit.rows_frame(result.rows, NOW, NEW_YORK)
    assert frame["at_risk"].any() and frame["cut_short"].any()
    spec_ = charts.timeline_chart(frame, NOW, NEW_YORK).to_dict()
    marks = [layer["mark"]["type"] for layer in spec_["layer"]]
    assert marks == ["bar", "bar", "tick", "tick", "rule", "text"]
    nominal, real = spec_["layer"][0], spec_["layer"][1]
    assert nominal["mark"]["opacity"] < 1 and "opacity" not in real["mark"]
    assert nominal["encoding"]["color"]["scale"]["domain"][:5] == list(charts.STRATEGY_COLORS)
    assert nominal["encoding"]["href"]["field"] == real["encoding"]["href"]["field"] == "Inspect"  # a bar opens Inspect
    tooltips = {t["field"] for t in nominal["encoding"]["tooltip"]}
    assert {"Object", "Issuer", "Ticket", "Why", "issued_text", "ends_text"} <= tooltips
    x = nominal["encoding"]["x"]
    assert x["scale"]["type"] == "utc" and "utcFormat(datum.value, '%d %b %H:%M')" in x["axis"]["labelExpr"] and "America/New_York" in x["title"]  # dates at every zoom, zone named
    # The viewer's wall clock, drawn on a UTC scale: 12:00 UTC on 29 March is 08:00 in New York.
    rule = next(layer for layer in spec_["layer"] if layer["mark"]["type"] == "rule")
    [now_row] = spec_["datasets"][rule["data"]["name"]]
    assert now_row["now"] == "2026-03-29T08:00:00Z"
    daily = charts.cut_short_per_day_chart(audit.per_day_frame(tuple(result.per_day))).to_dict()
    assert daily["mark"]["type"] == "bar" and daily["encoding"]["y"]["field"] == "share"
    assert daily["mark"]["color"].lower() != "#0b6e4f"  # a bad figure is never the brand's green
    assert daily["encoding"]["x"]["type"] == "ordinal"  # one whole band per day: the last bar is not cut off
