"""Which channel a message takes: the recipient's order for its kind (default Zalo, SMS,
email), the channels configured and able to carry it, the addresses the person has;
quiet hours, during which nothing goes by Zalo or SMS; and the monthly budget per
province, past which Zalo and SMS give way to email."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from coordinator.extensions import db
from coordinator.geography.models import Ward
from coordinator.notifications import channels
from coordinator.notifications.channels import DEFAULT_ORDER, EMAIL, PHONE_CHANNELS
from coordinator.notifications.content import Letter
from coordinator.notifications.kinds import allowed_channels, requested
from coordinator.notifications.models import ChannelChoice, Notification
from coordinator.sessions.models import TrainingSession

# A session this close is worth a message at night (the exception to quiet hours).
URGENT_BEFORE_START = timedelta(hours=2)


def order_for(recipient_kind: str, recipient_id: int, kind: str) -> tuple[str, ...]:
    """The channels this person wants for this kind, in order, kept to those the kind
    may take (the 7-day reminder is email only, the 2-hour one Zalo or SMS only)."""
    row = db.session.get(
        ChannelChoice,
        {"recipient_kind": recipient_kind, "recipient_id": recipient_id, "kind": kind},
    )
    order = DEFAULT_ORDER if row is None else row.channels.split(",")
    allowed = allowed_channels(kind) or DEFAULT_ORDER
    return tuple(c for c in order if c in DEFAULT_ORDER and c in allowed)


def check_order(kind: str, order: list[str]) -> str | None:
    """Why this order cannot be stored for this kind (None: it can): a non-empty list
    of zalo, sms, email without repeats, of the channels the kind may take."""
    if not order or len(set(order)) != len(order) or set(order) - set(DEFAULT_ORDER):
        return "channels: a non-empty list of zalo, sms, email without repeats"
    allowed = allowed_channels(kind)
    if allowed is not None and not set(order) <= set(allowed):
        return f"{kind} goes only by {', '.join(allowed)}"
    return None


def set_order(recipient_kind: str, recipient_id: int, kind: str, order: list[str]) -> None:
    """Store a person's channels for one kind (flushes). Unknown or repeated channels
    are refused; an empty list is refused too (turning a kind off is preferences')."""
    problem = check_order(kind, order)
    if problem is not None:
        raise ValueError(problem)
    key = {"recipient_kind": recipient_kind, "recipient_id": recipient_id, "kind": kind}
    row = db.session.get(ChannelChoice, key) or ChannelChoice(**key)
    row.channels = ",".join(order)
    db.session.add(row)
    db.session.flush()


def chain(row: Notification, letter: Letter) -> list[tuple[str, str]]:
    """(channel, address) to try, in order: configured, able to carry this kind, an
    address the person has, and not one that already said "not this address"."""
    refused = set(filter(None, row.refused_channels.split(",")))
    recipient = letter.recipient
    result = []
    for name in order_for(row.recipient_kind, row.recipient_id, row.kind):
        address = recipient.phone if name in PHONE_CHANNELS else recipient.address
        if name in refused or not address or not channels.get(name).available(row.kind):
            continue
        result.append((name, address))
    return result


def _quiet_window() -> tuple[time, time]:
    start, end = current_app.config["QUIET_HOURS"].split("-")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def quiet_until(now: datetime) -> datetime | None:
    """The end of the quiet hours `now` falls in (aware, UTC-comparable), or None."""
    zone = ZoneInfo(current_app.config["COORDINATOR_TIMEZONE"])
    start, end = _quiet_window()
    local = now.astimezone(zone)
    t = local.time()
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside or start == end:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone)


def hold_until(letter: Letter, now: datetime) -> datetime | None:
    """When a Zalo or SMS message must wait for the quiet hours to end (None: send now).
    A session starting within 2 hours does not wait, nor a message the person just asked for."""
    until = quiet_until(now)
    if until is None or requested(letter.kind):
        return None
    session = letter.session
    if session is not None and session.starts_at - now <= URGENT_BEFORE_START:
        return None
    return until


def _province_of_session(session_id: int | None) -> str | None:
    if session_id is None:
        return None
    return db.session.scalar(
        sa.select(sa.func.coalesce(Ward.province_code, Ward.code))
        .join(TrainingSession, TrainingSession.ward == Ward.code)
        .where(TrainingSession.id == session_id)
    )


def month_start(now: datetime) -> datetime:
    zone = ZoneInfo(current_app.config["COORDINATOR_TIMEZONE"])
    local = now.astimezone(zone)
    return datetime(local.year, local.month, 1, tzinfo=zone)


def spent_vnd(province: str, now: datetime) -> int:
    """Estimated cost of this month's Zalo and SMS messages for sessions in a province."""
    return spent_in_month(province, month_start(now))


def spent_in_month(province: str, start: datetime) -> int:
    """Estimated cost of the Zalo and SMS messages sent in the local month beginning at
    `start` for sessions in a province."""
    end = month_start(start + timedelta(days=32))
    wards = sa.select(Ward.code).where(
        sa.or_(Ward.province_code == province, Ward.code == province)
    )
    return int(
        db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Notification.price_vnd), 0))
            .join(TrainingSession, TrainingSession.id == Notification.session_id)
            .where(
                TrainingSession.ward.in_(wards),
                Notification.sent_at >= start,
                Notification.sent_at < end,
                Notification.channel != EMAIL,
            )
        )
    )


def over_budget(session_id: int | None, now: datetime) -> bool:
    """MESSAGE_BUDGET_VND is set and this month's spending in the session's province
    reached it (messages without a session are not counted)."""
    budget = current_app.config.get("MESSAGE_BUDGET_VND")
    province = _province_of_session(session_id) if budget else None
    return province is not None and spent_vnd(province, now) >= budget


def costs(month: datetime) -> list[tuple[str, str, int, int]]:
    """(province, channel, messages, estimated VND) of the messages sent in the local
    month of `month`, per province of their session (no session: "-")."""
    start = month_start(month)
    end = month_start(start + timedelta(days=32))
    province = sa.func.coalesce(Ward.province_code, Ward.code, "-")
    rows = db.session.execute(
        sa.select(
            province,
            Notification.channel,
            sa.func.count(Notification.id),
            sa.func.coalesce(sa.func.sum(Notification.price_vnd), 0),
        )
        .outerjoin(TrainingSession, TrainingSession.id == Notification.session_id)
        .outerjoin(Ward, Ward.code == TrainingSession.ward)
        .where(
            Notification.status == "sent",
            Notification.sent_at >= start,
            Notification.sent_at < end,
        )
        .group_by(province, Notification.channel)
        .order_by(province, Notification.channel)
    ).all()
    return [(p, c or EMAIL, int(n), int(v)) for p, c, n, v in rows]
