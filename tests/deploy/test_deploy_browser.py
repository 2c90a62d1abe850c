"""The demo page in a real browser: headless Chromium (Debian's, driven by Playwright) picks a
sample photo, and the overlay, its legend and the JSON appear.

Runs when a Chromium is installed (``/usr/bin/chromium`` or ``$CHROMIUM``); ``.ci/run``
installs it and sets ``GLUONEXT_REQUIRE_BROWSER=1``, which turns a missing browser into a
failure instead of a skip."""

import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("deploy")


def chromium_path() -> str | None:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")  # fmt: skip
    return found if found and Path(found).exists() else None


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        if os.environ.get("GLUONEXT_REQUIRE_BROWSER") == "1":
            pytest.fail("GLUONEXT_REQUIRE_BROWSER=1 but no Chromium: install Debian's chromium")
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             "--disable-quic"]  # fmt: skip
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, headless=True, args=flags)
        yield launched
        launched.close()


def test_a_photo_picked_on_the_page_shows_overlay_legend_and_json(browser, server, photos,
                                                                  tmp_path):  # fmt: skip
    url, _ = server
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.wait_for_function("document.querySelectorAll('#model option').length === 3")
    page.select_option("#model", "parts")
    page.set_input_files("#file", str(photos[0]))
    page.wait_for_selector("#overlay:not([hidden])", timeout=60_000)
    page.wait_for_function("document.getElementById('overlay').naturalWidth > 0")
    legend = page.locator("#legend li").all_inner_texts()
    assert [line.split()[0] for line in legend[:2]] == ["background", "upper"]
    assert all(line.endswith("%") for line in legend)
    assert '"fractions"' in page.locator("#json").inner_text()
    assert page.locator("#status").inner_text().startswith(photos[0].name)
    page.screenshot(path=str(tmp_path / "page.png"))
    assert (tmp_path / "page.png").stat().st_size > 5000

    page.select_option("#model", "landmarks")  # keypoints: the garment picker appears
    page.select_option("#category", "skirt")
    page.set_input_files("#file", str(photos[-1]))
    page.wait_for_function("document.getElementById('json').textContent.includes('hemline')")
    assert len(page.locator("#legend li").all_inner_texts()) == 4

    page.set_input_files("#file", {"name": "notes.jpg", "mimeType": "image/jpeg",
                                   "buffer": b"not a photo"})  # fmt: skip
    page.wait_for_function("document.getElementById('status').className === 'error'")
    assert "not a readable image" in page.locator("#status").inner_text()
    assert errors == []
