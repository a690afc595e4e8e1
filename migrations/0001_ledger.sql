-- remitd schema: claims as the practice-management system knows them, the
-- remittances that pay them, and the append-only ledger and audit trail.
--
-- Money is NUMERIC(14,2); balances are never stored, only derived from
-- ledger_entries. The ledger and the audit log refuse UPDATE and DELETE.

CREATE TABLE payers (
    id          BIGSERIAL PRIMARY KEY,
    payer_code  TEXT NOT NULL UNIQUE,          -- the practice's payer id (claims CSV)
    name        TEXT
);

-- A patient account. patient_name is PHI: shown to billing staff, never logged.
CREATE TABLE accounts (
    id              BIGSERIAL PRIMARY KEY,
    account_number  TEXT NOT NULL UNIQUE,
    patient_name    TEXT NOT NULL
);

CREATE TABLE claims (
    id                BIGSERIAL PRIMARY KEY,
    claim_id          TEXT NOT NULL UNIQUE,    -- patient control number sent on the 837 (CLP01)
    account_id        BIGINT NOT NULL REFERENCES accounts(id),
    payer_id          BIGINT NOT NULL REFERENCES payers(id),
    service_date      DATE NOT NULL,
    last_billed_date  DATE,
    times_billed      INTEGER NOT NULL DEFAULT 0 CHECK (times_billed >= 0),
    imported_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Matching falls back to trimmed, case-insensitive ids and to prefixes.
CREATE INDEX claims_claim_id_folded ON claims (upper(btrim(claim_id)) text_pattern_ops);

CREATE TABLE service_lines (
    id                   BIGSERIAL PRIMARY KEY,
    claim_id             BIGINT NOT NULL REFERENCES claims(id),
    line_number          INTEGER NOT NULL CHECK (line_number > 0),
    line_control_number  TEXT,                 -- REF*6R as sent on the 837
    procedure            TEXT NOT NULL,
    modifiers            TEXT[] NOT NULL DEFAULT '{}',
    charge               NUMERIC(14,2) NOT NULL,
    UNIQUE (claim_id, line_number)
);

-- Every file remitd has seen, identified by content, with what became of it.
CREATE TABLE ingested_files (
    id              BIGSERIAL PRIMARY KEY,
    content_hash    BYTEA NOT NULL UNIQUE,     -- SHA-256 of the bytes
    file_name       TEXT NOT NULL,
    size_bytes      BIGINT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('processing', 'posted', 'refused', 'test')),
    refusal_reason  TEXT,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at     TIMESTAMPTZ
);

-- One 835 transaction set (one payment) that was posted.
CREATE TABLE remittances (
    id                   BIGSERIAL PRIMARY KEY,
    file_id              BIGINT NOT NULL REFERENCES ingested_files(id),
    interchange_control  TEXT NOT NULL,        -- ISA13
    transaction_control  TEXT NOT NULL,        -- ST02
    payer_key            TEXT NOT NULL,        -- TRN03: who issued the trace number
    payer_name           TEXT NOT NULL,
    trace_number         TEXT NOT NULL,        -- TRN02
    payment_amount       NUMERIC(14,2) NOT NULL,
    payment_date         DATE,
    handling_code        TEXT NOT NULL,
    posted_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (payer_key, trace_number)           -- a payment posts once
);

-- One CLP posted against a claim: what reversals find and negate.
CREATE TABLE claim_postings (
    id                          BIGSERIAL PRIMARY KEY,
    remittance_id               BIGINT NOT NULL REFERENCES remittances(id),
    claim_id                    BIGINT NOT NULL REFERENCES claims(id),
    status_code                 TEXT NOT NULL,
    charge                      NUMERIC(14,2) NOT NULL,
    paid                        NUMERIC(14,2) NOT NULL,
    payer_claim_control_number  TEXT,
    original_reference          TEXT,          -- REF*F8
    reverses_posting_id         BIGINT REFERENCES claim_postings(id),
    posted_at                   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX claim_postings_claim ON claim_postings (claim_id);
CREATE UNIQUE INDEX claim_postings_reversed_once ON claim_postings (reverses_posting_id) WHERE reverses_posting_id IS NOT NULL;

-- The ledger. Amounts are signed: a reversal is a new entry with the negated
-- amount pointing at the entry it reverses.
CREATE TABLE ledger_entries (
    id                BIGSERIAL PRIMARY KEY,
    claim_id          BIGINT REFERENCES claims(id),          -- NULL: provider-level only
    service_line_id   BIGINT REFERENCES service_lines(id),
    remittance_id     BIGINT REFERENCES remittances(id),
    claim_posting_id  BIGINT REFERENCES claim_postings(id),
    kind              TEXT NOT NULL CHECK (kind IN (
                          'payment', 'contractual', 'other_adjustment', 'patient_responsibility',
                          'denial', 'interest', 'provider_adjustment', 'reversal',
                          'write_off', 'write_off_reversal')),
    -- For kind = 'reversal': the kind of the entry reversed, so balances net out.
    reversed_kind     TEXT,
    group_code        TEXT,                                  -- CAS group (CO, PR, OA, PI, CR)
    reason_code       TEXT,                                  -- CARC, or PLB reason
    amount            NUMERIC(14,2) NOT NULL,
    reverses_entry_id BIGINT REFERENCES ledger_entries(id),
    actor             TEXT NOT NULL,
    memo              TEXT,
    posted_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((kind = 'reversal') = (reversed_kind IS NOT NULL AND reverses_entry_id IS NOT NULL))
);
CREATE INDEX ledger_entries_claim ON ledger_entries (claim_id);
CREATE INDEX ledger_entries_posting ON ledger_entries (claim_posting_id);

-- Denials: a payer refused to pay part or all of a claim. The amount is
-- what was denied; what remains owed is derived from the ledger.
CREATE TABLE denials (
    id                BIGSERIAL PRIMARY KEY,
    claim_id          BIGINT NOT NULL REFERENCES claims(id),
    service_line_id   BIGINT REFERENCES service_lines(id),
    claim_posting_id  BIGINT NOT NULL REFERENCES claim_postings(id),
    status            TEXT NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'APPEAL_PENDING', 'PENDING_WRITEOFF', 'WRITE_OFF', 'RESOLVED')),
    amount            NUMERIC(14,2) NOT NULL,
    reason_codes      TEXT[] NOT NULL,
    opened_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX denials_claim ON denials (claim_id);

-- Who did what, when, why, for how much. Append-only.
CREATE TABLE audit_log (
    id         BIGSERIAL PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    claim_id   BIGINT REFERENCES claims(id),
    denial_id  BIGINT REFERENCES denials(id),
    reason     TEXT,
    amount     NUMERIC(14,2),
    detail     JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_claim ON audit_log (claim_id);

-- Claims from a remittance that matched nothing: kept whole so they can post
-- later, once the missing claim is imported.
CREATE TABLE unmatched_claims (
    id              BIGSERIAL PRIMARY KEY,
    remittance_id   BIGINT NOT NULL REFERENCES remittances(id),
    claim_ref       TEXT NOT NULL,             -- CLP01 as sent
    reason          TEXT NOT NULL,
    needed          TEXT NOT NULL,
    claim           JSONB NOT NULL,            -- the claim as parsed (model::Claim)
    state           TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'posted')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at     TIMESTAMPTZ
);
CREATE INDEX unmatched_claims_open ON unmatched_claims (state) WHERE state = 'open';

-- Which CARCs are contractual and which are denials, by group. Data, not
-- code: the lists change several times a year. A CARC in neither list posts
-- as an other adjustment.
CREATE TABLE carc_categories (
    group_code   TEXT NOT NULL,
    reason_code  TEXT NOT NULL,
    category     TEXT NOT NULL CHECK (category IN ('contractual', 'denial')),
    PRIMARY KEY (group_code, reason_code)
);
INSERT INTO carc_categories (group_code, reason_code, category)
SELECT g, r, 'contractual' FROM unnest(ARRAY['CO', 'PI', 'OA']) AS groups(g),
    unnest(ARRAY['45', '253', '97', '59', '94', '131', '144', '234', '237', '42', '44']) AS reasons(r);
INSERT INTO carc_categories (group_code, reason_code, category)
SELECT g, r, 'denial' FROM unnest(ARRAY['CO', 'PI', 'OA']) AS groups(g),
    unnest(ARRAY['4', '5', '6', '7', '8', '9', '11', '15', '16', '18', '26', '27', '29', '31', '39', '40', '49', '50',
                 '51', '54', '55', '56', '58', '96', '107', '109', '119', '146', '149', '151', '167', '170', '181',
                 '182', '183', '184', '185', '186', '187', '188', '189', '190', '191', '192', '193', '197', '198',
                 '199', '200', '204', '206', '207', '208', '219', '222', '226', '227', '231', '236', '242', '252', 'B7', 'B9', 'B11', 'B12', 'B13', 'B15', 'B16', 'B20', 'B22']) AS reasons(r)
ON CONFLICT DO NOTHING;

-- History is never edited.
CREATE FUNCTION refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed; post a correcting entry instead', TG_TABLE_NAME, TG_OP;
END;
$$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
