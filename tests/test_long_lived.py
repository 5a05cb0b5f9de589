"""A long-running process leaves what it loaded at start out of garbage collection, once."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_startup_objects_are_frozen_once_per_process() -> None:
    script = textwrap.dedent(
        """
        import gc
        from cloudtrack_app.long_lived import freeze_startup_objects

        assert gc.get_freeze_count() == 0
        freeze_startup_objects()
        frozen = gc.get_freeze_count()
        assert frozen > 1000, frozen
        later = [[] for _ in range(5000)]
        freeze_startup_objects()
        assert gc.get_freeze_count() == frozen, "a second call froze again"
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
