"""A plan being edited: who holds which seat, with exact checks for each change.

Used after the flow (to cover participants' needs and fill what the flow's clusters
left open) and by repairs after a withdrawal.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from coordinator.matching.candidates import Candidates
from coordinator.matching.constraints import Rules
from coordinator.matching.problem import Role, Session


class Plan:
    def __init__(self, rules: Rules, cands: Candidates) -> None:
        self.rules = rules
        problem = rules.problem
        self.vols = problem.volunteers
        self.roles = problem.roles
        self.sessions = problem.sessions
        self.busy: dict[int, list[Session]] = defaultdict(list)  # volunteer -> sessions
        self.staff: dict[int, set[int]] = defaultdict(set)  # session -> volunteers
        self.load: Counter[int] = Counter(rules.fixed_load)
        self.taken: Counter[int] = Counter()  # role id -> proposals
        self.proposals: dict[tuple[int, int], int] = {}  # (volunteer, role) -> pair cost
        self.fixed: set[tuple[int, int]] = set()  # (volunteer, session)
        self.held: dict[int, set[int]] = defaultdict(set)  # volunteer -> proposed role ids
        # (volunteer, session) not to propose: refused before, or left during repairs.
        self.refused: set[tuple[int, int]] = set(problem.refused)
        self.released: Counter[int] = Counter()  # role id -> seats freed by withdrawals
        self.role_index = {role.id: j for j, role in enumerate(self.roles)}
        for booking in problem.bookings:
            if booking.fixed:
                session = rules.session[booking.session_id]
                self.busy[booking.volunteer_id].append(session)
                self.staff[session.id].add(booking.volunteer_id)
                self.fixed.add((booking.volunteer_id, session.id))
        # Candidates of each role, cheapest first: a slice of arrays sorted by (role, cost).
        # One int64 key (role, cost, volunteer) sorts faster than a three-key lexsort.
        key = (cands.role << 40) + (np.minimum(cands.cost, 0xFFFF) << 24) + cands.vol
        order = np.argsort(key)
        vol_ids = np.array([v.id for v in self.vols], dtype=np.int64)
        self.c_role = cands.role[order]
        self.c_vol = vol_ids[cands.vol[order]]
        self.c_cost = cands.cost[order]
        self.c_start = np.searchsorted(self.c_role, np.arange(len(self.roles) + 1))
        self._lists: dict[int, list[tuple[int, int]]] = {}

    # -- reading -----------------------------------------------------------------------

    def candidates(self, role_index: int) -> list[tuple[int, int]]:
        """(pair cost, volunteer id) of every volunteer the rules allow in the role."""
        found = self._lists.get(role_index)
        if found is None:  # built once per role: repairs ask for the same roles again
            lo, hi = self.c_start[role_index], self.c_start[role_index + 1]
            found = list(zip(self.c_cost[lo:hi].tolist(), self.c_vol[lo:hi].tolist(), strict=True))
            self._lists[role_index] = found
        return found

    def free_seats(self, role: Role) -> int:
        return role.seats + self.released[role.id] - self.taken[role.id]

    def missing_needs(self, session: Session, without: int | None = None) -> frozenset[str]:
        covered: set[str] = set()
        for volunteer_id in self.staff[session.id]:
            if volunteer_id != without:
                covered |= self.rules.volunteer[volunteer_id].accessibility
        return session.needs - covered

    def fits(self, volunteer_id: int, session: Session, ignoring: Session | None = None) -> bool:
        """Time and weekly limit, exactly (the pair itself is known to be allowed)."""
        if volunteer_id in self.staff[session.id]:
            return False
        same_week = 0
        for other in self.busy[volunteer_id]:
            if other is ignoring:
                continue
            if self.rules.conflict(session, other):
                return False
            same_week += other.week == session.week
        return same_week < self.rules.volunteer[volunteer_id].max_per_week

    def marginal_cost(self, pair_cost: int, volunteer_id: int) -> int:
        return pair_cost + self.rules.load_cost(self.load[volunteer_id] + 1)

    # -- writing -----------------------------------------------------------------------

    def add(self, volunteer_id: int, role: Role, pair_cost: int) -> None:
        session = self.rules.session[role.session_id]
        self.busy[volunteer_id].append(session)
        self.staff[session.id].add(volunteer_id)
        self.load[volunteer_id] += 1
        self.taken[role.id] += 1
        self.proposals[(volunteer_id, role.id)] = pair_cost
        self.held[volunteer_id].add(role.id)

    def remove(self, volunteer_id: int, role: Role) -> int:
        session = self.rules.session[role.session_id]
        self.busy[volunteer_id].remove(session)
        self.staff[session.id].discard(volunteer_id)
        self.load[volunteer_id] -= 1
        self.taken[role.id] -= 1
        self.held[volunteer_id].discard(role.id)
        return self.proposals.pop((volunteer_id, role.id))

    def release_fixed(self, volunteer_id: int, session: Session, role: Role) -> None:
        """A confirmed booking is withdrawn: its seat and the volunteer's time free up."""
        self.busy[volunteer_id].remove(session)
        self.staff[session.id].discard(volunteer_id)
        self.fixed.discard((volunteer_id, session.id))
        self.load[volunteer_id] -= 1
        self.released[role.id] += 1

    def pairs(self) -> list[tuple[int, int]]:
        return sorted(self.proposals)
