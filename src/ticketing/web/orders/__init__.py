"""orders' web slice: ``/api/orders``, My Orders, the order page and its live stream."""

from ticketing.web.orders import live, pages, routes
from ticketing.web.shell.slices import Slice

SLICE = Slice(blueprints=(routes.blueprint, pages.blueprint, live.blueprint))
