"""authentication.k8s.io/v1 strategies: TokenReview and SelfSubjectReview (virtual, never stored).

Theory of operation: review objects are requests answered in their status by
the authenticator. The strategy only shapes and checks the request: status
from the client is discarded, and a TokenReview needs a token (upstream answers
400 "token is required for TokenReview in authentication", a request error
rather than a field error, returned by `request_error`).
"""

from __future__ import annotations

from typing import Any

from pocketkube.apiserver.strategy import Strategy
from pocketkube.machinery import errors

Obj = dict[str, Any]


class ReviewStrategy(Strategy):
    """Create-only, answer-in-status objects: no generation, client status dropped."""

    tracks_generation = False

    def request_error(self, obj: Obj) -> errors.StatusError | None:
        """A 400 the REST layer returns before evaluating the review, or None."""
        return None


class TokenReviewStrategy(ReviewStrategy):
    def request_error(self, obj: Obj) -> errors.StatusError | None:
        if not (obj.get("spec") or {}).get("token"):
            return errors.bad_request("token is required for TokenReview in authentication")
        return None


STRATEGIES: dict[str, Strategy] = {
    "SelfSubjectReview": ReviewStrategy(),
    "TokenReview": TokenReviewStrategy(),
}
