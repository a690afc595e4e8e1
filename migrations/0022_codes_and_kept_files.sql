-- What the readable remittance needs: descriptions of the codes payers
-- send, and where the daemon keeps each file it took.
--
-- `adjustment_codes`: claim adjustment reason codes (CARC), remittance
-- advice remark codes (RARC), claim adjustment group codes and provider
-- adjustment reasons (PLB), each with its published description. Seeded
-- here with the codes payers send most; the whole lists load from the
-- code lists' CSV (`remitd codes import`). Only an admin changes them.
CREATE TABLE adjustment_codes (
    list text NOT NULL CHECK (list IN ('CARC', 'RARC', 'GROUP', 'PLB')),
    code text NOT NULL CHECK (code ~ '^[A-Z0-9]{1,6}$'),
    description text NOT NULL CHECK (description <> ''),
    PRIMARY KEY (list, code)
);
CREATE TRIGGER adjustment_codes_change_needs_admin BEFORE INSERT OR UPDATE OR DELETE ON adjustment_codes
    FOR EACH STATEMENT EXECUTE FUNCTION remitd_change_needs_scope('remitd.admin');

INSERT INTO adjustment_codes (list, code, description) VALUES
    ('GROUP', 'CO', 'Contractual Obligations'),
    ('GROUP', 'PR', 'Patient Responsibility'),
    ('GROUP', 'OA', 'Other Adjustments'),
    ('GROUP', 'PI', 'Payor Initiated Reductions'),
    ('GROUP', 'CR', 'Corrections and Reversals'),
    ('CARC', '1', 'Deductible Amount'),
    ('CARC', '2', 'Coinsurance Amount'),
    ('CARC', '3', 'Co-payment Amount'),
    ('CARC', '4', 'The procedure code is inconsistent with the modifier used.'),
    ('CARC', '16', 'Claim/service lacks information or has submission/billing error(s).'),
    ('CARC', '18', 'Exact duplicate claim/service.'),
    ('CARC', '22', 'This care may be covered by another payer per coordination of benefits.'),
    ('CARC', '23', 'The impact of prior payer(s) adjudication including payments and/or adjustments.'),
    ('CARC', '26', 'Expenses incurred prior to coverage.'),
    ('CARC', '27', 'Expenses incurred after coverage terminated.'),
    ('CARC', '29', 'The time limit for filing has expired.'),
    ('CARC', '45', 'Charge exceeds fee schedule/maximum allowable or contracted/legislated fee arrangement.'),
    ('CARC', '50', 'These are non-covered services because this is not deemed a ''medical necessity'' by the payer.'),
    ('CARC', '59', 'Processed based on multiple or concurrent procedure rules.'),
    ('CARC', '94', 'Processed in Excess of charges.'),
    ('CARC', '96', 'Non-covered charge(s).'),
    ('CARC', '97', 'The benefit for this service is included in the payment/allowance for another service/procedure that has already been adjudicated.'),
    ('CARC', '109', 'Claim/service not covered by this payer/contractor.'),
    ('CARC', '119', 'Benefit maximum for this time period or occurrence has been reached.'),
    ('CARC', '131', 'Claim specific negotiated discount.'),
    ('CARC', '151', 'Payment adjusted because the payer deems the information submitted does not support this many/frequency of services.'),
    ('CARC', '197', 'Precertification/authorization/notification/pre-treatment absent.'),
    ('CARC', '204', 'This service/equipment/drug is not covered under the patient''s current benefit plan.'),
    ('CARC', '242', 'Services not provided by network/primary care providers.'),
    ('CARC', '253', 'Sequestration - reduction in federal payment.'),
    ('RARC', 'M15', 'Separately billed services/tests have been bundled as they are considered components of the same procedure.'),
    ('RARC', 'M20', 'Missing/incomplete/invalid HCPCS.'),
    ('RARC', 'M80', 'Not covered when performed during the same session/date as a previously processed service for the patient.'),
    ('RARC', 'MA01', 'Alert: If you do not agree with what we approved for these services, you may appeal our decision.'),
    ('RARC', 'MA130', 'Your claim contains incomplete and/or invalid information, and no appeal rights are afforded because the claim is unprocessable.'),
    ('RARC', 'N4', 'Missing/Incomplete/Invalid prior Insurance Carrier(s) EOB.'),
    ('RARC', 'N130', 'Consult plan benefit documents/guidelines for information about restrictions for this service.'),
    ('RARC', 'N290', 'Missing/incomplete/invalid rendering provider primary identifier.'),
    ('RARC', 'N381', 'Alert: Consult our contractual agreement for restrictions/billing/payment information related to these charges.'),
    ('RARC', 'N386', 'This decision was based on a National Coverage Determination (NCD).'),
    ('PLB', 'WO', 'Overpayment Recovery'),
    ('PLB', 'L6', 'Interest Owed'),
    ('PLB', 'FB', 'Forwarding Balance'),
    ('PLB', '72', 'Authorized Return'),
    ('PLB', 'CS', 'Adjustment'),
    ('PLB', 'J1', 'Nonreimbursable'),
    ('PLB', 'IR', 'Internal Revenue Service Withholding'),
    ('PLB', 'BD', 'Bad Debt Adjustment'),
    ('PLB', 'AP', 'Acceleration of Benefits');

-- Where the daemon put the file after taking it (its archive or error
-- folder), so the console can show a remittance as the payer sent it and
-- offer the original for download. NULL for files fed by hand.
ALTER TABLE ingested_files ADD COLUMN kept_at text;
