"""mail's web slice: ``/dev/mail``, the development inbox (every message the embedded
default wrote as an ``.eml`` file; absent when an SMTP server sends, and in production)."""

from ticketing.web.mail import pages
from ticketing.web.shell.slices import Slice

SLICE = Slice(blueprints=(pages.blueprint,))
