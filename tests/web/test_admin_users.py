"""User accounts: creating one, deactivating and reactivating it, resetting its password, granting and revoking."""

from __future__ import annotations

import re

from tests.web.helpers import PASSWORD, SOP000, field_block, field_error, flashes, location, text, unique

NEW_PASSWORD = "baru-rahasia-42"


def grants_on_page(page: str) -> set[str]:
    return set(re.findall(r'<tr data-grant="([^"]*)">', page))


def test_a_global_admin_creates_an_account_that_can_log_in(site):
    username = unique("petugas")
    browser = site.browser("admin")
    assert browser.get("/kelola/pengguna/baru").status_code == 200
    response = browser.post("/kelola/pengguna/baru", {"username": username, "full_name": "Siti Aminah",
                                                      "email": f"{username}@example.go.id", "password": PASSWORD})
    assert location(response) == f"/kelola/pengguna/{username}"
    page = text(browser.get(location(response)))
    assert "Siti Aminah" in page and "No role yet" in page
    assert f'<tr data-user="{username}"' in text(browser.get("/kelola/pengguna"))
    assert site.browser().login(username, PASSWORD).status_code == 302


def test_bad_entries_for_a_new_account_are_shown_at_their_fields_and_kept(site):
    response = site.browser("admin").post("/kelola/pengguna/baru", {
        "username": "bukan nama!", "full_name": "Budi", "email": "budi-at-example", "password": "pendek"})
    page = text(response)
    assert response.status_code == 400
    assert field_error(page, "username").startswith("Use 1 to 64 letters")
    assert field_error(page, "email").startswith("This is not an e-mail address")
    assert field_error(page, "password") == "Use at least 8 characters."
    assert 'value="Budi"' in field_block(page, "full_name") and 'value="bukan nama!"' in field_block(page, "username")
    assert 'value="pendek"' not in page, "a password is never sent back"


def test_a_taken_username_is_refused_at_its_field(site):
    response = site.browser("admin").post("/kelola/pengguna/baru", {"username": "klien.malut", "password": PASSWORD})
    assert response.status_code == 400
    assert field_error(text(response), "username") == "This username is taken already."


def test_a_deactivated_users_open_session_stops_working_and_reactivation_lets_them_back(site):
    username = site.user(("Klien", "MALUT"))
    their = site.browser(username)
    assert their.get("/tugas").status_code == 200
    admin = site.browser("admin")
    response = admin.post(f"/kelola/pengguna/{username}/aktif", {"active": "0"})
    assert location(response) == f"/kelola/pengguna/{username}"
    assert "Deactivated" in text(admin.get(location(response)))
    response = their.get("/tugas")
    assert response.status_code == 302 and location(response).startswith("/masuk")
    assert site.browser().login(username, PASSWORD).status_code == 401
    admin.post(f"/kelola/pengguna/{username}/aktif", {"active": "1"})
    assert site.browser().login(username, PASSWORD).status_code == 302


def test_an_admin_cannot_deactivate_their_own_account(site):
    admin = site.user(("admin", None), prefix="admin")
    browser = site.browser(admin)
    assert f"/kelola/pengguna/{admin}/aktif" not in text(browser.get(f"/kelola/pengguna/{admin}"))
    assert browser.post(f"/kelola/pengguna/{admin}/aktif", {"active": "0"}).status_code == 403
    assert browser.get("/tugas").status_code == 200


def test_resetting_a_password_ends_the_users_sessions_and_the_new_password_works(site):
    username = site.user(("Klien", "MALUT"))
    their = site.browser(username)
    response = site.browser("admin").post(f"/kelola/pengguna/{username}/sandi", {"password": NEW_PASSWORD})
    assert location(response) == f"/kelola/pengguna/{username}"
    assert location(their.get("/tugas")).startswith("/masuk")
    assert site.browser().login(username, PASSWORD).status_code == 401
    assert site.browser().login(username, NEW_PASSWORD).status_code == 302


def test_a_too_short_new_password_is_refused_at_its_field(site):
    username = site.user()
    response = site.browser("admin").post(f"/kelola/pengguna/{username}/sandi", {"password": "1234"})
    assert response.status_code == 400
    assert field_error(text(response), "password") == "Use at least 8 characters."
    assert site.browser().login(username, PASSWORD).status_code == 302


def test_granting_a_role_lets_the_user_see_the_work_and_revoking_it_takes_it_away(site):
    username = site.user()
    case = site.start(SOP000, "klien.malut")
    admin = site.browser("admin")
    response = admin.post(f"/kelola/pengguna/{username}/peran", {"role": "Klien", "office": "MALUT"})
    assert location(response) == f"/kelola/pengguna/{username}"
    page = text(admin.get(location(response)))
    assert grants_on_page(page) == {"Klien@MALUT"}
    assert any("now holds Klien in MALUT" in m for m in flashes(page, "success"))
    assert site.browser(username).get(f"/kasus/{case.id}").status_code == 200
    admin.post(f"/kelola/pengguna/{username}/cabut", {"role": "Klien", "office": "MALUT"})
    assert grants_on_page(text(admin.get(f"/kelola/pengguna/{username}"))) == set()
    assert site.browser(username).get(f"/kasus/{case.id}").status_code == 404  # no grant there: not revealed


def test_a_role_for_every_office_is_granted_with_an_empty_office(site):
    username = site.user()
    admin = site.browser("admin")
    admin.post(f"/kelola/pengguna/{username}/peran", {"role": "analyst", "office": ""})
    page = text(admin.get(f"/kelola/pengguna/{username}"))
    assert grants_on_page(page) == {"analyst@"} and "every office" in page
    assert site.browser(username).get("/kelola/proses").status_code == 200


def test_a_grant_without_a_role_or_for_an_unknown_office_is_refused_at_its_field(site):
    username = site.user()
    admin = site.browser("admin")
    response = admin.post(f"/kelola/pengguna/{username}/peran", {"role": " ", "office": "MALUT"})
    assert response.status_code == 400
    assert field_error(text(response), "role") == "This field is required."
    response = admin.post(f"/kelola/pengguna/{username}/peran", {"role": "Klien", "office": "NOWHERE"})
    assert response.status_code == 400
    page = text(response)
    assert field_error(page, "office") == "There is no office 'NOWHERE'."
    assert 'value="Klien"' in field_block(page, "role")


def test_an_office_admin_grants_lane_roles_of_their_office_only(site):
    username = site.user()
    browser = site.browser(site.user(("admin", "MALUT")))
    assert browser.post(f"/kelola/pengguna/{username}/peran", {"role": "Klien", "office": "MALUT"}).status_code == 302
    assert browser.post(f"/kelola/pengguna/{username}/peran", {"role": "Klien", "office": "DKI"}).status_code == 403
    assert browser.post(f"/kelola/pengguna/{username}/peran", {"role": "admin", "office": "MALUT"}).status_code == 403
    page = text(browser.get(f"/kelola/pengguna/{username}"))
    assert grants_on_page(page) == {"Klien@MALUT"}
    assert "/aktif" not in page and "/sandi" not in page, "an office admin sees no global actions"


def test_an_unknown_user_is_404(site):
    assert site.browser("admin").get("/kelola/pengguna/tidak-ada").status_code == 404


def test_the_user_list_answers_who_holds_a_role_in_an_office(site):
    holder = site.user(("Kasubag PPHTI", "BABEL"), prefix="kasubag")
    elsewhere = site.user(("Kasubag PPHTI", "DKI"), prefix="kasubag")
    everywhere = site.user(("Kasubag PPHTI", None), prefix="kasubag")
    page = text(site.browser("admin").get("/kelola/pengguna?role=Kasubag+PPHTI&office=BABEL"))
    listed = set(re.findall(r'<tr data-user="([^"]+)"', page))
    assert {holder, everywhere} <= listed and elsewhere not in listed
    assert all("Kasubag PPHTI @" in row for row in re.findall(r'<tr data-user=.*?</tr>', page, re.DOTALL))
