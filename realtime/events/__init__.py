"""What happened in a ``face-live`` run and where it goes: the event records, the one writer
(``writer``; under Ray the log actor, ``ray_hub``) and the hub, the faces kept, and the consumers
that send events out (webhooks, MQTT).

Importing this package imports nothing: each module is imported where it is used.
"""

__all__: list[str] = []
