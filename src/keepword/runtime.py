"""The runtime context: settings, control store, keys and the audit log, built on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from keepword.audit import AuditLog, chain_key
from keepword.control import ControlStore
from keepword.identities import IdentityHasher
from keepword.settings import Settings, load_settings


@dataclass
class Keepword:
    """Everything a face needs, built from settings (never at import time)."""

    settings: Settings = field(default_factory=load_settings)

    @cached_property
    def control(self) -> ControlStore:
        return ControlStore.open(self.settings.control_store_url())

    @cached_property
    def master_key(self) -> bytes:
        return self.settings.key()

    @cached_property
    def hasher(self) -> IdentityHasher:
        return IdentityHasher(self.master_key)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(chain_key(self.master_key))

    def close(self) -> None:
        if "control" in self.__dict__:
            self.control.dispose()
