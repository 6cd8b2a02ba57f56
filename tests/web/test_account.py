"""My account: each user turns their own e-mail notifications off and on."""

from __future__ import annotations

from tests.web.helpers import flashes, text


def notifications_on(site, username) -> bool:
    with site.alur.uow(write=False) as uow:
        return bool(uow.directory.user(username).email_notifications)


def test_a_user_turns_their_own_email_notifications_off_and_on_again(site):
    username = site.user(("Klien", "MALUT"))
    browser = site.browser(username)
    page = text(browser.get("/akun"))
    assert "My account" in page and 'name="email_notifications"' in page
    response = browser.post("/akun", {})
    assert response.status_code == 302 and not notifications_on(site, username)
    assert "E-mail notifications are off." in flashes(text(browser.get("/akun")))
    browser.post("/akun", {"email_notifications": "on"})
    assert notifications_on(site, username)


def test_the_account_page_needs_a_login_and_its_form_a_csrf_token(site):
    username = site.user(("Klien", "MALUT"))
    assert site.browser().get("/akun").status_code == 302
    browser = site.browser(username)
    assert browser.post("/akun", {}, csrf=False).status_code == 400
    assert notifications_on(site, username)
