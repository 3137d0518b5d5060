"""GET /api/v1/openapi.json: a valid OpenAPI 3 document of the whole API, and true."""

from __future__ import annotations

import re

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

SPEC_URL = "/api/v1/openapi.json"
SESSIONS = "/api/v1/sessions"
CONTRACT_PATHS = {
    "/api/v1/auth/tokens": {"post"},
    "/api/v1/volunteers": {"post"},
    "/api/v1/volunteers/{volunteer_id}": {"get", "patch"},
    "/api/v1/squads": {"post"},
    "/api/v1/squads/{squad_id}/members": {"post"},
    "/api/v1/squads/{squad_id}/members/{volunteer_id}": {"delete"},
    "/api/v1/wards": {"get"},
    "/api/v1/competences": {"get"},
    "/api/v1/vocabularies": {"get"},
    "/api/v1/sessions": {"get", "post"},
    "/api/v1/sessions/{session_id}": {"get", "patch"},
    "/api/v1/sessions/{session_id}/cancel": {"post"},
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def spec(client) -> dict:
    response = client.get(SPEC_URL)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.json


def resolve(spec: dict, node):
    """Inline every local $ref (the document has no recursive schemas)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolve(spec, target)
        return {key: resolve(spec, value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(spec, item) for item in node]
    return node


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def response_schema(spec: dict, path: str, method: str, status: int | str) -> dict:
    response = resolve(spec, spec["paths"][path][method]["responses"][str(status)])
    return response["content"]["application/json"]["schema"]


def assert_conforms(spec: dict, path: str, method: str, response) -> None:
    """The response body is what the document promises for its status (or 'default')."""
    documented = spec["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in documented or "default" in documented
    schema = response_schema(spec, path, method, status if status in documented else "default")
    errors = [e.message for e in OAS30Validator(schema).iter_errors(response.json)]
    assert errors == [], f"{method.upper()} {path} {status}: {errors}"


# --- the document itself -----------------------------------------------------------------


def test_document_is_valid_openapi_3(spec):
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] and spec["info"]["version"]
    validate(spec)  # raises OpenAPIValidationError with the first problem


def test_validator_would_notice_a_broken_document(spec):
    """Guard against a validator that accepts anything."""
    broken = dict(spec, paths={SESSIONS: {"get": {"responses": "not an object"}}})

    # Quotes differ by backend: jsonschema, or jsonschema-rs when installed (schemathesis).
    with pytest.raises(OpenAPIValidationError, match="is not of type ['\"]object['\"]"):
        validate(broken)


def test_document_states_the_rules_its_schemas_enforce(spec):
    """Found by the fuzz test: validators the document did not mention (a control
    character, a repeated item, a clock time that is not HH:MM, a year outside 1900-2999)
    made requests the document allows fail with 422."""

    def field(schema: str, name: str) -> dict:
        return resolve(spec, spec["components"]["schemas"][schema])["properties"][name]

    plain = field("SquadCreate", "name")["pattern"]
    assert re.search(plain, "Đội Kim Liên") and not re.search(plain, "Đội\x07")
    text = field("SessionCreate", "title")["pattern"]
    assert re.search(text, "Tab\tis fine") and not re.search(text, "NUL\x00")
    assert field("SessionCreate", "venue_accessibility")["uniqueItems"] is True
    assert field("SessionCreate", "languages")["uniqueItems"] is True
    start = field("Availability", "start")
    assert start["type"] == "string"
    assert re.search(start["pattern"], "18:00") and not re.search(start["pattern"], "18:60")
    when = field("SessionCreate", "starts_at")["pattern"]
    assert re.search(when, "2026-09-03T18:00:00+07:00")
    assert not re.search(when, "0336-05-14T18:59:38Z")


def test_document_names_every_contract_path_and_method(spec):
    for path, methods in CONTRACT_PATHS.items():
        assert path in spec["paths"], path
        assert methods <= set(spec["paths"][path]), (path, set(spec["paths"][path]))


def test_document_covers_every_api_route_of_the_app(app, spec):
    """No /api/v1 route is left out, whoever adds it."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule == SPEC_URL:
            continue
        path = re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        assert path in spec["paths"], f"{rule.rule} is not documented"
        methods = {m.lower() for m in rule.methods} - {"head", "options"}
        assert methods <= set(spec["paths"][path]), f"{rule.rule}: {methods} not all documented"


def test_path_parameters_are_declared(spec):
    for path, method, operation in operations(spec):
        declared = {
            p["name"]
            for p in spec["paths"][path].get("parameters", []) + operation.get("parameters", [])
            if p.get("in") == "path"
        }
        assert set(re.findall(r"{(\w+)}", path)) <= declared, (method, path)


def test_bearer_security_scheme_is_declared_and_used(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    for path, method in [
        (SESSIONS, "post"),
        (f"{SESSIONS}/{{session_id}}", "patch"),
        (f"{SESSIONS}/{{session_id}}/cancel", "post"),
    ]:
        assert {"bearerAuth": []} in spec["paths"][path][method]["security"], (method, path)
    for _, _, operation in operations(spec):
        for requirement in operation.get("security", []):
            assert set(requirement) <= set(spec["components"]["securitySchemes"])


def test_error_schema_is_the_contract_shape(spec):
    error = spec["components"]["schemas"]["Error"]

    assert set(error["properties"]) == {"error", "message", "messages"}
    assert set(error["required"]) == {"error", "message"}
    assert error["properties"]["error"]["type"] == "string"
    assert error["properties"]["message"]["type"] == "string"
    assert error["properties"]["messages"]["type"] == "object"


def test_every_error_response_uses_the_error_schema(spec):
    error = spec["components"]["schemas"]["Error"]
    seen = 0
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if (path, status) == ("/healthz", "503"):
                continue  # the contract: /healthz answers 503 with its own body
            if status == "default" or int(status) >= 400:
                schema = resolve(spec, response)["content"]["application/json"]["schema"]
                assert schema == error, (method, path, status)
                seen += 1
    assert seen > len(CONTRACT_PATHS)


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        (SESSIONS, "post", {"401", "403", "422"}),
        (f"{SESSIONS}/{{session_id}}", "get", {"404"}),
        (f"{SESSIONS}/{{session_id}}", "patch", {"401", "403", "404", "409", "422"}),
        (f"{SESSIONS}/{{session_id}}/cancel", "post", {"401", "403", "404", "409", "422"}),
    ],
)
def test_session_errors_are_documented(spec, path, method, statuses):
    assert statuses <= set(spec["paths"][path][method]["responses"])


def test_session_list_query_is_documented_by_its_public_names(spec):
    parameters = {p["name"] for p in spec["paths"][SESSIONS]["get"]["parameters"]}

    assert {"ward", "target_group", "status", "from", "to", "limit", "offset"} <= parameters
    assert "from_" not in parameters
    assert "X-Total-Count" in spec["paths"][SESSIONS]["get"]["responses"]["200"]["headers"]


def test_create_documents_repeat_and_series_ids(spec):
    request = spec["paths"][SESSIONS]["post"]["requestBody"]["content"]["application/json"]
    body = resolve(spec, request["schema"])
    created = response_schema(spec, SESSIONS, "post", 201)

    assert body["properties"]["repeat"]["properties"]["weekly"]["type"] == "integer"
    assert {"title", "ward", "starts_at", "ends_at", "capacity"} <= set(body["required"])
    assert created["properties"]["series_session_ids"]["type"] == "array"


# --- the API keeps the document's promises -------------------------------------------------


@pytest.fixture
def ready(wards, competences):
    """Wards and the competence framework that sessions refer to."""


def test_session_responses_conform_to_the_document(
    client, spec, ready, organizer_headers, session_payload
):
    one = f"{SESSIONS}/{{session_id}}"
    created = client.post(SESSIONS, json=session_payload(), headers=organizer_headers)
    series = client.post(
        SESSIONS, json=session_payload(repeat={"weekly": 3}), headers=organizer_headers
    )
    session_id = created.json["id"]
    url = f"{SESSIONS}/{session_id}"

    assert_conforms(spec, SESSIONS, "post", created)
    assert_conforms(spec, SESSIONS, "post", series)
    assert len(series.json["series_session_ids"]) == 3
    assert_conforms(spec, SESSIONS, "get", client.get(SESSIONS))
    assert_conforms(spec, SESSIONS, "get", client.get(SESSIONS, headers=organizer_headers))
    assert_conforms(spec, one, "get", client.get(url))
    assert_conforms(spec, one, "get", client.get(url, headers=organizer_headers))
    changed = client.patch(url, json={"capacity": 30}, headers=organizer_headers)
    assert changed.status_code == 200
    assert_conforms(spec, one, "patch", changed)
    cancelled = client.post(f"{url}/cancel", json={"reason": "Mưa"}, headers=organizer_headers)
    assert cancelled.status_code == 200
    assert_conforms(spec, f"{one}/cancel", "post", cancelled)


def test_session_error_responses_conform_to_the_document(
    client, spec, ready, make_user, auth_headers, organizer_headers, session_payload
):
    one = f"{SESSIONS}/{{session_id}}"
    session_id = client.post(SESSIONS, json=session_payload(), headers=organizer_headers).json["id"]
    url = f"{SESSIONS}/{session_id}"
    volunteer = auth_headers(make_user("volunteer"))
    client.post(f"{url}/cancel", json={"reason": "Mưa"}, headers=organizer_headers)

    cases = [
        (SESSIONS, "post", client.post(SESSIONS, json=session_payload()), 401),
        (SESSIONS, "post", client.post(SESSIONS, json=session_payload(), headers=volunteer), 403),
        (SESSIONS, "post", client.post(SESSIONS, json={}, headers=organizer_headers), 422),
        (SESSIONS, "get", client.get(SESSIONS, query_string={"from": "x"}), 422),
        (one, "get", client.get(f"{SESSIONS}/999"), 404),
        (one, "patch", client.patch(url, json={"title": "x"}, headers=organizer_headers), 409),
        (one, "patch", client.patch(url, json={"nope": 1}, headers=organizer_headers), 422),
    ]
    for path, method, response, status in cases:
        assert response.status_code == status, (method, path, response.json)
        assert_conforms(spec, path, method, response)


def test_reference_responses_conform_to_the_document(client, spec, ready):
    for path in ("/api/v1/wards", "/api/v1/competences", "/api/v1/vocabularies"):
        response = client.get(path)
        assert response.status_code == 200
        assert_conforms(spec, path, "get", response)
