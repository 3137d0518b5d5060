"""Seeded synthetic matching problems for bench/matching.py.

Wards come from a neighbour graph (Đống Đa's 17 wards, or a grid city for `large`),
sessions run over four weeks in Asia/Ho_Chi_Minh (UTC+7, no DST) at the usual times,
volunteers have weekly windows, skills and limits, and a few seats are already held by
fixed bookings that obey the rules themselves.

Families (`FAMILIES`) change the distributions so that the engine is measured on
problems it was not tuned on: `today` is the generator the engine's parameters were
chosen on (its instances are unchanged); `doubles` has long windows, shorter sessions
and higher limits (a volunteer can often take two sessions a day); `scarce` has few
experts and signers and more sessions with needs; `wards` has many small wards with four
neighbours each and a 60-minute travel gap.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from coordinator.matching.engine.constraints import Rules
from coordinator.matching.engine.problem import (
    Booking,
    Problem,
    Role,
    Session,
    Volunteer,
    Weights,
    Window,
)

WARDS_FILE = Path(__file__).resolve().parent.parent / "coordinator/data/wards_dong_da.json"
TZ = timezone(timedelta(hours=7))
FIRST_MONDAY = datetime(2027, 1, 4, tzinfo=TZ)  # a Monday, local midnight
TOPICS = [
    f"{area}.{i}" for area, n in ((1, 3), (2, 6), (3, 4), (4, 4), (5, 4)) for i in range(1, n + 1)
]
GROUPS = ["residents", "civil_servants", "students", "workers", "youth_disabilities"]
GROUP_WEIGHTS = [30, 18, 20, 22, 10]
# Usual starts; the 10:00 and 16:00 slots are 90 minutes, right after an earlier one.
STARTS = [8 * 60, 8 * 60 + 30, 9 * 60, 10 * 60, 14 * 60, 14 * 60 + 30, 15 * 60, 16 * 60]
STARTS += [18 * 60, 19 * 60]
START_WEIGHTS = [3, 3, 3, 1, 3, 3, 3, 1, 3, 3]
DURATIONS = [90, 120, 150]
MORNING, AFTERNOON, EVENING = (
    (8 * 60, 12 * 60),
    (13 * 60 + 30, 17 * 60 + 30),
    (18 * 60, 21 * 60 + 30),
)


@dataclass(frozen=True)
class Size:
    volunteers: int
    sessions: int
    city: str  # "dong_da" or "grid"
    windows: tuple[int, int] = (2, 4)
    max_per_week: tuple[int, ...] = (1, 1, 2, 2, 2, 3)  # drawn uniformly
    expert_share: float = 0.22


@dataclass(frozen=True)
class Family:
    """How a family departs from `today` (whose values are the defaults)."""

    windows: str = "usual"  # "long": some windows run all day or afternoon to evening
    durations: tuple[int, ...] = tuple(DURATIONS)
    max_per_week: tuple[int, ...] | None = None  # None: the size's
    expert_scale: float = 1.0
    access_share: float = 0.03  # per accessibility competence
    disabilities_weight: int = 10  # of GROUP_WEIGHTS' youth_disabilities
    interpreter_share: float = 0.5
    city: str = ""  # "" the size's, "small_wards": a grid with 4 neighbours per ward
    travel_gap: int = 30
    # Empty seats by kind (Weights.unfilled_*): a lead's, an interpreter's.
    lead_seat: int = 100
    accessibility_seat: int = 100


FAMILIES = {
    "today": Family(),
    "doubles": Family(
        windows="long",
        durations=(60, 90, 90, 120),
        max_per_week=(2, 2, 3, 4),
        lead_seat=140,
        accessibility_seat=150,
    ),
    "scarce": Family(
        expert_scale=0.55,
        access_share=0.012,
        disabilities_weight=20,
        interpreter_share=0.8,
        lead_seat=150,
        accessibility_seat=160,
    ),
    "wards": Family(city="small_wards", travel_gap=60, lead_seat=120),
}


SIZES = {
    "small": Size(200, 50, "dong_da"),
    "medium": Size(2_000, 500, "dong_da"),
    "large": Size(20_000, 5_000, "grid"),
    # Four times fewer volunteers per seat than medium, fewer windows, lower limits.
    "tight": Size(
        800, 500, "dong_da", windows=(1, 3), max_per_week=(1, 1, 1, 2), expert_share=0.18
    ),
}


def dong_da() -> dict[str, frozenset[str]]:
    wards = json.loads(WARDS_FILE.read_text(encoding="utf-8"))["wards"]
    return {w["code"]: frozenset(w["neighbors"]) for w in wards}


def grid_city(rows: int = 10, cols: int = 12) -> dict[str, frozenset[str]]:
    """A bigger city: rows x cols wards, each next to its 8 surrounding wards."""
    graph = {}
    for r in range(rows):
        for c in range(cols):
            graph[f"w{r:02d}_{c:02d}"] = frozenset(
                f"w{r + dr:02d}_{c + dc:02d}"
                for dr in (-1, 0, 1)
                for dc in (-1, 0, 1)
                if (dr or dc) and 0 <= r + dr < rows and 0 <= c + dc < cols
            )
    return graph


def small_wards(rows: int, cols: int) -> dict[str, frozenset[str]]:
    """Many small wards: a grid where each ward touches only the four beside it."""
    graph = {}
    for r in range(rows):
        for c in range(cols):
            graph[f"s{r:02d}_{c:02d}"] = frozenset(
                f"s{r + dr:02d}_{c + dc:02d}"
                for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
                if 0 <= r + dr < rows and 0 <= c + dc < cols
            )
    return graph


def local_session(sid: int, ward: str, day_offset: int, local_start: int, minutes: int, **kw):
    """A Session from a local date (days after FIRST_MONDAY) and local start time."""
    start_dt = FIRST_MONDAY + timedelta(days=day_offset, minutes=local_start)
    start = int(start_dt.timestamp()) // 60  # epoch minutes, UTC
    local_day = (start + 7 * 60) // 1440  # local days since 1970-01-01 (a Thursday)
    return Session(
        id=sid,
        ward=ward,
        start=start,
        end=start + minutes,
        day=local_day,
        week=(local_day + 3) // 7,  # Monday-based weeks
        weekday=(local_day + 3) % 7,
        local_start=local_start,
        local_end=local_start + minutes,
        **kw,
    )


def _windows(rng: random.Random, count: int, kind: str = "usual") -> tuple[Window, ...]:
    menu = [(d, *MORNING) for d in range(7)] + [(d, *AFTERNOON) for d in range(7)]
    menu += [(d, EVENING[0], EVENING[1] - 30 * rng.randint(0, 1)) for d in range(5)]
    weights = [1] * 5 + [4, 4] + [1] * 5 + [3, 3] + [3] * 5  # weekends and evenings
    if kind == "long":  # whole days (weekends mostly) and afternoons into the evening
        menu += [(d, MORNING[0], AFTERNOON[1]) for d in range(7)]
        menu += [(d, AFTERNOON[0], EVENING[1]) for d in range(5)]
        weights += [2] * 5 + [8, 8] + [3] * 5
    chosen: set[tuple[int, int, int]] = set()
    while len(chosen) < count:
        chosen.add(rng.choices(menu, weights)[0])
    return tuple(Window(*w) for w in sorted(chosen))


def generate(name: str, seed: int = 1, family: str = "today") -> Problem:
    size = SIZES[name]
    fam = FAMILIES[family]
    rng = random.Random(f"{name}-{seed}" if family == "today" else f"{family}-{name}-{seed}")
    if fam.city == "small_wards":  # about 1.6x (medium) to 1.5x (large) the wards
        neighbours = small_wards(5, 6) if size.city == "dong_da" else small_wards(12, 15)
    else:
        neighbours = dong_da() if size.city == "dong_da" else grid_city()
    group_weights = [*GROUP_WEIGHTS[:-1], fam.disabilities_weight]
    max_per_week = fam.max_per_week or size.max_per_week
    wards = sorted(neighbours)
    ward_weight = {w: rng.uniform(0.5, 1.5) for w in wards}  # some wards are busier
    priority_wards = set(rng.sample(wards, max(1, len(wards) // 6)))

    # Sessions: mostly single, some weekly series of 2-4 at the same ward and time.
    sessions: list[Session] = []
    series: list[list[int]] = []
    while len(sessions) < size.sessions:
        ward = rng.choices(wards, [ward_weight[w] for w in wards])[0]
        group = rng.choices(GROUPS, group_weights)[0]
        weekday = rng.choices(range(7), [3, 3, 3, 3, 3, 6, 5])[0]
        local_start = rng.choices(STARTS, START_WEIGHTS)[0]
        minutes = 90 if local_start in (10 * 60, 16 * 60) else rng.choice(fam.durations)
        needs: frozenset[str] = frozenset()
        if group == "youth_disabilities":
            needs = rng.choice(
                [
                    frozenset({"sign_language"}),
                    frozenset({"screen_reader"}),
                    frozenset({"easy_read"}),
                    frozenset({"sign_language", "screen_reader"}),
                ]
            )
        languages = frozenset({"en"}) if rng.random() < 0.04 else frozenset({"vi"})
        priority = (20 if group == "youth_disabilities" else 0) + (
            10 if ward in priority_wards else 0
        )
        topic = rng.choice(TOPICS)
        repeat = rng.choices([1, 2, 3, 4], [70, 10, 10, 10])[0]
        first_week = rng.randint(0, 4 - repeat)
        run = []
        for week in range(first_week, first_week + repeat):
            if len(sessions) >= size.sessions:
                break
            sid = 10_000 + len(sessions)
            run.append(sid)
            sessions.append(
                local_session(
                    sid,
                    ward,
                    7 * week + weekday,
                    local_start,
                    minutes,
                    topic=topic,
                    target_group=group,
                    needs=needs,
                    languages=languages,
                    priority=priority,
                )
            )
        series.append(run)

    # Roles: a lead, helpers (some needing a skill), an interpreter for signing sessions.
    roles: list[Role] = []

    def add_role(session: Session, role_name: str, seats: int, skills=frozenset()) -> None:
        roles.append(Role(100_000 + len(roles), session.id, role_name, seats, frozenset(skills)))

    for s in sessions:
        add_role(s, "lead", 1)
        add_role(s, "helper", rng.choice([1, 2, 2, 3]))
        if rng.random() < 0.6:
            add_role(s, "helper", rng.choice([1, 1, 2]), {rng.choice(["slides", "smartphone"])})
        if "sign_language" in s.needs and rng.random() < fam.interpreter_share:
            add_role(s, "interpreter", 1)

    # Volunteers.
    squads = list(range(1, max(2, size.volunteers // 80)))
    volunteers: list[Volunteer] = []
    for i in range(size.volunteers):
        home = rng.choices(wards, [ward_weight[w] for w in wards])[0]
        skills = {
            s
            for s, p in (("slides", 0.4), ("smartphone", 0.35), ("excel", 0.2))
            if rng.random() < p
        }
        access = {
            a
            for a in ("sign_language", "screen_reader", "easy_read")
            if rng.random() < fam.access_share
        }
        prefs = {}
        if rng.random() < 0.3:
            kind = rng.choice(["wards", "topics", "groups"])
            if kind == "wards":
                near = [home, *sorted(neighbours[home])]
                prefs["preferred_wards"] = frozenset(
                    rng.sample(near, min(len(near), rng.randint(1, 3)))
                )
            elif kind == "topics":
                area = rng.randint(1, 5)
                prefs["preferred_topics"] = frozenset(t for t in TOPICS if t.startswith(f"{area}."))
            else:
                prefs["preferred_groups"] = frozenset(rng.sample(GROUPS, 2))
        volunteers.append(
            Volunteer(
                id=1 + i,
                home_ward=home,
                skills=frozenset(skills),
                accessibility=frozenset(access),
                languages=frozenset({"vi", "en"}) if rng.random() < 0.15 else frozenset({"vi"}),
                is_expert=rng.random() < size.expert_share * fam.expert_scale,
                max_per_week=rng.choice(max_per_week),
                windows=_windows(rng, rng.randint(*size.windows), fam.windows),
                squads=frozenset({rng.choice(squads)}) if rng.random() < 0.05 else frozenset(),
                **prefs,
            )
        )

    weights = Weights(unfilled_lead=fam.lead_seat, unfilled_accessibility=fam.accessibility_seat)
    problem = Problem(
        volunteers,
        sessions,
        roles,
        neighbours=neighbours,
        travel_gap=fam.travel_gap,
        weights=weights,
    )
    return _with_fixed_bookings(problem, series, rng, share=0.04)


def _with_fixed_bookings(problem: Problem, series, rng: random.Random, share: float) -> Problem:
    """Hand ~`share` of the seats to fixed bookings that obey every rule, then subtract
    them from the open seats and record series people and squads on the sessions."""
    rules = Rules(problem)
    by_ward: dict[str, list[Volunteer]] = defaultdict(list)
    for v in problem.volunteers:
        by_ward[v.home_ward].append(v)
    booked: dict[int, list[Session]] = defaultdict(list)
    held: Counter[int] = Counter()  # role id -> fixed seats
    bookings: list[Booking] = []
    target = int(share * sum(r.seats for r in problem.roles))
    tries = 0
    while len(bookings) < target and tries < 50 * target:
        tries += 1
        role = rng.choice(problem.roles)
        if held[role.id] >= role.seats:
            continue
        session = rules.session[role.session_id]
        near = [session.ward, *sorted(problem.neighbours.get(session.ward, ()))]
        pool = by_ward[rng.choice(near)]
        for v in rng.sample(pool, min(len(pool), 40)):
            mine = booked[v.id]
            if (
                rules.eligible(v, role)
                and not any(rules.conflict(session, other) for other in mine)
                and sum(o.week == session.week for o in mine) < v.max_per_week
            ):
                mine.append(session)
                held[role.id] += 1
                bookings.append(Booking(v.id, session.id, role.id, fixed=True))
                break

    volunteer = rules.volunteer
    staff: dict[int, set[int]] = defaultdict(set)
    for b in bookings:
        staff[b.session_id].add(b.volunteer_id)
    series_of = {sid: run for run in series for sid in run}
    sessions = []
    for s in problem.sessions:
        people = {p for other in series_of[s.id] if other != s.id for p in staff[other]}
        squads = {q for p in staff[s.id] for q in volunteer[p].squads}
        sessions.append(replace(s, series_people=frozenset(people), squads=frozenset(squads)))
    roles = [replace(r, seats=r.seats - held[r.id]) for r in problem.roles]
    return replace(problem, sessions=sessions, roles=roles, bookings=bookings)
