"""The web app's gate, in process: login, cookies, CSRF, tokens, the bind rule, files by id only."""

from __future__ import annotations

import pytest

from web_helpers import PASSWORD, csrf_of

PAGES = ("/", "/events", "/tokens", "/docs", "/faces/20261207T090000000-0123abcd.jpg", "/events.csv")
API = ("/api/people", "/api/events", "/api/events/summary", "/openapi.json")


def test_with_a_password_every_page_redirects_to_login_and_every_api_call_is_401(make_app):
    client, _ = make_app(f"web.password={PASSWORD}")
    for path in PAGES:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next="), path
    for path in API:
        response = client.get(path)
        assert response.status_code == 401 and "error" in response.json(), path
    assert client.post("/api/recognize", content=b"x").status_code in (401, 403)


def test_a_wrong_password_says_only_that_the_login_failed_and_a_right_one_opens_every_page(make_app, login):
    client, _ = make_app(f"web.password={PASSWORD}")
    token = csrf_of(client.get("/login").text)
    wrong = client.post("/login", data={"password": PASSWORD + "x", "csrf_token": token})
    assert wrong.status_code == 401 and "login failed" in wrong.text and "password" not in wrong.text.split(
        "login failed")[1][:40]
    login(client)
    for path in ("/", "/events", "/tokens", "/docs"):
        assert client.get(path).status_code == 200, path
    assert client.get("/api/people").json() == {"people": []}


def test_the_session_cookie_is_httponly_and_samesite_strict_and_changes_at_login(make_app, login):
    client, _ = make_app(f"web.password={PASSWORD}")
    first = client.get("/login").headers["set-cookie"]
    assert "HttpOnly" in first and "SameSite=Strict" in first
    again = login(client).headers["set-cookie"]
    assert "httponly" in again.lower() and "samesite=strict" in again.lower()
    assert first.split(";")[0] != again.split(";")[0]


def test_a_post_without_the_csrf_token_is_refused_even_when_logged_in(make_app, login):
    client, _ = make_app(f"web.password={PASSWORD}")
    login(client)
    refused = client.post("/tokens", data={"label": "x"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]
    wrong = client.post("/tokens", data={"label": "x", "csrf_token": "forged"})
    assert wrong.status_code == 403
    made = client.post("/tokens", data={"label": "x", "csrf_token": csrf_of(client.get("/tokens").text)})
    assert made.status_code == 200 and "fc_" in made.text


def test_logins_are_rate_limited(make_app):
    client, _ = make_app(f"web.password={PASSWORD}", "web.login_attempts=3")
    token = csrf_of(client.get("/login").text)
    codes = [client.post("/login", data={"password": "nope", "csrf_token": token}).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    right = client.post("/login", data={"password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    assert right.status_code == 429 and int(right.headers["retry-after"]) > 0


def test_an_api_token_opens_the_api_without_cookie_or_csrf_and_a_wrong_one_does_not(make_app):
    client, context = make_app(f"web.password={PASSWORD}")
    token = context.security.tokens.new("test")
    stored = context.config.web.tokens
    assert token not in open(stored).read()
    ok = client.get("/api/people", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    assert client.get("/api/people", headers={"Authorization": f"Bearer {token}x"}).status_code == 401
    posted = client.post("/api/recognize", content=b"", headers={"Authorization": f"Bearer {token}"})
    assert posted.status_code == 400 and "empty" in posted.json()["error"]


def test_without_a_password_a_foreign_host_header_is_refused(make_app):
    client, _ = make_app()
    assert client.get("/api/people").status_code == 200
    rebound = client.get("/api/people", headers={"Host": "evil.example:8080"})
    assert rebound.status_code == 403 and "error" in rebound.json()


def test_without_a_password_a_cross_site_post_is_refused_but_a_local_program_may_post(make_app):
    client, _ = make_app()
    client.cookies.clear()
    from_page = client.post("/api/recognize", content=b"", headers={"Origin": "http://evil.example"})
    assert from_page.status_code == 403
    program = client.post("/api/recognize", content=b"")
    assert program.status_code == 400  # let in, then: an empty image


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "example.org"])
def test_binding_beyond_loopback_without_a_password_is_refused(host):
    from facecore.config import load_config
    from facecore.errors import UsageError
    from web.server import check_address

    with pytest.raises(UsageError, match="password"):
        check_address(f"{host}:8080", load_config())
    assert check_address(f"{host}:8080", load_config(None, [f"web.password={PASSWORD}"])) == (host, 8080)
    assert check_address("8080", load_config()) == ("127.0.0.1", 8080)
    assert check_address("[::1]:9", load_config()) == ("::1", 9)


def test_a_password_hash_is_checked_and_a_malformed_one_is_a_config_error():
    from facecore.config import load_config
    from facecore.errors import ConfigError
    from web.security import Security, hash_password

    hashed = hash_password(PASSWORD)
    security = Security(load_config(None, [f"web.password_hash={hashed}"]).web)
    assert security.password_ok(PASSWORD) and not security.password_ok(PASSWORD[:-1])
    with pytest.raises(ConfigError, match="password_hash"):
        Security(load_config(None, ["web.password_hash=plain"]).web)


def test_face_pictures_are_served_by_id_only_and_never_from_outside_the_store(make_app, workspace):
    client, context = make_app()
    faces = workspace / "data" / "faces"
    faces.mkdir(parents=True)
    face_id = "20261207T090000000-0123abcd"
    (faces / f"{face_id}.jpg").write_bytes(b"\xff\xd8jpeg")
    (workspace / "secret.jpg").write_bytes(b"secret")
    (faces / "20261207T090000000-0badf00d.jpg").symlink_to(workspace / "secret.jpg")
    assert client.get(f"/faces/{face_id}.jpg").content == b"\xff\xd8jpeg"
    for path in ("/faces/..%2Fsecret.jpg", "/faces/../../secret.jpg", "/faces/20261207T090000000-0badf00d.jpg",
                 "/faces/%2e%2e%2fsecret.jpg", "/static/../web/app.py", "/static/%2e%2e/app.py"):
        response = client.get(path)
        assert response.status_code == 404 and b"secret" not in response.content, path


def test_errors_are_json_with_the_status_and_never_a_traceback(make_app):
    client, _ = make_app()
    missing = client.get("/api/nothing")
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found"}
    bad = client.get("/api/events?limit=0")
    assert bad.status_code == 400 and "limit" in bad.json()["error"]
    page = client.get("/nothing", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "<html" in page.text and "Traceback" not in page.text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_after_login_the_next_page_is_never_another_site(make_app, target):
    client, _ = make_app(f"web.password={PASSWORD}")
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"password": PASSWORD, "csrf_token": token, "next": target},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    back = client.post("/logout", data={"csrf_token": csrf_of(client.get("/events").text)}, follow_redirects=False)
    assert back.status_code == 303 and client.get("/events", follow_redirects=False).status_code == 303


def test_a_flood_of_new_visitors_does_not_log_anyone_out():
    from web.security import Sessions

    sessions = Sessions(hours=1, most=50)
    logged = sessions.new(authenticated=True)
    for _ in range(500):
        sessions.new()
    assert sessions.get(logged.id) is logged


def test_an_error_with_its_own_status_keeps_it_in_the_apps_one_rule():
    from facecore.errors import UsageError
    from web.errors import status_of
    from web.jobs import Busy, Gone, Stale

    assert [status_of(e("x")) for e in (Gone, Stale, Busy, UsageError)] == [404, 409, 409, 400]
