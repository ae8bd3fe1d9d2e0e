"""Turn AWS failures into one sentence that says what happened and what to do.

Domain code raises `DeskError` subclasses; pages and the command line print
`str(error)` and never a traceback.
"""

from __future__ import annotations

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)


class DeskError(Exception):
    """An expected failure; its message is a full sentence for the user."""

    exit_code = 1


class BadInput(DeskError):
    """The user typed something the desk cannot use (exit status 2)."""

    exit_code = 2


class NotFound(DeskError):
    """A bucket or object that does not exist."""

    exit_code = 2


class AccessDenied(DeskError):
    pass


class NotAllowed(BadInput):
    """The desk's own policy refuses the request (a bucket, a lifetime, a strategy)."""


class NotConfigured(DeskError):
    """A strategy or feature lacks the settings it needs; the message names them."""

    exit_code = 2


class Unreachable(DeskError):
    pass


class Throttled(DeskError):
    pass


class NoCredentials(DeskError):
    pass


_THROTTLING = {"Throttling", "ThrottlingException", "SlowDown", "RequestLimitExceeded", "TooManyRequestsException"}


def from_aws(exc: Exception, *, bucket: str | None = None, key: str | None = None, action: str = "reach S3") -> DeskError:
    """Map a botocore exception to a `DeskError` with a sentence; unknown errors keep AWS's own code."""
    where = f"s3://{bucket}/{key}" if bucket and key else (f"bucket {bucket!r}" if bucket else "AWS")
    if isinstance(exc, DeskError):
        return exc
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return NoCredentials(
            "The desk found no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID, give the task an IAM role, "
            "or unset every AWS setting to run the embedded demo."
        )
    if isinstance(exc, NoRegionError):
        return BadInput("No AWS region is configured: set AWS_REGION (for example us-east-1).")
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)):
        endpoint = getattr(exc, "kwargs", {}).get("endpoint_url") or "the S3 endpoint"
        return Unreachable(
            f"Could not connect to {endpoint} to {action}: check the network, the region and AWS_ENDPOINT_URL, then try again."
        )
    if isinstance(exc, ParamValidationError):
        if bucket is not None and "Bucket" in str(exc):
            return BadInput(f"{bucket!r} is not a valid bucket name: use 3–63 lower-case letters, digits, dots and hyphens.")
        return BadInput(f"AWS refused the request's parameters: {exc}")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = error.get("Message") or code
        if code == "NoSuchBucket":
            return NotFound(f"The bucket {bucket!r} does not exist: check its name or choose one from the list.")
        if code in ("NoSuchKey", "404", "NotFound") or (status == 404 and key):
            return NotFound(f"{where} does not exist: it may have been deleted or renamed; browse the folder to find it.")
        if code == "InvalidBucketName":
            return BadInput(f"{bucket!r} is not a valid bucket name: use 3–63 lower-case letters, digits, dots and hyphens.")
        if code in ("AccessDenied", "AllAccessDisabled", "403", "Forbidden") or status == 403:
            return AccessDenied(
                f"AWS denied the desk access to {where} ({code}): ask a platform engineer to grant its role the permission to {action}."
            )
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
            return NoCredentials(f"The desk's own AWS credentials have expired ({code}): restart it or refresh its credentials.")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "UnrecognizedClientException"):
            return NoCredentials(f"AWS does not accept the desk's credentials ({code}): check the access key and secret.")
        if code in _THROTTLING or status == 503:
            return Throttled(
                f"AWS is throttling requests to {where} ({code}) even after retries: wait a minute and try again."
            )
        return DeskError(f"AWS answered {code or status} while trying to {action} on {where}: {message}")
    return DeskError(f"Unexpected failure while trying to {action} on {where}: {exc.__class__.__name__}: {exc}")
