"""The security headers of everything a browser renders from graphrec: the storefront, the dashboard,
the API reference (``/docs``) and the OpenAPI document it reads.

Why one home: each page used to spell its own Content-Security-Policy, and ``/docs`` and
``/openapi.json`` had none, so another site could frame the reference (clickjacking) while the shop
could not be. Every page now takes its headers from :func:`page_headers`: everything from this
server only, nothing may frame it (``frame-ancestors 'none'``). A page with an inline script (Swagger
UI's start-up script) names it by its SHA-256 in ``script-src``, which allows that exact script and
nothing injected beside it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

_SCRIPT_SRC = "script-src 'self'"
# Everything the page loads comes from this server: a CDN or any other host is refused by the browser.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; " + _SCRIPT_SRC + "; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def page_headers(*, inline_scripts: Iterable[str] = ()) -> dict[str, str]:
    """Headers for a page (or a document a page reads): the policy, allowing ``inline_scripts`` by hash."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline_scripts
    )
    policy = CONTENT_SECURITY_POLICY.replace(_SCRIPT_SRC, _SCRIPT_SRC + hashes, 1)
    return {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


def html_page_headers(html: str) -> dict[str, str]:
    """:func:`page_headers` for ``html``, with each of its inline ``<script>`` elements allowed by hash."""
    return page_headers(inline_scripts=_INLINE_SCRIPT.findall(html))
