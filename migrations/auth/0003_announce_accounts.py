"""Announce the accounts made before mail ran (issue 14): one ``auth:user-registered`` per
account, written to auth's outbox in the migration's transaction, so mail learns every
address, not only those of sign-ups since. Mail keeps the address and sends no welcome to
an account older than a day; one it knows already is left as it is."""

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

from ticketing.bus.contracts import Envelope, UserRegistered
from ticketing.bus.sql import dialect_of, parameters


async def announce_accounts(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.client
    p = parameters(dialect_of(connection))
    insert = ("INSERT INTO auth_outbox (event_id, event_type, body, created_at, attempts) "
              f"VALUES ({p(1)}, {p(2)}, {p(3)}, {p(4)}, 0)")
    for user in await connection.execute_query_dict(
            "SELECT id, email FROM auth_users ORDER BY id"):
        envelope = Envelope.wrap(UserRegistered(user_id=str(user["id"]),
                                                email=str(user["email"])), source="auth")
        await connection.execute_query(insert, [envelope.id, envelope.type,
                                                envelope.to_json(), envelope.occurred_at])


class Migration(migrations.Migration):
    dependencies = [('auth', '0002_unsent_outbox_index')]

    initial = False

    operations = [
        ops.RunPython(announce_accounts, reverse_code=ops.RunPython.noop),
    ]
