"""``/api/users``: sign up, sign in, sign out, current user."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify
from quart_schema import document_response, validate_request

from ticketing.modules.auth.api import Auth, SignedIn
from ticketing.web.auth.schemas import (
    CurrentUserResponse,
    SignedOutResponse,
    SignInBody,
    SignUpBody,
    UserResponse,
    current_user_json,
    user_json,
)
from ticketing.web.shell.openapi import refuses
from ticketing.web.shell.runtime import facade, runtime
from ticketing.web.shell.session import (
    clear_session_cookie,
    client_address,
    current_user,
    set_session_cookie,
)

blueprint = Blueprint("api_auth", __name__, url_prefix="/api/users")


def auth() -> Auth:
    """The auth facade of this process."""
    found = facade("auth")
    assert isinstance(found, Auth)
    return found


def signed_in_response(user: SignedIn, status: int) -> Response:
    """``{id, email}`` with the session cookie set."""
    response = jsonify(user_json(user))
    response.status_code = status
    settings = runtime().settings
    set_session_cookie(response, user.cookie, max_age=settings.jwt_lifetime_seconds,
                       secure=settings.secure_cookies)
    return response


@blueprint.post("/signup")
@validate_request(SignUpBody)
@document_response(UserResponse, 201)
@refuses(429)
async def sign_up(data: SignUpBody) -> Response:
    """Create an account and sign in. 400 "Email in use" when the email is taken."""
    user = await auth().sign_up(data.email, data.password, client_address())
    return signed_in_response(user, 201)


@blueprint.post("/signin")
@validate_request(SignInBody)
@document_response(UserResponse)
@refuses(429)
async def sign_in(data: SignInBody) -> Response:
    """Sign in. 400 "Invalid credentials" for an unknown email or a wrong password."""
    user = await auth().sign_in(data.email, data.password, client_address())
    return signed_in_response(user, 200)


@blueprint.post("/signout")
@document_response(SignedOutResponse)
async def sign_out() -> Response:
    """End this session everywhere and expire the session cookie."""
    return await ended_session_response(everywhere=False)


@blueprint.post("/signout-everywhere")
@document_response(SignedOutResponse)
async def sign_out_everywhere() -> Response:
    """End every session of the signed-in user (every device), this one included."""
    return await ended_session_response(everywhere=True)


async def ended_session_response(*, everywhere: bool) -> Response:
    await auth().sign_out(current_user(), everywhere=everywhere)
    response = jsonify({})
    clear_session_cookie(response, secure=runtime().settings.secure_cookies)
    return response


@blueprint.get("/currentuser")
@document_response(CurrentUserResponse)
async def current() -> Response:
    """The signed-in user's claims, or ``{"currentUser": null}``."""
    return jsonify(current_user_json(current_user()))
