"""Tokens and volunteers: /api/v1/auth/tokens, /api/v1/volunteers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Response, jsonify, request
from flask_babel import gettext as _

from coordinator.errors import Forbidden, Invalid, NotFound
from coordinator.extensions import Blueprint, ErrorSchema, db
from coordinator.paging import PAGE_HEADERS, page_headers
from coordinator.people import operations
from coordinator.people.auth import (
    authenticated_user,
    bearer_token,
    is_organizer,
    issue_token,
    own_tokens,
    require_role,
    require_user,
    revoke_own_token,
    roles_required,
    token_digest,
    user_required,
)
from coordinator.people.models import MAX_ID, User, Volunteer
from coordinator.people.schemas import (
    ApiTokenSchema,
    ScopesSchema,
    ScopesUpdateSchema,
    TokenListArgs,
    TokenRequestSchema,
    TokenSchema,
    VolunteerCreateSchema,
    VolunteerListArgs,
    VolunteerSchema,
    VolunteerUpdateSchema,
)
from coordinator.people.scopes import (
    VOLUNTEER_PRIVATE_FIELDS,
    organized_volunteer_ids,
    scopes_view,
    set_scopes,
)

blp = Blueprint("people", __name__, url_prefix="/api/v1", description="Logins and volunteers")
BEARER = [{"bearerAuth": []}]


@blp.post("/auth/tokens")
@blp.arguments(TokenRequestSchema)
@blp.response(201, TokenSchema)
@blp.alt_response(401, schema=ErrorSchema, description="Wrong email or password")
@blp.alt_response(429, schema=ErrorSchema, description="Too many attempts from this address")
def create_token(credentials: dict[str, Any]) -> dict[str, Any]:
    """Exchange email and password for a bearer token."""
    token, expires_at = issue_token(credentials["email"], credentials["password"])
    db.session.commit()
    return {"token": token, "expires_at": expires_at}


@blp.get("/auth/tokens")
@user_required
@blp.arguments(TokenListArgs, location="query")
@blp.response(200, ApiTokenSchema(many=True), headers=PAGE_HEADERS)
@blp.doc(security=BEARER)
def list_tokens(args: dict[str, Any]) -> tuple[list[dict[str, Any]], int, dict[str, str]]:
    """The caller's live bearer tokens (never their secrets), newest first."""
    rows, total = own_tokens(require_user(), args["limit"], args["offset"])
    current = token_digest(bearer_token(request) or "")
    listed = [
        {
            "id": row.id,
            "prefix": row.prefix,
            "created_at": row.created_at,
            "expires_at": row.expires_at,
            "current": row.token_hash == current,
        }
        for row in rows
    ]
    headers = page_headers(total, args["limit"], args["offset"])
    return listed, 200, {**headers, "Cache-Control": "no-store"}


@blp.delete("/auth/tokens/<int:token_id>")
@user_required
@blp.response(204)
@blp.alt_response(404, schema=ErrorSchema, description="Not a live token of the caller's")
@blp.doc(security=BEARER)
def revoke_token(token_id: int) -> tuple[str, int]:
    """Revoke one of the caller's tokens (the one in use too); it answers 401 from then on."""
    revoke_own_token(require_user(), token_id)
    db.session.commit()
    return "", 204


@blp.post("/volunteers")
@blp.arguments(VolunteerCreateSchema)
@blp.response(201, VolunteerSchema)
@blp.alt_response(409, schema=ErrorSchema, description="Email already registered")
@blp.alt_response(429, schema=ErrorSchema, description="Too many attempts from this address")
@blp.doc(security=[{}, *BEARER])
def create_volunteer(data: dict[str, Any]) -> Volunteer:
    """Sign up as a volunteer (with a password), or register one as an organizer."""
    user = authenticated_user()
    password = data.pop("password", None)
    if user is not None and not is_organizer(user):
        raise Forbidden(_("Only organizers create other volunteers."))
    if user is None and not password:
        raise Invalid.field("password", _("A password is required to sign up."))
    _only_organizers_mark_experts(user, data)
    volunteer = operations.create_volunteer(data, password=password)
    db.session.commit()
    return volunteer


def _only_organizers_mark_experts(user: User | None, data: dict[str, Any]) -> None:
    """A lead role needs an expert, so expertise is vouched for by an organizer."""
    if data.get("is_expert") and not is_organizer(user):
        raise Forbidden(
            _("Only an organizer can mark an expert."),
            {"is_expert": [_("Only an organizer can mark a volunteer as an expert.")]},
        )


def _dump(volunteers: Sequence[Volunteer]) -> list[dict[str, Any]]:
    """Volunteers as the caller may see them: contact, availability and preferences only
    for the volunteer and the organizers of the units where they live or serve."""
    user = authenticated_user()
    readable = organized_volunteer_ids(v.id for v in volunteers) if is_organizer(user) else set()
    dumped = []
    schema = VolunteerSchema()  # one for the page: building a schema costs more than a row
    for volunteer in volunteers:
        body = schema.dump(volunteer)
        if volunteer.id not in readable and (user is None or volunteer.user_id != user.id):
            for name in VOLUNTEER_PRIVATE_FIELDS:
                body.pop(name, None)
        dumped.append(body)
    return dumped


@blp.get("/volunteers")
@roles_required("organizer")
@blp.arguments(VolunteerListArgs, location="query")
@blp.response(200, VolunteerSchema(many=True), headers=PAGE_HEADERS)
@blp.doc(security=BEARER)
def list_volunteers(args: dict[str, Any]) -> tuple[Response, int, dict[str, str]]:
    """Volunteers, filtered (organizers; private fields for those of their units).
    By id, a page at a time: the total in X-Total-Count, the next page in Link."""
    rows, total = operations.list_volunteers(args)
    return jsonify(_dump(rows)), 200, page_headers(total, args["limit"], args["offset"])


def _visible_volunteer(volunteer_id: int) -> Volunteer:
    """Self or organizer; anyone else gets the same 404 as for a missing id."""
    user = require_role("organizer", "volunteer")
    volunteer = operations.get_volunteer(volunteer_id)
    if not is_organizer(user) and volunteer.user_id != user.id:
        raise NotFound(_("Volunteer not found."))
    return volunteer


@blp.get("/volunteers/<int:volunteer_id>")
@blp.response(200, VolunteerSchema)
@blp.doc(security=BEARER)
def get_volunteer(volunteer_id: int) -> Response:
    """A volunteer's profile (self or organizer; private fields for organizers of the
    units where they live or serve)."""
    return jsonify(_dump([_visible_volunteer(volunteer_id)])[0])


@blp.patch("/volunteers/<int:volunteer_id>")
@roles_required("organizer", "volunteer")
@blp.arguments(VolunteerUpdateSchema)
@blp.response(200, VolunteerSchema)
@blp.doc(security=BEARER)
def update_volunteer(changes: dict[str, Any], volunteer_id: int) -> Response:
    """Update a profile (self, or an organizer of the units where they live or serve)."""
    volunteer = _visible_volunteer(volunteer_id)
    if "is_expert" in changes and changes["is_expert"] != volunteer.is_expert:
        _only_organizers_mark_experts(authenticated_user(), {"is_expert": True})
    operations.update_volunteer(volunteer, changes)
    db.session.commit()
    return jsonify(_dump([volunteer])[0])


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if user is None:
        raise NotFound(_("User not found."))
    return user


@blp.get("/users/<int:user_id>/scopes")
@roles_required("admin")
@blp.response(200, ScopesSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No such user")
@blp.doc(security=BEARER)
def get_scopes(user_id: int) -> dict[str, Any]:
    """The units an organizer works for (admins)."""
    return scopes_view(_user(user_id))


@blp.put("/users/<int:user_id>/scopes")
@roles_required("admin")
@blp.arguments(ScopesUpdateSchema)
@blp.response(200, ScopesSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No such user")
@blp.alt_response(422, schema=ErrorSchema, description="An unknown unit, or not an organizer")
@blp.doc(security=BEARER)
def put_scopes(data: dict[str, Any], user_id: int) -> dict[str, Any]:
    """Grant and withdraw an organizer's units: the list replaces them (admins)."""
    user = _user(user_id)
    set_scopes(user, data["units"], granted_by=authenticated_user())
    db.session.commit()
    return scopes_view(user)
