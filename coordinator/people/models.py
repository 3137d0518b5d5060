"""Users (logins), API tokens, volunteers and their weekly availability."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from coordinator.database import JSONType, UTCDateTime, utcnow
from coordinator.extensions import db
from coordinator.text import search_key

USER_ROLES = ("admin", "organizer", "volunteer", "participant")
# Ids are INTEGER columns: a larger number names no row (and PostgreSQL would refuse it).
MAX_ID = 2**31 - 1


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (sa.CheckConstraint(f"role IN {USER_ROLES!r}", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)  # stored lower-case
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(20))
    locale: Mapped[str] = mapped_column(sa.String(8), default="vi")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    volunteer: Mapped[Volunteer | None] = relationship(back_populates="user")
    # An organizer's units: none means national reach (and an admin always has it).
    scopes: Mapped[list[OrganizerScope]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        order_by="OrganizerScope.id",
        foreign_keys="OrganizerScope.user_id",
    )

    # The secret of the page login this object was loaded for (Flask-Login's "alternative
    # token"): set by coordinator.people.logins, never stored; see get_id.
    login_token = None

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:
        """Flask-Login keeps this in the session and the remember cookie: the secret of one
        page login (a LoginSession), not the user id, so ending that login server-side
        ends both cookies, and every login's cookies differ."""
        if not self.login_token:
            raise RuntimeError("log in through coordinator.people.logins.log_in")
        return self.login_token

    def has_role(self, *roles: str) -> bool:
        """Admins can do whatever an organizer can."""
        return self.role in roles or (self.role == "admin" and "organizer" in roles)


class OrganizerScope(db.Model):
    """One province or one ward an organizer works for (exactly one of the two)."""

    __tablename__ = "organizer_scopes"
    __table_args__ = (
        sa.CheckConstraint(
            "(province_code IS NULL) <> (ward_code IS NULL)", name="province_or_ward"
        ),
        sa.UniqueConstraint("user_id", "province_code", "ward_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    province_code: Mapped[str | None] = mapped_column(sa.ForeignKey("provinces.code"))
    ward_code: Mapped[str | None] = mapped_column(sa.ForeignKey("wards.code"))
    granted_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="scopes", foreign_keys=[user_id])

    @property
    def unit_code(self) -> str:
        return self.province_code or self.ward_code or ""


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored, so a database leak leaks no token."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The token's first characters, shown so its owner can tell tokens apart (not enough
    # to guess the rest: 256 random bits, of which this shows 36). None before 0004.
    prefix: Mapped[str | None] = mapped_column(sa.String(12))

    user: Mapped[User] = relationship()


class LoginSession(db.Model):
    """One page login (a browser): the secret its session and remember cookies carry is
    stored as SHA-256 only. Logging out, a password change or "sign out everywhere"
    revokes rows; a revoked or expired row opens nothing."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    remember: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class Volunteer(db.Model):
    """A volunteer or an expert (is_expert) who can be booked into sessions."""

    __tablename__ = "volunteers"
    __table_args__ = (
        sa.CheckConstraint("max_sessions_per_week >= 0", name="max_sessions_non_negative"),
        # The `q` filter: LIKE '%...%' on these; PostgreSQL serves it with trigrams
        # (pg_trgm), SQLite builds plain indexes from the same declaration.
        sa.Index(
            "ix_volunteers_search_name_trgm",
            "search_name",
            postgresql_using="gin",
            postgresql_ops={"search_name": "gin_trgm_ops"},
        ),
        sa.Index(
            "ix_volunteers_email_trgm",
            "email",
            postgresql_using="gin",
            postgresql_ops={"email": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )
    full_name: Mapped[str] = mapped_column(sa.String(200))
    # search_key(full_name), set with it (below): the `q` filter's LIKE reads it (a
    # trigram index serves it on PostgreSQL, migration 0018).
    search_name: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    home_ward: Mapped[str] = mapped_column(sa.ForeignKey("wards.code"), index=True)
    skills: Mapped[list[str]] = mapped_column(JSONType, default=list)
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    accessibility_skills: Mapped[list[str]] = mapped_column(JSONType, default=list)
    is_expert: Mapped[bool] = mapped_column(default=False)
    max_sessions_per_week: Mapped[int] = mapped_column(default=2)
    # Soft preferences for matching: {"wards": [...], "topics": [...], "target_groups": [...]}
    preferences: Mapped[dict] = mapped_column(JSONType, default=dict)
    notification_settings: Mapped[dict] = mapped_column(JSONType, default=dict)
    locale: Mapped[str] = mapped_column(sa.String(8), default="vi")
    active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[User | None] = relationship(back_populates="volunteer")
    availability: Mapped[list[AvailabilityWindow]] = relationship(
        back_populates="volunteer",
        cascade="all, delete-orphan",
        order_by="(AvailabilityWindow.weekday, AvailabilityWindow.start_minute)",
    )

    @validates("full_name")
    def _keep_search_name(self, _key: str, full_name: str) -> str:
        self.search_name = search_key(full_name or "")
        return full_name


class AvailabilityWindow(db.Model):
    """A weekly window (local time) in which a volunteer can take sessions."""

    __tablename__ = "availability_windows"
    __table_args__ = (
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        sa.CheckConstraint(
            "start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute",
            name="window",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("volunteers.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int]  # 0 = Monday, as Python's date.weekday()
    start_minute: Mapped[int]  # minutes after local midnight
    end_minute: Mapped[int]

    volunteer: Mapped[Volunteer] = relationship(back_populates="availability")


class Participant(db.Model):
    """A learner. Needs and contact live apart in ParticipantPrivate (sensitive)."""

    __tablename__ = "participants"
    __table_args__ = (
        sa.CheckConstraint(
            "target_group IN ('civil_servants','students','workers','residents',"
            "'youth_disabilities')",
            name="target_group",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )
    full_name: Mapped[str | None] = mapped_column(sa.String(200))  # None once erased
    ward: Mapped[str] = mapped_column(sa.ForeignKey("wards.code"), index=True)
    target_group: Mapped[str] = mapped_column(sa.String(32), index=True)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registered_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    locale: Mapped[str] = mapped_column(sa.String(8), default="vi")
    notification_settings: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    private: Mapped[ParticipantPrivate | None] = relationship(
        back_populates="participant", cascade="all, delete-orphan", lazy="select"
    )


class ParticipantPrivate(db.Model):
    """Sensitive data of a participant: never in feeds, logs, public pages or job args."""

    __tablename__ = "participant_private"

    participant_id: Mapped[int] = mapped_column(
        sa.ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )
    accessibility_needs: Mapped[list[str]] = mapped_column(JSONType, default=list)
    contact: Mapped[str | None] = mapped_column(sa.String(320))
    guardian_contact: Mapped[str | None] = mapped_column(sa.String(320))

    participant: Mapped[Participant] = relationship(back_populates="private")


class FeedToken(db.Model):
    """A private calendar feed secret; only its SHA-256 is stored."""

    __tablename__ = "feed_tokens"
    __table_args__ = (
        sa.CheckConstraint("(volunteer_id IS NULL) <> (participant_id IS NULL)", name="one_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    volunteer_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("volunteers.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
