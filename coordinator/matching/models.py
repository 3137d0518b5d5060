"""A matching run: the request, its RQ job and its outcome."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.database import JSONType, UTCDateTime, utcnow
from coordinator.extensions import db
from coordinator.states import status_in, values


class RunStatus(StrEnum):
    """A matching run: queued -> running -> finished | failed."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


RUN_STATUSES = values(RunStatus)
RUN_KINDS = ("full", "auto", "repair", "part")


class MatchingRun(db.Model):
    __tablename__ = "matching_runs"
    __table_args__ = (
        sa.CheckConstraint(status_in(RunStatus), name="status"),
        # Bursts coalesce: one queued run per window; events find it and add nothing.
        sa.Index(
            "uq_matching_runs_queued_window",
            "coalesce_key",
            unique=True,
            sqlite_where=sa.text("status = 'queued'"),
            postgresql_where=sa.text("status = 'queued'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(20), default=RunStatus.QUEUED.value, index=True)
    kind: Mapped[str] = mapped_column(sa.String(20), default="full")  # RUN_KINDS
    coalesce_key: Mapped[str | None] = mapped_column(sa.String(80))
    # The outbox event that asked for this run; its handler enqueues the run's job.
    event_id: Mapped[int | None]
    ward: Mapped[str | None] = mapped_column(sa.ForeignKey("wards.code"))
    # A part of a larger run (kind "part"): the run it belongs to, which finishes with its
    # last part, and the wards whose volunteers it plans (no other part plans them).
    parent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("matching_runs.id", ondelete="CASCADE"), index=True
    )
    pool: Mapped[list[str] | None] = mapped_column(JSONType)
    # The units whose sessions the run may plan (its requester's scope); None: all.
    units: Mapped[list[str] | None] = mapped_column(JSONType)
    window_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requested_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    filled: Mapped[int] = mapped_column(default=0)
    unfilled: Mapped[int] = mapped_column(default=0)
    objective: Mapped[float | None]
    # Unfilled roles with the reason nothing fits: [{session_id, role, reasons}]
    unfilled_detail: Mapped[list] = mapped_column(JSONType, default=list)
    # Per proposal written: [{session_id, role, volunteer_id, reasons}]
    proposals: Mapped[list] = mapped_column(JSONType, default=list)
    stats: Mapped[dict] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def job_id(self) -> str:
        """The RQ job that solves this run (its meta holds the progress)."""
        return self.job_id_for(self.id)

    @staticmethod
    def job_id_for(run_id: int) -> str:
        """The RQ job id of run `run_id`: one job per run."""
        return f"run-{run_id}"
