"""What messages cost, for organizers: messages sent and their estimated cost per unit
(province, and each ward in it), month and channel, with the monthly budget per province
(MESSAGE_BUDGET_VND) and how much of it is left. An organizer sees the wards of their
units only; a province's spending and what is left of its budget are the province's
(the budget is per province), shown for each province they have a ward in."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from coordinator.errors import Invalid
from coordinator.extensions import db
from coordinator.geography.models import Province, Ward
from coordinator.notifications import routing
from coordinator.notifications.channels import EMAIL
from coordinator.notifications.models import Notification
from coordinator.notifications.texts import say
from coordinator.people.scopes import Scope
from coordinator.sessions.models import TrainingSession
from coordinator.web.labels import N_

MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
NO_PROVINCE = "-"  # messages about no session (digests): national organizers only


@dataclass
class ChannelCost:
    channel: str
    messages: int = 0
    vnd: int = 0


@dataclass
class UnitCost:
    code: str
    name: str
    messages: int = 0
    vnd: int = 0
    channels: dict[str, ChannelCost] = field(default_factory=dict)

    def add(self, channel: str, messages: int, vnd: int) -> None:
        cost = self.channels.setdefault(channel, ChannelCost(channel))
        cost.messages += messages
        cost.vnd += vnd
        self.messages += messages
        self.vnd += vnd


@dataclass
class ProvinceCost(UnitCost):
    spent_vnd: int = 0  # the whole province's Zalo and SMS this month (the budget's figure)
    budget_vnd: int | None = None
    left_vnd: int | None = None
    wards: dict[str, UnitCost] = field(default_factory=dict)


@dataclass
class CostReport:
    month: str
    budget_vnd: int | None
    provinces: list[ProvinceCost]
    messages: int
    vnd: int


def parse_month(value: str | None, now: datetime) -> datetime:
    """The local month `value` (YYYY-MM) as its first moment; None: this month."""
    if not value:
        return routing.month_start(now)
    match = MONTH.fullmatch(value.strip())
    if match is None:
        raise Invalid.field("month", say(N_("A month as YYYY-MM, e.g. 2026-12.")))
    return routing.month_start(datetime(int(match[1]), int(match[2]), 15, tzinfo=now.tzinfo))


def report(month: datetime, scope: Scope, province: str | None = None) -> CostReport:
    """Messages sent in the local month of `month`, by province, ward and channel,
    within `scope` (and one province when given)."""
    start = routing.month_start(month)
    end = routing.month_start(start + timedelta(days=32))
    province_code = sa.func.coalesce(Ward.province_code, Ward.code)
    query = (
        sa.select(
            province_code,
            TrainingSession.ward,
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
        .group_by(province_code, TrainingSession.ward, Notification.channel)
    )
    if province is not None:
        query = query.where(province_code == province)
    if not scope.national:
        query = query.where(scope.where(TrainingSession.ward))
    rows = db.session.execute(query).all()
    names = _names({r[0] for r in rows if r[0]}, {r[1] for r in rows if r[1]})
    budget = current_app.config.get("MESSAGE_BUDGET_VND")
    provinces: dict[str, ProvinceCost] = {}
    for code, ward, channel, count, vnd in rows:
        code = code or NO_PROVINCE
        entry = provinces.get(code)
        if entry is None:
            entry = provinces[code] = ProvinceCost(code, names.get(code, code))
        entry.add(channel or EMAIL, int(count), int(vnd))
        if ward is not None:
            ward_entry = entry.wards.setdefault(ward, UnitCost(ward, names.get(ward, ward)))
            ward_entry.add(channel or EMAIL, int(count), int(vnd))
    for entry in provinces.values():
        if entry.code == NO_PROVINCE:
            continue
        entry.spent_vnd = routing.spent_in_month(entry.code, start)
        entry.budget_vnd = budget
        entry.left_vnd = max(budget - entry.spent_vnd, 0) if budget else None
    ordered = sorted(provinces.values(), key=lambda p: (p.code == NO_PROVINCE, p.code))
    return CostReport(
        month=f"{start:%Y-%m}",
        budget_vnd=budget,
        provinces=ordered,
        messages=sum(p.messages for p in ordered),
        vnd=sum(p.vnd for p in ordered),
    )


def _names(provinces: set[str], wards: set[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for code, name in db.session.execute(
        sa.select(Province.code, Province.name).where(Province.code.in_(provinces))
    ):
        names[code] = name
    for code, name in db.session.execute(
        sa.select(Ward.code, Ward.name).where(Ward.code.in_(wards))
    ):
        names[code] = name
    return names


def provinces_in_scope(scope: Scope) -> list[tuple[str, str]]:
    """The provinces (code, name, by code) where the caller organizes at least one
    unit: one statement however many provinces there are."""
    query = sa.select(Province.code, Province.name).order_by(Province.code)
    if not scope.national:
        query = query.where(
            Province.code.in_(sa.select(Ward.province_code).where(scope.where(Ward.code)))
        )
    return [(code, name) for code, name in db.session.execute(query)]


def province_in_scope(code: str, scope: Scope) -> bool:
    """The province exists and the caller organizes at least one unit in it."""
    if db.session.get(Province, code) is None and db.session.get(Ward, code) is None:
        return False
    if scope.national:
        return True
    wards = db.session.scalars(
        sa.select(Ward.code).where(sa.or_(Ward.province_code == code, Ward.code == code))
    )
    return any(scope.covers(w) for w in wards)
