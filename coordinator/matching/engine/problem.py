"""The matching problem as plain data: no Flask, no database.

Times are whole minutes. `start`/`end` count from the Unix epoch (UTC) and decide
overlaps; `day`, `week`, `weekday`, `local_start` and `local_end` are the same moments
in the display time zone (Asia/Ho_Chi_Minh) and decide availability and weekly limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A lead must be an expert; an interpreter must sign (as in bookings.rules).
EXPERT_ROLES = frozenset({"lead"})
ROLE_ACCESSIBILITY = {"interpreter": frozenset({"sign_language"})}
# How an empty seat is priced (Weights.unfilled_*): by the kind of its role; any other
# role name is a helper's seat.
SEAT_KINDS = {
    "lead": "lead",
    "interpreter": "accessibility",
    "signer": "accessibility",
    "language": "language",
    "translator": "language",
}


DAY = 1440
WEEK = 7 * DAY


@dataclass(frozen=True, slots=True)
class Window:
    """A weekly availability window: weekday 0 = Monday, minutes after local midnight."""

    weekday: int
    start: int
    end: int


Spans = tuple[tuple[int, int], ...]


def weekly_spans(windows: tuple[Window, ...]) -> Spans:
    """Windows as spans of minutes from Monday 00:00, touching ones joined, across
    midnight too (Monday until 24:00 and Tuesday from 00:00 hold a class 20:00-00:30).
    A span that runs into Monday again (Sunday night) ends past WEEK."""
    merged: list[list[int]] = []
    for start, end in sorted((w.weekday * DAY + w.start, w.weekday * DAY + w.end) for w in windows):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    if len(merged) > 1 and merged[-1][1] >= WEEK and merged[0][0] == 0:
        merged[-1][1] = WEEK + merged[0][1]
    return tuple((start, end) for start, end in merged)


def holds(spans: Spans, weekday: int, local_start: int, local_end: int) -> bool:
    """A span holds the whole session (`local_end` may pass 24:00)."""
    start, end = weekday * DAY + local_start, weekday * DAY + local_end
    return any(s <= start and end <= e for s, e in spans)


@dataclass(frozen=True, slots=True)
class Volunteer:
    id: int
    home_ward: str
    skills: frozenset[str] = frozenset()
    accessibility: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset({"vi"})
    is_expert: bool = False
    max_per_week: int = 2
    windows: tuple[Window, ...] = ()
    preferred_wards: frozenset[str] = frozenset()
    preferred_topics: frozenset[str] = frozenset()
    preferred_groups: frozenset[str] = frozenset()
    squads: frozenset[int] = frozenset()
    spans: Spans = field(init=False, default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "spans", weekly_spans(self.windows))


@dataclass(frozen=True, slots=True)
class Session:
    id: int
    ward: str
    start: int
    end: int
    day: int
    week: int
    weekday: int
    local_start: int
    local_end: int
    topic: str = ""
    target_group: str = "residents"
    needs: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset({"vi"})
    # Volunteers booked on other sessions of the same series; squads booked on this one.
    series_people: frozenset[int] = frozenset()
    squads: frozenset[int] = frozenset()
    # Extra cost per unfilled seat for wards and groups furthest from their targets.
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Role:
    """Seats of one session role that the matcher may fill (seats held by confirmed or
    organizer bookings already subtracted; the matcher's own earlier proposals not)."""

    id: int
    session_id: int
    name: str
    seats: int
    required_skills: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Booking:
    """An existing booking. Fixed ones (confirmed, organizers', sign-ups) are kept as they
    are; movable ones are the matcher's earlier proposals, kept when nothing is better."""

    volunteer_id: int
    session_id: int
    role_id: int
    fixed: bool = True


@dataclass(frozen=True, slots=True)
class Weights:
    """Soft costs, in whole points (lower is better). See README "Matching"."""

    unfilled: int = 100  # per helper seat left empty, scaled by the session's priority
    # Other seats by their kind (SEAT_KINDS): an empty lead or interpreter seat may count
    # for more than a helper's. All 100: every seat alike (as before they had weights).
    unfilled_lead: int = 100
    unfilled_accessibility: int = 100
    unfilled_language: int = 100
    neighbour_ward: int = 3  # the session is in a ward next to the volunteer's
    far_ward: int = 8  # two wards away; further is not proposed at all
    max_ward_hops: int = 2
    load: int = 4  # the k-th session of a volunteer in the plan costs load * (k - 1)
    missed_preference: int = 2  # per stated preference (ward, topic, group) not met
    language_mismatch: int = 6  # speaks none of the session's languages
    series_change: int = 2  # someone new to a series that already has its people
    squad_split: int = 2  # not from a squad already on the session
    # Tie-break, in 1/SCALE points: keep an earlier proposal when nothing is better.
    keep_bonus: int = 1


# Flow costs are points * SCALE, so keep_bonus (0.1 point) only breaks ties. Larger
# scales slow OR-tools' cost scaling for nothing.
SCALE = 10


@dataclass(slots=True)
class Problem:
    volunteers: list[Volunteer]
    sessions: list[Session]
    roles: list[Role]
    bookings: list[Booking] = field(default_factory=list)
    # Ward code -> codes of the wards next to it.
    neighbours: dict[str, frozenset[str]] = field(default_factory=dict)
    travel_gap: int = 30  # minutes between bookings in wards that are not neighbours
    weights: Weights = field(default_factory=Weights)
    # (volunteer_id, session_id) pairs never to propose: the volunteer declined or left.
    refused: frozenset[tuple[int, int]] = frozenset()


@dataclass(frozen=True, slots=True)
class Proposal:
    volunteer_id: int
    role_id: int
    session_id: int
    cost: int
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Unfilled:
    role_id: int
    session_id: int
    seats: int
    reasons: tuple[str, ...]


@dataclass(slots=True)
class Plan:
    proposals: list[Proposal]
    unfilled: list[Unfilled]
    objective: int
    stats: dict[str, float] = field(default_factory=dict)  # pairs, seconds

    @property
    def filled(self) -> int:
        return len(self.proposals)
