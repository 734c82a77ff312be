"""tickets' web slice: ``/api/tickets``, the listing (the landing page), the ticket pages
and the listing's live stream."""

from ticketing.web.shell.slices import Slice
from ticketing.web.tickets import live, pages, routes

SLICE = Slice(blueprints=(routes.blueprint, pages.blueprint, live.blueprint))
