"""Security headers on every response: what the browser may load, frame, send and use.

Pages carry no inline script or style (their JavaScript is in ``static/js``), so the
Content-Security-Policy allows scripts from this origin only, plus Stripe.js where the
Stripe provider is on. Nothing may frame the pages (clickjacking), content types are
never sniffed, referrers never leave the origin, and powerful browser features are off.
HSTS is sent in production only: a developer's plain-HTTP ``make run`` must stay usable.
"""

from __future__ import annotations

from quart import Quart, Response

from ticketing.settings import Settings

STRIPE_SCRIPTS = "https://js.stripe.com"
STRIPE_FRAMES = "https://js.stripe.com https://hooks.stripe.com"
STRIPE_API = "https://api.stripe.com"
HSTS = "max-age=31536000; includeSubDomains"


def content_security_policy(settings: Settings) -> str:
    stripe = settings.payments == "stripe"
    directives = {
        "default-src": "'self'",
        "script-src": "'self'" + (f" {STRIPE_SCRIPTS}" if stripe else ""),
        "style-src": "'self'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'" + (f" {STRIPE_API}" if stripe else ""),
        "frame-src": STRIPE_FRAMES if stripe else "'none'",
        "frame-ancestors": "'none'",
        "form-action": "'self'",
        "base-uri": "'none'",
        "object-src": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def security_headers(settings: Settings) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Permissions-Policy": "camera=(self), microphone=(), geolocation=(), payment=(self), "
                              "usb=(), interest-cohort=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if settings.env == "production":
        headers["Strict-Transport-Security"] = HSTS
    return headers


def install_security_headers(app: Quart, settings: Settings) -> None:
    """Add the headers to every response, errors and static files included."""
    headers = security_headers(settings)

    @app.after_request
    async def secure(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response
