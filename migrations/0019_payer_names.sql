-- The name a claim's payer goes by: the practice's, when the claims import
-- gave one, else the name on the newest remittance that paid the claim
-- (N1*PR), so people read "STATE MEDICAID" where only a payer id was.
CREATE FUNCTION remitd_claim_payer_name(claim bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(
        (SELECT p.name FROM claims c JOIN payers p ON p.id = c.payer_id WHERE c.id = claim),
        (SELECT r.payer_name FROM claim_postings cp JOIN remittances r ON r.id = cp.remittance_id
         WHERE cp.claim_id = claim ORDER BY cp.id DESC LIMIT 1))
$$;
