"""Screenshots of the five pages the desk and the reps live on, for before/after comparisons.

    .venv/bin/python docs/screens/capture.py http://127.0.0.1:5077 docs/screens/before

Needs a server with the demo data (`villa demo`) and Debian's chromium. Saves full-page PNGs named
<page>-<width>.png at 1024x768 (tablet) and 390x844 (phone).
"""

import argparse
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

PASSWORD = "villa-demo-2026"
VIEWPORTS = ({"width": 1024, "height": 768}, {"width": 390, "height": 844})
CONTEXT = {"locale": "zh-CN", "device_scale_factor": 1, "has_touch": True}
# A full page bigger than this is saved as the first screen plus a second one further down.
MAX_BYTES = 1_500_000


def log_in(page, base, username):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)  # the desk lands on /reception/, others on /


def own_client_url(page, base):
    """The first customer of the rep's own list (the rep is logged in)."""
    page.goto(f"{base}/customers/?owner=me")
    href = page.locator("#customer-rows a[href^='/customers/']").first.get_attribute("href")
    return f"{base}{href}"


def shoot(page, url, folder, name, width):
    page.goto(url)
    page.wait_for_load_state("networkidle")
    path = folder / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    if path.stat().st_size > MAX_BYTES:
        page.screenshot(path=str(path))
        page.evaluate("window.scrollTo(0, window.innerHeight)")
        page.screenshot(path=str(folder / f"{name}-{width}-2.png"))
    print(path)


def capture(base, folder):
    folder.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for viewport in VIEWPORTS:
            width = viewport["width"]
            for username, pages in (
                ("reception", (("desk", "/reception/"), ("register", "/reception/register"))),
                ("rep", (("customers", "/customers/"), ("client", None))),
                ("manager", (("review", "/review/"),)),
            ):
                context = browser.new_context(viewport=viewport, **CONTEXT)
                page = context.new_page()
                log_in(page, base, username)
                for name, path in pages:
                    url = own_client_url(page, base) if path is None else f"{base}{path}"
                    shoot(page, url, folder, name, width)
                context.close()
        browser.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", help="e.g. http://127.0.0.1:5077")
    parser.add_argument("folder", type=Path, help="where the PNGs go")
    args = parser.parse_args()
    capture(args.base_url.rstrip("/"), args.folder)


if __name__ == "__main__":
    main()
