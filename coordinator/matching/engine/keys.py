"""Pairs of non-negative integers packed into one int64 each, so numpy can sort, search
and look them up (`np.isin`, `np.unique`) as plain numbers."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

SHIFT = 32  # the second member must stay below 2**32, the first below 2**31
Ints = npt.ArrayLike


def pair_keys(first: Ints, second: Ints) -> npt.NDArray[np.int64]:
    """`first * 2**32 + second`, element by element: ordered as (first, second)."""
    return (np.asarray(first, dtype=np.int64) << SHIFT) + np.asarray(second, dtype=np.int64)


def keys_of(pairs: Iterable[tuple[int, int]]) -> npt.NDArray[np.int64]:
    """The keys of Python (first, second) tuples."""
    rows = np.array(list(pairs), dtype=np.int64).reshape(-1, 2)
    return pair_keys(rows[:, 0], rows[:, 1])


def first_of(keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The first members of packed keys."""
    return keys >> SHIFT
