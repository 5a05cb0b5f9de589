"""The REST API under /api/v1: personal access tokens (`tokens`) and the HTTP app (`app`).

`tokens` is plain core code (the settings page and the CLI use it); `app` is the FastAPI
application that `cloudtrack_app.py` mounts. Importing this package imports neither.
"""
