"""Per-request context: who is asking, and the options that shape a write."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        d: dict[str, object] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            d["uid"] = self.uid
        if self.extra:
            d["extra"] = self.extra
        return d


SYSTEM = UserInfo("system:apiserver", ("system:masters",))


@dataclass
class RequestContext:
    user: UserInfo = SYSTEM
    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Warn"  # Strict | Warn | Ignore (upstream default: Warn)
    user_agent: str = ""
    warnings: list[str] = field(default_factory=list)
    # Fields the request body names twice in one object (JSON create/update bodies), reported by
    # fieldValidation beside the unknown fields when the body is decoded.
    duplicate_fields: list[str] = field(default_factory=list)
    # Internal system writes only (never set from a request): skip the kind's semantic validation,
    # e.g. the bootstrap `kubernetes` Endpoints pointing at a loopback apiserver.
    trusted: bool = False
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def timestamp(self) -> str:
        """`now` as an RFC 3339 timestamp (seconds), computed once per request."""
        ts = self.__dict__.get("_timestamp")
        if ts is None:
            ts = self.__dict__["_timestamp"] = self.now.strftime("%Y-%m-%dT%H:%M:%SZ")
        return ts

    def manager(self, default: str = "") -> str:
        """fieldManager, or the User-Agent's product token as upstream derives it."""
        if self.field_manager:
            return self.field_manager
        if self.user_agent:
            return self.user_agent.split("/", 1)[0][:128]
        return default or "unknown"
