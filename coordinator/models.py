"""Every model, imported once so metadata (Alembic, create_all) sees all tables."""

from coordinator.bookings.models import Assignment, Registration
from coordinator.competences.models import Competence, ProficiencyLevel
from coordinator.events.models import DomainEvent
from coordinator.geography.models import Ward, ward_neighbors
from coordinator.idempotency.models import IdempotencyKey
from coordinator.imports.models import ImportJob
from coordinator.matching.models import MatchingRun
from coordinator.notifications.models import Notification
from coordinator.people.models import (
    ApiToken,
    AvailabilityWindow,
    FeedToken,
    Participant,
    ParticipantPrivate,
    User,
    Volunteer,
)
from coordinator.progress.models import Assessment, ErasedParticipantCount, PopulationTarget
from coordinator.sessions.models import SessionRole, SessionSeries, TrainingSession
from coordinator.squads.models import Squad, SquadMember
from coordinator.vocabularies.models import VocabularyTerm

__all__ = [
    "ApiToken",
    "Assessment",
    "Assignment",
    "AvailabilityWindow",
    "Competence",
    "DomainEvent",
    "ErasedParticipantCount",
    "FeedToken",
    "IdempotencyKey",
    "ImportJob",
    "MatchingRun",
    "Notification",
    "Participant",
    "ParticipantPrivate",
    "PopulationTarget",
    "ProficiencyLevel",
    "Registration",
    "SessionRole",
    "SessionSeries",
    "Squad",
    "SquadMember",
    "TrainingSession",
    "User",
    "VocabularyTerm",
    "Volunteer",
    "Ward",
    "ward_neighbors",
]
