"""A part of a plan solved exactly (engine/subproblem.py): the whole of a tiny problem
taken as the part gives the brute-force optimum, from an empty plan and from the
engine's; a part never breaks a rule and never makes the plan worse."""

from __future__ import annotations

import random

from hypothesis import assume, given, settings

from coordinator.matching.engine import candidates as candidate_pairs
from coordinator.matching.engine import subproblem
from coordinator.matching.engine.constraints import Rules
from coordinator.matching.engine.problem import Problem, Role, Volunteer, Window
from coordinator.matching.engine.solver import plan as solver_plan
from coordinator.matching.engine.state import WorkingPlan
from tests.matching.test_engine import (
    ENGINE,
    MAX_PAIRS,
    broad_problem,
    brute_force,
    candidate_set,
    problems,
    session_at,
)


def _everything(working) -> tuple[list[int], list[int]]:
    return [v.id for v in working.vols], [s.id for s in working.sessions]


@settings(ENGINE, max_examples=60)
@given(problems(max_volunteers=4, max_sessions=3))
def test_the_whole_problem_as_one_part_is_its_optimum(problem):
    pairs = candidate_set(problem)
    assume(len(pairs) <= MAX_PAIRS)
    rules = Rules(problem)
    optimum = brute_force(problem, pairs)[0]
    working = WorkingPlan(rules, candidate_pairs.build(problem, rules))  # nothing proposed
    subproblem.reoptimise(working, *_everything(working))
    assert rules.violations(working.pairs()) == []
    assert rules.objective(working.pairs()) == optimum


def test_parts_reach_the_optimum_of_a_broad_family_from_the_engines_plan():
    """Seeded tiny problems with needs, interpreters, travel gaps, fixed bookings,
    refusals and week boundaries: the engine's plan, re-decided as one part, is the
    brute-force optimum; parts around empty seats keep every rule and never worsen it."""
    rng = random.Random(2022)
    seen = 0
    while seen < 150:
        problem = broad_problem(rng)
        pairs = candidate_set(problem)
        if not pairs or len(pairs) > MAX_PAIRS:
            continue
        seen += 1
        rules = Rules(problem)
        optimum = brute_force(problem, pairs)[0]
        working, _ = solver_plan(problem)
        before = rules.objective(working.pairs())
        subproblem.improve_by_parts(working)
        after = rules.objective(working.pairs())
        assert rules.violations(working.pairs()) == []
        assert optimum <= after <= before
        change = subproblem.reoptimise(working, *_everything(working))
        assert rules.violations(working.pairs()) == []
        assert rules.objective(working.pairs()) == optimum
        assert change == optimum - after


def test_a_part_reaches_the_coverer_who_takes_over_a_need():
    """Tight seed 9's last seat, in small: the only expert who can lead session 501 is
    504's lead and its only screen reader. Moving them fills 501 only if another screen
    reader (25, a helper of 507) moves into 504, someone (32) takes 25's seat and a free
    expert (39) leads 504: the part around 501's empty seat must hold all of them."""
    open_day = (Window(0, 420, 1020), Window(1, 420, 1020))
    volunteers = [
        Volunteer(
            11,
            "w0",
            is_expert=True,
            max_per_week=1,
            accessibility=frozenset({"screen_reader"}),
            windows=open_day,
        ),
        Volunteer(18, "w0", max_per_week=1, windows=open_day),
        Volunteer(
            25, "w0", max_per_week=1, accessibility=frozenset({"screen_reader"}), windows=open_day
        ),
        Volunteer(32, "w0", max_per_week=1, windows=open_day),
        # Free, but only on Monday afternoons: 504, not 501.
        Volunteer(39, "w0", is_expert=True, max_per_week=1, windows=(Window(0, 780, 1020),)),
    ]
    sessions = [
        session_at(501, "w0", 0, 0, 480, 60),
        session_at(504, "w0", 0, 0, 840, 60, needs=frozenset({"screen_reader"})),
        session_at(507, "w0", 0, 1, 600, 60),
    ]
    roles = [
        Role(901, 501, "lead", 1),
        Role(906, 504, "lead", 1),
        Role(907, 504, "helper", 1),
        Role(911, 507, "helper", 1),
    ]
    problem = Problem(volunteers, sessions, roles, neighbours={"w0": frozenset()})
    rules = Rules(problem)
    working = WorkingPlan(rules, candidate_pairs.build(problem, rules))
    for volunteer_id, role in [(11, roles[1]), (18, roles[2]), (25, roles[3])]:
        cost = rules.pair_cost(rules.volunteer[volunteer_id], rules.session[role.session_id])
        working.add(volunteer_id, role, cost)
    assert rules.violations(working.pairs()) == []
    volunteers_in, sessions_in = subproblem.part_around(working, [0], set())
    assert {11, 25, 32, 39} <= volunteers_in
    assert {501, 504, 507} <= sessions_in
    assert subproblem.improve_by_parts(working) < 0
    assert rules.violations(working.pairs()) == []
    assert len(working.pairs()) == 4
    assert (11, 901) in working.proposals and (25, 907) in working.proposals
