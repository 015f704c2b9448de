"""The control-store tables of consent, preferences, disclosures and integrations
(imported by ``keepword.control.tables`` so Alembic sees them)."""

from keepword import disclosures
from keepword.consent import ledger, preferences

__all__ = ["disclosures", "ledger", "preferences"]
