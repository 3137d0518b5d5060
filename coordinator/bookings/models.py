"""Bookings: volunteers in session roles (assignments) and participants in sessions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.database import JSONType, UTCDateTime, utcnow
from coordinator.extensions import db
from coordinator.sessions.models import SessionRole
from coordinator.states import status_in

ASSIGNMENT_SOURCES = ("self", "organizer", "matcher")


class AssignmentStatus(StrEnum):
    """A volunteer's booking (see docs/states.md for the transitions)."""

    PROPOSED = "proposed"  # holds a seat until `answer_by`
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"  # retracted by the matcher, or the session was cancelled
    EXPIRED = "expired"  # a proposal nobody answered by its deadline
    COVERED = "covered"  # someone else took the seat at the volunteer's request


# Live bookings: one per volunteer and session; a seat holder occupies the volunteer's time.
LIVE_ASSIGNMENT = (
    AssignmentStatus.PROPOSED,
    AssignmentStatus.CONFIRMED,
    AssignmentStatus.WAITLISTED,
)
SEAT_HOLDING = (AssignmentStatus.CONFIRMED, AssignmentStatus.PROPOSED)


class RegistrationStatus(StrEnum):
    """A participant in a session."""

    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


LIVE_REGISTRATION = (RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED)

# What the lead (or an organizer) recorded for a volunteer's booking; the first two count
# as hours worked.
VOLUNTEER_ATTENDANCE = ("attended", "late", "no_show", "excused")
WORKED_ATTENDANCE = ("attended", "late")
REGISTRATION_STATUSES = ("registered", "waitlisted", "cancelled")
ACTIVE_REGISTRATION = "status IN ('registered', 'waitlisted')"


class Assignment(db.Model):
    """A volunteer in a session role: a sign-up (source self), an organizer's assignment,
    or a matcher's proposal. Sign-ups and assignments share the capacity rules."""

    __tablename__ = "assignments"
    __table_args__ = (
        sa.CheckConstraint(f"source IN {ASSIGNMENT_SOURCES!r}", name="source"),
        sa.CheckConstraint(status_in(AssignmentStatus), name="status"),
        sa.CheckConstraint(
            "(status = 'waitlisted') = (waitlist_position IS NOT NULL)", name="waitlist_position"
        ),
        # One live booking per volunteer and session, whatever the role.
        sa.Index(
            "uq_assignments_active_volunteer_session",
            "session_id",
            "volunteer_id",
            unique=True,
            sqlite_where=sa.text(status_in(LIVE_ASSIGNMENT)),
            postgresql_where=sa.text(status_in(LIVE_ASSIGNMENT)),
        ),
        sa.Index(
            "uq_assignments_waitlist_position",
            "role_id",
            "waitlist_position",
            unique=True,
            sqlite_where=sa.text("waitlist_position IS NOT NULL"),
            postgresql_where=sa.text("waitlist_position IS NOT NULL"),
        ),
        sa.Index("ix_assignments_volunteer_status", "volunteer_id", "status"),
        # The proposals by role (few: the matcher's, waiting for an answer): the
        # dashboard's seat states (sessions.dashboard._needs).
        sa.Index(
            "ix_assignments_proposed_role",
            "role_id",
            sqlite_where=sa.text("status = 'proposed'"),
            postgresql_where=sa.text("status = 'proposed'"),
        ),
        sa.CheckConstraint(
            f"attendance IS NULL OR attendance IN {VOLUNTEER_ATTENDANCE!r}", name="attendance"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("training_sessions.id", ondelete="CASCADE"), index=True
    )
    role_id: Mapped[int] = mapped_column(sa.ForeignKey("session_roles.id", ondelete="CASCADE"))
    volunteer_id: Mapped[int] = mapped_column(sa.ForeignKey("volunteers.id", ondelete="CASCADE"))
    squad_id: Mapped[int | None] = mapped_column(sa.ForeignKey("squads.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20))
    waitlist_position: Mapped[int | None]
    matching_run_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("matching_runs.id", ondelete="SET NULL"), index=True
    )
    reasons: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # The session's version when this booking was decided (stale proposals are redone).
    session_version: Mapped[int | None]
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    late_withdrawal: Mapped[bool] = mapped_column(default=False)
    # A proposal's answer deadline: it holds its seat until then, then expires.
    answer_by: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Attendance: recorded by the lead or an organizer (None: not recorded yet); the
    # volunteer's own "I came" pre-fills the sheet and never overrides it.
    attendance: Mapped[str | None] = mapped_column(sa.String(20))
    attendance_recorded_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    attendance_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The volunteer's own "I came" (the one-tap link in the message after the session):
    # it pre-fills the lead's sheet, and `attendance` (the lead's word) wins.
    self_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    role: Mapped[SessionRole] = relationship()

    @hybrid_property
    def attended(self) -> bool | None:
        """Came (attended or late), stayed away (no_show or excused), or not recorded."""
        return None if self.attendance is None else self.attendance in WORKED_ATTENDANCE

    @attended.inplace.setter
    def _attended_setter(self, value: bool | None) -> None:
        self.attendance = None if value is None else ("attended" if value else "no_show")

    @attended.inplace.expression
    @classmethod
    def _attended_expression(cls) -> sa.ColumnElement[bool | None]:
        return sa.case(
            (cls.attendance.is_(None), sa.null()),
            else_=cls.attendance.in_(WORKED_ATTENDANCE),
        )


class Registration(db.Model):
    """A participant in a session, with attendance once the session has happened."""

    __tablename__ = "registrations"
    __table_args__ = (
        sa.CheckConstraint(status_in(RegistrationStatus), name="status"),
        sa.CheckConstraint(
            "(status = 'waitlisted') = (waitlist_position IS NOT NULL)", name="waitlist_position"
        ),
        sa.Index(
            "uq_registrations_active_participant_session",
            "session_id",
            "participant_id",
            unique=True,
            sqlite_where=sa.text(status_in(LIVE_REGISTRATION)),
            postgresql_where=sa.text(status_in(LIVE_REGISTRATION)),
        ),
        sa.Index(
            "uq_registrations_waitlist_position",
            "session_id",
            "waitlist_position",
            unique=True,
            sqlite_where=sa.text("waitlist_position IS NOT NULL"),
            postgresql_where=sa.text("waitlist_position IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("training_sessions.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(20))
    waitlist_position: Mapped[int | None]
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    attended: Mapped[bool | None]
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CoverStatus(StrEnum):
    """A confirmed volunteer's request for someone to take their seat (docs/states.md)."""

    OPEN = "open"  # offers are out; the volunteer is still booked
    TAKEN = "taken"  # someone accepted: the original booking ended `covered`
    WITHDRAWN = "withdrawn"  # the volunteer cancelled the request (and is still booked)
    LAPSED = "lapsed"  # nobody accepted by the deadline: the organizer was alerted
    CLOSED = "closed"  # the booking ended otherwise (withdrawn, session cancelled)


class CoverOfferStatus(StrEnum):
    """One volunteer asked to take a seat someone cannot keep."""

    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    VOIDED = "voided"  # the request ended (taken by another, withdrawn, lapsed)


class CoverRequest(db.Model):
    """\"Tìm người thay\": a confirmed booking whose seat is offered to the best few
    volunteers by the matcher's rules; the first to accept takes it (one open request
    per booking, in the database)."""

    __tablename__ = "cover_requests"
    __table_args__ = (
        sa.CheckConstraint(status_in(CoverStatus), name="status"),
        sa.Index(
            "uq_cover_requests_open_assignment",
            "assignment_id",
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        ),
        sa.Index("ix_cover_requests_status_deadline", "status", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("training_sessions.id", ondelete="CASCADE"), index=True
    )
    role_id: Mapped[int] = mapped_column(sa.ForeignKey("session_roles.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(sa.String(20))
    # Offers are answered until then (PROPOSAL_DEADLINE_HOURS before the start); then the
    # organizer is alerted, once.
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    requested_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # The booking of whoever took the seat.
    covered_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("assignments.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    offers: Mapped[list[CoverOffer]] = relationship(
        order_by="CoverOffer.rank", viewonly=True, lazy="select"
    )


class CoverOffer(db.Model):
    """The seat of a cover request offered to one volunteer, `rank` 1 the best fit."""

    __tablename__ = "cover_offers"
    __table_args__ = (
        sa.CheckConstraint(status_in(CoverOfferStatus), name="status"),
        sa.UniqueConstraint("cover_request_id", "volunteer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cover_request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cover_requests.id", ondelete="CASCADE"), index=True
    )
    volunteer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("volunteers.id", ondelete="CASCADE"), index=True
    )
    rank: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
