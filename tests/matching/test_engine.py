"""Pure properties of the matching engine (coordinator.matching.engine): no app, no database.

Hypothesis draws small Problems (a few wards, volunteers, sessions and roles, sometimes
fixed bookings and refusals) and checks the engine against the model's own rules in
constraints.py:

* `solve` never breaks a hard rule, explains every proposal and every empty seat, and
  reports the objective the rules compute;
* `candidates.build` returns exactly the pairs the rules allow;
* on tiny instances a brute force over every subset of the candidate pairs bounds how far
  the plan may be from the optimum;
* `repair.withdraw` keeps the plan valid, never re-proposes the person who left and never
  moves a confirmed booking.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter, defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings, target
from hypothesis import strategies as st

from coordinator.matching.engine import candidates as candidate_pairs
from coordinator.matching.engine import repair as repair_module
from coordinator.matching.engine import solver
from coordinator.matching.engine.constraints import Rules
from coordinator.matching.engine.fits import sessions_that_fit
from coordinator.matching.engine.problem import (
    SCALE,
    Booking,
    Problem,
    Role,
    Session,
    Volunteer,
    Weights,
    Window,
)
from coordinator.matching.engine.repair import best_free, withdraw
from coordinator.matching.engine.solver import plan as solver_plan
from coordinator.matching.engine.solver import solve

UTC_OFFSET = 7 * 60  # Asia/Ho_Chi_Minh
MONDAY = 20_000 - (20_000 + 3) % 7  # a local day number that is a Monday (day 0 is a Thu)
STARTS = (480, 540, 555, 570, 600, 660)  # overlapping, adjacent and 15/30 minutes apart
LENGTHS = (60, 90)
SKILLS = ("phone", "safety")
NEEDS = ("sign_language", "mobility")
ROLE_NAMES = ("lead", "helper", "interpreter")
WARDS = ("w0", "w1", "w2", "w3")

ENGINE = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)


def session_at(
    session_id: int, ward: str, week: int, weekday: int, local_start: int, length: int, **extra
) -> Session:
    day = MONDAY + 7 * week + weekday
    return Session(
        id=session_id,
        ward=ward,
        start=day * 1440 + local_start - UTC_OFFSET,
        end=day * 1440 + local_start + length - UTC_OFFSET,
        day=day,
        week=(day - 4) // 7,  # weeks counted from the first Monday after the epoch
        weekday=weekday,
        local_start=local_start,
        local_end=local_start + length,
        **extra,
    )


@st.composite
def problems(
    draw,
    max_volunteers: int = 6,
    max_sessions: int = 4,
    confirmed: bool | None = None,
    seats: tuple[int, ...] = (1, 2, 1, 0),
) -> Problem:
    """A small random Problem; `confirmed` forces (True) or forbids (False) fixed bookings;
    each role's seats are drawn from `seats`."""
    wards = list(WARDS[: draw(st.integers(2, 4))])
    pairs = [(a, b) for i, a in enumerate(wards) for b in wards[i + 1 :]]
    edges = [pair for pair in pairs if draw(st.sampled_from((True, True, False)))]
    neighbours = {
        w: frozenset({b for a, b in edges if a == w} | {a for a, b in edges if b == w})
        for w in wards
    }
    if draw(st.booleans()):  # wards without neighbours may be missing from the map
        neighbours = {w: near for w, near in neighbours.items() if near}
    weekdays = draw(st.lists(st.integers(0, 6), min_size=1, max_size=2, unique=True))
    small = st.frozensets(st.sampled_from(SKILLS), max_size=2)

    volunteers = []
    for i in range(draw(st.integers(2, max_volunteers))):
        windows = tuple(
            Window(
                weekday=draw(st.sampled_from(weekdays)),
                start=draw(st.sampled_from((420, 480, 540, 600, 420))),
                end=draw(st.sampled_from((780, 900, 660, 720))),
            )
            for _ in range(draw(st.integers(1, 2)))
        )
        volunteers.append(
            Volunteer(
                id=11 + 7 * i,  # ids are not indices
                home_ward=draw(st.sampled_from(wards)),
                skills=draw(small),
                accessibility=draw(st.frozensets(st.sampled_from(NEEDS), max_size=2)),
                languages=draw(st.sampled_from([frozenset({"vi"}), frozenset({"en"})])),
                is_expert=draw(st.sampled_from((True, True, False))),
                max_per_week=draw(st.integers(1, 2)),
                windows=windows,
                preferred_wards=draw(st.frozensets(st.sampled_from(wards), max_size=1)),
                preferred_topics=draw(
                    st.frozensets(st.sampled_from(("apps", "scams")), max_size=1)
                ),
                squads=draw(st.frozensets(st.sampled_from((1, 2)), max_size=1)),
            )
        )
    vol_ids = [v.id for v in volunteers]

    sessions, roles = [], []
    for k in range(draw(st.integers(1, max_sessions))):
        needs = draw(
            st.sampled_from(
                [frozenset(), frozenset(), frozenset({"sign_language"}), frozenset(NEEDS)]
            )
        )
        session = session_at(
            session_id=501 + 3 * k,
            ward=draw(st.sampled_from(wards)),
            week=draw(st.integers(0, 1)),
            weekday=draw(st.sampled_from(weekdays)),
            local_start=draw(st.sampled_from(STARTS)),
            length=draw(st.sampled_from(LENGTHS)),
            topic=draw(st.sampled_from(("apps", "scams"))),
            needs=needs,
            languages=draw(st.sampled_from([frozenset({"vi"}), frozenset({"en"})])),
            series_people=draw(st.frozensets(st.sampled_from(vol_ids), max_size=1)),
            squads=draw(st.frozensets(st.sampled_from((1, 2)), max_size=1)),
            priority=draw(st.sampled_from((0, 0, 20))),
        )
        sessions.append(session)
        names = draw(st.lists(st.sampled_from(ROLE_NAMES), min_size=1, max_size=2, unique=True))
        for name in names:
            roles.append(
                Role(
                    id=901 + 5 * len(roles),
                    session_id=session.id,
                    name=name,
                    seats=draw(st.sampled_from(seats)),  # 0: all seats confirmed
                    required_skills=draw(
                        st.sampled_from((frozenset(), frozenset(), frozenset({"phone"})))
                    ),
                )
            )

    problem = Problem(
        volunteers=volunteers,
        sessions=sessions,
        roles=roles,
        neighbours=neighbours,
        travel_gap=draw(st.sampled_from((30, 30, 45))),
    )
    rules = Rules(problem)
    eligible = [(v, r) for v in volunteers for r in roles if rules.eligible(v, r)]
    bookings = []
    if confirmed:
        assume(eligible)
    if eligible and (draw(st.booleans()) if confirmed is None else confirmed):
        for v, r in draw(st.lists(st.sampled_from(eligible), min_size=1, max_size=2, unique=True)):
            bookings.append(Booking(v.id, r.session_id, r.id, fixed=True))
        problem.bookings = bookings
        assume(Rules(problem).violations([]) == [])  # confirmed bookings are themselves valid
    if eligible and draw(st.booleans()):  # earlier proposals the engine may keep
        v, r = draw(st.sampled_from(eligible))
        if (v.id, r.session_id) not in {(b.volunteer_id, b.session_id) for b in bookings}:
            bookings.append(Booking(v.id, r.session_id, r.id, fixed=False))
    problem.bookings = bookings
    if draw(st.booleans()):
        pairs = [(v, s.id) for v in vol_ids for s in sessions]
        problem.refused = frozenset(draw(st.lists(st.sampled_from(pairs), max_size=3)))
    return problem


# -- helpers -----------------------------------------------------------------------------


def candidate_set(problem: Problem) -> list[tuple[int, int]]:
    """(volunteer id, role id) of every pair candidates.build returns."""
    cands = candidate_pairs.build(problem, Rules(problem))
    pairs = [
        (problem.volunteers[v].id, problem.roles[r].id)
        for v, r in zip(cands.vol.tolist(), cands.role.tolist(), strict=True)
    ]
    assert len(pairs) == len(set(pairs)), "a pair appears twice"
    for r, s in zip(cands.role.tolist(), cands.session.tolist(), strict=True):
        assert problem.roles[r].session_id == problem.sessions[s].id
    return sorted(pairs)


def allowed_pairs(problem: Problem) -> list[tuple[int, int]]:
    """The same set from the per-pair rules: eligible, not refused, not clashing with a
    fixed booking and not over a week's limit that fixed bookings already use up."""
    rules = Rules(problem)
    out = []
    for v in problem.volunteers:
        fixed = [rules.session[s] for s in rules.fixed_sessions[v.id]]
        for r in problem.roles:
            s = rules.session[r.session_id]
            if r.seats <= 0 or not rules.eligible(v, r) or (v.id, s.id) in problem.refused:
                continue
            if any(rules.conflict(s, b) for b in fixed):
                continue
            if sum(b.week == s.week for b in fixed) >= v.max_per_week:
                continue
            out.append((v.id, r.id))
    return sorted(out)


def brute_force(problem: Problem, pairs: list[tuple[int, int]]) -> tuple[int, int, list]:
    """(best objective, most seats filled by any valid plan, a best plan) over every subset
    of `pairs`. Subsets breaking a rule that more proposals cannot mend (seats, clashes,
    weekly limits) are pruned; the rest are judged by Rules.violations."""
    rules = Rules(problem)
    taken: Counter[int] = Counter()
    busy: dict[int, list[Session]] = defaultdict(list)
    for b in problem.bookings:
        if b.fixed:
            busy[b.volunteer_id].append(rules.session[b.session_id])
    best = [None, 0, None]
    chosen: list[tuple[int, int]] = []

    def visit(i: int) -> None:
        if i == len(pairs):
            found = rules.violations(chosen)
            # The pruning below handles every other rule: only needs may be left.
            assert all(f.startswith("session ") for f in found), (chosen, found)
            if not found:
                value = rules.objective(chosen)
                if best[0] is None or value < best[0]:
                    best[0], best[2] = value, list(chosen)
                best[1] = max(best[1], len(chosen))
            return
        visit(i + 1)
        volunteer_id, role_id = pairs[i]
        role, v = rules.role[role_id], rules.volunteer[volunteer_id]
        s = rules.session[role.session_id]
        if taken[role_id] >= role.seats:
            return
        if any(rules.conflict(s, other) for other in busy[volunteer_id]):
            return
        if sum(other.week == s.week for other in busy[volunteer_id]) >= v.max_per_week:
            return
        taken[role_id] += 1
        busy[volunteer_id].append(s)
        chosen.append(pairs[i])
        visit(i + 1)
        chosen.pop()
        busy[volunteer_id].pop()
        taken[role_id] -= 1

    visit(0)
    return best[0], best[1], best[2]


def check_plan(problem: Problem) -> None:
    rules = Rules(problem)
    result = solve(problem)
    pairs = [(p.volunteer_id, p.role_id) for p in result.proposals]
    assert rules.violations(pairs) == []
    assert len(pairs) == len(set(pairs))
    assert result.objective == rules.objective(pairs)
    fixed = {(b.volunteer_id, b.session_id) for b in problem.bookings if b.fixed}
    for p in result.proposals:
        assert p.reasons and all(p.reasons)
        assert p.session_id == rules.role[p.role_id].session_id
        assert p.cost == rules.pair_cost(
            rules.volunteer[p.volunteer_id], rules.session[p.session_id]
        )
        assert (p.volunteer_id, p.session_id) not in fixed, "a confirmed booking proposed again"
        assert (p.volunteer_id, p.session_id) not in problem.refused, "a refused pair proposed"
    filled = Counter(p.role_id for p in result.proposals)
    empty = {r.id: r.seats - filled[r.id] for r in problem.roles if r.seats > filled[r.id]}
    unfilled = {u.role_id: u for u in result.unfilled}
    assert set(unfilled) == set(empty)
    for role_id, u in unfilled.items():
        assert u.seats == empty[role_id]
        assert u.session_id == rules.role[role_id].session_id
        assert u.reasons and all(u.reasons)


# -- 1. the strategy draws what it promises ---------------------------------------------


@pytest.mark.slow
@ENGINE
@given(problems())
def test_generated_problems_are_well_formed(problem):
    rules = Rules(problem)
    assert rules.violations([]) == []
    for a, near in problem.neighbours.items():
        for b in near:
            assert a in problem.neighbours[b]
    for s in problem.sessions:
        assert s.start == s.day * 1440 + s.local_start - UTC_OFFSET
        assert (s.day - MONDAY) % 7 == s.weekday
    for b in problem.bookings:
        assert rules.role[b.role_id].session_id == b.session_id


# -- 2. solve() keeps every hard rule and explains itself -----------------------------


@ENGINE
@given(problems())
def test_sessions_that_fit_one_volunteer_are_their_candidate_pairs(problem):
    """engine.fits answers with the matcher's own rules: with every booking held and no
    refusals, a volunteer's fitting roles that have seats are their candidate pairs; by
    start, then session id."""
    held = dataclasses.replace(
        problem,
        bookings=[dataclasses.replace(b, fixed=True) for b in problem.bookings],
        refused=frozenset(),
    )
    rules = Rules(held)
    with_seats = {r.id for r in problem.roles if r.seats > 0}
    found = []
    for volunteer in problem.volunteers:
        fits = sessions_that_fit(held, volunteer.id)
        starts = [(rules.session[f.session_id].start, f.session_id) for f in fits]
        assert starts == sorted(starts)
        for fit in fits:
            session = rules.session[fit.session_id]
            assert fit.distance == rules.distance(volunteer, session)
            found += [(volunteer.id, r) for r in fit.role_ids if r in with_seats]
    assert sorted(found) == candidate_set(held)
    assert sessions_that_fit(held, -1) == []


@pytest.mark.slow
@given(problems())
def test_solve_never_breaks_a_rule(problem):
    check_plan(problem)


@pytest.mark.slow
@ENGINE
@given(problems())
def test_candidates_are_exactly_the_allowed_pairs(problem):
    assert candidate_set(problem) == allowed_pairs(problem)


# -- 3. against a brute force on tiny instances ----------------------------------------
#
# The engine is a min-cost flow in which a volunteer takes at most one session per
# *cluster* (sessions close in time), then exact greedy finishing; participants' needs are
# only settled afterwards. Measured over ~10,000 drawn instances (and a Hypothesis search
# maximising the gap), it is optimal on about 99.3% of them and fills fewer seats than the
# optimum on about 0.3%. Two instances that once cost it seats are now solved exactly by
# the finishing steps and are pinned below:
#
# * CLUSTER_GADGET: a volunteer who could do two back-to-back sessions counts for one in
#   the flow's clusters; `fill_by_moves` moves a colleague to the empty seat and refills;
# * NEEDS_GADGET: the flow places the only signer elsewhere; `cover_needs` now moves the
#   signer back (and refills the seat left) instead of withdrawing the whole session.
#
# A Hypothesis search maximising the gap later found needs settled one at a time at the
# cost of a session of higher priority (20 points a seat); three of its instances are
# now exact and pinned too (PRIORITY_MOVE_, COVER_OR_DROP_ and LEAST_LOSS_GADGET). One
# is not: SWAP_GADGET needs a three-way exchange, which finishing does not search.
#
# Still, no relative bound is honest (a lost seat against a tiny optimum is many times
# it). The bound asserted is: at most the empty-seat cost of each seat it fills fewer
# than the optimum, plus the highest priority for each seat the optimum fills in a
# session where the plan has fewer, plus FILLED_SLACK points (at most 12 observed on
# filled seats); without needs it fills at least half the optimum's seats; and it is
# never worse than proposing nothing.

MAX_PAIRS = 14
FILLED_SLACK = 16


def _gadget(volunteers, sessions, roles) -> Problem:
    return Problem(volunteers, sessions, roles, neighbours={"w0": frozenset()})


_ALL_DAY = (Window(weekday=0, start=420, end=780),)

# Two 8:00 sessions (one in English) and a 9:00 one, one lead seat each, in one ward.
# Volunteer 25 can do 8:00 and 9:00; volunteer 11 only one session a week. The flow sees
# one 8:00-10:00 cluster per volunteer, puts 11 on the 9:00 session (cost 0, tied with
# 25) and the English session stays empty; the optimum sends 11 to it (language cost 6).
CLUSTER_GADGET = _gadget(
    [
        Volunteer(11, "w0", is_expert=True, max_per_week=1, windows=_ALL_DAY),
        Volunteer(25, "w0", is_expert=True, max_per_week=2, windows=_ALL_DAY),
    ],
    [
        session_at(501, "w0", 0, 0, 480, 60),
        session_at(504, "w0", 0, 0, 480, 60, languages=frozenset({"en"})),
        session_at(507, "w0", 0, 0, 540, 60),
    ],
    [Role(901, 501, "lead", 1), Role(906, 504, "lead", 1), Role(911, 507, "lead", 1)],
)

# Session 501 (10:00, needs a signer, three helper seats) overlaps session 504 (9:30, one
# lead seat). Volunteer 11 is the only signer and the only expert. The flow fills 504 with
# 11 and 501 with 18 and 25; cover_needs cannot bring 11 back and withdraws 501 entirely.
NEEDS_GADGET = _gadget(
    [
        Volunteer(
            11, "w0", is_expert=True, accessibility=frozenset({"sign_language"}), windows=_ALL_DAY
        ),
        Volunteer(18, "w0", windows=_ALL_DAY),
        Volunteer(25, "w0", windows=_ALL_DAY),
    ],
    [
        session_at(501, "w0", 0, 0, 600, 60, needs=frozenset({"sign_language"})),
        session_at(504, "w0", 0, 0, 570, 60),
    ],
    [Role(901, 501, "helper", 3), Role(906, 504, "lead", 1)],
)


# Session 507 (needs a signer) has a lead and an interpreter seat; 501 and 504 run at the
# same time with one lead seat each. Volunteer 25 is the only signer; everyone is an
# expert and does one session a week. The optimum puts 25 in the interpreter's seat and
# leaves a 501/504 seat empty. A flow that rewarded the first coverer in 507's lead seat
# put 25 there instead and lost the dearer interpreter seat (found by Hypothesis); the
# reward now goes to the role where coverers are the largest share of the candidates.
INTERPRETER_GADGET = _gadget(
    [
        Volunteer(11, "w0", is_expert=True, max_per_week=1, windows=_ALL_DAY),
        Volunteer(18, "w0", is_expert=True, max_per_week=1, windows=_ALL_DAY),
        Volunteer(
            25,
            "w0",
            is_expert=True,
            max_per_week=1,
            accessibility=frozenset({"sign_language"}),
            windows=_ALL_DAY,
        ),
    ],
    [
        session_at(501, "w0", 0, 0, 480, 60),
        session_at(504, "w0", 0, 0, 480, 60),
        session_at(507, "w0", 0, 0, 480, 60, needs=frozenset({"sign_language"}), priority=20),
    ],
    [
        Role(901, 501, "lead", 1),
        Role(906, 504, "lead", 1),
        Role(911, 507, "lead", 1),
        Role(916, 507, "interpreter", 1),
    ],
)


def _expert(volunteer_id: int, *covers: str) -> Volunteer:
    """An expert free all Monday morning for one session a week, covering `covers`."""
    return Volunteer(
        volunteer_id,
        "w0",
        is_expert=True,
        max_per_week=1,
        accessibility=frozenset(covers),
        windows=_ALL_DAY,
    )


def _at_eight(session_id: int, *needs: str, **extra) -> Session:
    return session_at(session_id, "w0", 0, 0, 480, 60, needs=frozenset(needs), **extra)


# Covering 504 takes the signer from 507 (priority 20); the signer in 501's interpreter
# seat then moves to 507 and 501's seat stays empty (a move without a refill).
PRIORITY_MOVE_GADGET = _gadget(
    [_expert(11, "sign_language"), _expert(18), _expert(25, "mobility")]
    + [_expert(32, "sign_language")],
    [
        _at_eight(501),
        _at_eight(504, "mobility", "sign_language"),
        _at_eight(507, "sign_language", priority=20),
    ],
    [
        Role(901, 501, "interpreter", 1),
        Role(911, 504, "lead", 2),
        Role(916, 507, "lead", 1),
    ],
)

# Covering 501 takes both of 504's people, one move per need, each worth it alone; both
# together cost 40 more than leaving 501 empty, so 501 is dropped instead.
COVER_OR_DROP_GADGET = _gadget(
    [_expert(11, "sign_language"), _expert(18), _expert(25)]
    + [dataclasses.replace(_expert(32, "mobility"), skills=frozenset({"phone"}))],
    [
        _at_eight(501, "mobility", "sign_language"),
        _at_eight(504, "sign_language", priority=20),
    ],
    [
        Role(901, 501, "lead", 2),
        Role(906, 504, "lead", 1),
        Role(911, 504, "helper", 1, required_skills=frozenset({"phone"})),
    ],
)

# Two signers could move to 504; the one from 501 loses less than the one from 507.
LEAST_LOSS_GADGET = _gadget(
    [_expert(11, "sign_language"), _expert(18), _expert(25, "mobility")]
    + [_expert(32, "sign_language")],
    [
        _at_eight(501, "sign_language"),
        _at_eight(504, "mobility", "sign_language", languages=frozenset({"en"})),
        _at_eight(507, "sign_language", priority=20),
    ],
    [Role(901, 501, "lead", 1), Role(911, 504, "lead", 2), Role(916, 507, "lead", 1)],
)

# The optimum gives 11 (who covers both needs) to 507 and 25 and 32 to 504; the flow
# puts 11 and 25 on 504, and finishing, which moves one coverer per need, could not find
# that exchange (120 against 100, as drawn, with a neighbour ward and an empty role):
# exchange_for_needs brings 11 to 507 and covers 504 again by moving 32 there.
SWAP_GADGET = dataclasses.replace(
    _gadget(
        [_expert(11, "sign_language", "mobility"), _expert(18), _expert(25, "mobility")]
        + [_expert(32, "sign_language")],
        [
            _at_eight(501),
            _at_eight(504, "mobility", "sign_language"),
            _at_eight(507, "mobility", "sign_language", priority=20),
        ],
        [
            Role(901, 501, "interpreter", 1),
            Role(906, 501, "lead", 0),
            Role(911, 504, "lead", 2),
            Role(916, 507, "lead", 1),
        ],
    ),
    neighbours={"w0": frozenset({"w1"}), "w1": frozenset({"w0"})},
)


@pytest.mark.slow
@settings(ENGINE, max_examples=200)
@example(CLUSTER_GADGET)
@example(NEEDS_GADGET)
@example(INTERPRETER_GADGET)
@example(PRIORITY_MOVE_GADGET)
@example(COVER_OR_DROP_GADGET)
@example(LEAST_LOSS_GADGET)
@example(SWAP_GADGET)
@given(problems(max_volunteers=4, max_sessions=3))
def test_close_to_the_brute_force_optimum(problem):
    pairs = candidate_set(problem)
    assert pairs == allowed_pairs(problem)
    assume(len(pairs) <= MAX_PAIRS)
    rules = Rules(problem)
    optimum, most, best = brute_force(problem, pairs)
    assert optimum is not None  # the empty plan is always valid
    result = solve(problem)
    assert optimum <= result.objective <= rules.objective([])
    gap = result.objective - optimum
    lost = max(most - result.filled, 0)
    seat_cost = max(rules.seat_cost(r) for r in problem.roles)
    # Seats the optimum fills in sessions where the plan has fewer: each may have gone to
    # a session of lower priority.
    filled = Counter(rules.role[r].session_id for _, r in best)
    filled.subtract(Counter(p.session_id for p in result.proposals))
    elsewhere = sum(max(n, 0) for n in filled.values())
    top_priority = max(s.priority for s in problem.sessions)
    event(f"gap: {'none' if gap == 0 else 'seats' if lost else 'points'}")
    target(gap, label="gap to the optimum")
    bound = lost * seat_cost + elsewhere * top_priority + FILLED_SLACK
    assert gap <= bound, (result.objective, optimum, best)
    if not any(s.needs for s in problem.sessions):
        assert 2 * result.filled >= most, (result.filled, most)


def test_the_gadgets_are_solved_exactly():
    """The instances above, which cost the flow seats or points, reach the optimum."""
    for problem, optimum in (
        (CLUSTER_GADGET, 10),
        (NEEDS_GADGET, 100),
        (INTERPRETER_GADGET, 100),
        (PRIORITY_MOVE_GADGET, 100),
        (COVER_OR_DROP_GADGET, 200),
        (LEAST_LOSS_GADGET, 112),
        (SWAP_GADGET, 100),
    ):
        assert brute_force(problem, candidate_set(problem))[0] == optimum
        assert solve(problem).objective == optimum


# -- 4. repairs ---------------------------------------------------------------------------


def without_booking(problem: Problem, booking: Booking) -> Problem:
    """The problem once `booking` is withdrawn: its seat is free again."""
    roles = [
        dataclasses.replace(r, seats=r.seats + 1) if r.id == booking.role_id else r
        for r in problem.roles
    ]
    bookings = [b for b in problem.bookings if b != booking]
    return dataclasses.replace(problem, roles=roles, bookings=bookings)


def check_repair(working, before_fixed, problem_after: Problem, volunteer_id, role_id, repair):
    rules = Rules(problem_after)
    session_id = rules.role[role_id].session_id
    pairs = sorted(working.proposals)
    # The one thing a repair may leave to the re-plan: a session whose needs nobody
    # covers any more and which has more proposals than it could withdraw.
    allowed = {f"session {s}: needs" for s in repair.uncovered}
    assert [v for v in rules.violations(pairs) if v.split(" [")[0] not in allowed] == []
    assert repair.uncovered <= {session_id}
    assert (volunteer_id, session_id) not in working.fixed
    for v, r in pairs:
        assert (v, rules.role[r].session_id) != (volunteer_id, session_id), "re-proposed"
        assert (v, rules.role[r].session_id) not in problem_after.refused
    assert working.fixed == before_fixed - {(volunteer_id, session_id)}, "a confirmed booking moved"
    assert len(repair.touched) <= 2, repair.changes
    if repair.uncovered:
        event("repair: left to the re-plan")
    assert repair.changes[0] == ("leave", volunteer_id, role_id)
    event("repair: " + (" ".join(sorted({op for op, _, _ in repair.changes[1:]})) or "none"))
    target(len(repair.changes), label="changes")  # steer towards moves and removals
    taken = Counter(r for _, r in pairs)
    for role in problem_after.roles:
        assert working.taken[role.id] == taken[role.id]
        assert working.free_seats(role) >= 0


@pytest.mark.slow
@ENGINE
@given(problems(), st.data())
def test_withdrawing_a_proposal_keeps_the_plan_valid(problem, data):
    working, _ = solver_plan(problem)
    assume(working.proposals)
    volunteer_id, role_id = data.draw(st.sampled_from(sorted(working.proposals)))
    before = set(working.fixed)
    repair = withdraw(working, volunteer_id, role_id)
    check_repair(working, before, problem, volunteer_id, role_id, repair)


@pytest.mark.slow
@ENGINE
@given(problems(max_volunteers=8, max_sessions=2, seats=(2, 3)), st.data())
def test_losing_the_only_coverer_touches_at_most_two_others(problem, data):
    """The withdrawal that used to withdraw a whole session: the one person covering a
    need leaves. The repair brings a coverer in, withdraws at most two proposals, or
    leaves the session to the re-plan (check_repair: never more than two touched)."""
    working, _ = solver_plan(problem)
    rules = working.rules
    sole = [
        (v, r)
        for v, r in sorted(working.proposals)
        if working.missing_needs(rules.session[rules.role[r].session_id], without=v)
    ]
    assume(sole)
    volunteer_id, role_id = data.draw(st.sampled_from(sole))
    session = rules.session[rules.role[role_id].session_id]
    target(len(working.proposed_in(session.id)), label="proposals in the session")
    before = set(working.fixed)
    repair = withdraw(working, volunteer_id, role_id)
    check_repair(working, before, problem, volunteer_id, role_id, repair)
    if not repair.uncovered:  # covered again, or nothing proposed there
        assert not working.missing_needs(session) or not working.proposed_in(session.id)


@pytest.mark.slow
@ENGINE
@given(problems(confirmed=True), st.data())
def test_withdrawing_a_confirmed_booking_keeps_the_plan_valid(problem, data):
    fixed = [b for b in problem.bookings if b.fixed]
    working, _ = solver_plan(problem)
    booking = data.draw(st.sampled_from(fixed))
    before = set(working.fixed)
    repair = withdraw(working, booking.volunteer_id, booking.role_id)
    check_repair(
        working,
        before,
        without_booking(problem, booking),
        booking.volunteer_id,
        booking.role_id,
        repair,
    )


@pytest.mark.slow
@ENGINE
@given(problems())
def test_the_quick_search_for_a_free_volunteer_matches_a_plain_scan(problem):
    """Repairs look for the cheapest volunteer who fits through arrays (the first one
    with nothing booked sets the bar); a scan of every candidate in order agrees."""
    working, _ = solver_plan(problem)
    rules = working.rules
    for j, role in enumerate(problem.roles):
        session = rules.session[role.session_id]
        missing = working.missing_needs(session)
        expected = None
        for pair_cost, volunteer_id in working.candidates(j):
            if (volunteer_id, session.id) in working.refused:
                continue
            if missing and not missing & rules.volunteer[volunteer_id].accessibility:
                continue
            if working.fits(volunteer_id, session):
                extra = working.marginal_cost(pair_cost, volunteer_id)
                if expected is None or extra < expected[0]:
                    expected = (extra, volunteer_id, pair_cost)
        assert best_free(working, j, session, missing) == expected
        # With a limit: the same volunteer when they add less, else nobody; on the
        # arrays' path too (every list "long").
        for limit in (0, 1, 3, 8, 50, 10_000):
            bounded = expected if expected is not None and expected[0] < limit else None
            for scan_below in (repair_module.SCAN_BELOW, 0):
                with pytest.MonkeyPatch.context() as patch:
                    patch.setattr(repair_module, "SCAN_BELOW", scan_below)
                    assert best_free(working, j, session, missing, limit=limit) == bounded


def plain_fits(working, volunteer_id: int, session: Session, ignoring=None) -> bool:
    """WorkingPlan.fits as a plain loop over everything the volunteer holds."""
    if volunteer_id in working.staff[session.id]:
        return False
    same_week = 0
    for other in working.busy[volunteer_id]:
        if other is ignoring:
            continue
        if working.rules.conflict(session, other):
            return False
        same_week += other.week == session.week
    return same_week < working.rules.volunteer[volunteer_id].max_per_week


@pytest.mark.slow
@ENGINE
@given(problems(), st.data())
def test_fits_agrees_with_a_plain_loop_after_repairs(problem, data):
    """fits reads the weekly limit from its counts and checks only sessions within the
    travel gap; a plain loop over the volunteer's sessions agrees, ignoring one of them
    or not, on the solved plan and after withdrawals."""
    working, _ = solver_plan(problem)
    rules = working.rules
    for _ in range(data.draw(st.integers(0, 3))):
        if not working.proposals:
            break
        withdraw(working, *data.draw(st.sampled_from(sorted(working.proposals))))
    for volunteer in problem.volunteers:
        held = [rules.session[rules.role[r].session_id] for r in sorted(working.held[volunteer.id])]
        for session in problem.sessions:
            for ignoring in [None, *held]:
                assert working.fits(volunteer.id, session, ignoring) == plain_fits(
                    working, volunteer.id, session, ignoring
                )


@pytest.mark.slow
@ENGINE
@given(problems(), st.data())
def test_a_re_plan_is_never_worse_than_the_plan_it_replaces(problem, data):
    """The debounced re-plan after withdrawals (earlier proposals as movable bookings,
    the refusals so far) hands back a plan at least as good as the live one, which it
    also finishes in place (solver._not_worse); with the default keep bonus (0.1 point)
    and fewer than ten earlier proposals the bonus cannot pay for a worse objective."""
    working, _ = solver_plan(problem)
    rules = working.rules
    refused = set(problem.refused)
    for _ in range(data.draw(st.integers(1, 3))):
        if not working.proposals:
            break
        volunteer_id, role_id = data.draw(st.sampled_from(sorted(working.proposals)))
        refused.add((volunteer_id, rules.role[role_id].session_id))
        withdraw(working, volunteer_id, role_id)
    live = sorted(working.proposals)
    assume(not rules.violations(live) and len(live) < SCALE)
    earlier = [Booking(v, rules.role[r].session_id, r, fixed=False) for v, r in live]
    again = dataclasses.replace(
        problem,
        bookings=[b for b in problem.bookings if b.fixed] + earlier,
        refused=frozenset(refused),
    )
    replanned, _ = solver_plan(again)
    pairs = replanned.pairs()
    assert Rules(again).violations(pairs) == []
    assert rules.objective(pairs) <= rules.objective(live)


@pytest.mark.slow
@ENGINE
@given(problems())
def test_the_flows_of_a_large_problem_see_each_volunteer_where_they_rank_best(problem):
    """Large problems are planned in two flows over views of the pairs (solver._views):
    of each role's cheapest pairs per seat, those among their volunteer's best placed,
    and every earlier proposal. Drawn with views of (2, 2) and (1, 1) pairs so that
    they really leave pairs out; the plan still keeps every rule."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(solver, "SPARSE_ABOVE", 0)
        patch.setattr(solver, "WIDE", (2, 2))
        patch.setattr(solver, "NARROW", (1, 1))
        cands = candidate_pairs.build(problem, Rules(problem))
        views = solver._views(problem, cands)
        check_plan(problem)  # the second flow and finishing reach what the views leave out
    vol_ids = [v.id for v in problem.volunteers]
    earlier = {(b.volunteer_id, b.role_id) for b in problem.bookings if not b.fixed}
    # Place of each pair in its role's list (by_role order), per seat.
    place, position = {}, {}
    for j, role in enumerate(problem.roles):
        run = cands.by_role[cands.role_start[j] : cands.role_start[j + 1]]
        for k, p in enumerate(run.tolist()):
            place[p], position[p] = k / max(role.seats, 1), cands.role_start[j] + k
    # Each volunteer's pairs within the wide view's places, best placed first (ties go to
    # the pair that comes first in the roles' lists): a pair's rank among them.
    rank, seen = {}, Counter()
    for p in sorted(place, key=lambda p: (place[p], position[p])):
        if place[p] < 2:
            v = int(cands.vol[p])
            rank[p], seen[v] = seen[v], seen[v] + 1
    for keep, (per_seat, per_volunteer) in zip(views, ((2, 2), (1, 1)), strict=True):
        for p in range(len(cands)):
            pair = (vol_ids[int(cands.vol[p])], problem.roles[int(cands.role[p])].id)
            near = place[p] < per_seat and rank[p] < per_volunteer
            assert keep[p] == (pair in earlier or near)


@pytest.mark.slow
@ENGINE
@given(problems())
def test_a_first_flow_over_a_view_is_followed_by_one_over_every_pair(problem):
    """From REFLOW_BELOW pairs up the first flow sees the wide view only and the second
    one every pair (solver.plan): drawn with a view of one pair per seat and volunteer,
    the plan keeps every rule and is no worse than the first flow's own finished plan
    (the second flow and the parts can only improve on it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(solver, "REFLOW_BELOW", 0)
        patch.setattr(solver, "WIDE", (1, 1))
        rules = Rules(problem)
        cands = candidate_pairs.build(problem, rules)
        staffable = solver._staffable(problem, cands)
        hopeless = solver._hopeless(problem, cands, staffable)
        (view,) = solver._views(problem, cands, ((1, 1),))
        first, _ = solver._flow_rounds(problem, rules, cands, staffable & view, 1, None, hopeless)
        working, _ = solver_plan(problem)
        check_plan(problem)
    assert rules.objective(working.pairs()) <= rules.objective(first.pairs())


def test_a_withdrawal_from_a_priority_session_takes_a_volunteer_from_a_lesser_one():
    """Nobody is free: the seat of the session furthest from its target (priority 20) is
    worth more than one of a session without priority, whose volunteer moves over and
    leaves their seat empty. One other person's plan changes."""
    problem = _gadget(
        [_expert(11), _expert(18)],
        [_at_eight(501), _at_eight(507, priority=20)],
        [Role(901, 501, "lead", 1), Role(916, 507, "lead", 1)],
    )
    problem.refused = frozenset({(11, 501)})  # 11 cannot refill 501 after leaving 507
    working, _ = solver_plan(problem)
    assert sorted(working.proposals) == [(11, 916), (18, 901)]
    repair = withdraw(working, 11, 916)
    assert sorted(working.proposals) == [(18, 916)]
    assert repair.touched == {18}
    assert Rules(problem).violations(working.pairs()) == []


@pytest.mark.parametrize("large", [False, True], ids=["one flow", "two flows"])
@pytest.mark.parametrize("earlier", [11, 18, 25])
def test_a_re_solve_keeps_the_earlier_proposal_among_equals(earlier, large):
    """Three volunteers fit one seat equally well: whichever the matcher proposed before
    keeps it, so a re-run does not reshuffle the plan (also through the large problems'
    views, where earlier proposals are always seen)."""
    problem = _gadget(
        [_expert(11), _expert(18), _expert(25)],
        [_at_eight(501)],
        [Role(901, 501, "lead", 1)],
    )
    problem.bookings = [Booking(earlier, 501, 901, fixed=False)]
    with pytest.MonkeyPatch.context() as patch:
        if large:
            patch.setattr(solver, "SPARSE_ABOVE", 0)
            patch.setattr(solver, "WIDE", (1, 1))
            patch.setattr(solver, "NARROW", (1, 1))
        proposals = solve(problem).proposals
    assert [(p.volunteer_id, p.role_id) for p in proposals] == [(earlier, 901)]


@settings(ENGINE, max_examples=60)
@given(problems(), st.data())
def test_a_tentative_change_knows_its_cost_and_undoes_exactly(problem, data):
    """WorkingPlan.begin/rollback, which cover_needs uses to keep only moves that beat
    dropping a session: `change` is the objective's change, rollback restores the plan."""
    working, cands = solver_plan(problem)
    rules = working.rules

    def state():  # counts of 0 and absent ones are the same
        return sorted(working.proposals.items()), +working.load, +working.taken

    before = state()
    objective = rules.objective(working.pairs())
    working.begin()
    proposed = sorted(working.proposals)
    for v, r in data.draw(st.lists(st.sampled_from(proposed), unique=True)) if proposed else []:
        working.remove(v, rules.role[r])
    for p in data.draw(st.lists(st.integers(0, max(len(cands) - 1, 0)), max_size=3)):
        if len(cands):
            v = problem.volunteers[int(cands.vol[p])].id
            role = problem.roles[int(cands.role[p])]
            if working.fits(v, rules.session[role.session_id]) and working.free_seats(role):
                working.add(
                    v, role, rules.pair_cost(rules.volunteer[v], rules.session[role.session_id])
                )
    assert working.change == rules.objective(working.pairs()) - objective
    working.rollback()
    assert state() == before
    assert rules.objective(working.pairs()) == objective


# -- engine bugs found by these tests ----------------------------------------------------


def test_neighbour_outside_the_problem_does_not_crash():
    # A neighbour that is neither a key of the map nor any volunteer's or session's ward
    # (a map cut down to the wards in scope, say) is one more ward, as in Rules.distance.
    problem = Problem(
        volunteers=[Volunteer(11, "w0", windows=_ALL_DAY)],
        sessions=[session_at(501, "w0", 0, 0, 480, 60)],
        roles=[Role(901, 501, "helper", 1)],
        neighbours={"w0": frozenset({"w1"})},
    )
    assert allowed_pairs(problem) == [(11, 901)]
    assert candidate_set(problem) == [(11, 901)]
    check_plan(problem)


def test_violations_name_a_refused_pair():
    """The checker the property tests rely on sees a proposal the volunteer refused."""
    problem = Problem(
        volunteers=[Volunteer(11, "w0", windows=_ALL_DAY)],
        sessions=[session_at(501, "w0", 0, 0, 480, 60)],
        roles=[Role(901, 501, "helper", 1)],
        refused=frozenset({(11, 501)}),
    )
    assert Rules(problem).violations([(11, 901)]) == ["volunteer 11 refused session 501"]
    assert solve(problem).proposals == []


# -- Sessions across midnight -----------------------------------------------------------


def _evening(volunteer_windows: tuple[Window, ...], weekday: int = 0) -> Problem:
    """One helper seat in a class from 20:00 to 00:30 the next day."""
    session = session_at(1, "w0", 0, weekday, 20 * 60, 270)
    volunteer = Volunteer(id=1, home_ward="w0", windows=volunteer_windows)
    return Problem([volunteer], [session], [Role(id=1, session_id=1, name="helper", seats=1)])


@pytest.mark.parametrize(
    ("windows", "weekday", "staffed"),
    [
        ((Window(0, 19 * 60, 1440), Window(1, 0, 60)), 0, True),  # Monday into Tuesday
        ((Window(6, 18 * 60, 1440), Window(0, 0, 45)), 6, True),  # Sunday into Monday
        ((Window(0, 19 * 60, 1440),), 0, False),  # free until midnight only
        ((Window(0, 19 * 60, 1440), Window(1, 15, 60)), 0, False),  # a gap after midnight
        ((Window(0, 19 * 60, 1440), Window(2, 0, 60)), 0, False),  # Wednesday is not next
    ],
)
def test_a_class_across_midnight_is_staffed_by_windows_that_join_at_midnight(
    windows, weekday, staffed
):
    problem = _evening(windows, weekday)

    result = solve(problem)

    assert candidate_set(problem) == allowed_pairs(problem)
    assert [(p.volunteer_id, p.session_id) for p in result.proposals] == (
        [(1, 1)] if staffed else []
    )
    if staffed:
        # A code with its values; coordinator.matching.reasons words it per reader.
        assert any(r.startswith("free_next_day|") for r in result.proposals[0].reasons)


# -- Empty seats priced by role ---------------------------------------------------------


def _lead_or_helpers(weights: Weights) -> Problem:
    """One expert who can take the lead seat of 501 or a helper seat of 504 (same time);
    504 has two helper seats, so it is worth more when every seat counts alike."""
    return Problem(
        volunteers=[Volunteer(11, "w0", is_expert=True, windows=_ALL_DAY)],
        sessions=[_at_eight(501), _at_eight(504, priority=10)],
        roles=[Role(901, 501, "lead", 1), Role(906, 504, "helper", 2)],
        neighbours={"w0": frozenset()},
        weights=weights,
    )


def test_an_empty_lead_seat_can_count_for_more_than_a_helper_seat():
    alike = _lead_or_helpers(Weights())
    dear_lead = _lead_or_helpers(Weights(unfilled_lead=150))

    assert [p.role_id for p in solve(alike).proposals] == [906]  # 110 saved, not 100
    assert [p.role_id for p in solve(dear_lead).proposals] == [901]  # 150 saved
    assert solve(dear_lead).objective == brute_force(dear_lead, candidate_set(dear_lead))[0]


def test_seat_weights_are_scaled_by_the_session_priority():
    rules = Rules(
        dataclasses.replace(
            _lead_or_helpers(Weights(unfilled_lead=150, unfilled_accessibility=130)),
            roles=[
                Role(901, 501, "lead", 1),
                Role(906, 504, "lead", 1),
                Role(911, 504, "interpreter", 1),
                Role(916, 504, "helper", 1),
                Role(921, 504, "language", 1),
            ],
        )
    )

    assert [rules.seat_cost(rules.role[r]) for r in (901, 906, 911, 916, 921)] == [
        150,
        165,  # 150 * (100 + 10) / 100
        143,
        110,
        110,
    ]


# -- Two sessions a day -------------------------------------------------------------------


@ENGINE
@given(problems(max_volunteers=5, max_sessions=5))
def test_finer_clusters_keep_the_plan_and_never_hold_two_clashing_sessions(problem):
    """The second flow's clusters (solver._doubles) around a plan: the plan's pairs stay,
    and a volunteer's pairs in different clusters never clash (so at most one per
    cluster is still enough for the rules)."""
    rules = Rules(problem)
    cands = candidate_pairs.build(problem, rules)
    allowed = np.ones(len(cands), dtype=bool)
    working, _ = solver._flow_rounds(problem, rules, cands, allowed, 1)
    keep, clustering = solver._doubles(problem, rules, cands, allowed, working)
    held = solver._plan_pairs(working, cands)
    assert keep[held].all()
    if clustering is None:
        return
    kept = np.flatnonzero(keep)
    for a in kept:
        for b in kept:
            if cands.vol[a] != cands.vol[b] or cands.session[a] == cands.session[b]:
                continue
            if clustering.cluster[a] != clustering.cluster[b]:
                first, second = (problem.sessions[cands.session[x]] for x in (a, b))
                assert not rules.conflict(first, second)


# -- Optimal on a broad random family of tiny problems ------------------------------------

BROAD_INSTANCES = 1000


def broad_problem(rng: random.Random) -> Problem:
    """A tiny problem from a broad family: needs and interpreters, travel gaps of 0, 30
    and 60 minutes, fixed bookings, refusals, sessions on both sides of a week boundary
    (Sunday and the next Monday), seats priced by role."""
    wards = WARDS[: rng.randint(2, 3)]
    edges = [(a, b) for i, a in enumerate(wards) for b in wards[i + 1 :] if rng.random() < 0.5]
    neighbours = {
        w: frozenset({b for a, b in edges if a == w} | {a for a, b in edges if b == w})
        for w in wards
    }
    days = rng.choice([[(0, 0)], [(0, 6), (1, 0)], [(0, 2), (0, 3)]])  # (week, weekday)
    volunteers = []
    for i in range(rng.randint(2, 4)):
        windows = tuple(
            Window(weekday, rng.choice((420, 480, 540)), rng.choice((660, 720, 900)))
            for _, weekday in rng.sample(days, rng.randint(1, len(days)))
        )
        volunteers.append(
            Volunteer(
                id=11 + 7 * i,
                home_ward=rng.choice(wards),
                skills=frozenset(s for s in SKILLS if rng.random() < 0.4),
                accessibility=frozenset(n for n in NEEDS if rng.random() < 0.35),
                languages=frozenset({"vi"}) if rng.random() < 0.8 else frozenset({"en"}),
                is_expert=rng.random() < 0.6,
                max_per_week=rng.choice((1, 1, 2)),
                windows=windows,
                preferred_wards=frozenset(rng.sample(wards, 1))
                if rng.random() < 0.3
                else frozenset(),
            )
        )
    sessions, roles = [], []
    for k in range(rng.randint(1, 3)):
        week, weekday = rng.choice(days)
        session = session_at(
            501 + 3 * k,
            rng.choice(wards),
            week,
            weekday,
            rng.choice(STARTS),
            rng.choice(LENGTHS),
            needs=rng.choice(
                [frozenset(), frozenset(), frozenset({"sign_language"}), frozenset(NEEDS)]
            ),
            languages=frozenset({"vi"}) if rng.random() < 0.85 else frozenset({"en"}),
            priority=rng.choice((0, 0, 20)),
        )
        sessions.append(session)
        for name in rng.sample(ROLE_NAMES, rng.randint(1, 2)):
            roles.append(
                Role(
                    901 + 5 * len(roles),
                    session.id,
                    name,
                    rng.choice((1, 1, 2)),
                    frozenset({"phone"}) if rng.random() < 0.2 else frozenset(),
                )
            )
    weights = rng.choice([Weights(), Weights(unfilled_lead=150, unfilled_accessibility=130)])
    problem = Problem(
        volunteers,
        sessions,
        roles,
        neighbours=neighbours,
        travel_gap=rng.choice((0, 30, 60)),
        weights=weights,
    )
    rules = Rules(problem)
    eligible = [(v, r) for v in volunteers for r in roles if rules.eligible(v, r)]
    if eligible and rng.random() < 0.3:
        v, r = rng.choice(eligible)
        fixed = dataclasses.replace(
            problem, bookings=[Booking(v.id, r.session_id, r.id, fixed=True)]
        )
        if Rules(fixed).violations([]) == []:
            problem = fixed
    if rng.random() < 0.3:
        pairs = [(v.id, s.id) for v in volunteers for s in sessions]
        problem.refused = frozenset(rng.sample(pairs, min(2, len(pairs))))
    return problem


@pytest.mark.slow
def test_optimal_on_a_broad_family_of_tiny_problems():
    """Brute force on BROAD_INSTANCES seeded problems of at most MAX_PAIRS candidate
    pairs: the plan is optimal on at least 99.9% of them (so at most one miss here)."""
    rng = random.Random(22)
    misses, seen = [], 0
    while seen < BROAD_INSTANCES:
        problem = broad_problem(rng)
        pairs = candidate_set(problem)
        if not pairs or len(pairs) > MAX_PAIRS:
            continue
        seen += 1
        result = solve(problem)
        assert (
            Rules(problem).violations([(p.volunteer_id, p.role_id) for p in result.proposals]) == []
        )
        optimum = brute_force(problem, pairs)[0]
        if result.objective != optimum:
            misses.append((seen, result.objective, optimum))
    assert len(misses) <= BROAD_INSTANCES // 1000, misses


def _signed_session(*extra: Volunteer) -> Problem:
    """Session 501 needs a signer: its lead seat (signer 11) and three helper seats
    (21, 22, 23, who do not sign); `extra` may join, at 2 points more (a missed
    preferred ward)."""
    helpers = [dataclasses.replace(_expert(v), is_expert=False) for v in (21, 22, 23)]
    return _gadget(
        [_expert(11, "sign_language"), *helpers, *extra],
        [_at_eight(501, "sign_language")],
        [Role(901, 501, "lead", 1), Role(902, 501, "helper", 3)],
    )


def test_losing_the_only_signer_brings_one_in_for_a_helper():
    """Nobody can lead in the signer's place, but signer 30 can take a helper's seat:
    one helper gives way, two people touched, the need stays covered."""
    signer = dataclasses.replace(
        _expert(30, "sign_language"), is_expert=False, preferred_wards=frozenset({"w9"})
    )
    problem = _signed_session(signer)
    working, _ = solver_plan(problem)
    assert sorted(v for v, _ in working.proposals) == [11, 21, 22, 23]

    repair = withdraw(working, 11, 901)

    assert len(repair.touched) == 2 and 30 in repair.touched, repair.changes
    assert repair.uncovered == set()
    assert sum(v == 30 for v, _ in working.proposals) == 1
    assert len(working.proposals) == 3
    assert Rules(problem).violations(working.pairs()) == []


def test_losing_the_only_signer_leaves_many_proposals_to_the_re_plan():
    """No signer anywhere: withdrawing the three helpers would touch three people, so
    they stay and the session is left to the re-plan."""
    problem = _signed_session()
    working, _ = solver_plan(problem)

    repair = withdraw(working, 11, 901)

    assert repair.touched == set()
    assert repair.uncovered == {501}
    assert sorted(working.proposals) == [(21, 902), (22, 902), (23, 902)]


def test_losing_the_only_signer_withdraws_few_proposals_at_once():
    """Two helpers only: withdrawing them stays within two people, and does."""
    problem = _signed_session()
    problem.roles = [Role(901, 501, "lead", 1), Role(902, 501, "helper", 2)]
    working, _ = solver_plan(problem)
    assert len(working.proposals) == 3

    repair = withdraw(working, 11, 901)

    assert len(repair.touched) == 2 and repair.uncovered == set()
    assert working.proposals == {}


def test_an_empty_lead_seat_is_reached_by_a_path_of_moves():
    """Four leads at eight, one seat each; skills decide who can lead what: 11 leads 904
    and can lead 901, 18 leads 907 and can lead 904, 25 leads 910 and can lead 907, 32 is
    free and can lead only 910. Each expert does one session a week, so no move or chain
    of three fills 901 (fill_by_chains leaves it): four moves do, an augmenting path as
    in a matching."""
    skills = {11: "ab", 18: "bc", 25: "cd", 32: "d"}
    problem = _gadget(
        [dataclasses.replace(_expert(v), skills=frozenset(s)) for v, s in skills.items()],
        [_at_eight(501), _at_eight(504), _at_eight(507), _at_eight(510)],
        [
            Role(901, 501, "lead", 1, frozenset("a")),
            Role(904, 504, "lead", 1, frozenset("b")),
            Role(907, 507, "lead", 1, frozenset("c")),
            Role(910, 510, "lead", 1, frozenset("d")),
        ],
    )
    problem.bookings = [
        Booking(11, 504, 904, fixed=False),
        Booking(18, 507, 907, fixed=False),
        Booking(25, 510, 910, fixed=False),
    ]
    working, _ = solver.working_plan(problem)
    solver.fill_by_chains(working)
    assert sorted(working.proposals) == [(11, 904), (18, 907), (25, 910)]

    solver.fill_by_paths(working)

    assert sorted(working.proposals) == [(11, 901), (18, 904), (25, 907), (32, 910)]
    assert Rules(problem).violations(working.pairs()) == []


# -- Cheaper takers (large problems' flows see a part of the pairs) -----------------------


@settings(ENGINE, max_examples=60)
@given(problems(max_volunteers=6, max_sessions=5))
def test_replacing_by_cheaper_takers_keeps_the_rules_and_leaves_none_cheaper(problem):
    """From a plan of the dearest takers, each pass of `replace_by_cheaper` lowers the
    objective by what it says and keeps every rule and the seats; passes until one
    changes nothing leave no proposal that a free volunteer (able to take it) would
    take for less, load counted."""
    rules = Rules(problem)
    working, _cands = solver.working_plan(problem)
    for j, role in enumerate(working.roles):
        session = rules.session[role.session_id]
        for cost, v in reversed(working.candidates(j)):
            if working.free_seats(role) <= 0:
                break
            if (v, session.id) not in working.refused and working.fits(v, session):
                working.add(v, role, cost)
    if rules.violations(working.pairs()):
        return  # needs left uncovered: not a plan the finishing would be given
    seats = len(working.proposals)
    for _pass in range(20):  # one pass can free someone an earlier seat would take
        before = rules.objective(working.pairs())
        change = solver.replace_by_cheaper(working)
        assert rules.objective(working.pairs()) - before == change <= 0
        assert rules.violations(working.pairs()) == []
        assert len(working.proposals) == seats
        if not change:
            break
    earlier = {(b.volunteer_id, b.role_id) for b in problem.bookings if not b.fixed}
    keep = -(-problem.weights.keep_bonus // SCALE)  # an earlier proposal's keep bonus
    for (v, role_id), cost in working.proposals.items():
        role = rules.role[role_id]
        session = rules.session[role.session_id]
        if session.needs and working.missing_needs(session, without=v):
            continue
        now = cost + rules.load_cost(working.load[v]) - keep * ((v, role_id) in earlier)
        for other_cost, other in working.candidates(working.role_index[role_id]):
            if other == v or (other, session.id) in working.refused:
                continue
            if working.fits(other, session):
                assert working.marginal_cost(other_cost, other) >= now
