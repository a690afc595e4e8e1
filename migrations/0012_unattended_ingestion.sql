-- What the daemon needs to tell the truth about files it could not take
-- whole, and about payments that say two different things.
--
-- 1. A file can end `partial`: some of its transaction sets posted and the
--    rest did not (the database refused one set's data, a set conflicts
--    with an earlier payment, the file changed while it was read, the
--    daemon was stopped, or the process ingesting it died). `refusal_reason` says which sets posted and why
--    the rest did not; feeding the file again posts only the rest.
-- 2. Each remittance keeps a fingerprint of its content (SHA-256 of the
--    transaction set as parsed), so a later set with the same payer and
--    trace number is a quiet duplicate only when it says the same thing.
--    Remittances posted before this migration have none: a set matching
--    one of them by trace stays a duplicate, as before.
-- 3. A set whose payer + trace was posted before with different content
--    is held in `remittance_conflicts` for a person, who resolves it with a
--    reason (audited); it is never posted or dropped silently.

ALTER TABLE ingested_files DROP CONSTRAINT ingested_files_state_check;
ALTER TABLE ingested_files ADD CONSTRAINT ingested_files_state_check
    CHECK (state IN ('processing', 'posted', 'refused', 'test', 'partial'));

-- How many times a process ended while ingesting the file (killed, out of
-- memory): after two, the daemon refuses it rather than die on it forever.
-- Back to 0 when it is refused, so a file dropped again is tried again.
ALTER TABLE ingested_files ADD COLUMN abandoned INT NOT NULL DEFAULT 0;

ALTER TABLE remittances ADD COLUMN content_hash BYTEA;

CREATE TABLE remittance_conflicts (
    id                   BIGSERIAL PRIMARY KEY,
    file_id              BIGINT NOT NULL REFERENCES ingested_files(id),
    remittance_id        BIGINT NOT NULL REFERENCES remittances(id),  -- the payment posted before
    payer_key            TEXT NOT NULL,
    trace_number         TEXT NOT NULL,
    transaction_control  TEXT NOT NULL,                               -- ST02 of the set held
    payment_amount       NUMERIC(14,2) NOT NULL,
    content_hash         BYTEA NOT NULL,
    transaction          JSONB NOT NULL,                              -- the set as parsed
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_by          TEXT REFERENCES actors(name),
    resolved_at          TIMESTAMPTZ,
    resolution           TEXT,
    UNIQUE (payer_key, trace_number, content_hash),
    CHECK ((resolved_at IS NULL) = (resolved_by IS NULL) AND (resolved_at IS NULL) = (resolution IS NULL))
);
CREATE INDEX remittance_conflicts_open ON remittance_conflicts (id) WHERE resolved_at IS NULL;

-- Held by the daemon; resolved by a person with billing.payment.write, in
-- her own name, once; nothing else about a conflict changes.
CREATE TRIGGER remittance_conflicts_held_by_the_daemon BEFORE INSERT OR DELETE ON remittance_conflicts
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_only_the_daemon('it holds conflicting payments');
CREATE TRIGGER remittance_conflicts_resolved_with_payment_scope BEFORE UPDATE ON remittance_conflicts
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_change_needs_scope('billing.payment.write');
CREATE TRIGGER remittance_conflicts_resolved_once BEFORE UPDATE ON remittance_conflicts FOR EACH ROW
    WHEN (OLD.resolved_at IS NOT NULL
          OR (OLD.file_id, OLD.remittance_id, OLD.payer_key, OLD.trace_number, OLD.transaction_control, OLD.payment_amount,
              OLD.content_hash, OLD.transaction, OLD.created_at)
             IS DISTINCT FROM
             (NEW.file_id, NEW.remittance_id, NEW.payer_key, NEW.trace_number, NEW.transaction_control, NEW.payment_amount,
              NEW.content_hash, NEW.transaction, NEW.created_at))
    EXECUTE FUNCTION remitd_refuse_change('a conflict is resolved once, and what was held never changes');

CREATE FUNCTION remitd_resolved_in_own_name() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT remitd_login_is_owner() AND NEW.resolved_by IS DISTINCT FROM remitd_acting() THEN
        RAISE EXCEPTION 'logged in as %, so resolving in the name of % is refused: a login acts only as itself', session_user, coalesce(NEW.resolved_by, 'nobody')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER remittance_conflicts_resolved_in_own_name BEFORE UPDATE ON remittance_conflicts
    FOR EACH ROW EXECUTE FUNCTION remitd_resolved_in_own_name();
