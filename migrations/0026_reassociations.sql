-- A deposit explained by the remittance it pays (reassociation, CAQH CORE
-- rule 370). One deposit pays one remittance here; a match is found by the
-- daemon (trace number and payer, or a check's number; the same amount;
-- dates within three business days) and only when it is the one candidate
-- on both sides: ambiguity is left for a person, never guessed.
CREATE TABLE reassociations (
    id             BIGSERIAL PRIMARY KEY,
    deposit_id     BIGINT NOT NULL UNIQUE REFERENCES deposits(id),
    remittance_id  BIGINT NOT NULL UNIQUE REFERENCES remittances(id),
    how            TEXT NOT NULL CHECK (how IN ('trace', 'check')),
    matched_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TRIGGER reassociations_only_the_daemon BEFORE INSERT OR UPDATE OR DELETE ON reassociations
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_only_the_daemon('it matches deposits with remittances');

-- Business days from one date to another (Monday to Friday; holidays are
-- not known here), counted as the window of rule 370 counts them.
CREATE FUNCTION remitd_business_days(a date, b date) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT count(*)::integer FROM generate_series(LEAST(a, b) + 1, GREATEST(a, b), interval '1 day') d
    WHERE extract(isodow FROM d) < 6
$$;
