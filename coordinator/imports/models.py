"""An uploaded CSV file waiting for, or done with, its import job."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from coordinator.database import JSONType, UTCDateTime, utcnow
from coordinator.extensions import db

IMPORT_KINDS = ("volunteers", "targets")
IMPORT_STATUSES = ("queued", "running", "finished", "failed")


class ImportJob(db.Model):
    """One upload: the file's text until the job is over (it holds names and phones, so
    it is cleared then), the counts and each bad line's messages after."""

    __tablename__ = "import_jobs"
    __table_args__ = (
        sa.CheckConstraint(f"kind IN {IMPORT_KINDS!r}", name="kind"),
        sa.CheckConstraint(f"status IN {IMPORT_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20), default="queued", index=True)
    valid_rows_only: Mapped[bool] = mapped_column(default=False)
    uploaded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # The outbox event whose handler enqueues the job.
    event_id: Mapped[int | None]
    file_text: Mapped[str | None] = mapped_column(sa.Text)
    rows: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    # Line number (as a string) -> messages, as the import report has them.
    errors: Mapped[dict] = mapped_column(JSONType, default=dict)
    # What was written: ids only (e.g. {"volunteer_ids": [...]}).
    result: Mapped[dict] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(sa.Text)  # why a job failed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def job_id(self) -> str:
        """The RQ job that imports this file (its meta holds the progress)."""
        return self.job_id_for(self.id)

    @staticmethod
    def job_id_for(import_id: int) -> str:
        """The RQ job id of import `import_id`: one job per upload."""
        return f"import-{import_id}"
