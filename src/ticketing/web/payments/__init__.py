"""payments' web slice: ``/api/payments`` (and Stripe's webhook) and the pay page."""

from ticketing.web.payments import pages, routes
from ticketing.web.shell.slices import Slice

SLICE = Slice(blueprints=(routes.blueprint, pages.blueprint))
