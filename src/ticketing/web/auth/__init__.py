"""auth's web slice: ``/api/users`` and the sign-up, sign-in and sign-out pages."""

from ticketing.web.auth import pages, routes
from ticketing.web.shell.slices import Slice

SLICE = Slice(blueprints=(routes.blueprint, pages.blueprint))
