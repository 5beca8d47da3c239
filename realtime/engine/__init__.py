"""The engine core of ``face-live`` and its two transports: the step and its parts (stages, tracker,
scene cuts, stats, device, model reload, the checks before start); the local transport (threads:
``local``, ``views``) and the Ray transport (actors and a Serve deployment: ``ray_*``).

Importing this package imports nothing: each module is imported where it is used.
"""

__all__: list[str] = []
