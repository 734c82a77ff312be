"""orders' web slice: ``/api/orders``, My Orders, the order page and its live stream; an
event's queue (``/api/queue``, ``/queue``, ``/live/queue``); waitlists (``/api/waitlist``,
``/waitlist``, ``/live/waitlist``)."""

from ticketing.web.orders import live, pages, queue, queue_pages, routes, waitlist
from ticketing.web.shell.slices import Slice

SLICE = Slice(blueprints=(routes.blueprint, pages.blueprint, live.blueprint, queue.blueprint,
                          queue_pages.blueprint, queue.live_blueprint, waitlist.blueprint,
                          waitlist.pages))
