"""Sign-up, sign-in and sign-out pages; they work without JavaScript."""

from __future__ import annotations

from quart import Blueprint, Response, redirect, render_template, request
from werkzeug.wrappers.response import Response as WerkzeugResponse

from ticketing.errors import DomainError, Throttled
from ticketing.modules.auth.api import SignedIn
from ticketing.web.auth.routes import auth
from ticketing.web.auth.schemas import SignInBody, SignUpBody
from ticketing.web.shell.forms import errors_by_field, form_values, safe_next
from ticketing.web.shell.runtime import runtime
from ticketing.web.shell.session import (
    clear_session_cookie,
    client_address,
    current_user,
    set_session_cookie,
)
from ticketing.web.shell.validation import parse_form

blueprint = Blueprint("pages_auth", __name__, url_prefix="/auth", template_folder="templates")


FormPage = tuple[str, int, dict[str, str]]


async def _form_page(heading: str, body: type[SignInBody],
                     error: DomainError | None = None) -> FormPage:
    """The form, with what was typed and each field's error; 429 says when to retry."""
    form = await request.form if request.method == "POST" else request.args
    html = await render_template(
        "auth/form.html", heading=heading, errors=errors_by_field(error) if error else {},
        values=form_values(form), next=safe_next(form.get("next")),
    )
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Throttled) else {}
    return html, error.status if error else 200, headers


def _signed_in(user: SignedIn, next_path: str | None) -> WerkzeugResponse:
    response = redirect(safe_next(next_path))
    settings = runtime().settings
    set_session_cookie(response, user.cookie, max_age=settings.jwt_lifetime_seconds,  # type: ignore[arg-type]
                       secure=settings.secure_cookies)
    return response


@blueprint.route("/signup", methods=["GET", "POST"])
async def sign_up() -> FormPage | WerkzeugResponse:
    """The sign-up form."""
    if request.method == "GET":
        return await _form_page("Sign Up", SignUpBody)
    form = await request.form
    try:
        data = parse_form(SignUpBody, form)
        user = await auth().sign_up(data.email, data.password, client_address())
    except DomainError as error:
        return await _form_page("Sign Up", SignUpBody, error)
    return _signed_in(user, form.get("next"))


@blueprint.route("/signin", methods=["GET", "POST"])
async def sign_in() -> FormPage | WerkzeugResponse:
    """The sign-in form; comes back to ``next`` afterwards."""
    if request.method == "GET":
        return await _form_page("Sign In", SignInBody)
    form = await request.form
    try:
        data = parse_form(SignInBody, form)
        user = await auth().sign_in(data.email, data.password, client_address())
    except DomainError as error:
        return await _form_page("Sign In", SignInBody, error)
    return _signed_in(user, form.get("next"))


@blueprint.route("/signout", methods=["GET", "POST"])
async def sign_out() -> str | WerkzeugResponse | Response:
    """GET asks to confirm; POST ends this session (or, with ``everywhere``, every session
    of the user) and goes home."""
    if request.method == "GET":
        return await render_template("auth/signout.html")
    await auth().sign_out(
        current_user(), everywhere=bool((await request.form).get("everywhere")))
    response = redirect("/")
    clear_session_cookie(response, secure=runtime().settings.secure_cookies)  # type: ignore[arg-type]
    return response
