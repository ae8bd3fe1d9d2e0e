"""The Signers page and its service: credential health, each strategy's reach now, links at risk and rotation impact.

The service runs against moto (the same world as tests/test_strategies.py);
counts run against a seeded log whose every row is chosen to fall on one
side of a rule; a desk that may not read IAM gets a hand-written fake IAM
client that answers AccessDenied, as AWS would (moto allows everything).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from dashboard import issuing, signers
from dashboard.aws import Aws
from dashboard.config import Settings
from dashboard.desk import Desk
from dashboard.errors import DeskError
from dashboard.identity import named
from dashboard.store import NewLink
from dashboard.strategies import ShareRequest
from tests.test_strategies import CF_KEY_PAIR_ID, World, build_world, make_desk, task_role_credentials

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
H, D, M = timedelta(hours=1), timedelta(days=1), timedelta(minutes=1)
SIGNER = "AKIASIGNERCURRENT001"
OLD_SIGNER = "AKIASIGNERRETIRED001"
PAIR = "K2CURRENTPAIR"


def row(n: int, strategy: str, *, issued: timedelta, nominal: timedelta, real: timedelta | None, key_id: str = "ASIAEXAMPLE", kind: str = "temporary") -> NewLink:
    """A link issued `issued` before NOW, promised for `nominal`, really ending `real` after issue (None: unknown)."""
    at = NOW - issued
    return NewLink(
        issued_at=at, issuer="alice", strategy=strategy, bucket="b-bucket", key=f"k/{n}.pdf", filename=None, ticket=f"TCK-{n}", note=None,
        signed_at=at, nominal_expires_at=at + nominal, effective_expires_at=None if real is None else at + real,
        bound_by="credentials" if real is not None and real < nominal else "nominal", reason="seeded", credential_source="container-role",
        access_key_id=key_id, credential_kind=kind, credential_expires_at=None, fingerprint=f"{n:064x}", display_url=f"https://x/{n}",
    )  # fmt: skip


SEEDED = [
    # at risk: live now, and its credentials end hours before its promise
    row(1, "ambient", issued=H, nominal=D, real=3 * H),
    row(2, "role-session", issued=2 * H, nominal=3 * D, real=12 * H),
    # not at risk
    row(3, "ambient", issued=H, nominal=2 * H, real=2 * H),  # runs its promise
    row(4, "ambient", issued=H, nominal=D, real=D - 2 * M),  # loses less than the tolerance
    row(5, "ambient", issued=5 * H, nominal=D, real=3 * H),  # already cut short: not "at risk" any more
    row(6, "ambient", issued=H, nominal=D, real=None),  # nobody knows when its credentials end
    row(7, "role-session", issued=H, nominal=D, real=4 * H),  # revoked below
    # rotation impact: the signer key
    row(10, "iam-user", issued=D, nominal=7 * D, real=7 * D, key_id=SIGNER, kind="long-term"),
    row(11, "iam-user", issued=H, nominal=2 * H, real=2 * H, key_id=SIGNER, kind="long-term"),
    row(12, "iam-user", issued=3 * D, nominal=D, real=D, key_id=SIGNER, kind="long-term"),  # expired
    row(13, "iam-user", issued=H, nominal=D, real=D, key_id=OLD_SIGNER, kind="long-term"),  # another key
    # rotation impact: the CloudFront key pair
    row(20, "cloudfront", issued=200 * D, nominal=365 * D, real=365 * D, key_id=PAIR, kind="long-term"),
    row(21, "cloudfront", issued=H, nominal=D, real=D, key_id=PAIR, kind="long-term"),
    row(22, "cloudfront", issued=H, nominal=D, real=D, key_id="K2OTHERPAIR", kind="long-term"),
    row(23, "cloudfront", issued=40 * D, nominal=30 * D, real=30 * D, key_id=PAIR, kind="long-term"),  # expired
]


@pytest.fixture
def seeded(tmp_path) -> Desk:
    settings = Settings(
        demo=False, database_url=str(tmp_path / "log.sqlite3"), state_dir=tmp_path,
        signer_access_key_id=SIGNER, signer_secret_access_key="x" * 40, cloudfront_key_pair_id=PAIR, cloudfront_max_days=365,
    )  # fmt: skip
    desk = Desk(settings=settings, aws=Aws(settings))
    entries = desk.log.record_many(SEEDED)
    desk.log.revoke(entries[6].id, at=NOW - 10 * M, by="lead")
    return desk


def test_at_risk_counts_live_links_whose_credentials_end_before_their_promise(seeded):
    found = signers.at_risk(seeded, NOW)
    assert [r.entry.ticket for r in found] == ["TCK-1", "TCK-2"]  # soonest death first
    assert found[0].dies_at == NOW + 2 * H and found[0].lost == D - 3 * H


def test_rotation_impact_counts_the_live_links_each_key_keeps_alive(seeded):
    signer, pair = signers.rotation_impact(seeded, NOW)
    assert (signer.key_id, sorted(e.ticket or "" for e in signer.links)) == (SIGNER, ["TCK-10", "TCK-11"])
    assert (pair.key_id, sorted(e.ticket or "" for e in pair.links)) == (PAIR, ["TCK-20", "TCK-21"])


# --- health, against moto ---------------------------------------------------------------


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with mock_aws():
        yield build_world()


def test_health_reads_every_signer_and_what_each_strategy_can_give_now(world, tmp_path):
    desk = make_desk(world, tmp_path, ambient=task_role_credentials(timedelta(minutes=38)), signing_role_source="signer-user")
    health = signers.health(desk)
    assert (health.ambient.method, health.ambient.kind, health.ambient.access_key_id) == ("container-role", "temporary", "ASIATASKROLEEXAMPLE1")
    assert health.ambient.source == "the ECS/Fargate task role (or EKS Pod Identity)"
    assert (health.role.max_session, health.role.chained, health.role.session_seconds) == (43200, False, 43200)
    assert (health.signer.user, health.signer.status) == ("sharedesk-signer", "Active")
    assert (health.cloudfront.key_pair_id, health.cloudfront.domain) == (CF_KEY_PAIR_ID, "d111111abcdef8.cloudfront.net")
    reach = {r.strategy: r for r in health.reach}
    assert reach["ambient"].longest is not None and timedelta(minutes=37) <= reach["ambient"].longest <= timedelta(minutes=38)
    assert reach["role-session"].longest == timedelta(hours=12)
    assert reach["iam-user"].longest == 7 * D and reach["cloudfront"].longest == 365 * D and reach["stable"].longest == 90 * D
    assert any(w.startswith("Ambient credentials expire in 3") and "links signed with them now die then" in w for w in health.warnings)


def test_a_role_assumed_with_temporary_credentials_is_capped_at_an_hour(world, tmp_path):
    desk = make_desk(world, tmp_path, signing_role_source="ambient")
    health = signers.health(desk)
    assert health.role.chained and health.role.session_seconds == 3600
    assert any("role chaining" in w for w in health.warnings)
    assert {r.strategy: r for r in health.reach}["role-session"].longest == H


def test_an_inactive_or_old_signer_key_is_warned_about(world, tmp_path):
    from moto.iam.models import iam_backends

    iam = world.admin.client("iam")
    iam.update_access_key(UserName="sharedesk-signer", AccessKeyId=world.signer_key_id, Status="Inactive")
    key = next(k for k in iam_backends["123456789012"]["aws"].users["sharedesk-signer"].access_keys if k.access_key_id == world.signer_key_id)
    created = key.create_date
    key.create_date = created - timedelta(days=200, minutes=1)  # a minute more: health's now is whole seconds, the key was made this second
    try:
        health = signers.health(make_desk(world, tmp_path))
        assert health.signer.status == "Inactive"
        assert any("is inactive: every iam-user link signed with it fails now" in w for w in health.warnings)
        assert any("is 200 days old (more than 90)" in w for w in health.warnings), health.warnings
    finally:
        key.create_date = created
        iam.update_access_key(UserName="sharedesk-signer", AccessKeyId=world.signer_key_id, Status="Active")


class DeniedIam:
    """IAM as a least-privilege task role sees it: every read answers AccessDenied."""

    def _deny(self, operation: str) -> ClientError:
        return ClientError({"Error": {"Code": "AccessDenied", "Message": f"not authorized to perform: iam:{operation}"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, operation)

    def get_role(self, **kwargs: Any) -> Any:
        raise self._deny("GetRole")

    def get_access_key_last_used(self, **kwargs: Any) -> Any:
        raise self._deny("GetAccessKeyLastUsed")

    def list_access_keys(self, **kwargs: Any) -> Any:
        raise self._deny("ListAccessKeys")


class ThrottledIam(DeniedIam):
    def _deny(self, operation: str) -> ClientError:
        return ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


def with_iam(desk: Desk, fake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    real = desk.aws.client
    monkeypatch.setattr(desk.aws, "client", lambda service, credentials=None: fake if service == "iam" else real(service, credentials))


def test_permissions_the_desk_lacks_are_findings_not_errors(world, tmp_path, monkeypatch):
    desk = make_desk(world, tmp_path)
    with_iam(desk, DeniedIam(), monkeypatch)
    health = signers.health(desk)
    assert health.role.denied is not None and health.role.denied.permission == "iam:GetRole"
    assert health.role.session_seconds == 3600  # role chaining from the task role, and the configured fallback
    assert health.signer.denied is not None and "lacks iam:GetAccessKeyLastUsed" in health.signer.denied.sentence
    assert health.signer.access_key_id == world.signer_key_id and health.signer.status is None


def test_other_iam_failures_are_sentences(world, tmp_path, monkeypatch):
    desk = make_desk(world, tmp_path)
    with_iam(desk, ThrottledIam(), monkeypatch)
    with pytest.raises(DeskError, match="throttling"):
        signers.health(desk)


# --- re-issuing an at-risk link ------------------------------------------------------------


def test_an_at_risk_link_is_reissued_with_the_recommended_strategy_for_the_rest_of_its_promise(world, tmp_path):
    desk = make_desk(world, tmp_path, ambient=task_role_credentials(timedelta(hours=2)))
    (link,) = issuing.issue(desk, [ShareRequest(bucket="share-desk-files", key="reports/2026/summary.pdf", lifetime=D, issuer="ann@example.com", ticket="TCK-9")], "ambient")
    (risky,) = signers.at_risk(desk)
    assert risky.entry.id == link.entry.id
    plan = signers.plan_rescue(desk, risky.entry, named("lead@example.com"))
    assert plan.possible and plan.strategy == "stable" and plan.request is not None
    assert D - 2 * M <= plan.request.lifetime <= D and plan.request.ticket == "TCK-9"
    new = signers.rescue(desk, plan, named("lead@example.com"))
    assert new.entry.issuer == "lead@example.com" and new.entry.strategy == "stable"
    assert f"log entry {link.entry.id}" in (new.entry.note or "")
    assert desk.log.get(new.entry.id) == new.entry  # recorded before it was returned
    assert "This link works until" in issuing.customer_message([new])
    assert [r.entry.id for r in signers.at_risk(desk)] == [link.entry.id]  # the old link stays at risk: it is already out there


def test_without_an_identity_nothing_is_reissued(world, tmp_path):
    desk = make_desk(world, tmp_path, ambient=task_role_credentials(timedelta(hours=2)))
    issuing.issue(desk, [ShareRequest(bucket="share-desk-files", key="reports/2026/summary.pdf", lifetime=D, issuer="ann@example.com")], "ambient")
    plan = signers.plan_rescue(desk, signers.at_risk(desk)[0].entry, None)
    assert not plan.possible and "Sign in first" in plan.why
