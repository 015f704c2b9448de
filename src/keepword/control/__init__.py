"""keepword's control store (requests, journal, consent, audit...)."""

from keepword.control.base import Base, UTCDateTime, utcnow
from keepword.control.store import ControlStore

__all__ = ["Base", "ControlStore", "UTCDateTime", "utcnow"]
