"""What every layer of the suite shares, so that no test module imports another.

- ``waiting``: :func:`~tests.support.waiting.eventually`, the one way to wait for a
  condition (events travel after the commit; nothing here sleeps a fixed time);
- ``apps``: an app on custom settings and its client, sign-up, cookies, the nav;
- ``trading``: minted people, apps on a chosen transport, listing and reserving;
- ``payments``: an order made payable, paying, the offline provider of an app;
- ``browser``: signing up, selling and buying through pages in a browser;
- ``processes``: real ``ticketing serve`` processes; ``split``: the five of the split;
- ``nats``: real JetStream servers and clusters; ``bus``: the bus harness;
- ``fake_stripe``: a local stand-in of Stripe's HTTP API.
"""
