"""Schemathesis hooks for ``test_openapi_fuzz``: every refusal in the contract's error shape.

Loaded by the schemathesis CLI through ``SCHEMATHESIS_HOOKS``.
"""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.check
def errors_in_contract_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 4xx JSON answer is ``{"errors": [{"message": str, "field"?: str}, ...]}``."""
    if not 400 <= response.status_code < 500:
        return None
    if not response.headers.get("content-type", [""])[0].startswith("application/json"):
        return None
    try:
        body = response.json()
    except ValueError as error:  # a failure with the body shown, not an "errored" run
        shown = response.text_lossy()[:200]
        raise AssertionError(f"a JSON content type over no JSON: {shown!r}") from error
    errors = body.get("errors") if isinstance(body, dict) else None
    ok = (isinstance(errors, list) and bool(errors)
          and all(isinstance(e, dict) and isinstance(e.get("message"), str)
                  and set(e) <= {"message", "field"} for e in errors))
    if not ok:
        raise AssertionError(f"not the contract's error shape: {str(body)[:200]}")
    return None
