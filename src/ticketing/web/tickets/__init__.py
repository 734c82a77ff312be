"""tickets' web slice: ``/api/tickets`` and ``/api/events``, passes and the door
(``/api/passes``, ``/api/checkins``, ``/api/doors``), the listing (the landing page), the
ticket, event, pass and door pages, and the listing's and doors' live streams."""

from ticketing.web.shell.slices import Slice
from ticketing.web.tickets import door, door_pages, event_pages, events, live, pages, routes

SLICE = Slice(blueprints=(routes.blueprint, events.blueprint, door.blueprint, pages.blueprint,
                          event_pages.blueprint, door_pages.blueprint, live.blueprint))
