"""Run by pretix's own interpreter (bench/peer.py's separate venv), never by ours: the
organizer, an API team with every permission, and its token; prints them as JSON.

pretix's REST API cannot create what authenticates it, so this one step goes through
Django; the events, products and quotas are then created through the API, as a client
would. Manual payment is switched on for the organizer (events inherit it): an event
with a paid product cannot go live without a payment method.
"""

import json

import django

django.setup()

from django_scopes import scopes_disabled  # noqa: E402  (needs django.setup() first)
from pretix.base.models import Organizer, Team  # noqa: E402


def main() -> None:
    with scopes_disabled():
        organizer = Organizer.objects.create(name="Peer benchmark", slug="peer")
        organizer.settings.set("payment_manual__enabled", True)
        team = Team.objects.create(organizer=organizer, name="Benchmark API", all_events=True,
                                   all_event_permissions=True,
                                   all_organizer_permissions=True)
        token = team.tokens.create(name="bench-peer")
        print(json.dumps({"organizer": organizer.slug, "token": token.token}))


if __name__ == "__main__":
    main()
