# Shortcuts for the scripts in scripts/ (the README's two commands work without make).
.PHONY: run test lint format migrate migration bench-extraction bench-checks

run:
	scripts/run.sh

test:
	scripts/test.sh

lint:
	. scripts/env.sh && ruff check . && ruff format --check cloudtrack_app benchmarks tests

format:
	. scripts/env.sh && ruff check --fix . && ruff format cloudtrack_app benchmarks tests

migrate:
	. scripts/env.sh && reflex db migrate

# New migration after a model change: make migration MESSAGE="what changed"
migration:
	. scripts/env.sh && reflex db makemigrations --message "$(MESSAGE)"
	sed -i 's/cloudtrack_app\.models\.UTCDateTime(timezone=True)/sa.DateTime(timezone=True)/g' alembic/versions/*.py
