"""tickets' web slice: ``/api/tickets`` and ``/api/events``, the listing (the landing
page), the ticket and event pages and the listing's live stream."""

from ticketing.web.shell.slices import Slice
from ticketing.web.tickets import event_pages, events, live, pages, routes

SLICE = Slice(blueprints=(routes.blueprint, events.blueprint, pages.blueprint,
                          event_pages.blueprint, live.blueprint))
