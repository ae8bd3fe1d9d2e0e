"""`iam-user`: a long-term access key of a dedicated signer IAM user.

Its links run their full nominal life, but never beyond S3's 7 days, and they
all die together if the key is deactivated: the price of a long-lived secret.
"""

from __future__ import annotations

from datetime import datetime

from dashboard.desk import Desk
from dashboard.errors import DeskError
from dashboard.strategies.base import Preview, ShareRequest, Signed, expiry_for, preview_from
from dashboard.strategies.s3links import lifetime_problem, presign_get, s3_caps, signed_s3_link

LABEL = "the signer user's long-term access key"


class IamUser:
    name = "iam-user"
    title = "Signer user key"
    risk = "A long-lived secret key; one link cannot be revoked without deactivating the key for all."
    risk_rank = 4

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def preview(self, request: ShareRequest, now: datetime) -> Preview:
        if problem := lifetime_problem(request):
            return preview_from(self, unavailable=problem)
        try:
            key = self.desk.aws.signer_key()
        except DeskError as exc:
            return preview_from(self, unavailable=str(exc))
        return preview_from(self, expiry_for(self.name, request, now, key.facts(LABEL), s3_caps(self.desk.settings)))

    def sign(self, request: ShareRequest, now: datetime) -> Signed:
        key = self.desk.aws.signer_key()
        url = presign_get(self.desk.aws.s3(key), key, request, now)
        return signed_s3_link(self.name, request, url, key.facts(LABEL), s3_caps(self.desk.settings))


def build(desk: Desk) -> IamUser:
    return IamUser(desk)
