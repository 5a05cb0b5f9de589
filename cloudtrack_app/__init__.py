"""CloudTrack, a self-hosted price and stock tracker.

Importing the package turns on log redaction for the whole process, so no entry point (the
app's workers, the command line, migrations, benchmarks) can log a secret before it is on.
"""

from cloudtrack_app.log_redaction import install_log_redaction

install_log_redaction()
