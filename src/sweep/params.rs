//! What a sweep run writes off: its parameters, as flags or as the
//! `[sweep]` section of the configuration, and their checks.

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::SweepError;

/// The shortest and longest "days since last billed" a practice may ask for.
pub const DAYS_SINCE_BILLED: std::ops::RangeInclusive<u32> = 30..=365;

/// One sweep's parameters, complete. Stored with the run, so a report shown
/// again says exactly what it was run with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    /// First day of the payment-entry range: the day a payment was posted
    /// into remitd (an ERA posts on the day it was ingested).
    pub from: NaiveDate,
    /// Last day of the payment-entry range, inclusive.
    pub to: NaiveDate,
    /// Only claims last billed at least this many days before `as_of`.
    pub days_since_billed: u32,
    /// Only claims billed (statements sent) at least this many times.
    pub min_times_billed: u32,
    /// Adjustment code for insurance write-offs; `None` leaves insurance
    /// balances alone.
    pub insurance_code: Option<String>,
    /// Adjustment code for patient write-offs; `None` leaves patient
    /// balances alone.
    pub patient_code: Option<String>,
    /// Balances above this go on the out-of-range report; `None`: any amount.
    pub max_amount: Option<Decimal>,
    /// Credit (negative) balances are left alone unless asked for.
    pub include_insurance_credits: bool,
    pub include_patient_credits: bool,
    /// The day ages are counted from.
    pub as_of: NaiveDate,
    /// The practice's time zone (IANA name): what "the day a payment was
    /// posted" means.
    pub time_zone: String,
    /// Only claims of this payer (claims CSV `payer_id`), account or claim;
    /// absent (as in runs stored before they existed): all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    /// Only claims with a service date in this range (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_from: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_to: Option<NaiveDate>,
}

impl Params {
    /// Checks everything that needs no database; returns the time zone.
    pub fn check(&self) -> Result<Tz, SweepError> {
        let invalid = |m: String| Err(SweepError::Invalid(m));
        if let (Some(from), Some(to)) = (self.service_from, self.service_to) {
            if from > to {
                return invalid(format!("the service dates start ({from}) after they end ({to})"));
            }
        }
        if self.from > self.to {
            return invalid(format!("the payment-entry range starts ({}) after it ends ({})", self.from, self.to));
        }
        if !DAYS_SINCE_BILLED.contains(&self.days_since_billed) {
            return invalid(format!(
                "days since last billed must be {} to {}, found {}",
                DAYS_SINCE_BILLED.start(),
                DAYS_SINCE_BILLED.end(),
                self.days_since_billed
            ));
        }
        if self.insurance_code.is_none() && self.patient_code.is_none() {
            return invalid("give an insurance code, a patient code or both: they say which balances are swept".into());
        }
        if let Some(max) = self.max_amount {
            if max < Decimal::ZERO || max.scale() > 2 {
                return invalid(format!("the maximum amount must be zero or more, in cents at most, found {max}"));
            }
        }
        self.time_zone
            .parse::<Tz>()
            .map_err(|_| SweepError::Invalid(format!("unknown time zone {:?} (use an IANA name such as America/New_York)", self.time_zone)))
    }

    /// The payment-entry range as instants: from the start of `from` to the
    /// start of the day after `to`, in the practice's time zone.
    pub fn entry_window(&self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        let after = self.to.checked_add_days(Days::new(1)).unwrap_or(self.to);
        (start_of_day(tz, self.from), start_of_day(tz, after))
    }

    /// Claims last billed on or before this day are old enough.
    pub fn billed_on_or_before(&self) -> NaiveDate {
        self.as_of.checked_sub_days(Days::new(u64::from(self.days_since_billed))).unwrap_or(NaiveDate::MIN)
    }
}

/// The first instant of `day` in `tz`; where midnight falls in a daylight
/// saving gap, the first instant after it.
pub fn start_of_day(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    (0..24)
        .filter_map(|h| day.and_hms_opt(h, 0, 0))
        .find_map(|t| tz.from_local_datetime(&t).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| day.and_time(chrono::NaiveTime::MIN).and_utc())
}

impl Params {
    /// Payments entered on `day`, ages counted from it, claims billed at
    /// least `days_since_billed` days before, balances of at most
    /// `max_amount`, both buckets under the seeded codes (`w`, `W`), no
    /// credits, in UTC: the common run, for the demo and tests to adjust.
    pub fn for_day(day: NaiveDate, days_since_billed: u32, max_amount: Option<Decimal>) -> Params {
        Params {
            from: day,
            to: day,
            days_since_billed,
            min_times_billed: 0,
            insurance_code: Some("w".into()),
            patient_code: Some("W".into()),
            max_amount,
            include_insurance_credits: false,
            include_patient_credits: false,
            as_of: day,
            time_zone: "UTC".into(),
            payer: None,
            account: None,
            claim: None,
            service_from: None,
            service_to: None,
        }
    }

    /// The parameters of the report in source document 000, for tests.
    #[cfg(test)]
    pub(crate) fn example() -> Params {
        let day = NaiveDate::from_ymd_opt(2021, 6, 16).unwrap_or_default();
        Params { as_of: NaiveDate::from_ymd_opt(2021, 6, 30).unwrap_or_default(), time_zone: "America/New_York".into(), ..Params::for_day(day, 30, None) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params::example()
    }

    #[test]
    fn days_since_billed_must_be_30_to_365() {
        for (days, ok) in [(29, false), (30, true), (365, true), (366, false)] {
            let p = Params { days_since_billed: days, ..params() };
            assert_eq!(p.check().is_ok(), ok, "{days}");
        }
        let e = Params { days_since_billed: 7, ..params() }.check().unwrap_err();
        assert_eq!(e.to_string(), "days since last billed must be 30 to 365, found 7");
    }

    #[test]
    fn other_bad_parameters_are_refused() {
        assert!(Params { insurance_code: None, patient_code: None, ..params() }.check().is_err());
        assert!(Params { from: NaiveDate::from_ymd_opt(2021, 7, 1).unwrap(), ..params() }.check().is_err());
        assert!(Params { max_amount: Some(Decimal::new(-1, 0)), ..params() }.check().is_err());
        assert!(Params { max_amount: Some(Decimal::new(1001, 3)), ..params() }.check().is_err());
        assert!(Params { time_zone: "Mars/Olympus".into(), ..params() }.check().is_err());
    }

    #[test]
    fn the_entry_window_is_whole_local_days() {
        let p = params();
        let (from, to) = p.entry_window(p.check().unwrap());
        assert_eq!(from.to_rfc3339(), "2021-06-16T04:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2021-06-17T04:00:00+00:00");
        assert_eq!(p.billed_on_or_before(), NaiveDate::from_ymd_opt(2021, 5, 31).unwrap());
    }

    #[test]
    fn a_midnight_lost_to_daylight_saving_starts_the_day_at_one() {
        // Santiago springs forward at midnight: 2022-09-11 has no 00:00.
        let tz: Tz = "America/Santiago".parse().unwrap();
        let t = start_of_day(tz, NaiveDate::from_ymd_opt(2022, 9, 11).unwrap());
        assert_eq!(t.with_timezone(&tz).to_rfc3339(), "2022-09-11T01:00:00-03:00");
    }
}
