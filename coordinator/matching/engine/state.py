"""A plan being edited: who holds which seat, with exact checks for each change.

Used after the flow (to cover participants' needs and fill what the flow's clusters
left open) and by repairs after a withdrawal.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from coordinator.matching.engine.candidates import Candidates
from coordinator.matching.engine.constraints import Rules
from coordinator.matching.engine.problem import Role, Session

# A candidate of a role: (pair cost, volunteer id). Plain tuples, built by the thousand
# from the candidates' arrays (zip), unpacked in the hot loops.
Option = tuple[int, int]


class Undo(NamedTuple):
    """A change made during a tentative change (WorkingPlan.begin), to undo it."""

    volunteer_id: int
    role: Role
    removed_cost: int | None  # the pair cost of a removed proposal; None for an added one


class WorkingPlan:
    """The mutable state of a plan while the solver finishes it or repairs edit it (the
    result handed out is the immutable `problem.Plan`, made by `explain`)."""

    def __init__(self, rules: Rules, cands: Candidates) -> None:
        self.rules = rules
        problem = rules.problem
        self.vols = problem.volunteers
        self.roles = problem.roles
        self.sessions = problem.sessions
        self.busy: dict[int, list[Session]] = defaultdict(list)  # volunteer -> sessions
        # (volunteer, week) -> sessions of `busy` that week: the weekly limit without a loop.
        self.week_load: Counter[tuple[int, int]] = Counter()
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
        self.roles_of: dict[int, list[int]] = defaultdict(list)  # session -> role indices
        for j, role in enumerate(self.roles):
            self.roles_of[role.session_id].append(j)
        for booking in problem.bookings:
            if booking.fixed:
                session = rules.session[booking.session_id]
                self.busy[booking.volunteer_id].append(session)
                self.week_load[(booking.volunteer_id, session.week)] += 1
                self.staff[session.id].add(booking.volunteer_id)
                self.fixed.add((booking.volunteer_id, session.id))
        # Candidates of each role, cheapest first: a slice of arrays in the candidates'
        # (role, cost) order.
        self.c_index = cands.by_role_vol  # index into problem.volunteers
        self.c_vol = cands.by_role_vol_id
        self.c_cost = cands.by_role_cost
        self.c_start = cands.role_start
        self.c_start_list: list[int] = cands.role_start.tolist()  # plain ints, for repairs
        # Load and proposals per volunteer index, as arrays too: repairs find the first
        # candidate with nothing booked (who surely fits) without a loop.
        self.vol_index = {v.id: i for i, v in enumerate(self.vols)}
        self.load_at = np.array([self.load[v.id] for v in self.vols], dtype=np.int64)
        self.held_at = np.zeros(len(self.vols), dtype=np.int64)
        # While a tentative change runs (begin): what to undo, and the objective's change.
        self._journal: list[Undo] | None = None
        self.change = 0
        self._lists: dict[int, list[Option]] = {}
        self._coverers: dict[tuple[int, str], list[Option]] = {}
        self._has_need: dict[str, npt.NDArray[np.bool_]] = {}
        # For fits, read hundreds of times per repair.
        self._week_limit = {v.id: v.max_per_week for v in self.vols}
        self._gap = problem.travel_gap
        self._conflict = rules.conflict

    # -- reading -----------------------------------------------------------------------

    def candidates(self, role_index: int) -> list[Option]:
        """(pair cost, volunteer id) of every volunteer the rules allow in the role."""
        found = self._lists.get(role_index)
        if found is None:  # built once per role: repairs ask for the same roles again
            lo, hi = self.c_start[role_index], self.c_start[role_index + 1]
            found = list(zip(self.c_cost[lo:hi].tolist(), self.c_vol[lo:hi].tolist(), strict=True))
            self._lists[role_index] = found
        return found

    def coverers(self, role_index: int, need: str) -> list[Option]:
        """The role's candidates who have `need`, cheapest first: a few of them, so
        covering needs does not walk every candidate of the role."""
        key = (role_index, need)
        found = self._coverers.get(key)
        if found is None:
            has = self._has_need.get(need)
            if has is None:
                has = np.array([need in v.accessibility for v in self.vols], dtype=bool)
                self._has_need[need] = has
            lo, hi = self.c_start[role_index], self.c_start[role_index + 1]
            keep = has[self.c_index[lo:hi]]
            costs, vols = self.c_cost[lo:hi][keep], self.c_vol[lo:hi][keep]
            found = list(zip(costs.tolist(), vols.tolist(), strict=True))
            self._coverers[key] = found
        return found

    def proposed_in(self, session_id: int) -> list[tuple[int, int]]:
        """(volunteer, role id) of the proposals in a session (read from its staff)."""
        return sorted(
            (volunteer_id, role_id)
            for volunteer_id in self.staff[session_id]
            for role_id in self.held[volunteer_id]
            if self.rules.role[role_id].session_id == session_id
        )

    def free_seats(self, role: Role) -> int:
        # get(): a Counter's missing key costs a Python call, and most roles have none.
        return role.seats + self.released.get(role.id, 0) - self.taken.get(role.id, 0)

    def missing_needs(self, session: Session, without: int | None = None) -> frozenset[str]:
        covered: set[str] = set()
        for volunteer_id in self.staff[session.id]:
            if volunteer_id != without:
                covered |= self.rules.volunteer[volunteer_id].accessibility
        return session.needs - covered

    def fits(self, volunteer_id: int, session: Session, ignoring: Session | None = None) -> bool:
        """Time and weekly limit, exactly (the pair itself is known to be allowed).

        The weekly limit is read from `week_load` first (most refusals on scarce problems:
        people at their limit), and only sessions within the travel gap of this one are
        checked by `Rules.conflict` (a clash needs them that close). Repairs call this
        hundreds of times each: lookups are cached in __init__ and `get` spares the
        Counter's missing-key call."""
        if volunteer_id in self.staff[session.id]:
            return False
        busy = self.busy.get(volunteer_id)
        if not busy:  # nothing booked: nothing to clash with, no week used
            return self._week_limit[volunteer_id] > 0
        same_week = self.week_load.get((volunteer_id, session.week), 0)
        if (
            ignoring is not None
            and ignoring.week == session.week
            and any(o is ignoring for o in busy)
        ):
            same_week -= 1
        if same_week >= self._week_limit[volunteer_id]:
            return False
        start, end, gap = session.start, session.end, self._gap
        for other in busy:
            if other is ignoring:
                continue
            if (
                other.start < end + gap
                and start < other.end + gap
                and self._conflict(session, other)
            ):
                return False
        return True

    def marginal_cost(self, pair_cost: int, volunteer_id: int) -> int:
        return pair_cost + self.rules.load_cost(self.load[volunteer_id] + 1)

    # -- writing -----------------------------------------------------------------------

    def add(self, volunteer_id: int, role: Role, pair_cost: int) -> None:
        session = self.rules.session[role.session_id]
        self.busy[volunteer_id].append(session)
        self.week_load[(volunteer_id, session.week)] += 1
        self.staff[session.id].add(volunteer_id)
        self.load[volunteer_id] += 1
        self.taken[role.id] += 1
        self.proposals[(volunteer_id, role.id)] = pair_cost
        self.held[volunteer_id].add(role.id)
        i = self.vol_index[volunteer_id]
        self.load_at[i] += 1
        self.held_at[i] += 1
        if self._journal is not None:
            self._journal.append(Undo(volunteer_id, role, None))
            self.change += self.worth(volunteer_id, role, pair_cost)

    def remove(self, volunteer_id: int, role: Role) -> int:
        if self._journal is not None:
            pair_cost = self.proposals[(volunteer_id, role.id)]
            self._journal.append(Undo(volunteer_id, role, pair_cost))
            self.change -= self.worth(volunteer_id, role, pair_cost)
        session = self.rules.session[role.session_id]
        self.busy[volunteer_id].remove(session)
        self.week_load[(volunteer_id, session.week)] -= 1
        self.staff[session.id].discard(volunteer_id)
        self.load[volunteer_id] -= 1
        self.taken[role.id] -= 1
        self.held[volunteer_id].discard(role.id)
        i = self.vol_index[volunteer_id]
        self.load_at[i] -= 1
        self.held_at[i] -= 1
        return self.proposals.pop((volunteer_id, role.id))

    def release_fixed(self, volunteer_id: int, session: Session, role: Role) -> None:
        """A confirmed booking is withdrawn: its seat and the volunteer's time free up."""
        self.busy[volunteer_id].remove(session)
        self.week_load[(volunteer_id, session.week)] -= 1
        self.staff[session.id].discard(volunteer_id)
        self.fixed.discard((volunteer_id, session.id))
        self.load[volunteer_id] -= 1
        if volunteer_id in self.vol_index:
            self.load_at[self.vol_index[volunteer_id]] -= 1
        self.released[role.id] += 1

    def pairs(self) -> list[tuple[int, int]]:
        return sorted(self.proposals)

    # -- tentative changes -------------------------------------------------------------

    def begin(self) -> None:
        """Record the changes from now on: `change` is what they do to the objective,
        rollback() undoes them, commit() keeps them."""
        self._journal, self.change = [], 0

    def commit(self) -> None:
        self._journal = None

    def mark(self) -> tuple[int, int]:
        """Where a tentative change stands, for undo_to (inside begin/commit)."""
        assert self._journal is not None
        return len(self._journal), self.change

    def undo_to(self, mark: tuple[int, int]) -> None:
        """Undoes the tentative changes made since `mark`, keeping the earlier ones."""
        journal = self._journal
        assert journal is not None
        length, change = mark
        undo, self._journal = journal[length:], None
        for volunteer_id, role, removed_cost in reversed(undo):
            if removed_cost is None:
                self.remove(volunteer_id, role)
            else:
                self.add(volunteer_id, role, removed_cost)
        self._journal, self.change = journal[:length], change

    def rollback(self) -> None:
        journal, self._journal = self._journal or [], None
        for volunteer_id, role, removed_cost in reversed(journal):
            if removed_cost is None:
                self.remove(volunteer_id, role)
            else:
                self.add(volunteer_id, role, removed_cost)

    def worth(self, volunteer_id: int, role: Role, pair_cost: int) -> int:
        """What the volunteer's proposal in the role adds to the objective, their load
        counting it (an empty seat less)."""
        rules = self.rules
        return pair_cost + rules.load_cost(self.load[volunteer_id]) - rules.seat_cost(role)
