"""Driving the web pages as a browser would: forms with their CSRF token, page logins."""

from __future__ import annotations

import re

from tests.conftest import PASSWORD

_TOKEN = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'name="csrf_token" value="([^"]+)"'
)


def csrf_token(client, path: str) -> str:
    """The CSRF token of the first form on the page at `path`."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    match = _TOKEN.search(page.get_data(as_text=True))
    assert match, f"no csrf token on {path}"
    return match.group(1) or match.group(2)


def submit(client, path: str, data: dict, *, form_page: str | None = None, **kwargs):
    """POST a form the way the page does: with the token from the page that shows it."""
    token = csrf_token(client, form_page or path)
    return client.post(path, data={**data, "csrf_token": token}, **kwargs)


def log_in(client, email: str, password: str = PASSWORD):
    response = submit(client, "/login", {"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def text(response) -> str:
    return response.get_data(as_text=True)
