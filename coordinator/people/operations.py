"""Volunteers and logins: the rules, free of HTTP. Operations flush; callers commit."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects.postgresql import JSONB

from coordinator.errors import Conflict, DomainError, Invalid, NotFound
from coordinator.events import outbox
from coordinator.extensions import db
from coordinator.geography.models import Ward
from coordinator.geography.operations import exists_today, require_ward
from coordinator.paging import count
from coordinator.people.auth import hash_password
from coordinator.people.models import MAX_ID, USER_ROLES, AvailabilityWindow, User, Volunteer
from coordinator.people.scopes import (
    organized_volunteers_where,
    organizing,
    require_organizes_volunteer,
)
from coordinator.text import search_key
from coordinator.vocabularies.terms import codes, unknown_codes


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _email_conflict() -> Conflict:
    message = _l("This email is already registered.")
    return Conflict(message, {"email": [message]}, code="duplicate")


@contextmanager
def conflict_on_duplicate(conflict: Conflict) -> Iterator[None]:
    """Flush the writes made in the block. The checks before a write cannot see a
    concurrent request that passed the same checks; its unique-key hit becomes `conflict`,
    not a 500. The transaction is then unusable: the request fails and rolls back.
    (No savepoint: the outbox's after_commit hook would fire on its release.)"""
    try:
        yield
        db.session.flush()
    except sa.exc.IntegrityError as error:
        raise conflict from error


def create_user(email: str, role: str, password: str | None) -> User:
    """A login. Refuses an unknown role or an email already in use."""
    if role not in USER_ROLES:
        raise Invalid.field("role", _l("Unknown role '%(role)s'.", role=role))
    email = normalize_email(email)
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise _email_conflict()
    user = User(email=email, role=role, password_hash=hash_password(password) if password else None)
    db.session.add(user)
    db.session.flush()
    outbox.record("user.created", "user", user.id, {"user_id": user.id, "role": role})
    return user


def _check_vocabularies(data: dict[str, Any], known_skills: set[str] | None = None) -> None:
    """Refuse unknown accessibility skills and preferred wards (`known_skills`: the
    accessibility vocabulary when the caller has already read it)."""
    errors: dict[str, list[LazyString]] = {}
    if "accessibility_skills" in data:
        skills = data["accessibility_skills"]
        unknown = (
            unknown_codes("accessibility_skills", skills)
            if known_skills is None
            else [code for code in skills if code not in known_skills]
        )
        if unknown:
            errors["accessibility_skills"] = [_l("Unknown: %(codes)s.", codes=", ".join(unknown))]
    if "preferences" in data:
        for ward in data["preferences"].get("wards", []):
            try:
                require_ward(ward)
            except Invalid:
                errors.setdefault("preferences", []).append(
                    _l("Unknown ward '%(code)s'.", code=ward)
                )
    if errors:
        raise Invalid(_l("The input is invalid."), errors)


def _email_taken(email: str, except_volunteer: int | None = None) -> bool:
    query = sa.select(Volunteer.id).where(Volunteer.email == email)
    if except_volunteer is not None:
        query = query.where(Volunteer.id != except_volunteer)
    return db.session.scalar(query) is not None


def _set_availability(volunteer: Volunteer, windows: list[dict[str, Any]]) -> None:
    volunteer.availability = [
        AvailabilityWindow(
            weekday=w["weekday"], start_minute=w["start_minute"], end_minute=w["end_minute"]
        )
        for w in sorted(windows, key=lambda w: (w["weekday"], w["start_minute"]))
    ]


def create_volunteer(data: dict[str, Any], *, password: str | None = None) -> Volunteer:
    """A volunteer profile; with a password also a volunteer login (self sign-up)."""
    data = dict(data)
    data["email"] = normalize_email(data["email"])
    require_ward(data["home_ward"], "home_ward", current=True)
    _check_vocabularies(data)
    if _email_taken(data["email"]):
        raise _email_conflict()
    windows = data.pop("availability", [])
    with conflict_on_duplicate(_email_conflict()):
        user = create_user(data["email"], "volunteer", password) if password else None
        volunteer = Volunteer(**data, user_id=user.id if user else None)
        _set_availability(volunteer, windows)
        db.session.add(volunteer)
    outbox.record("volunteer.created", "volunteer", volunteer.id, {"volunteer_id": volunteer.id})
    return volunteer


# Emails per IN (...) query: well under the bound-parameter limits of SQLite and psycopg.
_EMAIL_BATCH = 500


def check_new_volunteers(rows: Sequence[dict[str, Any]]) -> dict[int, DomainError]:
    """What `create_volunteer` would refuse, row by row (index -> the error it would
    raise, in the same order of checks), with a few queries for the whole batch instead
    of several per row. Rows repeating an email within the batch are the caller's to
    refuse."""
    wards = set(db.session.scalars(sa.select(Ward.code).where(exists_today())))
    skills = codes("accessibility_skills")
    emails = sorted({normalize_email(row["email"]) for row in rows})
    taken: set[str] = set()
    for start in range(0, len(emails), _EMAIL_BATCH):
        batch = emails[start : start + _EMAIL_BATCH]
        taken.update(
            db.session.scalars(sa.select(Volunteer.email).where(Volunteer.email.in_(batch)))
        )
    problems: dict[int, DomainError] = {}
    for index, row in enumerate(rows):
        try:
            if row["home_ward"] not in wards:
                require_ward(row["home_ward"], "home_ward", current=True)  # the usual error
            _check_vocabularies(row, skills)
            if normalize_email(row["email"]) in taken:
                raise _email_conflict()
        except DomainError as error:
            problems[index] = error
    return problems


def create_volunteers(rows: Sequence[dict[str, Any]]) -> list[Volunteer]:
    """Volunteer profiles (no logins) for rows that passed `check_new_volunteers`,
    written in one flush with one `volunteer.created` event each. A row another request
    created meanwhile is a Conflict for the whole batch (the transaction is unusable)."""
    volunteers = []
    with conflict_on_duplicate(_email_conflict()):
        for row in rows:
            data = dict(row)
            data["email"] = normalize_email(data["email"])
            windows = data.pop("availability", [])
            volunteer = Volunteer(**data)
            _set_availability(volunteer, windows)
            volunteers.append(volunteer)
        db.session.add_all(volunteers)
    for volunteer in volunteers:
        outbox.record(
            "volunteer.created", "volunteer", volunteer.id, {"volunteer_id": volunteer.id}
        )
    db.session.flush()
    return volunteers


def get_volunteer(volunteer_id: int) -> Volunteer:
    volunteer = db.session.get(Volunteer, volunteer_id) if 0 < volunteer_id <= MAX_ID else None
    if volunteer is None:
        raise NotFound(_l("Volunteer not found."))
    return volunteer


def update_volunteer(volunteer: Volunteer, changes: dict[str, Any]) -> Volunteer:
    """Apply a partial update; availability changes write their own event for matching.
    An organizer changes only volunteers of their units."""
    if organizing() is not None:
        require_organizes_volunteer(volunteer)
    changes = dict(changes)
    if "home_ward" in changes:
        require_ward(changes["home_ward"], "home_ward", current=True)
    _check_vocabularies(changes)
    if "email" in changes:
        changes["email"] = normalize_email(changes["email"])
        if _email_taken(changes["email"], volunteer.id) or (
            volunteer.user_id is not None
            and db.session.scalar(
                sa.select(User.id).where(
                    User.email == changes["email"], User.id != volunteer.user_id
                )
            )
        ):
            raise _email_conflict()
    availability_changed = "availability" in changes
    with conflict_on_duplicate(_email_conflict()):
        if "email" in changes and volunteer.user is not None:
            volunteer.user.email = changes["email"]
        if availability_changed:
            _set_availability(volunteer, changes.pop("availability"))
        for name, value in changes.items():
            setattr(volunteer, name, value)
        volunteer.version += 1
    event = "volunteer.availability_changed" if availability_changed else "volunteer.changed"
    outbox.record(
        event,
        "volunteer",
        volunteer.id,
        {
            "volunteer_id": volunteer.id,
            "fields": sorted(changes) + (["availability"] if availability_changed else []),
        },
    )
    return volunteer


def choose_language(user: User, locale: str) -> None:
    """The language of a user's pages, messages and, for a volunteer, calendar feed (a
    cached feed in the old language goes stale with the event)."""
    user.locale = locale
    volunteer = user.volunteer
    if volunteer is not None and volunteer.locale != locale:
        volunteer.locale = locale
        outbox.record(
            "volunteer.changed",
            "volunteer",
            volunteer.id,
            {"volunteer_id": volunteer.id, "fields": ["locale"]},
        )


def _has(column: Any, code: str) -> sa.ColumnElement[bool]:
    """The JSON list `column` holds `code` (PostgreSQL: JSONB containment, which its GIN
    index could serve; SQLite: json_each)."""
    if db.session.get_bind().dialect.name == "postgresql":
        contains: sa.ColumnElement[bool] = column.op("@>")(
            sa.cast(sa.literal(json.dumps([code])), JSONB)
        )
        return contains
    items = sa.func.json_each(column).table_valued("value")
    return sa.exists(sa.select(1).select_from(items).where(items.c.value == code))


def list_volunteers(args: dict[str, Any]) -> tuple[Sequence[Volunteer], int]:
    """Volunteers matching the filters, one page of them (by id), and the number that
    matched: every filter in SQL (the text one on the kept `search_name`), so a page
    costs the same statements at any size."""
    query = sa.select(Volunteer)
    if args.get("ward"):
        query = query.where(Volunteer.home_ward == args["ward"])
    if "is_expert" in args:
        query = query.where(Volunteer.is_expert.is_(args["is_expert"]))
    if args.get("skill"):
        query = query.where(_has(Volunteer.skills, args["skill"]))
    if args.get("accessibility_skill"):
        query = query.where(_has(Volunteer.accessibility_skills, args["accessibility_skill"]))
    text = search_key(args.get("q", "").strip())
    if text:
        # Name or (where the caller may read it) email, marks and case ignored, "%" and
        # "_" literal; `search_name` is the name's search_key, kept by the model.
        query = query.where(
            sa.or_(
                Volunteer.search_name.contains(text, autoescape=True),
                sa.and_(
                    Volunteer.email.contains(text, autoescape=True),
                    organized_volunteers_where(),
                ),
            )
        )
    total = count(query)
    page = (
        query.order_by(Volunteer.id)
        .limit(args["limit"])
        .offset(args["offset"])
        .options(sa.orm.selectinload(Volunteer.availability))
    )
    return db.session.scalars(page).all(), total
