"""A part of a plan solved exactly (engine/subproblem.py): the whole of a tiny problem
taken as the part gives the brute-force optimum, from an empty plan and from the
engine's; a part never breaks a rule and never makes the plan worse."""

from __future__ import annotations

import random

from hypothesis import assume, given, settings

from coordinator.matching.engine import candidates as candidate_pairs
from coordinator.matching.engine import subproblem
from coordinator.matching.engine.constraints import Rules
from coordinator.matching.engine.solver import plan as solver_plan
from coordinator.matching.engine.state import WorkingPlan
from tests.matching.test_engine import (
    ENGINE,
    MAX_PAIRS,
    broad_problem,
    brute_force,
    candidate_set,
    problems,
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
