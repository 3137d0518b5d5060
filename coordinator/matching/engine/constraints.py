"""The model's rules, one pair at a time: what is allowed and what it costs.

The fast paths (candidates.py, the flow, repairs) must agree with these functions;
tests and the benchmark check plans against them.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from dataclasses import dataclass

from coordinator.matching.engine.problem import (
    EXPERT_ROLES,
    ROLE_ACCESSIBILITY,
    SEAT_KINDS,
    Problem,
    Role,
    Session,
    Volunteer,
    holds,
)


def ward_hops(neighbours: dict[str, frozenset[str]], limit: int) -> dict[str, dict[str, int]]:
    """For every ward, the wards within `limit` steps of the neighbour graph."""
    hops: dict[str, dict[str, int]] = {}
    for origin in neighbours:
        seen = {origin: 0}
        queue = deque([origin])
        while queue:
            ward = queue.popleft()
            if seen[ward] == limit:
                continue
            for nxt in neighbours.get(ward, ()):
                if nxt not in seen:
                    seen[nxt] = seen[ward] + 1
                    queue.append(nxt)
        hops[origin] = seen
    return hops


@dataclass
class Rules:
    """A problem with its lookups built once."""

    problem: Problem

    def __post_init__(self) -> None:
        p = self.problem
        self.weights = p.weights
        self.volunteer = {v.id: v for v in p.volunteers}
        self.session = {s.id: s for s in p.sessions}
        self.role = {r.id: r for r in p.roles}
        self.hops = ward_hops(p.neighbours, p.weights.max_ward_hops)
        self.fixed_load: Counter[int] = Counter()
        self.fixed_sessions: dict[int, list[int]] = defaultdict(list)
        for booking in p.bookings:
            if booking.fixed:
                self.fixed_load[booking.volunteer_id] += 1
                self.fixed_sessions[booking.volunteer_id].append(booking.session_id)
        self._seat_costs: dict[int, int] = {}  # role id -> seat_cost, asked thousands of times

    # -- single pairs ------------------------------------------------------------------

    def distance(self, volunteer: Volunteer, session: Session) -> int | None:
        """Ward steps from home to the session, or None when further than allowed."""
        if volunteer.home_ward == session.ward:
            return 0
        return self.hops.get(volunteer.home_ward, {}).get(session.ward)

    @staticmethod
    def available(volunteer: Volunteer, session: Session) -> bool:
        return holds(volunteer.spans, session.weekday, session.local_start, session.local_end)

    @staticmethod
    def qualified(volunteer: Volunteer, role: Role) -> bool:
        if not role.required_skills <= volunteer.skills:
            return False
        if role.name in EXPERT_ROLES and not volunteer.is_expert:
            return False
        return ROLE_ACCESSIBILITY.get(role.name, frozenset()) <= volunteer.accessibility

    def eligible(self, volunteer: Volunteer, role: Role) -> bool:
        session = self.session[role.session_id]
        return (
            self.qualified(volunteer, role)
            and self.available(volunteer, session)
            and self.distance(volunteer, session) is not None
        )

    def pair_cost(self, volunteer: Volunteer, session: Session) -> int:
        w = self.weights
        steps = self.distance(volunteer, session)
        cost = 0 if steps == 0 else w.neighbour_ward if steps == 1 else w.far_ward
        if volunteer.preferred_wards and session.ward not in volunteer.preferred_wards:
            cost += w.missed_preference
        if volunteer.preferred_topics and session.topic not in volunteer.preferred_topics:
            cost += w.missed_preference
        if volunteer.preferred_groups and session.target_group not in volunteer.preferred_groups:
            cost += w.missed_preference
        if session.languages and not session.languages & volunteer.languages:
            cost += w.language_mismatch
        if session.series_people and volunteer.id not in session.series_people:
            cost += w.series_change
        if session.squads and not session.squads & volunteer.squads:
            cost += w.squad_split
        return cost

    def load_cost(self, count: int) -> int:
        """Marginal cost of a volunteer's `count`-th session."""
        return self.weights.load * (count - 1)

    def unfilled_cost(self, session_id: int) -> int:
        """A helper seat of the session left empty (see seat_cost)."""
        return self.weights.unfilled + self.session[session_id].priority

    def seat_cost(self, role: Role) -> int:
        """An empty seat of `role`: its kind's weight, scaled by the session's priority
        (weight * (unfilled + priority) / unfilled, so a helper's seat is unfilled_cost)."""
        cost = self._seat_costs.get(role.id)
        if cost is None:
            cost = self._seat_costs[role.id] = self._seat_cost(role)
        return cost

    def _seat_cost(self, role: Role) -> int:
        w = self.weights
        kind = SEAT_KINDS.get(role.name)
        weight = (
            w.unfilled_lead
            if kind == "lead"
            else w.unfilled_accessibility
            if kind == "accessibility"
            else w.unfilled_language
            if kind == "language"
            else w.unfilled
        )
        if weight == w.unfilled:
            return self.unfilled_cost(role.session_id)
        return weight * self.unfilled_cost(role.session_id) // max(w.unfilled, 1)

    def conflict(self, a: Session, b: Session) -> bool:
        """Overlap, or too little time to travel between wards that are not neighbours."""
        if a.id == b.id:
            return True
        if a.start < b.end and b.start < a.end:
            return True
        if a.ward == b.ward or b.ward in self.problem.neighbours.get(a.ward, ()):
            return False
        gap = self.problem.travel_gap
        return a.start < b.end + gap and b.start < a.end + gap

    # -- whole plans -------------------------------------------------------------------

    def violations(self, pairs: list[tuple[int, int]]) -> list[str]:
        """Every hard rule a plan of (volunteer_id, role_id) proposals breaks."""
        found: list[str] = []
        per_role: Counter[int] = Counter()
        booked: dict[int, list[int]] = defaultdict(list)  # volunteer -> session ids
        staff: dict[int, list[int]] = defaultdict(list)  # session -> volunteer ids
        for booking in self.problem.bookings:
            if booking.fixed:
                booked[booking.volunteer_id].append(booking.session_id)
                staff[booking.session_id].append(booking.volunteer_id)
        for volunteer_id, role_id in pairs:
            role, volunteer = self.role[role_id], self.volunteer[volunteer_id]
            if not self.eligible(volunteer, role):
                found.append(f"volunteer {volunteer_id} not eligible for role {role_id}")
            if (volunteer_id, role.session_id) in self.problem.refused:
                found.append(f"volunteer {volunteer_id} refused session {role.session_id}")
            per_role[role_id] += 1
            booked[volunteer_id].append(role.session_id)
            staff[role.session_id].append(volunteer_id)
        for role_id, taken in per_role.items():
            if taken > self.role[role_id].seats:
                found.append(f"role {role_id} over its seats ({taken})")
        for volunteer_id, session_ids in booked.items():
            sessions = sorted((self.session[i] for i in session_ids), key=lambda s: s.start)
            for i, a in enumerate(sessions):
                for b in sessions[i + 1 :]:
                    if self.conflict(a, b):
                        found.append(f"volunteer {volunteer_id}: {a.id} and {b.id} clash")
            limit = self.volunteer[volunteer_id].max_per_week
            for week, count in Counter(s.week for s in sessions).items():
                proposed = sum(1 for s in sessions if s.week == week) - sum(
                    1 for i in self.fixed_sessions[volunteer_id] if self.session[i].week == week
                )
                if count > limit and proposed:
                    found.append(f"volunteer {volunteer_id}: {count} sessions in week {week}")
        proposed_sessions = {self.role[r].session_id for _, r in pairs}
        for session_id in proposed_sessions:
            session = self.session[session_id]
            skills: set[str] = set()
            for volunteer_id in staff[session_id]:
                skills |= self.volunteer[volunteer_id].accessibility
            if not session.needs <= skills:
                found.append(f"session {session_id}: needs {sorted(session.needs - skills)}")
        return found

    def objective(self, pairs: list[tuple[int, int]]) -> int:
        """Pair costs + load above the fixed bookings + empty seats (with priority)."""
        total = 0
        load = Counter(self.fixed_load)
        filled: Counter[int] = Counter()
        for volunteer_id, role_id in pairs:
            role = self.role[role_id]
            total += self.pair_cost(self.volunteer[volunteer_id], self.session[role.session_id])
            load[volunteer_id] += 1
            total += self.load_cost(load[volunteer_id])
            filled[role_id] += 1
        for role in self.problem.roles:
            total += (role.seats - filled[role.id]) * self.seat_cost(role)
        return total
