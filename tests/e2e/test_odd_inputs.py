"""Every JSON route and every form, fed anything: a clear 4xx in the contract's shape, never
a 5xx. Property-based (hypothesis), over real HTTP to a real server, signed in and not.

The inputs are what the probes found and more: JSON of any shape and depth, strings with
NUL, control characters, lone surrogates and Unicode digits, huge and negative numbers,
long names; forms with the same strings. The route table is read from the app, so a new
route is covered the day it is added.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.servers import ServerProcess, free_port, server_environment
from ticketing.app import create_app
from ticketing.settings import Settings

pytestmark = pytest.mark.slow

EXAMPLES = 40
ODD_TEXT = st.one_of(
    st.text(st.characters(codec=None, exclude_categories=()), max_size=40),
    st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfffy", "²", "١٢٣", "\u202e", "\x1b[31m",
                     "9" * 400, "-1", "1e309", "NaN", "", " ", "a" * 5000]),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=False, allow_infinity=False), ODD_TEXT)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(ODD_TEXT, inner, max_size=3), max_leaves=12)
FIELDS = ["email", "password", "title", "price", "version", "ticketId", "orderId", "token",
          "limit", "before", "id", "type", "data"]
BODIES = st.one_of(JSON_VALUES, st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES,
                                                max_size=6))
NESTING = st.integers(min_value=1, max_value=3000)
FORMS = st.dictionaries(st.sampled_from([*FIELDS, "next", "quantity"]), ODD_TEXT, max_size=6)
A_TICKET = "01jd0z5c8y9x7w6v5t4s3r2q1p"


def routes() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(method, path) of every JSON route and every form route, ids filled in."""
    app = create_app(Settings(env="test", data_dir=Path("unused"), jwt_key="k" * 40))
    json_routes, form_routes = [], []
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<ticket_id>", A_TICKET).replace("<order_id>", A_TICKET)
        if "<" in path:
            continue
        for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"}):
            (json_routes if path.startswith("/api/") else form_routes).append((method, path))
    return json_routes, form_routes


JSON_ROUTES, FORM_ROUTES = routes()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("odd-inputs")
    process = ServerProcess(name="odd-inputs", port=free_port(), data_dir=workdir / "data",
                            log=workdir / "server.log",
                            env=server_environment(workdir / "data", TICKETING_THROTTLE="off"))
    process.start_and_wait()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module", params=["anonymous", "signed-in"])
def client(request: pytest.FixtureRequest, server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        if request.param == "signed-in":
            signed = http.post("/api/users/signup", json={"email": "odd@example.com",
                                                          "password": "password"})
            if signed.status_code == 400:  # the other module-scoped client made it first
                signed = http.post("/api/users/signin", json={"email": "odd@example.com",
                                                              "password": "password"})
            assert signed.status_code in (200, 201), signed.text
        yield http


def assert_clear_refusal(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, f"{what} -> {response.status_code}: {response.text[:300]}"
    if response.status_code >= 400 and response.headers.get("content-type", "").startswith(
            "application/json"):
        body = response.json()
        assert isinstance(body, dict), (what, body)
        errors = body["errors"]
        assert errors, (what, body)
        for entry in errors:
            assert isinstance(entry["message"], str), (what, body)
            assert set(entry) <= {"message", "field"}, (what, body)


def odd(examples: int = EXAMPLES) -> Any:
    return settings(max_examples=examples, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
@odd()
@given(body=BODIES)
def test_any_json_body_gets_a_clear_answer(client: httpx.Client, method: str, path: str,
                                           body: Any) -> None:
    content = json.dumps(body, ensure_ascii=True)  # lone surrogates travel as \\udXXX
    response = client.request(method, path, content=content,
                              headers={"Content-Type": "application/json"})

    assert_clear_refusal(response, f"{method} {path} {content[:200]}")


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
@odd(examples=8)
@given(depth=NESTING)
def test_deeply_nested_json_gets_a_clear_answer(client: httpx.Client, method: str, path: str,
                                                depth: int) -> None:
    content = '{"email":' + "[" * depth + "]" * depth + "}"
    response = client.request(method, path, content=content,
                              headers={"Content-Type": "application/json"})

    assert_clear_refusal(response, f"{method} {path} nested {depth}")


@pytest.mark.parametrize(("method", "path"), FORM_ROUTES)
@odd()
@given(form=FORMS)
def test_any_form_gets_a_clear_answer(client: httpx.Client, method: str, path: str,
                                      form: dict[str, str]) -> None:
    encoded = {k: v.encode("utf-8", "surrogatepass") for k, v in form.items()}
    response = client.request(method, path, data=encoded)  # type: ignore[arg-type]

    assert_clear_refusal(response, f"{method} {path} {form!r:.200}")


@odd()
@given(name=st.text(min_size=1, max_size=400).filter(lambda n: "/" not in n and n not in
                                                      (".", "..")))
def test_any_static_file_name_gets_a_clear_answer(client: httpx.Client, name: str) -> None:
    for prefix in ("/static/app/", "/static/vendor/bootstrap/", "/static/vendor/swagger-ui/"):
        response = client.get(prefix + quote(name.encode("utf-8", "surrogatepass"), safe=""))
        assert_clear_refusal(response, f"GET {prefix}{name!r:.80}")
