"""payments' web slice: ``/api/payments`` (and Stripe's webhook), the pay page, and
payouts (``/api/payouts``, ``/payouts``)."""

from ticketing.web.payments import pages, payouts, routes
from ticketing.web.shell.slices import Slice

SLICE = Slice(blueprints=(routes.blueprint, pages.blueprint, payouts.blueprint))
