"""The multipart event state machine, shared by the encoder and the decoder.

A multipart body is the event sequence::

    (PartStart PartData* PartEnd)* MultipartEnd

The table maps ``(state, event type) -> next state``; anything not in it is a misordered
event. The encoder rejects such events with :class:`UsageError`; the decoder only ever emits
sequences the table allows (a property test checks this).
"""

from __future__ import annotations

import enum

from ._events import MultipartEnd, PartData, PartEnd, PartStart

__all__ = ["TRANSITIONS", "State", "next_state"]


class State(enum.Enum):
    BETWEEN_PARTS = "between parts"  # before the first part, or after a PartEnd
    IN_PART = "in a part"  # after PartStart, before PartEnd
    DONE = "done"  # after MultipartEnd


TRANSITIONS: dict[tuple[State, type], State] = {
    (State.BETWEEN_PARTS, PartStart): State.IN_PART,
    (State.BETWEEN_PARTS, MultipartEnd): State.DONE,
    (State.IN_PART, PartData): State.IN_PART,
    (State.IN_PART, PartEnd): State.BETWEEN_PARTS,
}


def next_state(state: State, event: object) -> State | None:
    """Return the state after ``event``, or ``None`` when the event is not allowed."""
    return TRANSITIONS.get((state, type(event)))
