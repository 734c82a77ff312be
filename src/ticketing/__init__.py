"""ticketing: an event-driven ticket marketplace, one process or five deployments."""
