"""One query per feed: rows in, plain `Feed` data out (no N+1, no ORM objects kept)."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext
from sqlalchemy.orm import aliased

from coordinator.bookings.models import (
    Assignment,
    AssignmentStatus,
    Registration,
    RegistrationStatus,
)
from coordinator.calendar.feeds import Feed, FeedEvent, FeedWords, Person, first_name, host_of
from coordinator.database import utcnow
from coordinator.extensions import db
from coordinator.geography.models import Ward
from coordinator.notifications.texts import speaking
from coordinator.people.models import Participant, Volunteer
from coordinator.sessions.models import SessionRole, SessionStatus, TrainingSession
from coordinator.squads.models import Squad
from coordinator.web.labels import N_

# Defaults; each can be overridden in the app config.
DEFAULTS = {
    "CALENDAR_PAST_DAYS": 30,
    "CALENDAR_FUTURE_DAYS": 365,
    "CALENDAR_CANCELLED_GRACE_DAYS": 14,
    "CALENDAR_ALARM_MINUTES": 120,
    "CALENDAR_ORGANIZER_EMAIL": None,  # None: lich@<host of PUBLIC_BASE_URL>
}

S = TrainingSession
# Only public columns of a session: a public feed can show nothing it did not select.
PUBLIC_COLUMNS = (
    S.id,
    S.title,
    S.description,
    S.venue,
    S.starts_at,
    S.ends_at,
    S.status,
    S.cancel_reason,
    S.sequence,
    S.updated_at,
)


def setting(name: str) -> Any:
    return current_app.config.get(name, DEFAULTS[name])


def _window(now: datetime):
    """Sessions 30 days back to a year ahead; cancelled ones only for the grace period."""
    grace = now - timedelta(days=setting("CALENDAR_CANCELLED_GRACE_DAYS"))
    return sa.and_(
        S.starts_at >= now - timedelta(days=setting("CALENDAR_PAST_DAYS")),
        S.starts_at < now + timedelta(days=setting("CALENDAR_FUTURE_DAYS")),
        sa.or_(S.status != SessionStatus.CANCELLED, S.cancelled_at >= grace),
    )


def feed_words(locale: str | None) -> FeedWords:
    """A feed's words in one language, from the catalogue (a calendar app fetching a
    feed says nothing reliable about its reader: the feed's owner's language is used)."""
    with speaking(locale):
        return FeedWords(
            cancelled_prefix=gettext("CANCELLED: "),
            cancelled=gettext("Cancelled: %(reason)s"),
            role=gettext("Role: %(role)s"),
            squad_mates=gettext("Squad-mates: %(names)s"),
            lead=gettext("Lead: %(name)s — %(contact)s"),
            starting_soon=gettext("Starting soon: %(title)s"),
            organizer=gettext("Organizers of Bình dân học vụ số"),
            roles={role: gettext(role.capitalize()) for role in ("lead", "helper", "interpreter")},
        )


def _feed(uid: str, name: str, description: str, events, locale: str | None, **kwargs) -> Feed:
    base_url = current_app.config["PUBLIC_BASE_URL"]
    organizer = setting("CALENDAR_ORGANIZER_EMAIL") or f"lich@{host_of(base_url)}"
    return Feed(
        uid=f"{uid}@{host_of(base_url)}",
        name=name,
        description=description,
        events=tuple(events),
        base_url=base_url,
        timezone=current_app.config["COORDINATOR_TIMEZONE"],
        organizer_email=organizer,
        words=feed_words(locale),
        **kwargs,
    )


def _title_and_description(locale: str | None, title: str, description: str, **values):
    with speaking(locale):
        return gettext(title, **values), gettext(description, **values)


def _owner_locale(model, person_id: int):
    """The language the feed's owner chose, as a column of the feed's one query (a
    private feed is read by its owner)."""
    return (
        sa.select(model.locale).where(model.id == person_id).scalar_subquery().label("owner_locale")
    )


def _locale_of(model, person_id: int) -> str | None:
    """The owner's language when they have no sessions (the query returned no row)."""
    return db.session.scalar(sa.select(model.locale).where(model.id == person_id))


def _public_event(row, ward_name: str, **extra) -> FeedEvent:
    return FeedEvent(
        session_id=row.id,
        title=row.title,
        description=row.description or "",
        venue=row.venue,
        ward_name=ward_name,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        status=row.status,
        cancel_reason=row.cancel_reason,
        sequence=row.sequence,
        changed_at=extra.pop("changed_at", row.updated_at),
        **extra,
    )


def ward_feed(code: str, now: datetime | None = None) -> Feed | None:
    """Public sessions in a ward; None when the ward does not exist."""
    rows = db.session.execute(
        sa.select(Ward.name.label("ward_name"), *PUBLIC_COLUMNS)
        .select_from(Ward)
        .outerjoin(S, sa.and_(S.ward == Ward.code, _window(now or utcnow())))
        .where(Ward.code == code)
        .order_by(S.starts_at, S.id)
    ).all()
    if not rows:
        return None
    ward_name = rows[0].ward_name
    events = [_public_event(r, ward_name) for r in rows if r.id is not None]
    # A public feed has no owner to ask: the default language.
    name, description = _title_and_description(
        None,
        N_("Sessions in %(ward)s"),
        N_("Sessions of Bình dân học vụ số in %(ward)s"),
        ward=ward_name,
    )
    return _feed(f"feed-ward-{code}", name, description, events, None)


def squad_feed(squad_id: int, now: datetime | None = None) -> Feed | None:
    """Public data of the sessions a squad is booked into; None when no such squad."""
    booked = sa.select(Assignment.session_id).where(
        Assignment.squad_id == squad_id, Assignment.status == AssignmentStatus.CONFIRMED
    )
    rows = db.session.execute(
        sa.select(Squad.name.label("squad_name"), Ward.name.label("ward_name"), *PUBLIC_COLUMNS)
        .select_from(Squad)
        .outerjoin(S, sa.and_(S.id.in_(booked), _window(now or utcnow())))
        .outerjoin(Ward, Ward.code == S.ward)
        .where(Squad.id == squad_id)
        .order_by(S.starts_at, S.id)
    ).all()
    if not rows:
        return None
    name = rows[0].squad_name
    events = [_public_event(r, r.ward_name) for r in rows if r.id is not None]
    title, description = _title_and_description(
        None, N_("Squad %(name)s"), N_("Sessions of squad %(name)s"), name=name
    )
    return _feed(f"feed-squad-{squad_id}", title, description, events, None)


def volunteer_feed(volunteer_id: int, now: datetime | None = None) -> Feed:
    """A volunteer's confirmed bookings with role, squad-mates and the lead's contact.

    One query: each of the volunteer's bookings joined to every other confirmed booking
    of the same session (the mates), grouped here."""
    mine, mate = aliased(Assignment), aliased(Assignment)
    my_role, mate_role = aliased(SessionRole), aliased(SessionRole)
    mate_person = aliased(Volunteer)
    live = sa.or_(
        mine.status == AssignmentStatus.CONFIRMED,
        sa.and_(mine.status == AssignmentStatus.CANCELLED, S.status == SessionStatus.CANCELLED),
    )
    rows = db.session.execute(
        sa.select(
            Ward.name.label("ward_name"),
            *PUBLIC_COLUMNS,
            my_role.role.label("my_role"),
            mine.updated_at.label("booked_at"),
            mate_role.role.label("mate_role"),
            mate.updated_at.label("mate_booked_at"),
            mate_person.full_name.label("mate_name"),
            mate_person.email.label("mate_email"),
            mate_person.phone.label("mate_phone"),
            mate_person.updated_at.label("mate_changed_at"),
            _owner_locale(Volunteer, volunteer_id),
        )
        .select_from(mine)
        .join(S, S.id == mine.session_id)
        .join(Ward, Ward.code == S.ward)
        .join(my_role, my_role.id == mine.role_id)
        .outerjoin(
            mate,
            sa.and_(
                mate.session_id == mine.session_id,
                mate.status == AssignmentStatus.CONFIRMED,
                mate.volunteer_id != volunteer_id,
            ),
        )
        .outerjoin(mate_role, mate_role.id == mate.role_id)
        .outerjoin(mate_person, mate_person.id == mate.volunteer_id)
        .where(mine.volunteer_id == volunteer_id, live, _window(now or utcnow()))
        .order_by(
            S.starts_at,
            S.id,
            sa.case((mate_role.role == "lead", 0), else_=1),  # the lead first
            mate_role.role,
            mate.id,
        )
    ).all()
    grouped: OrderedDict[int, list] = OrderedDict()
    for row in rows:
        grouped.setdefault(row.id, []).append(row)
    events = []
    for session_rows in grouped.values():
        first = session_rows[0]
        mates, lead, changed = [], None, max(first.updated_at, first.booked_at)
        for row in session_rows:
            if row.mate_name is None:
                continue
            changed = max(changed, row.mate_booked_at, row.mate_changed_at)
            mates.append(Person(first_name(row.mate_name), row.mate_role))
            if row.mate_role == "lead":
                lead = Person(
                    first_name(row.mate_name),
                    "lead",
                    full_name=row.mate_name,
                    email=row.mate_email,
                    phone=row.mate_phone,
                )
        events.append(
            _public_event(
                first,
                first.ward_name,
                changed_at=changed,
                role=first.my_role,
                mates=tuple(mates),
                lead=lead,
            )
        )
    locale = rows[0].owner_locale if rows else _locale_of(Volunteer, volunteer_id)
    name, description = _title_and_description(
        locale,
        N_("My volunteering"),
        N_("My confirmed sessions (Bình dân học vụ số)"),
    )
    return _feed(
        f"feed-volunteer-{volunteer_id}",
        name,
        description,
        events,
        locale,
        alarm_minutes=setting("CALENDAR_ALARM_MINUTES"),
        private=True,
    )


def participant_feed(participant_id: int, now: datetime | None = None) -> Feed:
    """The sessions a participant is registered for (public session data only)."""
    rows = db.session.execute(
        sa.select(
            Ward.name.label("ward_name"),
            *PUBLIC_COLUMNS,
            Registration.updated_at.label("registered_at"),
            _owner_locale(Participant, participant_id),
        )
        .select_from(Registration)
        .join(S, S.id == Registration.session_id)
        .join(Ward, Ward.code == S.ward)
        .where(
            Registration.participant_id == participant_id,
            Registration.status == RegistrationStatus.REGISTERED,
            _window(now or utcnow()),
        )
        .order_by(S.starts_at, S.id)
    ).all()
    events = [
        _public_event(r, r.ward_name, changed_at=max(r.updated_at, r.registered_at)) for r in rows
    ]
    locale = rows[0].owner_locale if rows else _locale_of(Participant, participant_id)
    name, description = _title_and_description(
        locale, N_("My classes"), N_("My registered sessions (Bình dân học vụ số)")
    )
    return _feed(
        f"feed-participant-{participant_id}", name, description, events, locale, private=True
    )
