"""Every JSON route and every form, fed anything: a clear 4xx in the contract's shape, never
a 5xx. Property-based (hypothesis), over real HTTP to a real server, signed in and not.

The inputs are what the probes found and more: JSON of any shape and depth, strings with
NUL, control characters, lone surrogates and Unicode digits, huge and negative numbers,
long names; forms with the same strings. The route table is read from the app, so a new
route is covered the day it is added.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.processes import ServerProcess, running_server
from ticketing.app import create_app
from ticketing.settings import Settings

pytestmark = pytest.mark.slow

EXAMPLES = 40
# The probes' findings and their relatives: each is tried in every field of every route.
KNOWN_ODD = ["\x00", "a\x00b", "\ud800", "x\udfffy", "²", "١٢٣", "\u202e", "\x1b[31m",
             "9" * 400, "-1", "1e309", "NaN", "", " ", "a" * 5000, "pass\ud800word",
             "odd\x00@example.com", 2**64, -1, 1e308, True, [], {}]
ODD_TEXT = st.one_of(
    st.sampled_from([v for v in KNOWN_ODD if isinstance(v, str)]),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=40),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=False, allow_infinity=False), ODD_TEXT)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(ODD_TEXT, inner, max_size=3), max_leaves=12)
FIELDS = ["email", "password", "title", "price", "version", "ticketId", "orderId", "token",
          "limit", "before", "id", "type", "data"]
# Values each route accepts: an odd value in one field, with the others valid, reaches
# the code behind the validation (hashing, the database, the provider).
VALID: dict[str, Any] = {"email": "odd@example.com", "password": "password",
                         "title": "Concert", "price": 10, "version": 0, "token": "tok_visa"}


def bodies(ids: dict[str, str]) -> st.SearchStrategy[Any]:
    valid = VALID | ids
    mostly_valid = st.fixed_dictionaries({}, optional={
        name: st.one_of(st.just(value), JSON_VALUES) for name, value in valid.items()})
    one_odd_field = st.builds(lambda name, value: {**valid, name: value},
                              st.sampled_from(sorted(valid)), st.one_of(ODD_TEXT, JSON_VALUES))
    return st.one_of(one_odd_field, mostly_valid, JSON_VALUES,
                     st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=6))


NESTING = st.integers(min_value=1, max_value=3000)
FORMS = st.dictionaries(st.sampled_from([*FIELDS, "next", "quantity"]), ODD_TEXT, max_size=6)
A_TICKET = "01jd0z5c8y9x7w6v5t4s3r2q1p"


def routes() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(method, path) of every JSON route and every form route, ids filled in."""
    # Both keys given, so building the app writes no development key anywhere.
    app = create_app(Settings(env="test", data_dir=Path("unused"), jwt_key="k" * 40,
                              pass_key="cGFzcy1rZXktb2YtdGhpcnR5LXR3by1ieXRlcy0wMTI"))
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
    with running_server(workdir, "odd-inputs", TICKETING_THROTTLE="off") as process:
        yield process


@pytest.fixture(scope="module", params=["anonymous", "signed-in"])
def client(request: pytest.FixtureRequest, server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        if request.param == "signed-in":
            signed = http.post("/api/users/signup", json={"email": "seller@example.com",
                                                          "password": "password"})
            if signed.status_code == 400:  # the other module-scoped client made it first
                signed = http.post("/api/users/signin", json={"email": "seller@example.com",
                                                              "password": "password"})
            assert signed.status_code in (200, 201), signed.text
        yield http


@pytest.fixture(scope="module")
def ids(server: ServerProcess) -> dict[str, str]:
    """A real ticket and a real open order, so bodies can name things that exist."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        http.post("/api/users/signup", json={"email": "buyer@example.com", "password": "pw12"})
        ticket = http.post("/api/tickets", json={"title": "Show", "price": 5}).json()
        deadline = time.monotonic() + 10
        while (order := http.post("/api/orders", json={"ticketId": ticket["id"]})) \
                .status_code == 404 and time.monotonic() < deadline:
            time.sleep(0.05)  # orders learns of the ticket by event
        assert order.status_code == 201, order.text
        return {"ticketId": ticket["id"], "orderId": order.json()["id"]}


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
@given(data=st.data())
def test_any_json_body_gets_a_clear_answer(client: httpx.Client, ids: dict[str, str],
                                           method: str, path: str, data: st.DataObject) -> None:
    body = data.draw(bodies(ids))
    content = json.dumps(body, ensure_ascii=True)  # lone surrogates travel as \\udXXX
    response = client.request(method, path, content=content,
                              headers={"Content-Type": "application/json"})

    assert_clear_refusal(response, f"{method} {path} {content[:200]}")


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
def test_each_known_odd_value_in_each_field_gets_a_clear_answer(
    client: httpx.Client, ids: dict[str, str], method: str, path: str,
) -> None:
    valid = VALID | ids
    for name in sorted(valid):
        for value in KNOWN_ODD:
            content = json.dumps({**valid, name: value}, ensure_ascii=True)
            response = client.request(method, path, content=content,
                                      headers={"Content-Type": "application/json"})
            assert_clear_refusal(response, f"{method} {path} {name}={value!r:.40}")


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
