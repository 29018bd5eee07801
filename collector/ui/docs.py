"""`/docs`: FastAPI's Swagger UI page with its scripts and styles served by the collector
itself (collector/ui/static, swagger-ui-dist from npm), so it works on a machine without
internet (issue 17). Its one inline script (FastAPI writes the start-up call) is allowed
by its SHA-256 in the Content-Security-Policy, never by 'unsafe-inline'.
"""
from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import Response

router = APIRouter(include_in_schema=False)

_INLINE = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def docs_page() -> Response:
    page = get_swagger_ui_html(
        openapi_url="/openapi.json", title="Vigie collector - API",
        swagger_js_url="/ui/static/swagger-ui-bundle.js",
        swagger_css_url="/ui/static/swagger-ui.css",
        swagger_favicon_url="/ui/static/favicon-32x32.png",
        # the validator badge would ask validator.swagger.io about our document
        swagger_ui_parameters={"validatorUrl": None})
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'"
                      for s in _INLINE.findall(bytes(page.body)))
    page.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'")
    return page


@router.get("/docs")
def docs(request: Request) -> Response:
    return docs_page()
