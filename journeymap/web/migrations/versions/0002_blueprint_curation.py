"""blueprint curation: snapshots of blueprint.yaml, accepted touchpoint changes, refused (conflicting) edits

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blueprint_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("blueprint_snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blueprint_snapshots_version"), ["version"], unique=True)

    op.create_table(
        "blueprint_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("who", sa.String(length=254), nullable=True),
        sa.Column("touchpoint", sa.String(length=200), nullable=False),
        sa.Column("new_name", sa.String(length=200), nullable=False),
        sa.Column("version_before", sa.String(length=64), nullable=False),
        sa.Column("version_after", sa.String(length=64), nullable=False),
        sa.Column("after_seq", sa.Integer(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("blueprint_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blueprint_changes_created"), ["created"], unique=False)
        batch_op.create_index(batch_op.f("ix_blueprint_changes_touchpoint"), ["touchpoint"], unique=False)
        batch_op.create_index(batch_op.f("ix_blueprint_changes_version_after"), ["version_after"], unique=False)

    op.create_table(
        "blueprint_conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("touchpoint", sa.String(length=200), nullable=False),
        sa.Column("base_version", sa.String(length=64), nullable=False),
        sa.Column("current_version", sa.String(length=64), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("theirs", sa.JSON(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("blueprint_conflicts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blueprint_conflicts_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("blueprint_conflicts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blueprint_conflicts_user_id"))
    op.drop_table("blueprint_conflicts")
    with op.batch_alter_table("blueprint_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blueprint_changes_version_after"))
        batch_op.drop_index(batch_op.f("ix_blueprint_changes_touchpoint"))
        batch_op.drop_index(batch_op.f("ix_blueprint_changes_created"))
    op.drop_table("blueprint_changes")
    with op.batch_alter_table("blueprint_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blueprint_snapshots_version"))
    op.drop_table("blueprint_snapshots")
