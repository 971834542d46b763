"""Take the dashboard screenshots in docs/ (``make screenshots``): the demo operation, a real
server on loopback, and the system Chromium at laptop (1366×768) and phone (390×844) sizes, in
the light and the dark colour scheme."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from supportkpi import demo  # noqa: E402
from supportkpi.load.ingest import load  # noqa: E402
from supportkpi.store.store import Store  # noqa: E402
from tests.browser import chromium, sign_in  # noqa: E402
from tests.server import make_token, serving  # noqa: E402

SHOTS = {  # file: (width, height, colour scheme)
    "dashboard-1366x768.png": (1366, 768, "light"),
    "dashboard-390x844.png": (390, 844, "light"),
    "dashboard-dark-1366x768.png": (1366, 768, "dark"),
    "dashboard-dark-390x844.png": (390, 844, "dark"),
}


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        data = demo.generate()
        files = data.write(directory / "files")
        config = data.write_config(directory / "files")
        db = directory / "demo.duckdb"
        with Store.open(db) as store:
            load(store, files)
        token = make_token(db, "admin")
        with serving(db, "--config", config) as server, chromium() as browser:
            for name, (width, height, scheme) in SHOTS.items():
                page = browser.new_page(
                    viewport={"width": width, "height": height}, color_scheme=scheme
                )
                sign_in(page, server.url, token)
                page.wait_for_selector("#live[data-at]", state="attached")
                page.wait_for_timeout(500)  # let Plotly finish its transitions
                page.screenshot(path=ROOT / "docs" / name, full_page=True)
                print(f"docs/{name}")
                page.close()


if __name__ == "__main__":
    main()
