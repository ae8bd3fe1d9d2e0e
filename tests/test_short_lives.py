"""Short lives fully explained: why a role session got less than the role's maximum, where ambient credentials come from."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from moto import mock_aws

from dashboard.expiry import BoundBy, say_when
from tests.test_strategies import (
    World,
    build_world,
    long_term_credentials,
    make_desk,
    request,
    session_with,
    task_role_credentials,
    utcnow,
)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with mock_aws():
        yield build_world()


def test_a_role_session_link_from_a_fresh_session_says_the_session_lasts_the_roles_maximum(world, tmp_path):
    desk = make_desk(world, tmp_path, signing_role_source="signer-user")
    signed = desk.strategies["role-session"].sign(request(timedelta(days=7)), utcnow())
    assert signed.expiry.bound_by is BoundBy.CREDENTIALS
    assert signed.expiry.reason.endswith("before the 7 days asked: a fresh session lasts at most the role's MaxSessionDuration, 12 hours.")


def test_a_role_session_link_from_a_reused_session_says_since_when_it_was_reused(world, tmp_path):
    desk = make_desk(world, tmp_path, signing_role_source="signer-user")
    strategy = desk.strategies["role-session"]
    first_at = utcnow()
    strategy.sign(request(timedelta(hours=1)), first_at)
    later = first_at + timedelta(minutes=3)  # still within 5 min of a fresh session: reused, not renewed
    preview = strategy.preview(request(timedelta(days=7)), later)
    signed = strategy.sign(request(timedelta(days=7)), later)
    assert strategy.assumed == 1
    reused = f"the desk reused a session assumed at {say_when(first_at)} (it takes a new one only when that would last 5 minutes longer)"
    assert reused in signed.expiry.reason and reused in preview.expiry.reason
    assert signed.expiry.reason.count(".") == signed.expiry.reason.count(". ") + 1  # still one sentence


def test_a_role_session_assumed_with_temporary_credentials_names_role_chainings_one_hour_cap(world, tmp_path):
    desk = make_desk(world, tmp_path, ambient=task_role_credentials(timedelta(hours=6)))  # source: ambient (the task role)
    strategy = desk.strategies["role-session"]
    preview = strategy.preview(request(timedelta(hours=12)), utcnow())
    signed = strategy.sign(request(timedelta(hours=12)), utcnow())
    chaining = "the role is assumed with the desk's own temporary credentials, and AWS caps such role chaining at 1 hour, below the role's maximum of 12 hours"
    assert chaining in preview.expiry.reason and chaining in signed.expiry.reason
    assert signed.expiry.effective_expires_at - signed.expiry.signed_at <= timedelta(hours=1, seconds=1)


def test_an_ambient_link_names_its_credential_source_in_plain_words_and_since_when_the_key_is_used(world, tmp_path):
    desk = make_desk(world, tmp_path, ambient=task_role_credentials(timedelta(hours=2)))
    signed = desk.strategies["ambient"].sign(request(timedelta(days=1)), utcnow())
    reason = signed.expiry.reason
    assert "they come from the ECS/Fargate task role (or EKS Pod Identity), which renews them on its own schedule" in reason
    assert "this desk has used this access key since" in reason
    preview = desk.strategies["ambient"].preview(request(timedelta(days=1)), utcnow())
    assert "ECS/Fargate task role" in preview.expiry.reason


def test_an_ambient_link_after_a_rotation_says_when_the_desk_first_saw_the_new_key(world, tmp_path):
    import dataclasses

    desk = make_desk(world, tmp_path, ambient=task_role_credentials(timedelta(hours=2)))
    desk.aws.ambient()  # the desk starts with one key...
    rotated = dataclasses.replace(task_role_credentials(timedelta(hours=6)), access_key_id="ASIATASKROLEROTATED1")
    desk.aws._session = session_with(rotated)  # ...and the platform hands it a new one
    seen_at = utcnow()
    signed = desk.strategies["ambient"].sign(request(timedelta(days=1)), seen_at)
    assert signed.credentials.access_key_id == "ASIATASKROLEROTATED1"
    assert "this desk first saw this access key at" in signed.expiry.reason and "when they last rotated" in signed.expiry.reason


def test_an_ambient_long_term_key_names_where_it_comes_from(world, tmp_path):
    desk = make_desk(world, tmp_path, ambient=long_term_credentials())
    signed = desk.strategies["ambient"].sign(request(timedelta(days=3)), utcnow())
    assert signed.expiry.reason == "Runs its full 3 days: the long-term access key from environment variables does not expire."


def test_the_inspect_page_service_shows_the_short_lifes_reason_and_source(world, tmp_path):
    from dashboard import issuing
    from dashboard.inspect import explain

    desk = make_desk(world, tmp_path, ambient=task_role_credentials(timedelta(hours=2)))
    link = issuing.issue(desk, [request(timedelta(days=2))], "ambient", verify_objects=False)[0]
    found = explain(desk.log, link.url)
    assert found.credential_source == "container-role" and "ECS/Fargate task role" in found.reason
