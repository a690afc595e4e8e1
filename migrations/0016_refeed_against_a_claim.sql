-- Support may ask the daemon to post a queued remittance claim against a
-- claim they name (source document 004: "post the incoming 835 against the
-- original claim"), when the payer's claim id matches none of ours.
ALTER TABLE refeed_requests ADD COLUMN claim_id TEXT;
ALTER TABLE refeed_requests ADD CONSTRAINT refeed_requests_claim_names_an_item
    CHECK (claim_id IS NULL OR unmatched_id IS NOT NULL);
