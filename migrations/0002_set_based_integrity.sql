-- Referential integrity for the ledger, checked per statement instead of
-- per row.
--
-- A row-level foreign key takes a FOR KEY SHARE lock on the referenced row
-- for every ledger entry: with five entries a claim, that was most of the
-- cost of posting. Instead:
-- 1. one AFTER INSERT ... FOR EACH STATEMENT trigger checks every new entry's
--    references with set-based anti-joins and aborts the statement if any
--    points nowhere;
-- 2. the referenced tables refuse DELETE, so a reference, once valid, stays
--    valid (history is never removed in remitd anyway).

ALTER TABLE ledger_entries
    DROP CONSTRAINT ledger_entries_claim_id_fkey,
    DROP CONSTRAINT ledger_entries_service_line_id_fkey,
    DROP CONSTRAINT ledger_entries_remittance_id_fkey,
    DROP CONSTRAINT ledger_entries_claim_posting_id_fkey;

CREATE FUNCTION ledger_entries_check_references() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing TEXT;
BEGIN
    -- Distinct references first: a statement posts ~5 entries a claim, so
    -- this looks each referenced row up once, not once per entry.
    SELECT 'claim ' || n.claim_id INTO missing
    FROM (SELECT DISTINCT claim_id FROM new_entries WHERE claim_id IS NOT NULL) n
    WHERE NOT EXISTS (SELECT 1 FROM claims c WHERE c.id = n.claim_id) LIMIT 1;
    IF missing IS NULL THEN
        SELECT 'service line ' || n.service_line_id || ' of claim ' || coalesce(n.claim_id::text, 'none') INTO missing
        FROM (SELECT DISTINCT service_line_id, claim_id FROM new_entries WHERE service_line_id IS NOT NULL) n
        WHERE NOT EXISTS (SELECT 1 FROM service_lines l WHERE l.id = n.service_line_id AND l.claim_id = n.claim_id) LIMIT 1;
    END IF;
    IF missing IS NULL THEN
        SELECT 'remittance ' || n.remittance_id INTO missing
        FROM (SELECT DISTINCT remittance_id FROM new_entries WHERE remittance_id IS NOT NULL) n
        WHERE NOT EXISTS (SELECT 1 FROM remittances r WHERE r.id = n.remittance_id) LIMIT 1;
    END IF;
    IF missing IS NULL THEN
        SELECT 'claim posting ' || n.claim_posting_id || ' of claim ' || coalesce(n.claim_id::text, 'none') INTO missing
        FROM (SELECT DISTINCT claim_posting_id, claim_id FROM new_entries WHERE claim_posting_id IS NOT NULL) n
        WHERE NOT EXISTS (SELECT 1 FROM claim_postings p WHERE p.id = n.claim_posting_id AND p.claim_id = n.claim_id) LIMIT 1;
    END IF;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'ledger entries refer to a % that does not exist', missing USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER ledger_entries_references AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_check_references();

CREATE TRIGGER claims_never_deleted BEFORE DELETE ON claims FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER claims_no_truncate BEFORE TRUNCATE ON claims FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER service_lines_never_deleted BEFORE DELETE ON service_lines FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER service_lines_no_truncate BEFORE TRUNCATE ON service_lines FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER remittances_never_deleted BEFORE DELETE ON remittances FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER remittances_no_truncate BEFORE TRUNCATE ON remittances FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER claim_postings_never_deleted BEFORE DELETE ON claim_postings FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER claim_postings_no_truncate BEFORE TRUNCATE ON claim_postings FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
