"""Solves bench/matching.py's exact model with HiGHS in a process of its own.

highspy and OR-tools cannot share a process here (OR-tools bundles its own HiGHS and
the two libraries' symbols clash at import), so the benchmark writes the model to an
.npz file and runs:

    .venv/bin/python bench/matching_highs.py model.npz result.npz [option=value ...]
"""

from __future__ import annotations

import sys
import time

import highspy
import numpy as np


def _typed(value: str):
    if value in ("true", "false"):
        return value == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def dual_bound(m, row_dual: np.ndarray) -> float:
    """A lower bound of the LP (so of the MIP) that holds for any row duals, converged
    or not: with multipliers y >= 0 on the rows A x <= u and 0 <= x <= 1,
    c x >= c x + y (A x - u) >= sum_j min(0, (c + A'y)_j) - y u for every feasible x."""
    if row_dual.size != len(m["row_upper"]):
        return float("-inf")
    y = np.maximum(-row_dual, 0.0)  # HiGHS: a <= row's dual is <= 0 when minimising
    rows = np.repeat(np.arange(y.size), np.diff(m["start"]))
    reduced = m["col_cost"] + np.bincount(
        m["index"], weights=m["value"] * y[rows], minlength=len(m["col_cost"])
    )
    return float(m["offset"] + np.minimum(reduced, 0.0).sum() - y @ m["row_upper"])


def main(source: str, target: str, options: list[str]) -> None:
    m = np.load(source)
    n_cols, n_pairs, n_rows = int(m["n_cols"]), int(m["n_pairs"]), len(m["row_upper"])
    integer = bool(m["integer"])
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_cols, n_rows
    lp.col_cost_ = m["col_cost"]
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = np.ones(n_cols)
    lp.row_lower_ = np.full(n_rows, -highspy.kHighsInf)
    lp.row_upper_ = m["row_upper"]
    lp.offset_ = float(m["offset"])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_cols, n_rows
    lp.a_matrix_.start_ = m["start"]
    lp.a_matrix_.index_ = m["index"]
    lp.a_matrix_.value_ = m["value"]
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n_pairs + [
            highspy.HighsVarType.kContinuous
        ] * (n_cols - n_pairs)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "off")  # faster here; time limits are not honoured inside it
    h.setOptionValue("time_limit", float(m["time_limit"]))
    h.setOptionValue("mip_rel_gap", 0.0)
    if not integer:
        # Serial dual simplex: large's LP (1.1 M rows, 3.5 M columns) in about a minute on
        # one core, where interior point did not converge in 15 minutes. Stopped by the
        # time limit, its duals still give a valid (weaker) bound through dual_bound.
        h.setOptionValue("solver", "simplex")
        h.setOptionValue("simplex_strategy", 1)
    for option in options:  # e.g. presolve=on run_crossover=off
        key, value = option.split("=", 1)
        h.setOptionValue(key, _typed(value))
    clock = time.perf_counter()
    h.passModel(lp)
    h.run()
    seconds = time.perf_counter() - clock
    info = h.getInfo()
    solution = h.getSolution()
    x = np.array(solution.col_value)
    np.savez(
        target,
        x=x[:n_pairs] if len(x) else np.zeros(n_pairs),
        status=h.modelStatusToString(h.getModelStatus()),
        objective=info.objective_function_value,
        bound=info.mip_dual_bound if integer else dual_bound(m, np.array(solution.row_dual)),
        mip_gap=info.mip_gap if integer else 0.0,
        iterations=info.simplex_iteration_count,
        seconds=seconds,
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
