-- Receipt numbers without gaps. A billing team reads a missing receipt
-- number as a deleted write-off, so a number is taken only by a receipt
-- that commits: from a counter row updated in the receipt's own
-- transaction (a refused or rolled-back action gives its number back),
-- rather than from a sequence (whose numbers are spent even on rollback).
-- Receipt-making transactions queue on the counter row from their receipt
-- to their commit; they hold the ledger's locks before they reach it (see
-- `ledger::locks`), so the queue adds no lock cycle.

CREATE TABLE receipt_counter (
    only_row  BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
    last      BIGINT NOT NULL CHECK (last >= 0)
);
INSERT INTO receipt_counter (last) SELECT COALESCE(max(id), 0) FROM writeoff_receipts;

-- The counter moves one step at a time, and only from the numbering
-- trigger below (whoever is logged in, the owner too): nobody skips or
-- reuses a number by hand.
CREATE FUNCTION remitd_receipt_counter_steps() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR pg_trigger_depth() < 2 OR NEW.last <> OLD.last + 1 THEN
        RAISE EXCEPTION 'receipt numbers are given by the database, one after another, to receipts that commit: the counter is not changed by hand'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER receipt_counter_steps BEFORE INSERT OR UPDATE OR DELETE ON receipt_counter
    FOR EACH ROW EXECUTE FUNCTION remitd_receipt_counter_steps();

-- Every receipt takes the next number, whatever number its writer gave;
-- 0 stays 0: a preview's receipt, which shows a run's effect and rolls
-- back (see the constraint trigger below). Runs as the owner, so staff and
-- the daemon need no privilege on the counter.
CREATE FUNCTION remitd_number_receipt() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    IF NEW.id IS NOT DISTINCT FROM 0 THEN
        RETURN NEW;
    END IF;
    UPDATE receipt_counter SET last = last + 1 RETURNING last INTO NEW.id;
    RETURN NEW;
END
$$;
CREATE TRIGGER writeoff_receipts_numbered BEFORE INSERT ON writeoff_receipts
    FOR EACH ROW EXECUTE FUNCTION remitd_number_receipt();

CREATE FUNCTION remitd_preview_receipt_never_commits() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'receipt 0 is a preview''s: it never commits'
        USING ERRCODE = 'check_violation';
END
$$;
CREATE CONSTRAINT TRIGGER writeoff_receipts_preview_never_commits AFTER INSERT ON writeoff_receipts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.id = 0) EXECUTE FUNCTION remitd_preview_receipt_never_commits();

ALTER TABLE writeoff_receipts ALTER COLUMN id DROP DEFAULT;
DROP SEQUENCE writeoff_receipts_id_seq;
