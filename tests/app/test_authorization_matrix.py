"""Authorization matrix: every API endpoint and every page under /me, /organize, /admin and
/checkin, for each role, on the caller's own object and on someone else's, against the
expected status. Each cell is a real request with a valid body, so a refusal is never a
422 in disguise.

One shared world is built once through the API (two volunteers and a squad leader's
squad, another squad, sessions, bookings, proposals, two participants with
registrations, a matching run, a login for each role), kept as rows, and put back before
every test and after every write that went through. A refused write must leave every
table as it was. Ids of others' private objects (volunteers, bookings, participants,
registrations) answer exactly like ids that name nothing, so an id reveals nobody: a
caller who may hold such objects gets 404 for someone else's, a caller who may hold none
is refused before the id is looked up.

"organizer" is national (no units). Every object of the world is in ward A (kim_lien,
Hanoi): "ward_a" organizes that ward, "province" all of Hanoi ("01"), "ward_b" one ward of
Ho Chi Minh City ("79"). Out of a scoped organizer's units, a load answers like a missing
id (404) and a change to a public object (a session, a squad, a volunteer they can see
without their contact) is refused (403); private objects (bookings, registrations,
participants, runs, imports) stay 404 for changes too. Imports are shown to national
organizers and to their uploader only (a report names the file's rows).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from coordinator.database import utcnow
from coordinator.extensions import db, redis_connection
from tests.api_helpers import ANY_TIME
from tests.conftest import PASSWORD
from tests.page_helpers import csrf_token, log_in
from tests.scope_helpers import (
    PROVINCE_P,
    WARD_A,
    WARD_B,
    import_second_province,
    scoped_organizer,
)

ROLES = (
    "anonymous",
    "participant",
    "volunteer",
    "leader",
    "organizer",
    "admin",
    "ward_a",
    "province",
    "ward_b",
)

# API: expected status per role. "own/other": on the caller's own object / on someone
# else's; one value: the same for every object tried. The object column names the kind of
# object the request names (in its path or its body), "-" for none.
API_MATRIX = """
method path                                             object       anonymous participant volunteer leader  organizer admin   ward_a  province ward_b
GET    /healthz                                         -            200       200         200       200     200       200     200     200      200
GET    /api/v1/openapi.json                             -            200       200         200       200     200       200     200     200      200
POST   /api/v1/auth/tokens                              -            201       201         201       201     201       201     201     201      201
GET    /api/v1/auth/tokens                              -            401       200         200       200     200       200     200     200      200
DELETE /api/v1/auth/tokens/<token_id>                   token        401       204/404     204/404   204/404 204/404   204/404 204/404 204/404  204/404
GET    /api/v1/wards                                    -            200       200         200       200     200       200     200     200      200
GET    /api/v1/wards/<code>                             -            200       200         200       200     200       200     200     200      200
PUT    /api/v1/wards/<code>/neighbors                   -            401       403         403       403     200       200     200     200      403
GET    /api/v1/provinces                                -            200       200         200       200     200       200     200     200      200
GET    /api/v1/competences                              -            200       200         200       200     200       200     200     200      200
GET    /api/v1/competences/levels                       -            200       200         200       200     200       200     200     200      200
GET    /api/v1/vocabularies                             -            200       200         200       200     200       200     200     200      200
POST   /api/v1/volunteers                               -            201       403         403       403     201       201     201     201      201
GET    /api/v1/volunteers                               -            401       403         403       403     200       200     200     200      200
GET    /api/v1/volunteers/<volunteer_id>                volunteer    401       403         200/404   200/404 200       200     200     200      200
PATCH  /api/v1/volunteers/<volunteer_id>                volunteer    401       403         200/404   200/404 200       200     200     200      403
GET    /api/v1/volunteers/<volunteer_id>/assignments    volunteer    401       403         200/404   200/404 200       200     200     200      200
POST   /api/v1/squads                                   -            401       403         403       403     201       201     201     201      403
GET    /api/v1/squads                                   -            200       200         200       200     200       200     200     200      200
GET    /api/v1/squads/<squad_id>                        squad        200       200         200       200     200       200     200     200      200
PATCH  /api/v1/squads/<squad_id>                        squad        401       403         403       200/403 200       200     200     200      403
POST   /api/v1/squads/<squad_id>/members                squad        401       403         403       201/403 201       201     201     201      403
DELETE /api/v1/squads/<squad_id>/members/<volunteer_id> squad        401       403         403       200/403 200       200     200     200      403
POST   /api/v1/sessions                                 -            401       403         403       403     201       201     201     201      403
GET    /api/v1/sessions                                 -            200       200         200       200     200       200     200     200      200
GET    /api/v1/sessions/<session_id>                    -            200       200         200       200     200       200     200     200      200
PATCH  /api/v1/sessions/<session_id>                    -            401       403         403       403     200       200     200     200      403
POST   /api/v1/sessions/<session_id>/cancel             -            401       403         403       403     200       200     200     200      403
GET    /api/v1/sessions/<session_id>/staffing           -            200       200         200       200     200       200     200     200      200
GET    /api/v1/sessions/<session_id>/bookings           -            401       403         403       403     200       200     200     200      404
GET    /api/v1/sessions/<session_id>/audit              -            401       403         403       403     200       200     200     200      404
POST   /api/v1/sessions/<session_id>/signups            volunteer    401       403         201/404   201/404 201       201     201     201      403
POST   /api/v1/sessions/<session_id>/assignments        -            401       403         403       403     201       201     201     201      403
POST   /api/v1/sessions/<session_id>/registrations      participant  401       201/422     403       403     201       201     201     201      422
GET    /api/v1/sessions/<session_id>/attendance         session      401       404         404       200/404 200       200     200     200      404
PUT    /api/v1/sessions/<session_id>/attendance         session      401       404         404       200/404 200       200     200     200      404
GET    /api/v1/sessions/<session_id>/volunteer-attendance session    401       404         404       200/404 200       200     200     200      404
PUT    /api/v1/sessions/<session_id>/volunteer-attendance session    401       404         404       200/404 200       200     200     200      404
DELETE /api/v1/registrations/<registration_id>          registration 401       403         403       403     200       200     200     200      404
DELETE /api/v1/signups/<assignment_id>                  booking      401       403         200/404   200/404 200       200     200     200      404
GET    /api/v1/assignments/<assignment_id>              booking      401       403         200/404   200/404 200       200     200     200      404
POST   /api/v1/assignments/<assignment_id>/accept       proposal     401       403         200/404   200/404 200       200     200     200      404
POST   /api/v1/assignments/<assignment_id>/decline      proposal     401       403         200/404   200/404 200       200     200     200      404
POST   /api/v1/matching/runs                            -            401       403         403       403     202       202     202     202      403
GET    /api/v1/matching/runs                            -            401       403         403       403     200       200     200     200      200
GET    /api/v1/matching/runs/<run_id>                   -            401       403         403       403     200       200     200     200      404
POST   /api/v1/participants                             -            201       201         201       201     201       201     201     201      201
GET    /api/v1/participants/<participant_id>/export     participant  401       200/404     404       404     200       200     200     200      404
DELETE /api/v1/participants/<participant_id>            participant  401       204/404     404       404     204       204     204     204      404
GET    /api/v1/progress                                 -            401       403         403       403     200       200     200     200      200
GET    /api/v1/progress.csv                             -            401       403         403       403     200       200     200     200      200
POST   /api/v1/progress/targets                         -            401       403         403       403     202       202     202     202      202
GET    /api/v1/imports/<import_id>                      -            401       403         403       403     200       200     404     404      404
GET    /api/v1/hours                                    -            401       403         403       403     200       200     200     200      200
GET    /api/v1/hours.csv                                -            401       403         403       403     200       200     200     200      200
POST   /api/v1/me/feed-token                            -            401       403         201       201     403       403     403     403      403
GET    /api/v1/users/<user_id>/scopes                   -            401       403         403       403     403       200     403     403      403
PUT    /api/v1/users/<user_id>/scopes                   -            401       403         403       403     403       200     403     403      403
"""  # noqa: E501 - a table reads best one row a line
# Notes on cells that are easy to misread:
# - a squad leader is a volunteer: they see and change only their own profile and
#   bookings, and manage only the squad they lead (squads are public, so 403 there);
# - organizers may accept or decline on a volunteer's behalf: they can assign or
#   withdraw them anyway;
# - registrations: organizers for anyone, a participant's login for that participant
#   (API.md); another participant's id answers 422 like an id that names nobody;
# - attendance is for the session's lead: a helper, a participant or another lead gets
#   the same 404 as for a missing session (the roster shows participants' needs);
# - ward_b registering a ward A participant gets 422: a participant of other units is
#   as unknown to them as an id that names nobody.

# Pages: "login" redirects to the login page (with ?next=), "home" redirects to the home
# page with a message, a number is the status, "ok" is any answer of a view that served
# the caller (200, a redirect elsewhere, or a 422 for the empty form we send), and "out"
# redirects to the login page without ?next= (the caller's own logins ended).
PAGE_MATRIX = """
method path                                                  object   anonymous participant volunteer leader  organizer admin ward_a province ward_b
GET    /me/profile                                           -        login     home        200       200     home      home  home   home     home
GET    /me/password                                          -        login     200         200       200     200       200   200    200      200
POST   /me/password                                          -        login     ok          ok        ok      ok        ok    ok     ok       ok
POST   /me/sign-out-everywhere                               -        login     out         out       out     out       out   out    out      out
POST   /me/profile                                           -        login     home        ok        ok      home      home  home   home     home
GET    /me/fits                                              -        login     home        200       200     home      home  home   home     home
GET    /me/schedule                                          -        login     home        200       200     home      home  home   home     home
POST   /me/sessions/<session_id>/signup                      -        login     home        ok        ok      home      home  home   home     home
POST   /me/bookings/<assignment_id>/<action>                 proposal login     home        ok/404    ok/404  home      home  home   home     home
GET    /me/bookings/<assignment_id>/withdraw                 proposal login     home        ok/404    ok/404  home      home  home   home     home
POST   /me/calendar-link                                     -        login     home        200       200     home      home  home   home     home
GET    /organize/                                            -        login     home        home      home    200       200   200    200      200
GET    /organize/sessions/new                                -        login     home        home      home    200       200   200    200      200
POST   /organize/sessions/new                                -        login     home        home      home    ok        ok    ok     ok       ok
GET    /organize/sessions/<session_id>                       -        login     home        home      home    200       200   200    200      404
GET    /organize/sessions/<session_id>/edit                  -        login     home        home      home    200       200   200    200      404
POST   /organize/sessions/<session_id>/edit                  -        login     home        home      home    ok        ok    ok     ok       404
GET    /organize/sessions/<session_id>/cancel                -        login     home        home      home    200       200   200    200      404
POST   /organize/sessions/<session_id>/cancel                -        login     home        home      home    ok        ok    ok     ok       404
POST   /organize/sessions/<session_id>/assign                -        login     home        home      home    ok        ok    ok     ok       404
POST   /organize/sessions/<session_id>/assign-squad          -        login     home        home      home    ok        ok    ok     ok       404
GET    /organize/sessions/<session_id>/participants          -        login     home        home      home    200       200   200    200      404
POST   /organize/sessions/<session_id>/participants          -        login     home        home      home    ok        ok    ok     ok       404
GET    /organize/matching                                    -        login     home        home      home    200       200   200    200      200
POST   /organize/matching                                    -        login     home        home      home    ok        ok    ok     ok       ok
GET    /organize/runs/<run_id>                               -        login     home        home      home    200       200   200    200      404
GET    /organize/runs/<run_id>/progress                      -        login     home        home      home    200       200   200    200      404
GET    /organize/volunteers/import                           -        login     home        home      home    200       200   200    200      200
GET    /organize/imports/<import_id>                         -        login     home        home      home    200       200   404    404      404
GET    /organize/imports/<import_id>/progress                -        login     home        home      home    200       200   404    404      404
POST   /organize/volunteers/import                           -        login     home        home      home    ok        ok    ok     ok       ok
GET    /organize/participants/<participant_id>               -        login     home        home      home    200       200   200    200      404
POST   /organize/participants/<participant_id>/calendar-link -        login     home        home      home    200       200   200    200      404
POST   /organize/participants/<participant_id>/erase         -        login     home        home      home    ok        ok    ok     ok       404
GET    /organize/participants/<participant_id>/export.json   -        login     home        home      home    200       200   200    200      404
GET    /organize/progress                                    -        login     home        home      home    200       200   200    200      200
POST   /organize/progress/targets                            -        login     home        home      home    ok        ok    ok     ok       ok
GET    /organize/progress.csv                                -        login     home        home      home    200       200   200    200      200
GET    /organize/hours                                       -        login     home        home      home    200       200   200    200      200
GET    /organize/hours.csv                                   -        login     home        home      home    200       200   200    200      200
GET    /checkin/<session_id>                                 session  login     404         404       200/404 200       200   200    200      404
POST   /checkin/<session_id>                                 session  login     404         404       ok/404  ok        ok    ok     ok       404
GET    /admin/users                                          -        login     home        home      home    home      200   home   home     home
POST   /admin/users/<user_id>                                -        login     home        home      home    home      ok    home   home     home
POST   /admin/users/<user_id>/sign-out                       -        login     home        home      home    home      ok    home   home     home
GET    /admin/reference                                      -        login     home        home      home    home      200   home   home     home
POST   /admin/reference                                      -        login     home        home      home    home      ok    home   home     home
GET    /admin/users/<user_id>/scopes                         -        login     home        home      home    home      200   home   home     home
POST   /admin/users/<user_id>/scopes                         -        login     home        home      home    home      ok    home   home     home
"""  # noqa: E501 - a table reads best one row a line
PAGE_PREFIXES = ("/me/", "/organize/", "/admin/", "/checkin/")

# Per kind of object: the one each role calls its own, and whose it tries as someone
# else's ("*": the roles that own none of that kind). V1 leads squad S1 and session A; V2
# is a member of S1 and a helper in A; S2 is led by V3; P1 (with a login) is registered
# in A, P2 in B.
OWN = {
    "volunteer": {"volunteer": "v2", "leader": "v1"},
    "squad": {"volunteer": "s1", "leader": "s1"},
    "session": {"participant": "session_a", "volunteer": "session_a", "leader": "session_a"},
    "booking": {"volunteer": "booking_v2", "leader": "booking_v1"},
    "proposal": {"volunteer": "proposal_v2", "leader": "proposal_v1"},
    "participant": {"participant": "p1"},
    "registration": {"participant": "reg_p1"},
    "token": {role: f"token_{role}" for role in ROLES[1:]},
}
OTHER = {
    "volunteer": {"volunteer": "v1", "*": "v2"},
    "squad": {"*": "s2"},
    "session": {"*": "session_b"},
    "booking": {"volunteer": "booking_v1", "*": "booking_v2"},
    "proposal": {"volunteer": "proposal_v1", "*": "proposal_v2"},
    "participant": {"participant": "p2", "*": "p1"},
    "registration": {"participant": "reg_p2", "*": "reg_p1"},
    "token": {"organizer": "token_volunteer", "*": "token_organizer"},
}
# Kinds whose ids must not reveal that someone exists: a refused caller gets for another's
# id exactly what they get for an id that names nothing.
PRIVATE_KINDS = {"volunteer", "booking", "proposal", "participant", "registration", "token"}
SCOPED_ROLES = ("ward_a", "province", "ward_b")
MISSING_ID = 999_999
REFUSALS = {401, 403, 404}
TARGETS_CSV = (
    "ward,target_group,year,baseline,target_percent,reached_before\n"
    "kim_lien,residents,2026,12000,80,1500\n"
)
_serial = itertools.count(1)


@dataclass(frozen=True)
class Row:
    kind: str | None
    cells: dict[str, tuple[str, str]]  # role -> (own, other)


def parse_matrix(text: str) -> dict[str, Row]:
    """The table as {"METHOD path": Row}."""
    rows = {}
    for line in text.strip().splitlines()[1:]:
        method, rule, kind, *cells = line.split()
        parsed = {}
        for role, cell in zip(ROLES, cells, strict=True):
            own, _, other = cell.partition("/")
            parsed[role] = (own, other or own)
        key = f"{method} {rule}"
        assert key not in rows, f"two rows for {key}"
        rows[key] = Row(None if kind == "-" else kind, parsed)
    return rows


API = parse_matrix(API_MATRIX)
PAGES = parse_matrix(PAGE_MATRIX)


def fill(rule: str, values: dict) -> str:
    """A path of the tables with its variables replaced: /squads/<squad_id> -> /squads/3."""
    return re.sub(r"<(\w+)>", lambda m: str(values[m.group(1)]), rule)


def cells(row: Row, role: str):
    """(variant, expected, object key or None) for one role of a row."""
    own, other = row.cells[role]
    if row.kind is None:
        assert own == other, f"an own/other cell without an object kind ({role})"
        yield "", own, None
        return
    own_key = OWN[row.kind].get(role)
    other_key = OTHER[row.kind].get(role, OTHER[row.kind]["*"])
    if own_key is None:
        assert own == other, f"{role} owns no {row.kind}: give one status"
    else:
        yield "own", own, own_key
    yield "other", other, other_key
    # An organizer outside the units sees a volunteer's public fields: the 403 for a change
    # reveals nothing, and a missing id stays a 404.
    out_of_units = role in SCOPED_ROLES and other == "403"
    if row.kind in PRIVATE_KINDS and other.isdigit() and int(other) in REFUSALS:
        if not out_of_units:
            yield "missing", other, None


# ---------------------------------------------------------------------------------------
# The world


@dataclass
class World:
    headers: dict[str, dict]  # role -> bearer headers ({} for anonymous)
    emails: dict[str, str]  # role -> login email (not anonymous)
    objects: dict[str, dict]  # object key -> the values it puts in a request
    defaults: dict  # path values for requests that name no object of their kind
    rows: dict[str, list[dict]] = field(repr=False, default_factory=dict)
    volunteer_payload: Callable[..., dict] | None = None
    session_payload: Callable[..., dict] | None = None

    def value(self, key: str, name: str) -> int:
        return self.objects[key][name]


# Page logins the tests make (one per role and test) are the callers' own state, not the
# world's: left out of the comparisons and kept as they are when the world is put back.
CALLER_TABLES = ("login_sessions",)


def dump_tables() -> dict[str, list[dict]]:
    """Every row of every table but CALLER_TABLES, in primary-key order."""
    db.session.remove()
    with db.engine.connect() as conn:
        return {
            table.name: [
                dict(row)
                for row in conn.execute(
                    table.select().order_by(*table.primary_key.columns)
                ).mappings()
            ]
            for table in db.metadata.sorted_tables
            if table.name not in CALLER_TABLES
        }


def _delete_rows(conn) -> None:
    """DELETE, not TRUNCATE: on a few hundred rows, PostgreSQL's TRUNCATE (new files for
    every table and index) costs a hundred times more."""
    for table in reversed(db.metadata.sorted_tables):
        conn.execute(table.delete())


def restore(rows: dict[str, list[dict]]) -> None:
    """Put the world's rows back, keep the callers' logins (and empty Redis of what writes
    queued)."""
    db.session.remove()
    with db.engine.begin() as conn:
        kept = {
            name: [dict(row) for row in conn.execute(db.metadata.tables[name].select()).mappings()]
            for name in CALLER_TABLES
        }
        _delete_rows(conn)
        for table in db.metadata.sorted_tables:
            values = kept[table.name] if table.name in kept else rows[table.name]
            if values:
                conn.execute(table.insert(), values)
        if conn.dialect.name == "postgresql":  # new rows must not take a restored id
            for table in db.metadata.sorted_tables:
                if "id" in table.c and table.c.id.primary_key:
                    conn.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"COALESCE(MAX(id), 0) + 1, false) FROM {table.name}"
                        )
                    )
    redis_connection.client.flushdb()


def changed_tables(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after[name]]


def _book(client, session_id: int, role: str, headers: dict) -> int:
    response = client.post(
        f"/api/v1/sessions/{session_id}/signups", json={"role": role}, headers=headers
    )
    assert response.status_code == 201 and response.json["status"] == "confirmed", response.json
    return response.json["id"]


def _propose(session_id: int, volunteer_id: int) -> int:
    """A matcher's proposal holding a helper seat (as a finished run writes it)."""
    from coordinator.bookings.counters import lock_roles, take_seat
    from coordinator.bookings.models import Assignment
    from coordinator.sessions.models import SessionRole

    role = db.session.scalar(
        sa.select(SessionRole).where(
            SessionRole.session_id == session_id, SessionRole.role == "helper"
        )
    )
    lock_roles([role.id])
    assert take_seat(role)
    proposal = Assignment(
        session_id=session_id,
        role_id=role.id,
        volunteer_id=volunteer_id,
        source="matcher",
        status="proposed",
        reasons=["cùng phường / same ward"],
    )
    db.session.add(proposal)
    db.session.commit()
    return proposal.id


def build_world(request, client) -> World:
    """The shared world, made through the API with the suite's own factories."""
    from coordinator.people.models import Participant, Volunteer

    make_user = request.getfixturevalue("make_user")
    auth_headers = request.getfixturevalue("auth_headers")
    make_volunteer = request.getfixturevalue("make_volunteer")
    make_session = request.getfixturevalue("make_session")
    organizer, admin, participant_user = (
        make_user("organizer"),
        make_user("admin"),
        make_user("participant"),
    )
    organizer_headers = auth_headers(organizer)
    import_second_province()
    scoped = {
        "ward_a": scoped_organizer(make_user, WARD_A),
        "province": scoped_organizer(make_user, PROVINCE_P),
        "ward_b": scoped_organizer(make_user, WARD_B),
    }
    v1, leader_headers = make_volunteer(is_expert=True)
    v2, volunteer_headers = make_volunteer(availability=ANY_TIME)  # organizers assign them
    v3, _ = make_volunteer()
    v4, _ = make_volunteer()

    start = utcnow().replace(microsecond=0)

    def session_at(days: int) -> int:
        starts = start + timedelta(days=days)
        ends = starts + timedelta(hours=2)
        return make_session(starts_at=starts.isoformat(), ends_at=ends.isoformat())["id"]

    session_a, session_b, session_c = session_at(7), session_at(9), session_at(21)
    booking_v1 = _book(client, session_a, "lead", leader_headers)
    booking_v2 = _book(client, session_a, "helper", volunteer_headers)
    proposal_v1, proposal_v2 = _propose(session_b, v1), _propose(session_b, v2)

    def post(path: str, body: dict) -> dict:
        response = client.post(path, json=body, headers=organizer_headers)
        assert response.status_code in (201, 202), response.json
        return response.json

    s1 = post(
        "/api/v1/squads",
        {"name": "Đội Kim Liên", "leader_id": v1, "member_ids": [v2], "home_ward": "kim_lien"},
    )["id"]
    s2 = post(
        "/api/v1/squads",
        {"name": "Đội Văn Miếu", "leader_id": v3, "member_ids": [v4], "home_ward": "kim_lien"},
    )["id"]
    participant = {"ward": "kim_lien", "target_group": "residents", "consent": True}
    p1 = post(
        "/api/v1/participants",
        {**participant, "full_name": "Lê Thị Hoa", "accessibility_needs": ["low_vision"]},
    )["id"]
    p2 = post("/api/v1/participants", {**participant, "full_name": "Phạm Văn Nam"})["id"]
    reg_p1 = post(f"/api/v1/sessions/{session_a}/registrations", {"participant_id": p1})["id"]
    reg_p2 = post(f"/api/v1/sessions/{session_b}/registrations", {"participant_id": p2})["id"]
    run = post("/api/v1/matching/runs", {"ward": "kim_lien"})["id"]
    upload = client.post(
        "/api/v1/progress/targets",
        data=TARGETS_CSV,
        content_type="text/csv",
        headers=organizer_headers,
    )
    assert upload.status_code == 202, upload.json
    db.session.get(Participant, p1).user_id = participant_user.id
    db.session.commit()

    def email(volunteer_id: int) -> str:
        return db.session.get(Volunteer, volunteer_id).user.email

    headers = {
        "anonymous": {},
        "participant": auth_headers(participant_user),
        "volunteer": volunteer_headers,
        "leader": leader_headers,
        "organizer": organizer_headers,
        "admin": auth_headers(admin),
        **{role: auth_headers(user) for role, user in scoped.items()},
    }

    def token_id(role: str) -> int:
        from coordinator.people.auth import token_digest
        from coordinator.people.models import ApiToken

        secret = headers[role]["Authorization"].removeprefix("Bearer ")
        return db.session.scalar(
            sa.select(ApiToken.id).where(ApiToken.token_hash == token_digest(secret))
        )

    world = World(
        headers=headers,
        emails={
            "participant": participant_user.email,
            "volunteer": email(v2),
            "leader": email(v1),
            "organizer": organizer.email,
            "admin": admin.email,
            **{role: user.email for role, user in scoped.items()},
        },
        objects={
            "v1": {"volunteer_id": v1},
            "v2": {"volunteer_id": v2},
            # volunteer_id: a member who is not the leader; outsider: not a member
            "s1": {"squad_id": s1, "volunteer_id": v2, "outsider": v4},
            "s2": {"squad_id": s2, "volunteer_id": v4, "outsider": v2},
            "session_a": {"session_id": session_a, "registration": reg_p1, "booking": booking_v2},
            "session_b": {"session_id": session_b, "registration": reg_p2, "booking": None},
            "booking_v1": {"assignment_id": booking_v1},
            "booking_v2": {"assignment_id": booking_v2},
            "proposal_v1": {"assignment_id": proposal_v1},
            "proposal_v2": {"assignment_id": proposal_v2},
            "p1": {"participant_id": p1},
            "p2": {"participant_id": p2},
            "reg_p1": {"registration_id": reg_p1},
            "reg_p2": {"registration_id": reg_p2},
            # each role's own bearer token (the one its requests carry)
            **{f"token_{role}": {"token_id": token_id(role)} for role in ROLES[1:]},
        },
        defaults={
            "code": "kim_lien",
            "session_id": session_a,
            "open_session_id": session_c,  # free seats and places, nobody booked
            "run_id": run,
            "import_id": upload.json["id"],
            "participant_id": p1,
            "user_id": db.session.get(Volunteer, v4).user_id,
            "action": "accept",
        },
    )
    world.rows = dump_tables()
    return world


@pytest.fixture(scope="module")
def _world_cache():
    return {}


@pytest.fixture
def world(app, client, request, _world_cache, volunteer_payload, session_payload):
    """The shared world, built by the first test that needs it, restored for the others."""
    # The world's sessions are a week or more ahead: the matrix checks who may record
    # attendance, not when (tests/participants/test_volunteer_attendance.py does).
    app.config["CHECKIN_OPENS_HOURS"] = 24 * 14
    if "world" not in _world_cache:
        _world_cache["world"] = build_world(request, client)
    else:
        restore(_world_cache["world"].rows)
    world = _world_cache["world"]
    world.volunteer_payload, world.session_payload = volunteer_payload, session_payload
    yield world
    db.session.remove()
    with db.engine.begin() as conn:  # the next test's TRUNCATE is quick on empty tables
        _delete_rows(conn)


# ---------------------------------------------------------------------------------------
# Valid requests


def _unique(text: str) -> str:
    return f"{text} {next(_serial)}"


def _api_request(endpoint: str, w: World, o: dict) -> dict:
    """Arguments for client.open: a body each endpoint accepts; o is the named object."""
    open_session = {"session_id": w.defaults["open_session_id"]}
    bodies = {
        "POST /api/v1/auth/tokens": lambda: {
            "json": {"email": w.emails["volunteer"], "password": PASSWORD}
        },
        "POST /api/v1/volunteers": lambda: {
            "json": {**w.volunteer_payload(), "password": PASSWORD}
        },
        "PATCH /api/v1/volunteers/<volunteer_id>": lambda: {"json": {"max_sessions_per_week": 3}},
        "PUT /api/v1/wards/<code>/neighbors": lambda: {
            "json": {"neighbors": ["khuong_thuong", "phuong_mai"]}
        },
        "POST /api/v1/squads": lambda: {
            "json": {
                "name": _unique("Đội mới"),
                "leader_id": w.value("s2", "volunteer_id"),
                "home_ward": "kim_lien",
            }
        },
        "PATCH /api/v1/squads/<squad_id>": lambda: {"json": {"name": _unique("Đội")}},
        "POST /api/v1/squads/<squad_id>/members": lambda: {"json": {"volunteer_id": o["outsider"]}},
        "POST /api/v1/sessions": lambda: {"json": w.session_payload()},
        "PATCH /api/v1/sessions/<session_id>": lambda: {
            "json": {"venue": "Nhà văn hóa tổ dân phố 5"}
        },
        "POST /api/v1/sessions/<session_id>/cancel": lambda: {
            "json": {"reason": "Mưa bão / Storm"}
        },
        "POST /api/v1/sessions/<session_id>/signups": lambda: {
            "values": open_session,
            "json": {"role": "helper", "volunteer_id": o["volunteer_id"]},
        },
        "POST /api/v1/sessions/<session_id>/assignments": lambda: {
            "values": open_session,
            "json": {"role": "helper", "volunteer_id": w.value("v2", "volunteer_id")},
        },
        "POST /api/v1/sessions/<session_id>/registrations": lambda: {
            "values": open_session,
            "json": {"participant_id": o["participant_id"]},
        },
        "PUT /api/v1/sessions/<session_id>/attendance": lambda: {
            "json": {
                "entries": [
                    {
                        "registration_id": o["registration"],
                        "attended": True,
                        "levels": {"1": 3},
                        "reached_basic": False,
                    }
                ]
            }
        },
        "PUT /api/v1/sessions/<session_id>/volunteer-attendance": lambda: {
            # Session B has proposals only: nobody to record there.
            "json": [{"assignment_id": o["booking"], "status": "late"}] if o["booking"] else []
        },
        "POST /api/v1/assignments/<assignment_id>/decline": lambda: {
            "json": {"reason": "Bận việc gia đình"}
        },
        "POST /api/v1/matching/runs": lambda: {"json": {"ward": "kim_lien"}},
        "POST /api/v1/participants": lambda: {
            "json": {
                "full_name": "Trần Văn Minh",
                "ward": "kim_lien",
                "target_group": "residents",
                "consent": True,
            }
        },
        "POST /api/v1/progress/targets": lambda: {"data": TARGETS_CSV, "content_type": "text/csv"},
        "PUT /api/v1/users/<user_id>/scopes": lambda: {"json": {"units": []}},
    }
    return bodies[endpoint]() if endpoint in bodies else {}


def _page_form(page: str) -> dict:
    """Fields a page's form needs beyond its CSRF token, where an allowed cell should act."""
    return {
        "POST /me/sessions/<session_id>/signup": {"role": "helper"},
        "POST /admin/users/<user_id>": {"role": "organizer", "active": "1"},
    }.get(page, {})


def _page_values(page: str, w: World) -> dict:
    """Path values other than the defaults: a sign-up goes to the session with room."""
    if page.startswith("POST /me/sessions/"):
        return {"session_id": w.defaults["open_session_id"]}
    return {}


def _object(w: World, kind: str | None, key: str | None, variant: str) -> dict:
    if variant == "missing":  # the same request, with ids that name nothing
        return {
            name: MISSING_ID if isinstance(value, int) else value
            for name, value in w.objects[OTHER[kind]["*"]].items()
        }
    return w.objects[key] if key else {}


def _url(endpoint: str, w: World, o: dict, extra: dict) -> str:
    """The endpoint's URL for object o (extra["values"] overrides path values)."""
    values = {**w.defaults, **o, **extra.pop("values", {})}
    return fill(endpoint.split(" ", 1)[1], values)


def _after_write(method: str, refused: bool, w: World, where: str, failures: list) -> None:
    """A refused write must have changed nothing; a write that went through is undone."""
    if method in ("GET", "HEAD"):
        return
    if refused:
        changed = changed_tables(w.rows, dump_tables())
        if not changed:
            return
        failures.append(f"{where}: refused, yet changed {', '.join(changed)}")
    restore(w.rows)


# ---------------------------------------------------------------------------------------
# Every endpoint and page has a row


def normalized(rule: str) -> str:
    """A URL rule as the tables write it: converters dropped (<int:squad_id> -> <squad_id>)."""
    return re.sub(r"<(?:[^>]*:)?(\w+)>", r"<\1>", rule)


def _routes(app, keep) -> set[str]:
    return {
        f"{method} {normalized(rule.rule)}"
        for rule in app.url_map.iter_rules()
        if keep(rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_api_endpoint_has_a_row(app, client):
    routes = _routes(app, lambda r: r.rule.startswith("/api/") or r.endpoint.startswith("health."))
    assert sorted(routes - set(API)) == [], "endpoints without a row in API_MATRIX"
    assert sorted(set(API) - routes) == [], "rows for endpoints that do not exist"
    documented = {
        f"{method.upper()} {path}"
        for path, operations in client.get("/api/v1/openapi.json").json["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }
    documented = {re.sub(r"{(\w+)}", r"<\1>", operation) for operation in documented}
    assert sorted(documented - set(API)) == [], "documented operations without a row"


def test_every_protected_page_has_a_row(app):
    routes = _routes(app, lambda r: r.rule.startswith(PAGE_PREFIXES))
    assert sorted(routes - set(PAGES)) == [], "pages without a row in PAGE_MATRIX"
    assert sorted(set(PAGES) - routes) == [], "rows for pages that do not exist"


# ---------------------------------------------------------------------------------------
# The cells


@pytest.mark.parametrize("endpoint", list(API))
def test_api_authorization(endpoint, world, client):
    row = API[endpoint]
    method = endpoint.split(" ", 1)[0]
    failures = []
    for role in ROLES:
        for variant, expected, key in cells(row, role):
            o = _object(world, row.kind, key, variant)
            extra = _api_request(endpoint, world, o)
            url = _url(endpoint, world, o, extra)
            response = client.open(url, method=method, headers=world.headers[role], **extra)
            where = f"{role} {variant}".strip()
            if response.status_code != int(expected):
                body = response.get_data(as_text=True)[:200]
                failures.append(f"{where}: expected {expected}, got {response.status_code} {body}")
            _after_write(method, response.status_code in REFUSALS, world, where, failures)
    assert not failures, f"{endpoint}\n" + "\n".join(failures)


def _page_outcome(response, path: str) -> str:
    """What a page answered, in the table's words."""
    if response.status_code in (301, 302, 303):
        location = urlsplit(response.headers["Location"])
        if location.path == "/login":
            return "login" if parse_qs(location.query).get("next") == [path] else "out"
        if location.path == "/":
            return "home"
        return "ok"
    if response.status_code in (200, 422):
        return "ok"
    return str(response.status_code)  # never "ok": a refusal or an error is not served


def _page_client(app, w: World, role: str):
    client = app.test_client()
    if role != "anonymous":
        log_in(client, w.emails[role])
    return client


@pytest.mark.parametrize("page", list(PAGES))
def test_page_authorization(page, world, app):
    row = PAGES[page]
    method = page.split(" ", 1)[0]
    failures = []
    for role in ROLES:
        # A context of its own, as in production: Flask-WTF caches the CSRF token in g,
        # which would otherwise carry one browser's token to the next.
        with app.app_context():
            client = _page_client(app, world, role)
            for variant, expected, key in cells(row, role):
                o = _object(world, row.kind, key, variant)
                extra = {"values": _page_values(page, world)}
                url = _url(page, world, o, extra)
                if method == "POST":
                    extra["data"] = {"csrf_token": csrf_token(client, "/"), **_page_form(page)}
                response = client.open(url, method=method, **extra)
                outcome = _page_outcome(response, url)
                where = f"{role} {variant}".strip()
                if not (
                    outcome == expected
                    or (expected.isdigit() and response.status_code == int(expected))
                ):
                    failures.append(
                        f"{where}: expected {expected}, got {response.status_code} ({outcome}) "
                        f"{response.headers.get('Location', '')}"
                    )
                refused = outcome in ("login", "home") or response.status_code in REFUSALS
                _after_write(method, refused, world, where, failures)
    assert not failures, f"{page}\n" + "\n".join(failures)


def test_a_page_session_does_not_authenticate_the_api(world, app):
    """A cookie is not a credential for the API: a forged cross-site request cannot ride
    on a logged-in volunteer's page session."""
    client = _page_client(app, world, "volunteer")
    own = world.objects["v2"]["volunteer_id"]
    assert client.get(f"/api/v1/volunteers/{own}").status_code == 401
    response = client.patch(f"/api/v1/volunteers/{own}", json={"max_sessions_per_week": 3})
    assert response.status_code == 401
    assert changed_tables(world.rows, dump_tables()) == []
