"""The event bus: event contracts, per-module outbox and inbox tables, relays and transports.

Only what lives here crosses between modules.
"""
