"""/docs works on a machine without internet: every request it makes stays on 127.0.0.1."""
from __future__ import annotations


def test_the_api_page_loads_with_no_request_leaving_the_machine(site, page):
    asked: list[str] = []

    def only_local(route):
        asked.append(route.request.url)
        if route.request.url.startswith(site.base_url):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", only_local)
    answer = page.goto(f"{site.base_url}/docs")
    assert "unsafe-inline" not in answer.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
    assert "Vigie collector" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-tag", timeout=15_000)
    assert page.locator(".opblock").count() > 10
    outside = [u for u in asked if not u.startswith(site.base_url)]
    assert outside == []
    assert any(u.endswith("/ui/static/swagger-ui-bundle.js") for u in asked)
    assert page.csp_problems == []
