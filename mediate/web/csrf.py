"""CSRF protection for every form: a double-submit cookie bound to the page by HMAC.

The browser gets a random cookie (HttpOnly, SameSite=Lax); each form carries
``HMAC-SHA256(secret, cookie | path)`` in a hidden field. A forged cross-site POST can neither
read the cookie nor compute the field, so it fails (OWASP CSRF Prevention Cheat Sheet, "signed
double-submit cookie"). The cookie holds no personal data and is not a session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "mediate_csrf"
FIELD = "csrf_token"


def cookie_value(request: Request) -> tuple[str, bool]:
    """The browser's CSRF cookie, or a new one (and whether it must be set)."""
    value = request.cookies.get(COOKIE, "")
    if len(value) >= 32:
        return value, False
    return secrets.token_urlsafe(32), True


def form_token(secret: str, cookie: str, path: str) -> str:
    message = f"{cookie}|{path}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def valid(secret: str, request: Request, submitted: str) -> bool:
    cookie = request.cookies.get(COOKIE, "")
    if len(cookie) < 32 or not submitted:
        return False
    return hmac.compare_digest(form_token(secret, cookie, request.url.path), submitted)


def set_cookie(response: Response, value: str, secure: bool) -> None:
    response.set_cookie(COOKIE, value, httponly=True, samesite="lax", secure=secure, path="/")
