-- Reopening written-off denials when a payer reverses the claim.
ALTER TABLE denials ADD COLUMN reopened_at TIMESTAMPTZ;
-- A reversal arrived for the claim but could not be tied to this denial's
-- posting: a person must look (remitd denial flagged / reopen).
ALTER TABLE denials ADD COLUMN flagged_at TIMESTAMPTZ;
ALTER TABLE denials ADD COLUMN flag_reason TEXT;
CREATE INDEX denials_flagged ON denials (flagged_at) WHERE flagged_at IS NOT NULL;
-- Resolving reopened denials looks up the postings of one remittance and
-- the few reopened, still open denials.
CREATE INDEX claim_postings_remittance ON claim_postings (remittance_id);
CREATE INDEX denials_reopened_open ON denials (claim_id) WHERE status = 'OPEN' AND reopened_at IS NOT NULL;
