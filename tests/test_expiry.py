"""The expiry model: a link dies at the earliest of nominal expiry, credential expiry, caps and revocation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.expiry import (
    MAX_SIGV4_EXPIRES,
    MIN_SIGV4_EXPIRES,
    BoundBy,
    Caps,
    CredentialFacts,
    CredentialKind,
    Expiry,
    LifetimeError,
    SigningFacts,
    State,
    as_utc,
    compute,
    iso_z,
    state_at,
    validate_sigv4_expires,
)

T0 = datetime(2026, 1, 2, 11, 5, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)
AKIA = "AKIAIOSFODNN7EXAMPLE"
ASIA = "ASIAIOSFODNN7EXAMPLE"


def temporary(expires_in: timedelta | None, *, method: str, label: str = "the temporary credentials") -> CredentialFacts:
    expires_at = None if expires_in is None else T0 + expires_in
    return CredentialFacts.from_access_key(ASIA, has_session_token=True, expires_at=expires_at, method=method, label=label)


def long_term(*, method: str = "shared-credentials-file", label: str = "the signer user's long-term access key") -> CredentialFacts:
    return CredentialFacts.from_access_key(AKIA, method=method, label=label)


def sign(
    credentials: CredentialFacts,
    lifetime: timedelta,
    *,
    strategy: str = "ambient",
    caps: Caps | None = None,
    revoked_at: datetime | None = None,
) -> Expiry:
    return compute(SigningFacts(strategy, T0, lifetime, credentials, caps or Caps(), revoked_at))


# --- credential sources (FACTS.md "Credential lifetimes") -------------------


@dataclass(frozen=True)
class Source:
    name: str
    credentials: CredentialFacts
    lifetime: timedelta
    effective_after: timedelta | None  # effective - signed_at; None = unknown
    bound_by: BoundBy


SOURCES = [
    Source("iam-user AKIA key, 7-day link", long_term(), 7 * D, 7 * D, BoundBy.NOMINAL),
    Source("iam-user key from env", long_term(method="env"), 1 * H, 1 * H, BoundBy.NOMINAL),
    Source("AssumeRole default 1 h, 7-day link", temporary(1 * H, method="assume-role"), 7 * D, 1 * H, BoundBy.CREDENTIALS),
    Source("AssumeRole 12 h, 7-day link", temporary(12 * H, method="assume-role"), 7 * D, 12 * H, BoundBy.CREDENTIALS),
    Source("AssumeRole 12 h, 6-hour link", temporary(12 * H, method="assume-role"), 6 * H, 6 * H, BoundBy.NOMINAL),
    Source("role chaining 1 h, 1-day link", temporary(1 * H, method="assume-role"), 1 * D, 1 * H, BoundBy.CREDENTIALS),
    Source("web identity (IRSA) 1 h, 12-hour link", temporary(1 * H, method="assume-role-with-web-identity"), 12 * H, 1 * H, BoundBy.CREDENTIALS),
    Source(
        "container-role with expiry read from the endpoint",
        temporary(timedelta(hours=3, minutes=17), method="container-role", label="the task role's temporary credentials"),
        7 * D,
        timedelta(hours=3, minutes=17),
        BoundBy.CREDENTIALS,
    ),
    Source("container-role, short link inside the window", temporary(3 * H, method="container-role"), 15 * timedelta(minutes=1), timedelta(minutes=15), BoundBy.NOMINAL),
    Source("EC2 iam-role 6 h, 7-day link", temporary(6 * H, method="iam-role"), 7 * D, 6 * H, BoundBy.CREDENTIALS),
    Source("Lambda env credentials, expiry unknown", temporary(None, method="env"), 1 * D, None, BoundBy.CREDENTIALS),
    Source("GetSessionToken 36 h, 7-day link", temporary(36 * H, method="env"), 7 * D, 36 * H, BoundBy.CREDENTIALS),
    Source("GetSessionToken 36 h, 1-day link", temporary(36 * H, method="shared-credentials-file"), 1 * D, 1 * D, BoundBy.NOMINAL),
    Source("SSO permission set 1 h, 7-day link", temporary(1 * H, method="sso"), 7 * D, 1 * H, BoundBy.CREDENTIALS),
    Source("ambient credentials inside botocore's 10-minute window", temporary(timedelta(minutes=10), method="container-role"), 7 * D, timedelta(minutes=10), BoundBy.CREDENTIALS),
]


@pytest.mark.parametrize("source", SOURCES, ids=[s.name for s in SOURCES])
def test_each_credential_source_bounds_the_link_as_facts_say(source: Source) -> None:
    expiry = sign(source.credentials, source.lifetime)
    assert expiry.signed_at == T0
    assert expiry.nominal_expires_at == T0 + source.lifetime
    assert expiry.bound_by is source.bound_by
    if source.effective_after is None:
        assert expiry.effective_expires_at is None
        assert not expiry.cut_short
        assert expiry.lost == timedelta(0)
    else:
        assert expiry.effective_expires_at == T0 + source.effective_after
        assert expiry.cut_short == (source.lifetime - source.effective_after > expiry.tolerance)
        assert expiry.lost == source.lifetime - source.effective_after
    assert expiry.reason.endswith(".")
    assert expiry.reason.count(". ") == 0


def test_ambient_link_is_cut_at_credential_expiry() -> None:
    creds = temporary(3 * H, method="container-role", label="the task role's temporary credentials")
    expiry = sign(creds, 7 * D)
    assert expiry.effective_expires_at == datetime(2026, 1, 2, 14, 5, tzinfo=UTC)
    assert expiry.bound_by is BoundBy.CREDENTIALS
    assert expiry.reason == (
        "Signed with the task role's temporary credentials, which expire at 14:05 UTC on 2 Jan 2026, "
        "6 days 21 hours before the 7 days asked."
    )


def test_long_term_key_link_runs_its_full_lifetime() -> None:
    expiry = sign(long_term(), 7 * D, strategy="iam-user")
    assert expiry.effective_expires_at == expiry.nominal_expires_at
    assert expiry.reason == "Runs its full 7 days: the signer user's long-term access key does not expire."


def test_temporary_credentials_that_outlive_the_link_say_so() -> None:
    expiry = sign(temporary(12 * H, method="assume-role"), 1 * H, strategy="role-session")
    assert expiry.bound_by is BoundBy.NOMINAL
    assert expiry.reason == "Runs its full 1 hour: the temporary credentials, which expire at 23:05 UTC on 2 Jan 2026, outlive it."


def test_lambda_link_has_unknown_real_expiry_and_says_it_may_die_any_time() -> None:
    expiry = sign(temporary(None, method="env", label="the Lambda function's temporary credentials"), 1 * D)
    assert expiry.effective_expires_at is None
    assert expiry.bound_by is BoundBy.CREDENTIALS
    assert expiry.reason == (
        "Signed with the Lambda function's temporary credentials, whose expiry is not visible, "
        "so the link may stop working at any time before its nominal expiry at 11:05 UTC on 3 Jan 2026."
    )


def test_known_revocation_still_ends_a_link_whose_credential_expiry_is_unknown() -> None:
    expiry = sign(temporary(None, method="env"), 1 * D, revoked_at=T0 + 2 * H)
    assert expiry.effective_expires_at == T0 + 2 * H
    assert expiry.bound_by is BoundBy.REVOKED
    assert "or sooner if the temporary credentials expire first" in expiry.reason
    assert state_at(expiry, T0 + 3 * H) is State.REVOKED


def test_unknown_kind_without_expiry_is_treated_as_long_term_but_says_the_kind_is_unknown() -> None:
    creds = CredentialFacts.from_access_key("testing")
    assert creds.kind is CredentialKind.UNKNOWN
    expiry = sign(creds, 2 * H)
    assert expiry.effective_expires_at == T0 + 2 * H
    assert expiry.bound_by is BoundBy.NOMINAL
    assert "kind of credentials that signed it is not known" in expiry.reason


def test_unknown_kind_with_a_known_expiry_is_cut_at_that_expiry() -> None:
    creds = CredentialFacts(CredentialKind.UNKNOWN, expires_at=T0 + H)
    expiry = sign(creds, D)
    assert expiry.effective_expires_at == T0 + H
    assert expiry.bound_by is BoundBy.CREDENTIALS


def test_long_term_key_ignores_an_expiry_it_cannot_have() -> None:
    creds = CredentialFacts(CredentialKind.LONG_TERM, expires_at=T0 + H, label="the key")
    assert sign(creds, D).bound_by is BoundBy.NOMINAL


# --- classification -----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "token", "kind"),
    [
        (AKIA, False, CredentialKind.LONG_TERM),
        (ASIA, False, CredentialKind.TEMPORARY),
        (ASIA, True, CredentialKind.TEMPORARY),
        (AKIA, True, CredentialKind.TEMPORARY),
        ("testing", False, CredentialKind.UNKNOWN),
        ("testing", True, CredentialKind.TEMPORARY),
        (None, False, CredentialKind.UNKNOWN),
        ("", False, CredentialKind.UNKNOWN),
    ],
)
def test_credentials_are_classified_by_key_prefix_and_session_token(key: str | None, token: bool, kind: CredentialKind) -> None:
    assert CredentialFacts.from_access_key(key, has_session_token=token).kind is kind


@pytest.mark.parametrize(
    ("key", "token", "kind"),
    [
        ("minioadmin", False, CredentialKind.LONG_TERM),  # MinIO, Ceph, R2, Wasabi keys follow no AWS prefix
        ("minioadmin", True, CredentialKind.TEMPORARY),  # MinIO's STS hands out keys with a session token
        (AKIA, False, CredentialKind.LONG_TERM),
        (ASIA, False, CredentialKind.LONG_TERM),  # off AWS only the session token makes a key temporary
        (ASIA, True, CredentialKind.TEMPORARY),
        (None, False, CredentialKind.UNKNOWN),
    ],
)
def test_on_an_s3_compatible_endpoint_only_a_session_token_makes_a_key_temporary(key: str | None, token: bool, kind: CredentialKind) -> None:
    assert CredentialFacts.from_access_key(key, has_session_token=token, on_aws=False).kind is kind


def test_from_access_key_keeps_the_given_facts_and_normalises_expiry_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    creds = CredentialFacts.from_access_key(ASIA, expires_at=datetime(2026, 1, 2, 16, 5, tzinfo=plus_two), method="sso", label="the SSO session")
    assert creds.expires_at == datetime(2026, 1, 2, 14, 5, tzinfo=UTC)
    assert creds.expires_at.tzinfo is UTC
    assert (creds.method, creds.access_key_id, creds.label) == ("sso", ASIA, "the SSO session")


# --- caps, revocation, ties, dead on arrival -------------------------------------


def test_bucket_signature_age_policy_cuts_the_link() -> None:
    expiry = sign(long_term(), D, strategy="iam-user", caps=Caps(signature_age=H))
    assert expiry.effective_expires_at == T0 + H
    assert expiry.bound_by is BoundBy.SIGNATURE_AGE
    assert expiry.reason == (
        "A bucket policy caps signature age at 1 hour, so the link dies at 12:05 UTC on 2 Jan 2026, 23 hours before the 1 day asked."
    )


def test_desk_max_lifetime_policy_cuts_the_link() -> None:
    expiry = sign(long_term(label="the CloudFront key pair"), 400 * D, strategy="cloudfront", caps=Caps(max_lifetime=365 * D))
    assert expiry.effective_expires_at == T0 + 365 * D
    assert expiry.bound_by is BoundBy.MAX_LIFETIME
    assert expiry.reason.startswith("The desk's policy caps the cloudfront strategy at 365 days, so the link dies at 11:05 UTC on 2 Jan 2027")
    assert expiry.reason.endswith("35 days before the 400 days asked.")


def test_max_lifetime_reason_for_parsed_urls_says_this_strategy() -> None:
    expiry = sign(long_term(), 2 * D, strategy="unknown", caps=Caps(max_lifetime=D))
    assert expiry.reason.startswith("The desk's policy caps this strategy at 1 day")


def test_revocation_ends_the_link_early() -> None:
    expiry = sign(long_term(), 7 * D, strategy="stable", revoked_at=T0 + 4 * D)
    assert expiry.effective_expires_at == T0 + 4 * D
    assert expiry.bound_by is BoundBy.REVOKED
    assert expiry.reason == "Revoked at 11:05 UTC on 6 Jan 2026, 3 days before its nominal expiry."


def test_revocation_after_nominal_expiry_changes_nothing() -> None:
    expiry = sign(long_term(), D, revoked_at=T0 + 2 * D)
    assert expiry.bound_by is BoundBy.NOMINAL
    assert state_at(expiry, T0 + 3 * D) is State.EXPIRED


def test_revocation_before_signing_means_the_link_never_worked() -> None:
    expiry = sign(long_term(), D, revoked_at=T0 - H)
    assert expiry.effective_expires_at == T0
    assert expiry.bound_by is BoundBy.REVOKED
    assert "before it was signed" in expiry.reason
    assert state_at(expiry, T0) is State.REVOKED


def test_earliest_of_several_bounds_wins() -> None:
    caps = Caps(signature_age=5 * H, max_lifetime=2 * D)
    expiry = sign(temporary(3 * H, method="assume-role"), 7 * D, caps=caps, revoked_at=T0 + 4 * H)
    assert expiry.bound_by is BoundBy.CREDENTIALS
    assert expiry.effective_expires_at == T0 + 3 * H


@pytest.mark.parametrize(
    ("caps", "revoked_after", "credential_life", "expected"),
    [
        (Caps(), None, H, BoundBy.NOMINAL),
        (Caps(signature_age=H), None, H, BoundBy.NOMINAL),
        (Caps(signature_age=H, max_lifetime=H), H, H, BoundBy.NOMINAL),
        (Caps(signature_age=H / 2, max_lifetime=H / 2), H / 2, H / 2, BoundBy.CREDENTIALS),
        (Caps(signature_age=H / 2, max_lifetime=H / 2), H / 2, 2 * H, BoundBy.SIGNATURE_AGE),
        (Caps(max_lifetime=H / 2), H / 2, 2 * H, BoundBy.MAX_LIFETIME),
        (Caps(), H / 2, 2 * H, BoundBy.REVOKED),
    ],
)
def test_ties_resolve_nominal_then_credentials_then_signature_age_then_max_lifetime_then_revoked(
    caps: Caps, revoked_after: timedelta | None, credential_life: timedelta, expected: BoundBy
) -> None:
    revoked_at = None if revoked_after is None else T0 + revoked_after
    expiry = sign(temporary(credential_life, method="assume-role"), H, caps=caps, revoked_at=revoked_at)
    assert expiry.bound_by is expected
    assert expiry.cut_short == (expected not in (BoundBy.NOMINAL, BoundBy.REVOKED))  # a revocation withdraws, it does not cut


def test_credentials_already_expired_make_the_link_dead_on_arrival() -> None:
    expiry = sign(temporary(-5 * timedelta(minutes=1), method="iam-role"), H)
    assert expiry.effective_expires_at == T0
    assert expiry.bound_by is BoundBy.CREDENTIALS
    assert expiry.lost == H
    assert expiry.reason == (
        "Dead on arrival: the temporary credentials had already expired at 11:00 UTC on 2 Jan 2026, 5 minutes before the link was signed."
    )
    assert state_at(expiry, T0) is State.CUT_SHORT


def test_naive_and_offset_times_are_taken_as_utc() -> None:
    naive = compute(SigningFacts("ambient", datetime(2026, 1, 2, 11, 5), H, long_term()))
    offset = compute(SigningFacts("ambient", datetime(2026, 1, 2, 12, 5, tzinfo=timezone(H)), H, long_term()))
    assert naive.signed_at == offset.signed_at == T0
    assert naive.signed_at.tzinfo is UTC


def test_negative_lifetime_or_cap_is_refused_with_a_sentence() -> None:
    with pytest.raises(LifetimeError, match=r"negative.*\.$"):
        SigningFacts("ambient", T0, -H, long_term())
    with pytest.raises(LifetimeError, match=r"cannot be negative"):
        Caps(signature_age=-H)


def test_lifetime_beyond_year_9999_is_refused() -> None:
    with pytest.raises(LifetimeError):
        compute(SigningFacts("cloudfront", T0, timedelta(days=3_000_000), long_term()))


# --- state_at -------------------------------------------------------------------


def test_state_before_signing_is_not_yet_valid() -> None:
    assert state_at(sign(long_term(), H), T0 - timedelta(seconds=1)) is State.NOT_YET_VALID


@pytest.mark.parametrize(
    ("offset", "state"),
    [
        (-H, State.NOT_YET_VALID),
        (timedelta(0), State.LIVE),
        (2 * H, State.LIVE),
        (3 * H - timedelta(seconds=1), State.LIVE),
        (3 * H, State.CUT_SHORT),
        (6 * D, State.CUT_SHORT),
        (7 * D, State.CUT_SHORT),
        (30 * D, State.CUT_SHORT),
    ],
)
def test_link_cut_by_credentials_is_live_then_cut_short_for_good(offset: timedelta, state: State) -> None:
    expiry = sign(temporary(3 * H, method="container-role"), 7 * D)
    assert state_at(expiry, T0 + offset) is state
    if state is State.LIVE:
        assert state_at(expiry, T0 + offset, at_risk=True) is State.AT_RISK
    else:
        assert state_at(expiry, T0 + offset, at_risk=True) is state


@pytest.mark.parametrize(
    ("offset", "state"),
    [(H, State.LIVE), (4 * D, State.REVOKED), (6 * D, State.REVOKED), (30 * D, State.REVOKED)],
)
def test_revoked_link_stays_revoked_even_after_nominal_expiry(offset: timedelta, state: State) -> None:
    expiry = sign(long_term(), 7 * D, strategy="stable", revoked_at=T0 + 4 * D)
    assert state_at(expiry, T0 + offset) is state


@pytest.mark.parametrize(("offset", "state"), [(H, State.LIVE), (D - timedelta(seconds=1), State.LIVE), (D, State.EXPIRED)])
def test_link_with_unknown_credential_expiry_is_live_until_nominal(offset: timedelta, state: State) -> None:
    assert state_at(sign(temporary(None, method="env"), D), T0 + offset) is state


def test_state_at_accepts_naive_times_as_utc() -> None:
    expiry = sign(long_term(), H)
    assert state_at(expiry, datetime(2026, 1, 2, 11, 30)) is State.LIVE


# --- validate_sigv4_expires -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), (3600, 3600), (604800, 604800), (604800.0, 604800), (timedelta(days=7), 604800), (timedelta(seconds=1), 1)],
)
def test_sigv4_expires_within_one_second_to_seven_days_is_accepted(value: int | float | timedelta, expected: int) -> None:
    result = validate_sigv4_expires(value)
    assert result == expected
    assert type(result) is int


def test_sigv4_expires_over_seven_days_is_refused_pointing_at_longer_strategies() -> None:
    with pytest.raises(LifetimeError) as caught:
        validate_sigv4_expires(timedelta(days=30))
    assert str(caught.value) == (
        "S3 presigned links can last at most 7 days (604800 seconds); 30 days was asked. "
        "Use the stable or cloudfront strategy for longer links."
    )


@pytest.mark.parametrize("value", [604801, 0, -1, 0.5, 1.5, float("inf"), float("nan"), timedelta(0), timedelta(days=7, seconds=1), True, "soon"])
def test_sigv4_expires_outside_the_limits_is_refused(value: object) -> None:
    with pytest.raises(LifetimeError) as caught:
        validate_sigv4_expires(value)  # type: ignore[arg-type]
    assert str(caught.value).endswith(".")


def test_sigv4_limits_match_s3() -> None:
    assert (MIN_SIGV4_EXPIRES, MAX_SIGV4_EXPIRES) == (1, 7 * 24 * 3600)


# --- as_utc / iso_z -------------------------------------------------------------------


def test_iso_z_drops_microseconds_and_converts_to_utc() -> None:
    assert iso_z(datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    assert iso_z(datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(2 * H))) == "2026-01-02T03:04:05Z"
    assert iso_z(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"
    assert iso_z(None) is None


def test_as_utc_converts_aware_and_labels_naive() -> None:
    assert as_utc(datetime(2026, 1, 2, 3)).tzinfo is UTC
    assert as_utc(datetime(2026, 1, 2, 5, tzinfo=timezone(2 * H))) == datetime(2026, 1, 2, 3, tzinfo=UTC)


def test_enums_serialise_as_the_spec_strings() -> None:
    assert [b.value for b in BoundBy] == ["nominal", "credentials", "signature-age-policy", "max-lifetime-policy", "revoked"]
    assert [s.value for s in State] == ["live", "at-risk", "expired", "cut-short", "revoked", "not-yet-valid"]
    assert sorted({s.contract.value for s in State}) == sorted(["live", "expired", "cut-short", "revoked", "not-yet-valid"])
    assert [k.value for k in CredentialKind] == ["long-term", "temporary", "unknown"]
    assert f"{BoundBy.SIGNATURE_AGE}" == "signature-age-policy"


# --- properties -------------------------------------------------------------------------

signed_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
spans = st.integers(min_value=0, max_value=400 * 86400).map(lambda s: timedelta(seconds=s))
offsets = st.integers(min_value=-2 * 86400, max_value=400 * 86400).map(lambda s: timedelta(seconds=s))
kinds = st.sampled_from(list(CredentialKind))


@st.composite
def signing_facts(draw: st.DrawFn) -> SigningFacts:
    signed_at = draw(signed_times)
    kind = draw(kinds)
    expiry_offset = draw(st.none() | offsets)
    credentials = CredentialFacts(kind, None if expiry_offset is None else signed_at + expiry_offset)
    caps = Caps(max_lifetime=draw(st.none() | spans), signature_age=draw(st.none() | spans))
    revoked_offset = draw(st.none() | offsets)
    revoked_at = None if revoked_offset is None else signed_at + revoked_offset
    strategy = draw(st.sampled_from(["ambient", "role-session", "iam-user", "stable", "cloudfront", "unknown"]))
    return SigningFacts(strategy, signed_at, draw(spans), credentials, caps, revoked_at)


@given(signing_facts())
def test_effective_expiry_is_never_after_nominal_nor_before_signing(facts: SigningFacts) -> None:
    expiry = compute(facts)
    assert expiry.nominal_expires_at == facts.signed_at + facts.lifetime
    if expiry.effective_expires_at is not None:
        assert facts.signed_at <= expiry.effective_expires_at <= expiry.nominal_expires_at
        assert expiry.lost == expiry.nominal_expires_at - expiry.effective_expires_at
    else:
        assert facts.credentials.kind is CredentialKind.TEMPORARY and facts.credentials.expires_at is None


@given(signing_facts())
def test_effective_expiry_is_never_after_temporary_credential_expiry(facts: SigningFacts) -> None:
    expiry = compute(facts)
    creds = facts.credentials
    if creds.kind is CredentialKind.TEMPORARY and creds.expires_at is not None:
        assert expiry.effective_expires_at is not None
        assert expiry.effective_expires_at <= max(facts.signed_at, creds.expires_at)


@given(signed_times, spans)
def test_long_term_key_without_caps_or_revocation_runs_its_nominal_lifetime(signed_at: datetime, lifetime: timedelta) -> None:
    expiry = compute(SigningFacts("iam-user", signed_at, lifetime, long_term()))
    assert expiry.effective_expires_at == expiry.nominal_expires_at
    assert expiry.bound_by is BoundBy.NOMINAL


@given(signing_facts())
def test_bound_by_nominal_exactly_when_the_link_is_not_cut_short(facts: SigningFacts) -> None:
    expiry = compute(facts)
    if expiry.effective_expires_at is not None:
        assert (expiry.bound_by is BoundBy.NOMINAL) == (expiry.effective_expires_at == expiry.nominal_expires_at)
        cut = expiry.bound_by is not BoundBy.REVOKED and expiry.lost > expiry.tolerance
        assert expiry.cut_short == cut
    assert expiry.reason.endswith(".")
    assert "\n" not in expiry.reason


_ORDER = {State.NOT_YET_VALID: 0, State.LIVE: 1, State.AT_RISK: 1, State.CUT_SHORT: 2, State.EXPIRED: 2, State.REVOKED: 2}


@given(signing_facts(), st.lists(st.integers(min_value=-3 * 86400, max_value=500 * 86400), min_size=2, max_size=20), st.booleans())
def test_state_only_moves_forward_in_time_and_ends_for_good(facts: SigningFacts, seconds: list[int], at_risk: bool) -> None:
    expiry = compute(facts)
    states = [state_at(expiry, facts.signed_at + timedelta(seconds=s), at_risk=at_risk) for s in sorted(seconds)]
    ranks = [_ORDER[s] for s in states]
    assert ranks == sorted(ranks)
    ended = {s for s in states if _ORDER[s] == 2}
    assert len(ended) <= 1  # one of cut short, expired or revoked, never a second one later
    assert (State.AT_RISK in states) <= (at_risk and expiry.cut_short)
    if State.LIVE in states:
        assert all(s is State.LIVE for s in states[states.index(State.LIVE) : len(states) - states[::-1].index(State.LIVE)])


# --- the tolerance: one meaning of "cut short" -----------------------------------

MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("lost", "tolerance", "cut"),
    [
        (timedelta(seconds=87), timedelta(minutes=5), False),  # a 12 h link that died 87 s early ran its course
        (timedelta(minutes=5), timedelta(minutes=5), False),  # "more than" the tolerance: exactly it is forgiven
        (timedelta(minutes=5, seconds=1), timedelta(minutes=5), True),
        (timedelta(seconds=1), timedelta(0), True),  # a tolerance of zero counts any loss
        (timedelta(0), timedelta(0), False),
    ],
)
def test_a_link_is_cut_short_only_when_it_loses_more_than_the_tolerance(lost: timedelta, tolerance: timedelta, cut: bool) -> None:
    expiry = compute(SigningFacts("ambient", T0, 12 * H, temporary(12 * H - lost, method="container-role")), tolerance=tolerance)
    assert expiry.lost == lost and expiry.tolerance == tolerance
    assert expiry.cut_short is cut
    ended = state_at(expiry, T0 + 12 * H - lost)
    assert ended is (State.CUT_SHORT if cut else State.EXPIRED)
    assert state_at(expiry, T0 + H, at_risk=True) is (State.AT_RISK if cut else State.LIVE)
    assert state_at(expiry, T0 + 30 * D) is ended  # and so it stays


def test_the_default_tolerance_is_five_minutes() -> None:
    from dashboard.expiry import CUT_SHORT_TOLERANCE

    assert CUT_SHORT_TOLERANCE == 5 * MINUTE
    assert sign(temporary(12 * H - timedelta(seconds=87), method="container-role"), 12 * H).cut_short is False


def test_a_revoked_link_is_revoked_not_cut_short_nor_at_risk() -> None:
    expiry = sign(long_term(), 7 * D, strategy="stable", revoked_at=T0 + D)
    assert expiry.bound_by is BoundBy.REVOKED and expiry.lost == 6 * D and not expiry.cut_short
    assert state_at(expiry, T0 + H, at_risk=True) is State.LIVE
    assert state_at(expiry, T0 + 2 * D, at_risk=True) is State.REVOKED


def test_at_risk_reads_as_live_in_the_specs_five_states() -> None:
    assert State.AT_RISK.contract is State.LIVE
    assert {s.contract for s in State} == {State.LIVE, State.EXPIRED, State.CUT_SHORT, State.REVOKED, State.NOT_YET_VALID}
    assert str(State.AT_RISK) == "at-risk"
