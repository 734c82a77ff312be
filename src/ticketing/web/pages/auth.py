"""Sign-up, sign-in and sign-out pages; they work without JavaScript."""

from __future__ import annotations

from quart import Blueprint, Response, redirect, render_template, request
from werkzeug.wrappers.response import Response as WerkzeugResponse

from ticketing.errors import DomainError
from ticketing.modules.auth.api import AuthApi, SignedIn
from ticketing.web.api.auth import SignInBody, SignUpBody
from ticketing.web.pages.forms import errors_by_field, form_values, safe_next
from ticketing.web.runtime import facade, runtime
from ticketing.web.session import clear_session_cookie, client_address, set_session_cookie
from ticketing.web.validation import parse_form

blueprint = Blueprint("pages_auth", __name__, url_prefix="/auth")


async def _form_page(heading: str, body: type[SignInBody], status: int = 200,
                     errors: dict[str, str] | None = None) -> tuple[str, int]:
    form = await request.form if request.method == "POST" else request.args
    html = await render_template(
        "auth/form.html", heading=heading, errors=errors or {}, values=form_values(form),
        next=safe_next(form.get("next")),
    )
    return html, status


def _signed_in(user: SignedIn, next_path: str | None) -> WerkzeugResponse:
    response = redirect(safe_next(next_path))
    settings = runtime().settings
    set_session_cookie(response, user.cookie, max_age=settings.jwt_lifetime_seconds,  # type: ignore[arg-type]
                       secure=settings.secure_cookies)
    return response


@blueprint.route("/signup", methods=["GET", "POST"])
async def sign_up() -> tuple[str, int] | WerkzeugResponse:
    """The sign-up form."""
    if request.method == "GET":
        return await _form_page("Sign Up", SignUpBody)
    form = await request.form
    try:
        data = parse_form(SignUpBody, form)
        user = await facade("auth", AuthApi).sign_up(data.email, data.password, client_address())
    except DomainError as error:
        return await _form_page("Sign Up", SignUpBody, error.status, errors_by_field(error))
    return _signed_in(user, form.get("next"))


@blueprint.route("/signin", methods=["GET", "POST"])
async def sign_in() -> tuple[str, int] | WerkzeugResponse:
    """The sign-in form; comes back to ``next`` afterwards."""
    if request.method == "GET":
        return await _form_page("Sign In", SignInBody)
    form = await request.form
    try:
        data = parse_form(SignInBody, form)
        user = await facade("auth", AuthApi).sign_in(data.email, data.password, client_address())
    except DomainError as error:
        return await _form_page("Sign In", SignInBody, error.status, errors_by_field(error))
    return _signed_in(user, form.get("next"))


@blueprint.route("/signout", methods=["GET", "POST"])
async def sign_out() -> str | WerkzeugResponse | Response:
    """GET asks to confirm; POST signs out and goes home."""
    if request.method == "GET":
        return await render_template("auth/signout.html")
    response = redirect("/")
    clear_session_cookie(response, secure=runtime().settings.secure_cookies)  # type: ignore[arg-type]
    return response
