"""The consistency cookie: a write's events travel with the browser to its next reads.

After a request that committed events, the response sets ``consistency`` to a signed
token naming them (``ticketing.bus.consistency``). A later request to a slice waits,
at most :data:`WAIT_SECONDS` in all, until that slice's module has applied those of the
named events it consumes: the order page after paying waits for orders to apply the
payment, the pay page after a purchase for payments to hear of the order. Without the
cookie nothing waits (ADR 0016).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from quart import Quart, Response, g, request

from ticketing.bus.consistency import (
    TOKEN_LIFETIME_SECONDS,
    collect_caused,
    decode_token,
    encode_token,
)
from ticketing.web.shell.runtime import Runtime

COOKIE = "consistency"
WAIT_SECONDS = 3.0


def install_consistency(app: Quart, runtime: Runtime, module_of: Mapping[str, str]) -> None:
    """Wait for the caller's own writes on the way in, hand out the token on the way out.

    ``module_of`` names the module of each slice blueprint; other routes never wait.
    """
    key = runtime.settings.jwt_key

    @app.before_request
    async def wait_for_own_writes() -> None:
        g.caused = collect_caused()
        module = module_of.get(request.blueprint or "")
        if module is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_SECONDS
        for event in decode_token(request.cookies.get(COOKIE), key, time.time()):
            await runtime.bus.await_applied(module, event.type, event.id,
                                            max(0.0, deadline - loop.time()))

    @app.after_request
    async def hand_over_token(response: Response) -> Response:
        caused = g.get("caused")
        if caused and response.status_code < 400:
            now = time.time()
            earlier = decode_token(request.cookies.get(COOKIE), key, now)
            response.set_cookie(COOKIE, encode_token(earlier + caused, key, now),
                                max_age=TOKEN_LIFETIME_SECONDS, path="/", httponly=True,
                                samesite="Lax", secure=runtime.settings.secure_cookies)
        return response
