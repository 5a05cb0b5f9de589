"""What pages show, built from the core: plain functions returning frozen dataclasses of
display-ready text (money and time already formatted for the viewer).

No Reflex here, so the same views serve the states, the CLI and the benches, and are
tested with plain pytest; the states only hand them to the browser.
"""
