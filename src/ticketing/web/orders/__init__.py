"""orders' web slice: ``/api/orders``, My Orders, the order page and its live stream; an
event's queue (``/api/queue``, ``/queue``, ``/live/queue``)."""

from ticketing.web.orders import live, pages, queue, queue_pages, routes
from ticketing.web.shell.slices import Slice

SLICE = Slice(blueprints=(routes.blueprint, pages.blueprint, live.blueprint, queue.blueprint,
                          queue_pages.blueprint, queue.live_blueprint))
