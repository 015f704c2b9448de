"""requests: no index on batch_id (never looked up by it; a batch paid for it on every row)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 18:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:  # a plain DROP INDEX on every backend (no table rebuild)
    op.drop_index(op.f('ix_dsr_requests_batch_id'), table_name='dsr_requests')


def downgrade() -> None:
    op.create_index(op.f('ix_dsr_requests_batch_id'), 'dsr_requests', ['batch_id'],
                    unique=False)
