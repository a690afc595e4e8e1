-- Every ledger entry a write-off posts names it, so undoing a write-off
-- reverses exactly its entries (a patient-responsibility write-off posts two
-- per reason code).
ALTER TABLE ledger_entries ADD COLUMN writeoff_id BIGINT REFERENCES writeoffs(id);
CREATE INDEX ledger_entries_writeoff ON ledger_entries (writeoff_id) WHERE writeoff_id IS NOT NULL;
