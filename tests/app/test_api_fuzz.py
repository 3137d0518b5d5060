"""Fuzzing: schemathesis sends generated requests, valid and invalid, to every operation of
the app's own /api/v1/openapi.json, in process (WSGI) against the real database and Redis,
as an organizer and anonymously. Every schemathesis check runs: no 5xx, every answer
matches the document (status, content type, headers, body schema), auth is enforced where
declared, invalid input is refused and valid input accepted.

One check is scoped, narrowly: `positive_data_acceptance` expects any request the
document allows to succeed, but OpenAPI 3.0 cannot state some rules, so a schema-valid
request may still get 422 for exactly these (DOCUMENT_CANNOT_SAY) and for nothing else."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from coordinator.extensions import db

MAX_EXAMPLES = 25  # per operation and phase: the file runs in well under two minutes

# "field: message" (English half of the message) of the 422s the document cannot foresee.
DOCUMENT_CANNOT_SAY = [
    # References to stored rows: a code or id names nothing in the database.
    r"(home_ward|ward): Unknown ward '.*'\.",
    r"preferences: Unknown ward '.*'\.",
    r"(participant_needs|venue_accessibility|accessibility_(skills|needs)): Unknown: .*",
    r"competence_area: Unknown competence '.*'\.",
    r"participant_id: Unknown participant\.",
    r"(leader_id|member_ids|volunteer_id): Unknown volunteers: .*",
    r"role: The session has no role '.*' \(its roles: .*\)\.",
    r"entries\.\d+: (Not registered in this session|Unknown areas: .*)\.?",
    r"entries\.\d+\.levels\..*\.key: Length must be between 1 and 32\.",  # an area code
    # Relations between fields, which OpenAPI 3.0 has no words for.
    r"ends_at: (ends_at must be after starts_at|A session lasts at most 12 hours)\.",
    r"to: ('to' must be after 'from'|Must be after 'from')\.",
    r"to: At most one year\.",  # a matching run's window
    r"roles: Each role once\.",
    r"availability\.\d+\.end: End must be after start\.",
    r"volunteer_id: Give volunteer_id or squad_id\.",
    r"role: A role is required\.",
    # What a CSV body holds (the document says text/csv): reported per line of the file.
    r"\d+: .*",
    r"_body: The file must be UTF-8\.",
    # Rules on the caller or the clock.
    r"volunteer_id: volunteer_id is required\.",  # an organizer signs someone else up
    r"password: A password is required to sign up\.",  # anonymous sign-up
    r"consent: Consent to the processing of your data is required\.",  # self-registration
    r"starts_at: A session must start in the future\.",
    # Message preferences: the kinds and channel orders the caller's roles offer.
    r"preferences\.\d+\.audience: You get no messages as (a volunteer|an organizer)\.",
    r"preferences\.\d+\.kind: Not a kind of message for (a volunteer|an organizer)\.",
    r"preferences\.\d+\.channels: Not a choice for this kind \(.*\)\.",
    # libphonenumber's numbering plan, which no pattern in a document states.
    r"(phone|contact|guardian_contact): Not a Vietnamese mobile number \(.*\)\.",
]
_CANNOT_SAY = re.compile("|".join(f"(?:{rule})" for rule in DOCUMENT_CANNOT_SAY), re.DOTALL)


def _messages(node, path: str = ""):
    """Flatten the contract's `messages` to "field.path: English message" lines."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _messages(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list) and all(isinstance(item, str) for item in node):
        for message in node:
            yield f"{path}: {message.rpartition(' / ')[2]}"
    else:
        yield f"{path}: {node!r}"


def only_rules_the_document_cannot_say(response) -> bool:
    if response.status_code != 422:
        return False
    messages = list(_messages((response.json() or {}).get("messages") or {}))
    return bool(messages) and all(_CANNOT_SAY.fullmatch(line) for line in messages)


def positive_data_acceptance_within_the_document(ctx, response, case):
    """schemathesis' positive_data_acceptance, but for DOCUMENT_CANNOT_SAY."""
    if only_rules_the_document_cannot_say(response):
        return True
    return positive_data_acceptance(ctx, response, case)


def removes_authorization(case) -> bool:
    """A case generated to go without the Authorization header must go without ours too
    (schemathesis 4.32 drops explicit headers for such a case only when the header is the
    case's sole mutated location)."""
    mutations = getattr(case.meta.phase.data, "mutations", ()) if case.meta else ()
    return any(
        mutation.parameter_location == "header" and mutation.parameter == "Authorization"
        for mutation in mutations
    )


@pytest.fixture(params=["organizer", "anonymous"])
def caller_headers(request) -> dict:
    """Who calls: an organizer with a bearer token, or nobody."""
    # English: the rules below are written in the English of the messages (a caller
    # reads one language, their saved one or else their Accept-Language).
    if request.param == "anonymous":
        return {"Accept-Language": "en"}
    organizer = request.getfixturevalue("make_user")("organizer")
    organizer.locale = "en"
    db.session.commit()
    return {**request.getfixturevalue("auth_headers")(organizer), "Accept-Language": "en"}


@pytest.fixture
def api_schema(app, caller_headers, make_session, make_volunteer):
    """The document as the app serves it, over a district with a session and a volunteer,
    so that small ids in paths name real rows."""
    make_volunteer()
    make_session()
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")
pytestmark = pytest.mark.slow


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_answers_what_it_documents(case, caller_headers):
    case.call_and_validate(
        headers=caller_headers if not removes_authorization(case) else {"Accept-Language": "en"},
        excluded_checks=[positive_data_acceptance],
        additional_checks=[positive_data_acceptance_within_the_document],
    )
