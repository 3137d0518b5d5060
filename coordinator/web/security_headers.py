"""Security headers on every response: a strict Content-Security-Policy on pages (no
inline scripts or styles anywhere in templates/, one script and one stylesheet from
static/), nosniff and a Referrer-Policy everywhere, HSTS when the request came over https.

Behind a TLS proxy, request.is_secure says https only when TRUSTED_PROXIES says how many
proxies' X-Forwarded-* headers to believe (werkzeug's ProxyFix); otherwise a client could
claim https with a header of its own."""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",  # the run page polls its progress
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# A page that holds a secret in its URL sets no-referrer itself; that one is kept.
REFERRER_POLICY = "strict-origin-when-cross-origin"
HSTS = "max-age=31536000"  # a year; subdomains are not ours to decide


def add_security_headers(response: Response) -> Response:
    """The headers every response gets (pages get the CSP)."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", REFERRER_POLICY)
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")  # frame-ancestors for old browsers
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.after_request(add_security_headers)
