-- Bank files (ACH, BAI2) and the deposits they report: the money side of
-- reassociating payments with remittances. Like a remittance, what a bank
-- file brings is the daemon's to write (`remitd deposits import` on its
-- login); people read it. A file is read once: its bytes' hash is unique,
-- and a refused file may be tried again (its row is updated).
CREATE TABLE bank_files (
    id              BIGSERIAL PRIMARY KEY,
    content_hash    BYTEA NOT NULL UNIQUE,     -- SHA-256 of the bytes
    file_name       TEXT NOT NULL,
    kind            TEXT CHECK (kind IN ('ach', 'bai2')),
    state           TEXT NOT NULL CHECK (state IN ('reading', 'read', 'refused')),
    refusal_reason  TEXT,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((state = 'refused') = (refusal_reason IS NOT NULL))
);

-- One movement of money: a credit (a payment) or a debit (a payer taking
-- money back), with what ties it to its remittance (the 835's TRN, or for
-- a check deposit the check number in customer_reference).
CREATE TABLE deposits (
    id                  BIGSERIAL PRIMARY KEY,
    bank_file_id        BIGINT NOT NULL REFERENCES bank_files(id),
    credit              BOOLEAN NOT NULL,
    amount              NUMERIC(16,2) NOT NULL CHECK (amount >= 0),
    deposit_date        DATE,
    payer_name          TEXT NOT NULL,
    trace_number        TEXT,
    payer_id            TEXT,
    bank_reference      TEXT NOT NULL,
    customer_reference  TEXT
);
CREATE INDEX deposits_file ON deposits (bank_file_id);
CREATE INDEX deposits_trace ON deposits (trace_number) WHERE trace_number IS NOT NULL;

CREATE TRIGGER bank_files_only_the_daemon BEFORE INSERT OR UPDATE OR DELETE ON bank_files
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_only_the_daemon('it reads bank files');
CREATE TRIGGER deposits_only_the_daemon BEFORE INSERT OR UPDATE OR DELETE ON deposits
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_only_the_daemon('it reads bank files');
