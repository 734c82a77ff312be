"""tickets' web slice: ``/api/tickets`` and ``/api/events``, passes and the door
(``/api/passes``, ``/api/checkins``, ``/api/doors``), the seller's view (``/api/selling``),
the listing (the landing page), the ticket, event, pass, door and selling pages, and the
listing's and doors' live streams."""

from ticketing.web.shell.slices import Slice
from ticketing.web.tickets import (
    door,
    door_pages,
    event_pages,
    events,
    live,
    pages,
    routes,
    selling,
)

SLICE = Slice(blueprints=(routes.blueprint, events.blueprint, door.blueprint, pages.blueprint,
                          event_pages.blueprint, door_pages.blueprint, selling.blueprint,
                          live.blueprint))
