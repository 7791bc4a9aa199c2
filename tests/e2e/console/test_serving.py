"""The Function App serves the console itself: one page, one script, one style sheet, from the
app's own origin under /api/console/, with a policy that lets the page load nothing else."""
from __future__ import annotations

import gzip

import requests
from playwright.sync_api import expect

from jobs_api.console.blueprint import FIRST_LOAD

# What a first visit may download, compressed as the app sends it (a slow 3G link moves ~50 KB/s).
FIRST_LOAD_GZIP_BUDGET = 30_000


def test_the_console_is_served_under_the_api_with_its_policy(app_host):
    base = f"{app_host.base_url}/api/console"

    redirect = requests.get(base, allow_redirects=False, timeout=30)
    page = requests.get(f"{base}/", timeout=30)
    script = requests.get(f"{base}/console.js", timeout=30)
    style = requests.get(f"{base}/console.css", timeout=30)
    missing = requests.get(f"{base}/secrets.txt", timeout=30)
    cached = requests.get(f"{base}/console.js", headers={"If-None-Match": script.headers["ETag"]}, timeout=30)

    assert (redirect.status_code, redirect.headers["Location"]) == (301, "console/")  # relative: keeps any prefix
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert '<script src="console.js" defer></script>' in page.text and 'href="console.css"' in page.text
    assert script.headers["Content-Type"].startswith("text/javascript") and "'use strict'" in script.text
    assert style.headers["Content-Type"].startswith("text/css")
    for response in (page, script, style):
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy and "connect-src 'self'" in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Encoding"] == "gzip"  # requests asked for it
    assert missing.status_code == 404 and "not part of the console" in missing.text
    assert cached.status_code == 304 and not cached.content
    # A POST is not the console's: the API's own 404 in its error shape.
    assert requests.post(f"{base}/", timeout=30).json()["error"]["code"] == "NotFound"


def test_the_first_load_is_small(app_host):
    sizes = {}
    for name in FIRST_LOAD:
        response = requests.get(f"{app_host.base_url}/api/console/{name}", stream=True, timeout=30)
        sent = response.raw.read()  # as it crossed the wire, still compressed
        assert gzip.decompress(sent) == requests.get(f"{app_host.base_url}/api/console/{name}",
                                                     headers={"Accept-Encoding": "identity"}, timeout=30).content
        sizes[name or "index.html"] = len(sent)
    print(f"console first load, gzip: {sizes}, total {sum(sizes.values())} bytes")
    assert sum(sizes.values()) <= FIRST_LOAD_GZIP_BUDGET, sizes


def test_the_console_signs_in_with_the_development_token_and_talks_to_the_api_only(console, admin_token):
    page = console.open(admin_token)

    expect(page.get_by_text("Signed in with API token e2e-admin")).to_be_visible()
    expect(page.get_by_role("button", name="New", exact=True)).to_be_visible()
    api = f"{console.base_url}/api/"
    assert console.requests and all(url.startswith(api) for url in console.requests), console.requests
    # A reload keeps the tab signed in; signing out forgets the token.
    page.reload()
    expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_refused_token_is_said_in_words(console):
    page = console.page
    page.goto(console.url)
    page.get_by_label("API token").fill("SharedAccessSignature sr=bulk-jobs&sig=forged&skn=nobody&se=99999999999999")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("Your token was refused.")
    expect(page.get_by_label("API token")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
