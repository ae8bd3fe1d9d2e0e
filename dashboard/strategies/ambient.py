"""`ambient`: sign with whatever credentials the desk process runs with.

The credentials are frozen first and the URL is signed with that frozen set,
so the credential expiry recorded in the log is exactly the one that signed.
On Fargate, EC2 or with an assumed role this is the strategy whose links die
early: hours (or, near a refresh, about ten minutes) after signing.
"""

from __future__ import annotations

from datetime import datetime

from dashboard.aws import CredentialSnapshot, source_name
from dashboard.desk import Desk
from dashboard.expiry import CredentialFacts, say_when
from dashboard.strategies.base import Preview, ShareRequest, Signed, expiry_for, preview_from
from dashboard.strategies.s3links import lifetime_problem, presign_get, s3_caps, signed_s3_link


def ambient_facts(credentials: CredentialSnapshot) -> CredentialFacts:
    """The desk's own credentials, named by where they come from, and when they last rotated as far as the desk saw.

    botocore only says *how* it found the credentials (``container-role``,
    ``iam-role``, ``sso``...); the reason says it in plain words, so a short
    life reads as "the ECS task role's credentials rotate", not as a bug.
    """
    source = source_name(credentials.method)
    if credentials.kind == "temporary":
        note = f"they come from {source}, which renews them on its own schedule"
        if credentials.first_seen is not None:
            seen = say_when(credentials.first_seen)
            note += f"; this desk first saw this access key at {seen}, when they last rotated" if credentials.rotated else (
                f"; this desk has used this access key since {seen}"
            )
        return credentials.facts(note=note)
    if credentials.kind == "long-term":
        return credentials.facts(label=f"the long-term access key from {source}")
    return credentials.facts(label=f"the credentials from {source}")


class Ambient:
    name = "ambient"
    title = "Desk's own credentials"
    risk = "Dies with the desk's credentials; nothing long-lived to leak."
    risk_rank = 0

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def preview(self, request: ShareRequest, now: datetime) -> Preview:
        if problem := lifetime_problem(request):
            return preview_from(self, unavailable=problem)
        credentials = self.desk.aws.ambient()
        return preview_from(self, expiry_for(self.name, request, now, ambient_facts(credentials), s3_caps(self.desk.settings)))

    def sign(self, request: ShareRequest, now: datetime) -> Signed:
        credentials = self.desk.aws.ambient()
        url = presign_get(self.desk.aws.s3(credentials), credentials, request, now)
        return signed_s3_link(self.name, request, url, ambient_facts(credentials), s3_caps(self.desk.settings))


def build(desk: Desk) -> Ambient:
    return Ambient(desk)
