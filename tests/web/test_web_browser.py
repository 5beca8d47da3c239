"""The web app in a real browser (Playwright driving Debian's Chromium; skipped with the reason
where either is missing): logging in, the Events page and its export."""

from __future__ import annotations

import csv
import io
import urllib.request

import pytest

from web_helpers import PASSWORD, fill_events


def _status(url: str, headers: dict | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    opener = urllib.request.build_opener(_NoRedirect())
    try:
        return opener.open(request, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
def test_login_with_a_password_every_page_and_api_call_without_it_is_refused(serve, page, logged_in_page):
    url, context = serve(f"web.password={PASSWORD}")
    for path in ("/", "/people", "/review", "/events", "/events.csv", "/tokens", "/docs"):
        assert _status(url + path) == 303, path
        page.goto(url + path)
        assert "/login" in page.url and page.locator("input[name=password]").is_visible(), path
    for path in ("/api/people", "/api/events", "/api/events/summary", "/openapi.json"):
        assert _status(url + path) == 401, path
        assert _status(url + path, {"Authorization": "Bearer fc_guess"}) == 401, path
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert page.locator(".error").inner_text() == "login failed"
    logged_in_page(url)
    page.goto(url + "/events")
    assert page.locator("h1").inner_text() == "Events"
    api = page.request.get(url + "/api/events")
    assert api.status == 200 and api.json() == {"events": []}
    cookie = next(c for c in page.context.cookies() if c["name"] == "facecam_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    token = context.security.tokens.new("browser test")
    assert _status(url + "/api/people", {"Authorization": f"Bearer {token}"}) == 200


def test_events_filter_by_name_shows_the_rows_and_the_export_has_them(serve, page, workspace):
    ids = fill_events(workspace, {"Ada Lovelace": 3, "Alan Turing": 2, "unknown": 1})
    url, _ = serve()
    page.goto(url + "/events")
    assert page.locator("#events tbody tr").count() == 6
    page.fill("input[name=name]", "Ada Lovelace")
    page.click("#event-filters button[type=submit]")
    page.wait_for_url("**/events?name=Ada+Lovelace*")
    rows = page.locator("#events tbody tr")
    assert rows.count() == 3
    assert set(page.locator("#events td.name").all_inner_texts()) == {"Ada Lovelace"}
    first_face = page.locator("#events img.thumb").first
    first_face.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=first_face.element_handle())
    assert page.locator("#summary tbody tr").all_inner_texts()[0].split("\t")[1:3] == ["Ada Lovelace", "door"]
    with page.expect_download() as download:
        page.click("#export-csv")
    exported = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert len(exported) == 3 and {r["name"] for r in exported} == {"Ada Lovelace"}
    assert {r["face"] for r in exported} == set(ids[:3])


@pytest.mark.parametrize("path", ["/events?since=whenever"])
def test_a_bad_filter_is_said_in_the_page(serve, page, path):
    url, _ = serve()
    page.goto(url + path)
    assert "span back from now" in page.locator(".error").inner_text()
