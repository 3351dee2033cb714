"""A step's RetryPolicies, as SageMaker Pipelines defines them ("Retry Policy for Pipeline Steps").

Each policy names failure types (`ExceptionType`), and the first wait (`IntervalSeconds`, default 1), its growth
(`BackoffRate`, default 2.0) and the limit: `MaxAttempts` (1-20, default 5) or `ExpireAfterMin`. A failed
attempt is retried when a policy names its type and its limit is not reached.

The types that can happen on this machine: `Step.SERVICE_FAULT` (an AWS API answered 5xx, or could not be
reached) and `Step.THROTTLING` (an API refused the rate). The `SageMaker.*` types (a job's internal, capacity or
resource-limit errors) come from AWS's fleet: a local job failing is its own code's failure (an algorithm
error), which SageMaker does not retry either.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from botocore.exceptions import ClientError, ConnectionError, EndpointConnectionError, ReadTimeoutError

from localsage.errors import UserError
from localsage.runner.definition import Step

SERVICE_FAULT = "Step.SERVICE_FAULT"
THROTTLING = "Step.THROTTLING"
EXCEPTION_TYPES = frozenset(
    {
        SERVICE_FAULT,
        THROTTLING,
        "SageMaker.JOB_INTERNAL_ERROR",
        "SageMaker.CAPACITY_ERROR",
        "SageMaker.RESOURCE_LIMIT",
    }
)
THROTTLING_CODES = frozenset(
    {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown"}
)


@dataclass(frozen=True)
class RetryPolicy:
    exception_types: frozenset[str]
    interval_s: float = 1.0
    backoff_rate: float = 2.0
    max_attempts: int | None = 5
    expire_after_min: float | None = None

    def delay(self, retry: int) -> float:
        """The wait before retry number `retry` (1 for the first)."""
        return self.interval_s * self.backoff_rate ** (retry - 1)

    def allows(self, attempts: int, started: float) -> bool:
        """Whether another attempt may follow `attempts` made since `started`."""
        if self.expire_after_min is not None:
            return time.time() - started < self.expire_after_min * 60
        return attempts < (self.max_attempts or 1)


def policies(step: Step) -> list[RetryPolicy]:
    """The step's RetryPolicies, checked (UserError naming the entry and the rule)."""
    raw = step.raw.get("RetryPolicies", [])
    if not isinstance(raw, list):
        raise UserError(f"{step.where}RetryPolicies must be a list")
    found = []
    for index, entry in enumerate(raw):
        where = f"{step.where}RetryPolicies[{index}]"
        kinds = entry.get("ExceptionType") if isinstance(entry, dict) else None
        if not isinstance(kinds, list) or not kinds or not set(kinds) <= EXCEPTION_TYPES:
            raise UserError(f"{where}.ExceptionType must list some of {', '.join(sorted(EXCEPTION_TYPES))}")
        limits = [key for key in ("MaxAttempts", "ExpireAfterMin") if key in entry]
        if len(limits) > 1:
            raise UserError(f"{where} sets both MaxAttempts and ExpireAfterMin: keep one")
        attempts = entry.get("MaxAttempts", 5 if not limits else None)
        if attempts is not None and not (isinstance(attempts, int) and 1 <= attempts <= 20):
            raise UserError(f"{where}.MaxAttempts must be an integer from 1 to 20")
        expire = entry.get("ExpireAfterMin")
        if expire is not None and not (isinstance(expire, int | float) and 0 <= expire <= 14400):
            raise UserError(f"{where}.ExpireAfterMin must be from 0 to 14400")
        found.append(
            RetryPolicy(
                frozenset(kinds),
                float(entry.get("IntervalSeconds", 1)),
                float(entry.get("BackoffRate", 2.0)),
                attempts,
                expire,
            )
        )
    return found


def failure_type(error: BaseException, depth: int = 0) -> str | None:
    """The retry ExceptionType a failure is (or the failure that caused it), or None for a failure no policy
    retries (the step's own)."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in THROTTLING_CODES or status == 429:
            return THROTTLING
        if status >= 500:
            return SERVICE_FAULT
        return None
    if isinstance(error, EndpointConnectionError | ConnectionError | ReadTimeoutError):
        return SERVICE_FAULT
    cause = error.__cause__ or error.__context__
    return failure_type(cause, depth + 1) if cause is not None and depth < 5 else None


def matching(found: list[RetryPolicy], error: BaseException) -> RetryPolicy | None:
    kind = failure_type(error)
    return next((policy for policy in found if kind in policy.exception_types), None) if kind else None
