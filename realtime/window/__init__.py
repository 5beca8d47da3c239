"""What ``face-live`` shows: the window and the video files written (``sinks``), the overlay drawn on
the frames, and the start-up screen shown while the models load.

Importing this package imports nothing: each module is imported where it is used.
"""

__all__: list[str] = []
