"""The ceiling of the reservation benchmark: a bare Quart endpoint doing one INSERT.

Same framework, same ORM, same database as the real app, none of the domain: what the
real ``POST /api/orders`` is compared against. Serve with
``uvicorn --factory bench.ceiling:create_app`` and ``BENCH_DATABASE_URL`` set.
"""

from __future__ import annotations

import os

from quart import Quart, Response, jsonify
from tortoise import Tortoise, fields
from tortoise.models import Model

from ticketing.ids import new_id


class CeilingRow(Model):
    id = fields.CharField(max_length=26, primary_key=True)
    ticket_id = fields.CharField(max_length=26)

    class Meta:
        table = "bench_ceiling"


def create_app() -> Quart:
    app = Quart("ceiling")
    url = os.environ["BENCH_DATABASE_URL"]

    @app.before_serving
    async def start() -> None:
        await Tortoise.init(db_url=url, modules={"models": [__name__]},
                            _enable_global_fallback=True)
        await Tortoise.generate_schemas(safe=True)

    @app.after_serving
    async def stop() -> None:
        await Tortoise.close_connections()

    @app.get("/healthz")
    async def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.post("/api/orders")
    async def insert() -> tuple[Response, int]:
        row = await CeilingRow.create(id=new_id(), ticket_id="t")
        return jsonify({"id": row.id}), 201

    return app
