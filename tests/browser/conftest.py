from __future__ import annotations

from playwright.sync_api import expect

# Two cores shared by the live server, the browser and the test: give slow
# moments room rather than fail on the default 5 s.
expect.set_options(timeout=15_000)
