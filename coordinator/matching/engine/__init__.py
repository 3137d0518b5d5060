"""The matching engine: plain Python and numpy over plain data (no Flask, no database,
nothing of `coordinator` outside this package).

`solve` makes a plan; `plan`/`working_plan` give the editable working state that
`withdraw` repairs; `sessions_that_fit` answers for one volunteer; `Rules` is the model's
rules one pair at a time.
"""

from coordinator.matching.engine.constraints import Rules
from coordinator.matching.engine.fits import Fit, sessions_that_fit
from coordinator.matching.engine.problem import (
    Booking,
    Plan,
    Problem,
    Proposal,
    Role,
    Session,
    Unfilled,
    Volunteer,
    Weights,
    Window,
)
from coordinator.matching.engine.repair import Repair, withdraw
from coordinator.matching.engine.solver import as_plan, plan, solve, working_plan
from coordinator.matching.engine.state import WorkingPlan

__all__ = [
    "Booking",
    "Fit",
    "Plan",
    "Problem",
    "Proposal",
    "Repair",
    "Role",
    "Rules",
    "Session",
    "Unfilled",
    "Volunteer",
    "Weights",
    "Window",
    "WorkingPlan",
    "as_plan",
    "plan",
    "sessions_that_fit",
    "solve",
    "withdraw",
    "working_plan",
]
