"""The auth rows of the contract, on every database backend."""

from __future__ import annotations

from quart.typing import TestClientProtocol


async def sign_up(client: TestClientProtocol, email: str = "test@test.com",
                  password: str = "password") -> None:
    response = await client.post("/api/users/signup", json={"email": email, "password": password})
    assert response.status_code == 201, await response.get_json()


async def test_signup_returns_the_user_and_sets_a_session_cookie(
    client: TestClientProtocol,
) -> None:
    response = await client.post("/api/users/signup",
                                 json={"email": "test@test.com", "password": "password"})
    assert response.status_code == 201
    body = await response.get_json()
    assert body["email"] == "test@test.com" and body["id"]
    assert "password" not in body
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie


async def test_email_taken_in_another_case_is_in_use(client: TestClientProtocol) -> None:
    await sign_up(client, "Test@Test.com")
    response = await client.post("/api/users/signup",
                                 json={"email": "test@TEST.com", "password": "password"})
    assert response.status_code == 400
    assert await response.get_json() == {"errors": [{"message": "Email in use"}]}


async def test_currentuser_after_signup(client: TestClientProtocol) -> None:
    await sign_up(client)
    response = await client.get("/api/users/currentuser")
    user = (await response.get_json())["currentUser"]
    assert user["email"] == "test@test.com"
    assert {"id", "iat", "exp"} <= set(user)
