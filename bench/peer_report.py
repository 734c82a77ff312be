"""The peer benchmark's section of docs/benchmarks.md (bench/peer.py runs it): both
systems side by side, the lead against issue 13's figures from before events, and what
bounds each, worked out from the run's own numbers."""

from __future__ import annotations

import os
from collections.abc import Callable

from bench import peer_pretix, peer_ticketing
from bench.common import machine
from bench.peer_measure import Leg, Options

TITLE = "Peer: pretix vs ticketing, same on-sale load (bench/peer)"
# Issue 13, measured on 2026-12-01 before events existed (50 connections, PostgreSQL):
# orders/s end to end, p99 ms, CPU ms per order. The lead to keep at least this wide.
BEFORE_EVENTS = {"pretix": (9.3, 7000.0, 200.0), "ticketing": (105.8, 510.0, 11.0)}


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}" if theirs else "—"


def load_table(pretix: Leg, ours: Leg) -> list[str]:
    def row(name: str, value: Callable[[Leg], float], shown: str, compared: bool = True) -> str:
        versus = ratio(value(ours), value(pretix)) if compared else "—"
        return (f"| {name} | {shown.format(value(pretix))} | {shown.format(value(ours))} | "
                f"{versus} |")

    return [
        "| | pretix | ticketing | ticketing / pretix |", "|---|---|---|---|",
        row("orders answered 201 in the load", lambda leg: leg.load.created, "{:,.0f}"),
        row("orders done (in the database; ours: saga settled)", lambda leg: leg.orders,
            "{:,.0f}"),
        row("201s/s during the load", lambda leg: leg.answered_per_second, "{:.1f}"),
        row("load end → last order done, s (pretix: requests left in flight; ours: the "
            "saga catching up)", lambda leg: leg.seconds - leg.load.seconds, "{:.1f}", False),
        row("**orders/s end to end**", lambda leg: leg.per_second, "{:.1f}"),
        row("p50 ms", lambda leg: leg.load.p50_ms, "{:.0f}"),
        row("**p99 ms**", lambda leg: leg.load.p99_ms, "{:.0f}"),
        row("app CPU ms per order", lambda leg: leg.ms_per_order(leg.spent.app), "{:.1f}"),
        row("PostgreSQL CPU ms per order (its database's backends)",
            lambda leg: leg.ms_per_order(leg.spent.database), "{:.1f}"),
        row("**CPU ms per order, app + database**",
            lambda leg: leg.ms_per_order(leg.spent.app + leg.spent.database), "{:.1f}"),
        row("rest of the machine meanwhile, cores busy (not the app, its database's "
            "backends or wrk: other work on the shared machine)", lambda leg: leg.others_cores,
            "{:.2f}", False),
        row("other answers (not 201), socket errors, timeouts",
            lambda leg: leg.load.other + leg.load.socket_errors + leg.load.timeouts, "{:,.0f}",
            False),
    ]


def oversell_table(legs: list[Leg]) -> list[str]:
    lines = ["| system | quota | requests | 201 | refused: sold out | other answers | "
             "sold, by its database | tickets in two active orders | exactly the quota |",
             "|---|---|---|---|---|---|---|---|---|"]
    for leg in legs:
        lines.append(
            f"| {leg.system} | {leg.quota:,} | {leg.load.requests:,} | {leg.load.created:,} | "
            f"{leg.load.sold_out:,} | {leg.load.other:,} | {leg.sold:,} | "
            f"{'—' if leg.twice is None else leg.twice} | "
            f"{'yes' if leg.sold == leg.quota and not leg.twice else 'NO'} |")
    return lines


def lead(pretix: Leg, ours: Leg) -> str:
    """How far ahead ours is now, beside the lead issue 13 measured before events."""
    then_pretix, then_ours = BEFORE_EVENTS["pretix"], BEFORE_EVENTS["ticketing"]
    now = (ours.per_second / pretix.per_second, pretix.load.p99_ms / ours.load.p99_ms,
           pretix.ms_per_order(pretix.spent.app + pretix.spent.database)
           / ours.ms_per_order(ours.spent.app + ours.spent.database))
    then = (then_ours[0] / then_pretix[0], then_pretix[1] / then_ours[1],
            then_pretix[2] / then_ours[2])
    parts = [f"{name} {n:.1f} times (then {t:.1f}{'' if n >= t else ', narrower'})"
             for name, n, t in zip(("orders/s", "p99", "CPU per order"), now, then,
                                   strict=True)]
    return ("Lead of ours over pretix, now vs issue 13's measurement of 2026-12-01 before "
            "events (pretix 9.3 orders/s, p99 7.0 s, ≈ 200 ms CPU per order; ours 105.8 "
            "orders/s, p99 0.51 s, ≈ 11 ms): " + "; ".join(parts) + ".")


def bounds(pretix: Leg, ours: Leg, connections: int) -> str:
    """What bounds each, from this run's own figures: CPU per order against the cores each
    can use, and Little's law for the wait (connections over the rate answers came at)."""
    cores = os.cpu_count() or 1
    pretix_app, pretix_database = (pretix.ms_per_order(pretix.spent.app),
                                   pretix.ms_per_order(pretix.spent.database))
    ours_app, ours_database = (ours.ms_per_order(ours.spent.app),
                               ours.ms_per_order(ours.spent.database))
    return (
        f"What bounds each. **pretix** is bound by CPU in its request path: {pretix_app:.0f} ms "
        f"of Python per order in its gunicorn workers (sync: one request at a time each) and "
        f"{pretix_database:.0f} ms of PostgreSQL, so even with the machine's {cores} cores to "
        f"itself it would stay under {1000 * cores / (pretix_app + pretix_database):.0f} "
        f"orders/s. The {connections} connections queue behind its {peer_pretix.WORKERS} "
        f"workers: each order waits about connections / rate = {connections} / "
        f"{pretix.answered_per_second:.1f} = {connections / pretix.answered_per_second:.1f} s "
        f"(Little's law; p50 {pretix.load.p50_ms / 1000:.1f} s). **Ours** is one process, so "
        f"its Python has one core: {ours_app:.1f} ms per order puts it under "
        f"{1000 / ours_app:.0f} orders/s, with {ours_database:.1f} ms of PostgreSQL beside it "
        f"on the other core. Little's law gives {connections} / "
        f"{ours.answered_per_second:.0f} = {connections / ours.answered_per_second:.2f} s "
        f"(p50 {ours.load.p50_ms / 1000:.2f} s). Requests and the saga's reactions share the "
        "process's event loop: under a full load the requests go first, and the saga "
        f"catches up after the load ({ours.seconds - ours.load.seconds:.1f} s here), which "
        f"is why end to end ({ours.per_second:.0f}/s) is below the 201 rate "
        f"({ours.answered_per_second:.0f}/s). More processes (`--workers`, or the split) "
        "are how ours uses the second core; pretix already uses both.")


def other_answers(legs: list[Leg]) -> list[str]:
    """The answers neither a 201 nor a sold out, if any: how many, and the first one."""
    found = [f"{leg.system} ({leg.run}): {leg.load.other:,}, the first `{leg.load.sample}`"
             for leg in legs if leg.load.other]
    return ["", "Answers neither 201 nor sold out: " + "; ".join(found) + "."] if found else []


def report(legs: list[Leg], options: Options, load_before: str, wall: float) -> str:
    by = {(leg.system, leg.run): leg for leg in legs}
    pretix, ours = by["pretix", "load"], by["ticketing", "load"]
    sold_out = ("SOLD OUT, so throughput is cut short: raise --quota"
                if max(pretix.sold, ours.sold) >= options.quota else "not sold out")
    if not ours.settled:
        sold_out += "; OUR SAGA DID NOT SETTLE within 180 s: the orders done are a floor"
    return "\n".join([
        f"Machine: {machine()}; load average before the run {load_before} (the machine "
        "was shared with other work: CPU per order holds up to that, throughput less so). "
        f"pretix {peer_pretix.PRETIX_VERSION} (PyPI, its own venv) under gunicorn "
        f"{peer_pretix.GUNICORN_VERSION}, {peer_pretix.WORKERS} sync workers, no Redis, no "
        "Celery (its tasks run in the request); ours one `ticketing serve` process "
        f"(in-process bus), at {peer_ticketing.code_version()}. Both on the same "
        "PostgreSQL server, each on a fresh database. "
        f"wrk, {options.threads} thread, {options.connections} connections; each request "
        "one order of one ticket for a buyer of its own (pretix: `POST /api/v1/organizers/"
        "…/events/…/orders/` with an API token, a product at 40.00 with manual payment, "
        "`send_email: false`; ours: `POST /api/orders` `{eventId, quantity: 1}` with the "
        "buyer's session cookie, no waiting room). The whole bench took "
        f"{wall / 60:.0f} min, pretix's migrations included.", "",
        f"Load: {options.seconds} s, quota {options.quota:,} ({sold_out}). Orders/s end "
        "to end: orders done over the time from the load's start to the last one done "
        "(ours: the saga settled, every order held by tickets, deadlined by expiration and "
        "known to payments; pretix: its last order written). CPU: the app's processes "
        "(gunicorn's master and workers; our one process), and the PostgreSQL backends "
        "connected to the system's own database (sampled every 0.2 s; PostgreSQL's shared "
        "background writers not counted), over the same span.", "",
        *load_table(pretix, ours), "",
        lead(pretix, ours), "",
        bounds(pretix, ours, options.connections), "",
        f"Oversell: {options.oversell_seconds} s, quota {options.oversell_quota:,}, the same "
        f"{options.connections} connections; sold read back from each system's own tables "
        "(pretix: positions of orders not cancelled; ours: active order lines).", "",
        *oversell_table([by["pretix", "oversell"], by["ticketing", "oversell"]]),
        *other_answers(legs),
    ])
