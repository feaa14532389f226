"""md_escape in Chromium (issue [C] 8): hostile text through every kind of Markdown the pages use comes out
as the same characters, with no link, image, formatting, directive or formula from it. AppTest sees only the
Markdown source; GFM's autolinks, for one, happen in the browser."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_browser_e2e import CHROMIUM, _free_port, _wait_http, sync_api

APP = Path(__file__).resolve().parent / "apps" / "markdown_escape_app.py"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def page_url(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("md-app") / "streamlit.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1"), stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    try:
        _wait_http(f"http://127.0.0.1:{port}/_stcore/health")
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_escaped_text_renders_as_typed_with_no_markup(page_url):
    from tests.apps.markdown_escape_app import HOSTILE

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page()
        page.goto(page_url)
        main = page.locator("[data-testid=stMain]")
        sync_api.expect(main.locator("[data-testid=stAlert]")).to_be_visible()
        links = [a.get_attribute("href") for a in main.locator("a").all()]
        counts = {selector: main.locator(selector).count()
                  for selector in ("img", "strong", "em", "code", ".katex", "[data-testid=stIconMaterial]")}
        texts = [t.replace("\u200b", "").strip() for t in
                 main.locator("h1, [data-testid=stMarkdownContainer]").all_inner_texts()]
        browser.close()
    assert not [href for href in links if "evil" in href and not href.startswith("#")], links
    assert counts == dict.fromkeys(counts, 0), counts
    assert texts and all(text == HOSTILE for text in texts if text), texts
