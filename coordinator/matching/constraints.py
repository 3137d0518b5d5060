"""Moved to `coordinator.matching.engine.constraints`. Kept only for
coordinator/web/volunteer_pages.py (`_fits`) until that page calls
`coordinator.matching.operations.sessions_that_fit`; delete it then."""

from coordinator.matching.engine.constraints import Rules

__all__ = ["Rules"]
