"""Where a sign-in form may send the browser afterwards: only to a path of this site."""

from __future__ import annotations

import pytest

from ticketing.web.shell.forms import safe_next


@pytest.mark.parametrize("target", ["/", "/orders", "/tickets/01abc?from=list", "/a%20b"])
def test_a_local_path_is_kept(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize("target", [
    None,
    "",
    "orders",
    "//evil.com",
    "//evil.com/path",
    "/\\evil.com",
    "\\\\evil.com",
    "https://evil.com/",
    "javascript:alert(1)",
    "/\t/evil.com",   # browsers drop the tab and then see //evil.com
    "/\n/evil.com",
    "/\r\nSet-Cookie: x=1",
    " //evil.com",
    "/\x00",
])
def test_anything_else_goes_home(target: str | None) -> None:
    assert safe_next(target) == "/"


def test_non_ascii_is_percent_encoded_for_the_location_header() -> None:
    assert safe_next("/tickets?q=café") == "/tickets?q=caf%C3%A9"
