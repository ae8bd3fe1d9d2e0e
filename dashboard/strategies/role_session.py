"""`role-session`: a fresh AssumeRole session of a dedicated signing role, just before signing.

The session is asked for the role's whole `MaxSessionDuration` (read with
iam:GetRole; moto and AWS both accept less) and reused while it still covers
the asked lifetime, or nearly as much as a fresh one would.  When the
credentials that assume the role are themselves temporary, AWS treats it as
role chaining and caps the session at one hour; the desk says so instead of
pretending otherwise.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone

from botocore.exceptions import ClientError

from dashboard.aws import CredentialSnapshot
from dashboard.desk import Desk
from dashboard.durations import format_duration
from dashboard.errors import DeskError, NotConfigured, from_aws
from dashboard.expiry import CredentialFacts, CredentialKind, say_when, validate_sigv4_expires
from dashboard.strategies.base import Preview, ShareRequest, Signed, expiry_for, preview_from
from dashboard.strategies.s3links import lifetime_problem, presign_get, s3_caps, signed_s3_link

CHAINED_MAX = 3600  # seconds: AWS's limit for a role assumed with role credentials
#: A session is renewed only when a fresh one would last this much longer, so a
#: bulk action of thousands of links does not call STS once per link.
RENEW_TOLERANCE = timedelta(minutes=5)
#: A session older than this when a link is signed counts as reused (a bulk action signs within seconds).
REUSED_AFTER = timedelta(minutes=1)
LABEL = "a session of the signing role"


class RoleSession:
    name = "role-session"
    title = "Fresh role session"
    risk = "Ends with the role session (at most 12 h); nothing long-lived to leak."
    risk_rank = 1

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self._lock = threading.Lock()
        self._session: CredentialSnapshot | None = None
        self._assumed_at: datetime | None = None  # when the current session was assumed
        self._chained = False  # whether it was assumed with temporary credentials (AWS caps those at 1 h)
        self._max_duration: int | None = None
        self.assumed = 0  # sessions assumed so far (shown on the Signers page, checked by tests)

    # -- what a fresh session would give --------------------------------------------

    def _source(self) -> CredentialSnapshot:
        if self.desk.settings.signing_role_source == "signer-user":
            return self.desk.aws.signer_key()
        return self.desk.aws.ambient()

    def max_duration(self) -> int:
        """The role's MaxSessionDuration, or the configured fallback when iam:GetRole is denied."""
        if self._max_duration is None:
            role_name = (self.desk.settings.signing_role_arn or "").rsplit("/", 1)[-1]
            try:
                role = self.desk.aws.client("iam").get_role(RoleName=role_name)["Role"]
                self._max_duration = int(role.get("MaxSessionDuration", 3600))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("AccessDenied", "AccessDeniedException"):
                    raise from_aws(exc, action=f"read the signing role {role_name}") from None
                # Denied for good: the configured value stands in (a throttled call is not cached).
                self._max_duration = self.desk.settings.signing_role_max_session
            except Exception as exc:
                raise from_aws(exc, action=f"read the signing role {role_name}") from None
        return self._max_duration

    def session_length(self) -> int:
        """What a fresh session lasts: the role's maximum, or one hour when chained."""
        longest = self.max_duration()
        return min(longest, CHAINED_MAX) if self._source().temporary else longest

    def _usable(self, session: CredentialSnapshot | None, request: ShareRequest, now: datetime) -> bool:
        if session is None or session.expires_at is None:
            return False
        left = session.expires_at - now
        fresh = timedelta(seconds=self.session_length())
        return left > timedelta(0) and left >= min(request.lifetime, fresh - RENEW_TOLERANCE)

    # -- the strategy ---------------------------------------------------------------

    def preview(self, request: ShareRequest, now: datetime) -> Preview:
        if not self.desk.settings.signing_role_arn:
            return preview_from(self, unavailable="No signing role is configured: set SHAREDESK_SIGNING_ROLE_ARN.")
        if problem := lifetime_problem(request):
            return preview_from(self, unavailable=problem)
        session = self._session
        if self._usable(session, request, now):
            assert session is not None
            facts = session.facts(LABEL, self._why(now, self._assumed_at, self._chained))
        else:
            chained = self._source().temporary
            expires = now + timedelta(seconds=self.session_length())
            facts = CredentialFacts(
                kind=CredentialKind.TEMPORARY, expires_at=expires, method="assume-role", label=LABEL, note=self._why(now, None, chained)
            )
        return preview_from(self, expiry_for(self.name, request, now, facts, s3_caps(self.desk.settings)))

    def _why(self, now: datetime, assumed_at: datetime | None, chained: bool) -> str:
        """Why a session of the signing role lasts what it does: reused since T, role chaining's 1 h cap, or the role's maximum."""
        longest = format_duration(timedelta(seconds=self.max_duration()))
        parts = []
        if assumed_at is not None and now - assumed_at >= REUSED_AFTER:
            parts.append(
                f"the desk reused a session assumed at {say_when(assumed_at)} (it takes a new one only when that would "
                f"last {format_duration(RENEW_TOLERANCE)} longer)"
            )
        if chained:
            source = "the signer user's key" if self.desk.settings.signing_role_source == "signer-user" else "the desk's own temporary credentials"
            parts.append(
                f"the role is assumed with {source}, and AWS caps such role chaining at {format_duration(timedelta(seconds=CHAINED_MAX))}, "
                f"below the role's maximum of {longest}"
            )
        if not parts:
            parts.append(f"a fresh session lasts at most the role's MaxSessionDuration, {longest}")
        return "; ".join(parts)

    def session_for(self, request: ShareRequest, now: datetime) -> tuple[CredentialSnapshot, str]:
        """The session to sign with (assumed now or reused), and why it lasts what it does."""
        with self._lock:
            if not self._usable(self._session, request, now):
                chained = self._source().temporary
                self._session = self._assume(request.issuer)
                self._assumed_at, self._chained = now, chained
            assert self._session is not None
            return self._session, self._why(now, self._assumed_at, self._chained)

    def _assume(self, issuer: str) -> CredentialSnapshot:
        arn = self.desk.settings.signing_role_arn
        if not arn:
            raise NotConfigured("No signing role is configured: set SHAREDESK_SIGNING_ROLE_ARN.")
        source = self._source()
        sts = self.desk.aws.client("sts", source)
        name = ("share-desk-" + re.sub(r"[^\w+=,.@-]", "-", issuer))[:64]
        duration = self.session_length()
        try:
            try:
                response = sts.assume_role(RoleArn=arn, RoleSessionName=name, DurationSeconds=duration)
            except ClientError as exc:
                if "role chaining" not in str(exc) or duration <= CHAINED_MAX:
                    raise
                response = sts.assume_role(RoleArn=arn, RoleSessionName=name, DurationSeconds=CHAINED_MAX)
        except DeskError:
            raise
        except Exception as exc:
            raise from_aws(exc, action=f"assume the signing role {arn}") from None
        creds = response["Credentials"]
        self.assumed += 1
        return CredentialSnapshot(
            access_key_id=creds["AccessKeyId"],
            secret_access_key=creds["SecretAccessKey"],
            session_token=creds["SessionToken"],
            method="assume-role",
            expires_at=creds["Expiration"].astimezone(timezone.utc),
        )

    def sign(self, request: ShareRequest, now: datetime) -> Signed:
        validate_sigv4_expires(request.lifetime)  # before any STS call
        session, why = self.session_for(request, now)
        url = presign_get(self.desk.aws.s3(session), session, request, now)
        facts = session.facts(LABEL, why)
        return signed_s3_link(self.name, request, url, facts, s3_caps(self.desk.settings))


def build(desk: Desk) -> RoleSession:
    return RoleSession(desk)
