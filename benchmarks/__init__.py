"""Benchmarks of CloudTrack: a local shop serving saved pages, an app runner, and the benches.

They measure the runtime package from outside it, so they stay out of `cloudtrack_app` and out
of the container image; `python -m cloudtrack_app.cli bench …` runs them from a source checkout.
"""
