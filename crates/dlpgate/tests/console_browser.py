"""The web console in a real browser (Debian's chromium, headless, driven by Playwright).

Run by tests/console_browser.rs with: BASE_URL USER PASSWORD INCIDENT_ID FILE_NAME
TEST_FILE SCREENSHOT_DIR. Logs in, finds the incident a c-icap-client request just caused,
filters to it, opens it, marks it resolved, and tests a file in the policy tester. Saves a
screenshot of each page. Exits non-zero (with the reason) on any failure.
"""

import os
import sys

from playwright.sync_api import expect, sync_playwright

base, user, password, incident, file_name, test_file, shots = sys.argv[1:8]
os.makedirs(shots, exist_ok=True)
console_errors = []


def shot(page, name):
    page.screenshot(path=os.path.join(shots, f"{name}.png"), full_page=True)


with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    )
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.set_default_timeout(15000)
    # A CSP violation (an inline style or script the policy does not allow) is a failure;
    # the expected 401 of the wrong password and the favicon's 404 are not.
    page.on(
        "console",
        lambda m: console_errors.append(m.text)
        if m.type == "error" and ("Content Security Policy" in m.text or "Refused" in m.text)
        else None,
    )

    # Any page without a session leads to the login form.
    page.goto(f"{base}/incidents")
    expect(page).to_have_url(f"{base}/login")
    shot(page, "01-login")
    page.fill("input[name=name]", user)
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("Wrong name or password")
    page.fill("input[name=name]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/")
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator("svg").first).to_be_visible()
    # The server's own metrics: the c-icap-client's OPTIONS and REQMOD at least.
    server_box = page.locator("div.box", has_text="Requests per second")
    expect(server_box).to_contain_text("engine latency p50")
    answered = int(server_box.inner_text().split("since start: ")[1].split()[0])
    assert answered >= 2, server_box.inner_text()
    expect(page.locator("div.box", has_text="Incident store")).to_contain_text("Reachable")
    # The SIEM sink nobody listens on: its incident queued, its failures and last error.
    sink = page.locator("#siem-sinks tbody tr", has_text=os.environ["SIEM_URL"])
    expect(sink).to_have_count(1)
    expect(sink).not_to_contain_text("none", timeout=20000)  # a last error, once it has tried
    page.reload()
    shot(page, "02-dashboard")

    # The incident is in the list; filter to it by rule, action and file name.
    page.click("header >> text=Incidents")
    expect(page.locator("tbody tr").first).to_contain_text(file_name)
    page.fill("input[name=rule]", "credit-card")
    page.select_option("select[name=action]", "block")
    page.fill("input[name=q]", file_name)
    page.click("form.filters button[type=submit]")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("credit-card")
    expect(rows.first).to_contain_text("new")
    shot(page, "03-incidents-filtered")

    # Open it: masked evidence only, the ICAP context and the hash.
    rows.first.locator("a").first.click()
    expect(page).to_have_url(f"{base}/incidents/{incident}")
    body = page.locator("main")
    expect(body).to_contain_text("4111********1111")
    expect(body).not_to_contain_text("4111 1111 1111 1111")
    expect(body).to_contain_text("reqmod (REQMOD)")
    expect(body).to_contain_text(file_name)
    shot(page, "04-incident")

    # Mark it resolved.
    page.select_option("select[name=status]", "resolved")
    page.fill("input[name=note]", "test upload, card is a test number")
    page.click("form[action$='/triage'] button[type=submit]")
    expect(page).to_have_url(f"{base}/incidents/{incident}")
    expect(body).to_contain_text(f"Status: resolved — set by {user}")
    expect(body).to_contain_text("test upload, card is a test number")
    shot(page, "05-incident-resolved")

    # The list shows the new status, and the status filter finds it.
    page.goto(f"{base}/incidents?status=resolved")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr").first).to_contain_text("resolved")

    # The policy page names the version and ISTag.
    page.click("header >> text=Policy")
    expect(page.locator("main")).to_contain_text("ISTag")
    expect(page.locator("main")).to_contain_text("credit-card")
    shot(page, "06-policy")

    # The tester: the file is blocked, with masked evidence.
    page.click("header >> text=Tester")
    page.set_input_files("input[name=file]", test_file)
    page.click("form[action='/policy/test'] button[type=submit]")
    verdict = page.locator("#verdict")
    expect(verdict).to_contain_text("BLOCK")
    expect(verdict).to_contain_text("credit-card")
    expect(verdict).to_contain_text("4111********1111")
    expect(verdict).not_to_contain_text("4111 1111 1111 1111")
    shot(page, "07-tester-block")
    # Pasted harmless text is allowed.
    page.fill("textarea[name=text]", "minutes of the weekly meeting")
    page.click("form[action='/policy/test'] button[type=submit]")
    expect(page.locator("#verdict")).to_contain_text("ALLOW")

    # A connector to this server over icaps, with its CA uploaded in the wizard: the
    # four-step connectivity test passes.
    page.click("header >> text=Connectors")
    page.fill("form[action='/connectors'] input[name=name]", "local-dlp")
    page.fill("textarea[name=servers]", os.environ["ICAPS_URL"])
    page.set_input_files("input[name=trust]", os.environ["CA_FILE"])
    page.click("form[action='/connectors'] button[type=submit]")
    expect(page.locator("tbody")).to_contain_text("local-dlp")
    page.locator("tr", has_text="local-dlp").get_by_role("button", name="Test").click()
    result = page.locator("#connector-test")
    expect(result).to_contain_text("PASSED", timeout=60000)
    for step in ["1. connect", "2. TLS", "3. OPTIONS", "4. samples"]:
        expect(result.locator("tr", has_text=step).first).to_contain_text("ok")
    shot(page, "10-connector-test")
    # One whose server is down fails at step 1, saying what to do.
    page.fill("form[action='/connectors'] input[name=name]", "dead-dlp")
    page.fill("textarea[name=servers]", os.environ["DEAD_URL"])
    page.click("form[action='/connectors'] button[type=submit]")
    page.locator("tr", has_text="dead-dlp").get_by_role("button", name="Test").click()
    result = page.locator("#connector-test")
    expect(result).to_contain_text("FAILED", timeout=60000)
    expect(result.locator("tr", has_text="1. connect")).to_contain_text("FAILED")
    expect(result).to_contain_text("what to do")
    shot(page, "11-connector-failure")

    # A scan job through the icaps connector: progress, then every file's result.
    page.click("text=Run a scan job")
    page.fill("input[name=path]", os.environ["SCAN_DIR"])
    page.select_option("select[name=connector]", "local-dlp")
    page.click("form[action='/scans'] button[type=submit]")
    expect(page.locator("#scan-counts")).to_contain_text("Files:")
    shot(page, "12-scan-job-progress")
    expect(page.locator("#scan-status")).to_have_text("finished", timeout=60000)
    expect(page.locator("#scan-counts")).to_contain_text("42 / 42")
    expect(page.locator("#scan-counts")).to_contain_text("1 blocked")
    expect(page.locator("#scan-counts")).to_contain_text("41 allowed")
    card = page.locator("#scan-results tr", has_text="cards.txt")
    expect(card).to_contain_text("block")
    expect(card).to_contain_text("credit-card")
    expect(card).to_contain_text("4111********1111")
    expect(page.locator("main")).not_to_contain_text("4111 1111 1111 1111")
    expect(page.locator("#scan-results tr", has_text="clean.txt")).to_contain_text("allow")
    expect(page.locator("meta[http-equiv=refresh]")).to_have_count(0)
    shot(page, "13-scan-job-results")

    page.click("header >> text=Audit log")
    expect(page.locator("main")).to_contain_text("login_failed")
    expect(page.locator("main")).to_contain_text("triage")
    expect(page.locator("main")).to_contain_text("connector_test")
    expect(page.locator("main")).to_contain_text("scan_start")
    shot(page, "08-audit")
    page.click("header >> text=Certificates")
    shot(page, "09-certificates")

    # Logging out ends the session.
    page.click("text=Log out")
    expect(page).to_have_url(f"{base}/login")
    page.goto(f"{base}/incidents/{incident}")
    expect(page).to_have_url(f"{base}/login")
    browser.close()

if console_errors:
    print("browser console errors:", console_errors, file=sys.stderr)
    sys.exit(1)
print("console browser test passed")
