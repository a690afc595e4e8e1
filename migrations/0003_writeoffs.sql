-- Denials and write-offs: who may act, why money is written off, and the
-- write-offs themselves with their receipts.

-- People (and `system`) who act on the ledger, and what each may do.
CREATE TABLE actors (
    name        TEXT PRIMARY KEY,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO actors (name) VALUES ('system');

CREATE TABLE actor_scopes (
    actor  TEXT NOT NULL REFERENCES actors(name),
    scope  TEXT NOT NULL CHECK (scope IN ('billing.denial.write', 'billing.payment.write', 'billing.writeoff.approve')),
    PRIMARY KEY (actor, scope)
);

-- Why money is written off: reported by reason. Configurable; `other`
-- demands free text.
CREATE TABLE writeoff_reasons (
    code           TEXT PRIMARY KEY,
    label          TEXT NOT NULL,
    requires_note  BOOLEAN NOT NULL DEFAULT false
);
INSERT INTO writeoff_reasons (code, label, requires_note) VALUES
    ('contractual', 'Contractual adjustment', false),
    ('timely-filing-expired', 'Timely filing limit expired', false),
    ('non-covered', 'Service not covered', false),
    ('auth-denied-final', 'Authorization denied, final', false),
    ('patient-uncollectable', 'Patient balance uncollectable', false),
    ('small-balance', 'Small balance under threshold', false),
    ('bad-debt', 'Bad debt', false),
    ('other', 'Other (note required)', true);

-- A receipt: one per write-off action (single, bulk run, sweep run), so a
-- billing team can find a run again by its number.
CREATE TABLE writeoff_receipts (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('single', 'bulk', 'sweep', 'patient_responsibility')),
    actor       TEXT NOT NULL REFERENCES actors(name),
    reason      TEXT NOT NULL REFERENCES writeoff_reasons(code),
    note        TEXT,
    filter      JSONB NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One write-off. Its state moves (pending approval, posted, rejected,
-- undone); the money moves only through ledger entries, and every change is
-- in the audit log.
CREATE TABLE writeoffs (
    id                  BIGSERIAL PRIMARY KEY,
    receipt_id          BIGINT NOT NULL REFERENCES writeoff_receipts(id),
    denial_id           BIGINT REFERENCES denials(id),
    claim_id            BIGINT NOT NULL REFERENCES claims(id),
    service_line_id     BIGINT REFERENCES service_lines(id),
    amount              NUMERIC(14,2) NOT NULL CHECK (amount > 0),
    -- 'insurance' writes off what the payer side owes; 'patient' what the patient owes.
    bucket              TEXT NOT NULL CHECK (bucket IN ('insurance', 'patient')),
    reason              TEXT NOT NULL REFERENCES writeoff_reasons(code),
    note                TEXT,
    requested_by        TEXT NOT NULL REFERENCES actors(name),
    status              TEXT NOT NULL CHECK (status IN ('PENDING_APPROVAL', 'POSTED', 'REJECTED', 'UNDONE')),
    decided_by          TEXT REFERENCES actors(name),
    ledger_entry_id     BIGINT REFERENCES ledger_entries(id),
    reversal_entry_id   BIGINT REFERENCES ledger_entries(id),
    requested_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX writeoffs_denial ON writeoffs (denial_id);
CREATE INDEX writeoffs_claim ON writeoffs (claim_id);
CREATE INDEX writeoffs_receipt ON writeoffs (receipt_id);

-- The audit log names the write-off and receipt a row is about.
ALTER TABLE audit_log ADD COLUMN writeoff_id BIGINT REFERENCES writeoffs(id);
ALTER TABLE audit_log ADD COLUMN receipt_id BIGINT REFERENCES writeoff_receipts(id);
CREATE INDEX audit_log_actor ON audit_log (actor, at);

-- Tenant policy shared by every instance and every desk: whether a
-- write-off waits for a supervisor (`off`, `all`, or `above:AMOUNT`).
CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
INSERT INTO settings (key, value) VALUES ('writeoff.approval', 'off');
