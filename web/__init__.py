"""The web app: live tiles, people, review, events and an HTTP API (``face-web``, ``face-live --web``).

A package of its own above ``facecore``, ``enroll`` and ``realtime`` (it imports all three;
none of them imports it). FastAPI + uvicorn + Jinja2 templates + a little plain JavaScript
vendored in ``web/static`` (no build step, nothing fetched at run time).
"""
