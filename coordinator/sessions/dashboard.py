"""What needs an organizer now: each role of a session in one of three states (confirmed,
awaiting a reply, empty), the sessions ordered by urgency, and a summary strip. Plain
functions over `bookings.staffing` rows: no queries, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

URGENT_DAYS, SOON_DAYS = 3, 7


class RoleState(StrEnum):
    CONFIRMED = "confirmed"  # every seat taken by someone who said yes
    AWAITING = "awaiting"  # no empty seat, but some wait for an answer to a proposal
    EMPTY = "empty"  # at least one seat nobody holds


def role_state(role: dict[str, Any]) -> RoleState:
    if role["confirmed"] >= role["needed"]:
        return RoleState.CONFIRMED
    if role["confirmed"] + role["proposed"] >= role["needed"]:
        return RoleState.AWAITING
    return RoleState.EMPTY


@dataclass
class SessionNeeds:
    """A session on the dashboard: per role its state and counts; what is missing."""

    session: Any
    roles: list[dict[str, Any]]
    empty: int  # seats nobody holds
    awaiting: int  # seats held by unanswered proposals
    urgency: str  # urgent, soon or fine (the badge)
    rank: int = field(default=0)

    @property
    def staffed(self) -> bool:
        """Fully staffed: every seat confirmed ("Đủ người" only then)."""
        return self.empty == 0 and self.awaiting == 0

    @property
    def lead_missing(self) -> bool:
        return any(r["role"] == "lead" and r["state"] != RoleState.CONFIRMED for r in self.roles)


def needs_of(session: Any, staffing: list[dict[str, Any]], now: datetime) -> SessionNeeds:
    roles = [{**r, "state": role_state(r)} for r in staffing]
    empty = sum(max(r["needed"] - r["confirmed"] - r["proposed"], 0) for r in staffing)
    awaiting = sum(min(r["proposed"], max(r["needed"] - r["confirmed"], 0)) for r in staffing)
    days = (session.starts_at - now) / timedelta(days=1)
    within = 0 if days < URGENT_DAYS else 1 if days < SOON_DAYS else 2
    if empty:
        urgency = ("urgent", "soon", "fine")[within]
        rank = (0, 1, 3)[within]
    elif awaiting:
        urgency = "soon" if within < 2 else "fine"
        rank = (2, 2, 4)[within]
    else:
        urgency, rank = "fine", 5
    return SessionNeeds(session, roles, empty, awaiting, urgency, rank)


def by_urgency(rows: list[SessionNeeds]) -> list[SessionNeeds]:
    """Empty seats soonest first, then unanswered proposals, then staffed sessions; by
    start time within each."""
    return sorted(rows, key=lambda row: (row.rank, row.session.starts_at, row.session.id))


@dataclass(frozen=True)
class Summary:
    lead_missing_this_week: int  # sessions in the next 7 days without a confirmed lead
    empty_this_week: int  # sessions in the next 7 days with a seat nobody holds
    awaiting: int  # seats waiting for a volunteer's answer, all weeks
    staffed: int


def summary(rows: list[SessionNeeds], now: datetime) -> Summary:
    week = [r for r in rows if r.session.starts_at < now + timedelta(days=SOON_DAYS)]
    return Summary(
        lead_missing_this_week=sum(1 for r in week if r.lead_missing),
        empty_this_week=sum(1 for r in week if r.empty),
        awaiting=sum(r.awaiting for r in rows),
        staffed=sum(1 for r in rows if r.staffed),
    )
