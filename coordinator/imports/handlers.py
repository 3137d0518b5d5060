"""The event that sets an import to work."""

from __future__ import annotations

from rq.exceptions import DuplicateJobError

from coordinator.background import RUN_IMPORT, enqueue
from coordinator.events.dispatch import handles
from coordinator.events.models import DomainEvent
from coordinator.imports.models import ImportJob


@handles("import.requested")
def start_import(event: DomainEvent) -> None:
    """The file is imported by its own job (its progress is that job's meta). The job
    re-reads the committed row only; its unique id makes a second processing a no-op."""
    import_id = event.payload["import_id"]
    try:
        enqueue(RUN_IMPORT, import_id, job_id=ImportJob.job_id_for(import_id), unique=True)
    except DuplicateJobError:
        pass
