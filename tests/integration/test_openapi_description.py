"""``/openapi.json`` is one description of the product's HTTP API, whichever modules a
process runs: every ``/api`` route and nothing else, the error shape for each status an
operation answers, the session cookie as the signed-in operations' security, and the
field rules where the contract's messages begin."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.support.apps import sign_up
from ticketing.app import create_app
from ticketing.settings import MODULE_NAMES, Settings
from ticketing.web.shell import openapi
from ticketing.web.shell.schemas import ErrorResponse

# The operations behind sign-in (the contract's "auth: yes"), as the description names them.
SIGNED_IN = {
    ("post", "/api/tickets"), ("put", "/api/tickets/{ticket_id}"),
    ("post", "/api/orders"), ("get", "/api/orders"), ("get", "/api/orders/{order_id}"),
    ("delete", "/api/orders/{order_id}"), ("post", "/api/payments"), ("post", "/api/events"),
    ("post", "/api/queue/{event_id}"), ("get", "/api/queue/{event_id}"),
    ("get", "/api/queue/{event_id}/room"), ("put", "/api/queue/{event_id}/room"),
    ("get", "/api/tickets/{ticket_id}/pass"), ("post", "/api/checkins"),
    ("post", "/api/tickets/{ticket_id}/transfer"), ("get", "/api/selling"),
    ("get", "/api/doors/{scope_id}"), ("get", "/api/doors/{scope_id}/staff"),
    ("post", "/api/doors/{scope_id}/staff"), ("delete", "/api/doors/{scope_id}/staff/{email}"),
    ("post", "/api/tickets/{ticket_id}/resale"), ("delete", "/api/tickets/{ticket_id}/resale"),
    ("get", "/api/payouts"),
    ("post", "/api/orders/{order_id}/refund"),
    ("post", "/api/waitlist/{scope_id}"), ("get", "/api/waitlist/{scope_id}"),
    ("delete", "/api/waitlist/{scope_id}"),
}
EVERYWHERE = {500, 503}
BODY = {400, 413} | EVERYWHERE
WRITE = {403} | EVERYWHERE
# The error statuses each operation documents: what its decorators show, and its rules.
ERRORS: dict[tuple[str, str], set[int]] = {
    ("post", "/api/users/signup"): BODY | WRITE | {429},
    ("post", "/api/users/signin"): BODY | WRITE | {429},
    ("post", "/api/users/signout"): WRITE,
    ("post", "/api/users/signout-everywhere"): WRITE,
    ("get", "/api/users/currentuser"): EVERYWHERE,
    ("get", "/api/tickets"): {400} | EVERYWHERE,
    ("get", "/api/tickets/{ticket_id}"): {404} | EVERYWHERE,
    ("post", "/api/tickets"): BODY | WRITE | {401},
    ("put", "/api/tickets/{ticket_id}"): BODY | WRITE | {401, 404, 409},
    ("post", "/api/orders"): BODY | WRITE | {401, 404},
    ("get", "/api/orders"): {401} | EVERYWHERE,
    ("get", "/api/orders/{order_id}"): {401, 404} | EVERYWHERE,
    ("delete", "/api/orders/{order_id}"): WRITE | {400, 401, 404},
    ("post", "/api/orders/{order_id}/refund"): WRITE | {400, 401, 404},
    ("post", "/api/waitlist/{scope_id}"): WRITE | {400, 401, 404},
    ("get", "/api/waitlist/{scope_id}"): {401, 404} | EVERYWHERE,
    ("delete", "/api/waitlist/{scope_id}"): WRITE | {401, 404},
    ("post", "/api/payments"): BODY | WRITE | {401, 404, 409},
    ("post", "/api/payments/webhook"): BODY | WRITE,
    ("get", "/api/events"): EVERYWHERE,
    ("get", "/api/events/{event_id}"): {404} | EVERYWHERE,
    ("post", "/api/events"): BODY | WRITE | {401},
    ("post", "/api/queue/{event_id}"): WRITE | {400, 401, 404},
    ("get", "/api/queue/{event_id}"): {400, 401, 404} | EVERYWHERE,
    ("get", "/api/queue/{event_id}/room"): {400, 401, 404} | EVERYWHERE,
    ("put", "/api/queue/{event_id}/room"): BODY | WRITE | {401, 404},
    ("get", "/api/tickets/{ticket_id}/pass"): {401, 404} | EVERYWHERE,
    ("get", "/api/passes/key"): EVERYWHERE,
    ("post", "/api/tickets/{ticket_id}/transfer"): BODY | WRITE | {401, 404, 409},
    ("post", "/api/tickets/{ticket_id}/resale"): BODY | WRITE | {401, 404, 409},
    ("delete", "/api/tickets/{ticket_id}/resale"): WRITE | {400, 401, 404},
    ("get", "/api/selling"): {400, 401} | EVERYWHERE,
    ("get", "/api/payouts"): {401} | EVERYWHERE,
    ("post", "/api/checkins"): BODY | WRITE | {401, 409},
    ("get", "/api/doors/{scope_id}"): {401, 404} | EVERYWHERE,
    ("get", "/api/doors/{scope_id}/staff"): {401, 404} | EVERYWHERE,
    ("post", "/api/doors/{scope_id}/staff"): BODY | WRITE | {401, 404},
    ("delete", "/api/doors/{scope_id}/staff/{email}"): WRITE | {400, 401, 404},
}
RULE_ARGUMENT = re.compile(r"<(?:[^:>]*:)?([^>]+)>")  # <path:filename> -> {filename}
MODULE_SETS = [(module,) for module in MODULE_NAMES] + [MODULE_NAMES]


def full_app(tmp_path: Path, modules: tuple[str, ...] = MODULE_NAMES) -> Quart:
    return create_app(Settings(env="test", data_dir=tmp_path, jwt_key="k" * 40,
                               modules=modules))


async def description_of(app: Quart) -> dict[str, Any]:
    """What ``app`` serves at ``/openapi.json``, written afresh (not the process's copy)."""
    openapi.describe.cache_clear()
    response = await app.test_client().get("/openapi.json")
    assert response.status_code == 200
    found: dict[str, Any] = await response.get_json()
    return found


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): operation for path, by_method in document["paths"].items()
            for method, operation in by_method.items()}


def resolved(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with its ``$ref`` followed within the document."""
    while "$ref" in node:
        found: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            found = found[part]
        node = found
    return node


def error_statuses(operation: dict[str, Any]) -> set[int]:
    return {int(status) for status in operation["responses"] if int(status) >= 400}


def request_schema(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation = document["paths"][path][method]
    schema: dict[str, Any] = operation["requestBody"]["content"]["application/json"]["schema"]
    return resolved(document, schema)


def query_parameter(document: dict[str, Any], name: str) -> dict[str, Any]:
    """The schema of one query parameter of the listing."""
    found: dict[str, Any] = next(
        parameter["schema"] for parameter
        in document["paths"]["/api/tickets"]["get"]["parameters"] if parameter["name"] == name)
    return found


@pytest.mark.parametrize("modules", MODULE_SETS, ids=",".join)
async def test_every_process_describes_the_same_api(tmp_path: Path,
                                                    modules: tuple[str, ...]) -> None:
    whole = await description_of(full_app(tmp_path / "whole"))
    app = full_app(tmp_path / "part", modules)

    assert await description_of(app) == whole
    docs = await app.test_client().get("/docs")
    assert docs.status_code == 200
    assert "/openapi.json" in await docs.get_data(as_text=True)


async def test_it_describes_every_api_route_and_no_page_asset_probe_or_stream(
    tmp_path: Path,
) -> None:
    app = full_app(tmp_path)
    document = await description_of(app)

    served = {(method.lower(), RULE_ARGUMENT.sub(r"{\1}", rule.rule))
              for rule in app.url_map.iter_rules() for method in rule.methods or ()
              if method not in ("HEAD", "OPTIONS")}
    api = {(method, path) for method, path in served if path.startswith("/api/")}
    assert set(operations(document)) == api == set(ERRORS)
    assert {("get", "/"), ("get", "/docs"), ("get", "/healthz"), ("get", "/readyz"),
            ("get", "/metrics"), ("get", "/live/tickets"), ("get", "/auth/signin"),
            ("get", "/static/app/{filename}"), ("get", "/openapi.json")} <= served - api
    operation_ids = [operation["operationId"] for operation in operations(document).values()]
    assert len(operation_ids) == len(set(operation_ids))


async def test_each_operation_documents_the_error_shape_for_each_status_it_answers(
    tmp_path: Path,
) -> None:
    document = await description_of(full_app(tmp_path))

    for key, operation in operations(document).items():
        assert error_statuses(operation) == ERRORS[key], key
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            response = resolved(document, response)
            content = response["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}, key
            ErrorResponse.model_validate(content["example"])
            assert response["description"].startswith(content["example"]["errors"][0]
                                                      ["message"])
    error_shape = resolved(document, {"$ref": "#/components/schemas/ErrorResponse"})
    entry = resolved(document, error_shape["properties"]["errors"]["items"])
    assert error_shape["required"] == ["errors"]
    assert error_shape["properties"]["errors"]["minItems"] == 1
    assert set(entry["properties"]) == {"message", "field"}
    assert entry["required"] == ["message"]
    for status in (429, 503):
        retry = resolved(document, {"$ref": "#/components/responses/"
                                            + openapi.REFUSALS[status].name})
        assert "Retry-After" in retry["headers"]


async def test_the_session_cookie_is_the_security_of_exactly_the_signed_in_operations(
    tmp_path: Path,
) -> None:
    document = await description_of(full_app(tmp_path))

    scheme = document["components"]["securitySchemes"]["session"]
    assert {key: scheme[key] for key in ("type", "in", "name")} == {
        "type": "apiKey", "in": "cookie", "name": "session"}
    secured = {key for key, operation in operations(document).items()
               if operation.get("security")}
    assert secured == SIGNED_IN
    assert all(operations(document)[key]["security"] == [{"session": []}] for key in secured)


async def answer(client: Client, method: str, path: str, document: dict[str, Any]) -> int:
    """The status of a request to an operation: unknown ids, an empty body if it takes one."""
    url = path.replace("{ticket_id}", "x").replace("{order_id}", "x")
    has_body = "requestBody" in document["paths"][path][method]
    response = await client.open(url, method=method.upper(), json={} if has_body else None)
    return response.status_code


async def test_every_answer_is_documented_and_only_the_secured_operations_want_a_session(
    client: Client,
) -> None:
    document = await (await client.get("/openapi.json")).get_json()
    signed_out = {key: await answer(client, *key, document) for key in ERRORS}
    await sign_up(client)
    signed_in = {key: await answer(client, *key, document)
                 for key in ERRORS if not key[1].startswith("/api/users/signout")}

    assert {key for key, status in signed_out.items() if status == 401} == SIGNED_IN
    assert 401 not in signed_in.values()
    for key, status in [*signed_out.items(), *signed_in.items()]:
        assert str(status) in document["paths"][key[1]][key[0]]["responses"], (key, status)


async def test_the_field_rules_are_in_the_request_schemas(tmp_path: Path) -> None:
    document = await description_of(full_app(tmp_path))

    sign_up_body = request_schema(document, "post", "/api/users/signup")
    ticket = request_schema(document, "post", "/api/tickets")
    edit = request_schema(document, "put", "/api/tickets/{ticket_id}")
    order = request_schema(document, "post", "/api/orders")
    payment = request_schema(document, "post", "/api/payments")
    limit = query_parameter(document, "limit")

    assert sign_up_body["required"] == ["email", "password"]
    assert sign_up_body["properties"]["email"] | {"format": "email", "maxLength": 254} \
        == sign_up_body["properties"]["email"]
    password = sign_up_body["properties"]["password"]
    assert (password["minLength"], password["maxLength"]) == (4, 20)
    assert request_schema(document, "post", "/api/users/signin")["properties"]["password"][
        "minLength"] == 1
    assert ticket["required"] == ["title", "price"]
    title = ticket["properties"]["title"]
    assert (title["minLength"], title["maxLength"]) == (1, 120)
    number = ticket["properties"]["price"]["anyOf"][0]
    assert (number["exclusiveMinimum"], number["maximum"]) == (0, 1_000_000)
    assert "version" not in edit["required"]
    assert "required" not in order  # ticketId, or eventId (with quantity)
    assert "eventId" in order["properties"]["ticketId"]["description"]
    event = request_schema(document, "post", "/api/events")
    assert event["required"] == ["title", "price", "quantity"]
    assert (event["properties"]["quantity"]["minimum"],
            event["properties"]["quantity"]["maximum"]) == (1, 100_000)
    assert payment["required"] == ["orderId", "token"]
    assert payment["properties"]["token"]["maxLength"] == 255
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 500, 100)


async def test_past_each_documented_bound_the_answer_is_the_contract_message(
    client: Client,
) -> None:
    document = await (await client.get("/openapi.json")).get_json()
    await sign_up(client)
    password = request_schema(document, "post", "/api/users/signup")["properties"]["password"]
    ticket = request_schema(document, "post", "/api/tickets")["properties"]
    token = request_schema(document, "post", "/api/payments")["properties"]["token"]
    limit = query_parameter(document, "limit")
    attempts = [
        (client.post("/api/users/signup", json={"email": "a@b.co",
                                                "password": "p" * (password["maxLength"] + 1)}),
         "Password must be between 4 and 20 characters"),
        (client.post("/api/tickets", json={"title": "t" * (ticket["title"]["maxLength"] + 1),
                                           "price": 1}),
         "Title must be at most 120 characters"),
        (client.post("/api/tickets", json={"title": "t", "price": 1_000_001}),
         "Price must be at most 1000000"),
        (client.post("/api/tickets", json={"title": "t", "price": 0}),
         "Price must be greater than 0"),
        (client.post("/api/payments", json={"orderId": "x",
                                            "token": "t" * (token["maxLength"] + 1)}),
         "Token must be at most 255 characters"),
        (client.get(f"/api/tickets?limit={limit['maximum'] + 1}"),
         "Limit must be between 1 and 500"),
    ]

    for request, message in attempts:
        response = await request
        assert response.status_code == 400, message
        assert [entry["message"] for entry in (await response.get_json())["errors"]] \
            == [message]


def test_refuses_names_only_statuses_the_description_knows() -> None:
    with pytest.raises(ValueError, match="no such refusal"):
        openapi.refuses(418)

