"""The posting subledger (event_lines), batch windows, journals and their outbox state, configuration
versions, accounting periods, and the embedded general ledger.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 22:32:27.042385
"""

import sqlalchemy as sa
from alembic import op

import revbridge.store.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('batch_windows',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('legal_entity', sa.String(length=32), nullable=False),
    sa.Column('opened_at', revbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('line_count', sa.Integer(), nullable=False),
    sa.Column('closed_at', revbridge.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_batch_windows'))
    )
    with op.batch_alter_table('batch_windows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_batch_windows_legal_entity'), ['legal_entity'], unique=False)

    op.create_table('config_versions',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=512), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('proposed_by', sa.String(length=128), nullable=False),
    sa.Column('proposed_at', revbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('approved_by', sa.String(length=128), nullable=True),
    sa.Column('approved_at', revbridge.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_config_versions'))
    )
    op.create_table('event_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_key', sa.String(length=512), nullable=False),
    sa.Column('document_key', sa.String(length=512), nullable=False),
    sa.Column('revision', sa.String(length=64), nullable=False),
    sa.Column('lane', sa.String(length=16), nullable=False),
    sa.Column('legal_entity', sa.String(length=32), nullable=False),
    sa.Column('posting_date', sa.Date(), nullable=False),
    sa.Column('moved_from', sa.Date(), nullable=True),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('facility', sa.String(length=64), nullable=False),
    sa.Column('cost_center', sa.String(length=64), nullable=False),
    sa.Column('payer_class', sa.String(length=64), nullable=False),
    sa.Column('service_line', sa.String(length=64), nullable=False),
    sa.Column('window_key', sa.String(length=128), nullable=True),
    sa.Column('journal_id', sa.String(length=64), nullable=True),
    sa.Column('journal_line_id', sa.BigInteger(), nullable=True),
    sa.Column('received_at', revbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_at', revbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_lines'))
    )
    with op.batch_alter_table('event_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_lines_event_key'), ['event_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_lines_journal_id'), ['journal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_lines_window_key'), ['window_key'], unique=False)

    op.create_table('gl_documents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('legal_entity', sa.String(length=32), nullable=False),
    sa.Column('posting_date', sa.Date(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('posted_at', revbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gl_documents')),
    sa.UniqueConstraint('reference', name=op.f('uq_gl_documents_reference'))
    )
    op.create_table('journals',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('lane', sa.String(length=16), nullable=False),
    sa.Column('legal_entity', sa.String(length=32), nullable=False),
    sa.Column('posting_date', sa.Date(), nullable=False),
    sa.Column('reference', sa.String(length=512), nullable=False),
    sa.Column('moved_from', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('connector', sa.String(length=32), nullable=False),
    sa.Column('erp_document', sa.String(length=128), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('uncertain', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', revbridge.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_expires_at', revbridge.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('first_received_at', revbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_at', revbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('posted_at', revbridge.store.types.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journals'))
    )
    with op.batch_alter_table('journals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_journals_legal_entity'), ['legal_entity'], unique=False)
        batch_op.create_index(batch_op.f('ix_journals_status'), ['status'], unique=False)

    op.create_table('periods',
    sa.Column('legal_entity', sa.String(length=32), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('changed_by', sa.String(length=128), nullable=False),
    sa.Column('changed_at', revbridge.store.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('legal_entity', 'period', name=op.f('pk_periods'))
    )
    op.create_table('gl_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('document_id', sa.BigInteger(), nullable=False),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('debit_minor', sa.BigInteger(), nullable=False),
    sa.Column('credit_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('cost_center', sa.String(length=64), nullable=False),
    sa.Column('payer_class', sa.String(length=64), nullable=False),
    sa.Column('facility', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['gl_documents.id'], name=op.f('fk_gl_entries_document_id_gl_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gl_entries'))
    )
    with op.batch_alter_table('gl_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gl_entries_document_id'), ['document_id'], unique=False)

    op.create_table('journal_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('journal_id', sa.String(length=64), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('debit_minor', sa.BigInteger(), nullable=False),
    sa.Column('credit_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('facility', sa.String(length=64), nullable=False),
    sa.Column('cost_center', sa.String(length=64), nullable=False),
    sa.Column('payer_class', sa.String(length=64), nullable=False),
    sa.Column('service_line', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['journal_id'], ['journals.id'], name=op.f('fk_journal_lines_journal_id_journals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_lines'))
    )
    with op.batch_alter_table('journal_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_journal_lines_journal_id'), ['journal_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('journal_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_lines_journal_id'))

    op.drop_table('journal_lines')
    with op.batch_alter_table('gl_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gl_entries_document_id'))

    op.drop_table('gl_entries')
    op.drop_table('periods')
    with op.batch_alter_table('journals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journals_status'))
        batch_op.drop_index(batch_op.f('ix_journals_legal_entity'))

    op.drop_table('journals')
    op.drop_table('gl_documents')
    with op.batch_alter_table('event_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_lines_window_key'))
        batch_op.drop_index(batch_op.f('ix_event_lines_journal_id'))
        batch_op.drop_index(batch_op.f('ix_event_lines_event_key'))

    op.drop_table('event_lines')
    op.drop_table('config_versions')
    with op.batch_alter_table('batch_windows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_batch_windows_legal_entity'))

    op.drop_table('batch_windows')
