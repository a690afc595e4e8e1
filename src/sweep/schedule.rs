//! When the daemon sweeps: a cron expression in the practice's time zone,
//! a rolling payment-entry window, and the clock.
//!
//! Time is injected: the daemon reads [`SystemClock`], tests a
//! [`FixedClock`] they move by hand, so nothing here sleeps to be tested.
//! A slot is the instant the cron expression names; the database records
//! each slot it ran (see `sweep_runs.slot`), which is what makes a slot run
//! once however many instances watch the clock or restart during it.

use std::str::FromStr;
use std::sync::Mutex;

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::Deserialize;

use super::SweepError;

/// Where the current time comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that shows what it was last set to.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        FixedClock(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The payment-entry range of a scheduled run, relative to its day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The day before.
    PreviousDay,
    /// Monday to Sunday of the week before.
    PreviousWeek,
    /// The calendar month before.
    PreviousMonth,
    /// The `n` days before (yesterday and the `n - 1` days before it).
    Days(u32),
}

impl FromStr for Window {
    type Err = SweepError;

    fn from_str(s: &str) -> Result<Window, SweepError> {
        match s {
            "previous-day" => Ok(Window::PreviousDay),
            "previous-week" => Ok(Window::PreviousWeek),
            "previous-month" => Ok(Window::PreviousMonth),
            _ => s
                .strip_prefix("days:")
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| (1..=3660).contains(n))
                .map(Window::Days)
                .ok_or_else(|| SweepError::Invalid(format!("window must be previous-day, previous-week, previous-month or days:N, found {s:?}"))),
        }
    }
}

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Window, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Window {
    /// The first and last day of the window for a run on `day`.
    pub fn range(self, day: NaiveDate) -> (NaiveDate, NaiveDate) {
        let back = |n: u64| day.checked_sub_days(Days::new(n)).unwrap_or(NaiveDate::MIN);
        match self {
            Window::PreviousDay => (back(1), back(1)),
            Window::PreviousWeek => {
                let monday = u64::from(day.weekday().num_days_from_monday());
                (back(monday + 7), back(monday + 1))
            }
            Window::PreviousMonth => {
                let first = day.with_day(1).unwrap_or(day);
                (first.checked_sub_months(Months::new(1)).unwrap_or(NaiveDate::MIN), first.pred_opt().unwrap_or(NaiveDate::MIN))
            }
            Window::Days(n) => (back(u64::from(n)), back(1)),
        }
    }
}

/// A parsed `[sweep] schedule` in its time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    tz: Tz,
    /// How late a slot may still be run (after downtime or a crash).
    max_lateness: chrono::Duration,
}

impl Schedule {
    /// `expression` is a five-field cron expression (minute hour
    /// day-of-month month day-of-week), or `@daily` and the like.
    pub fn new(expression: &str, tz: Tz, max_lateness: chrono::Duration) -> Result<Schedule, SweepError> {
        let cron = Cron::from_str(expression).map_err(|e| SweepError::Invalid(format!("schedule {expression:?}: {e}")))?;
        Ok(Schedule { cron, tz, max_lateness })
    }

    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The latest slot at or before `now`.
    pub fn latest(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_previous_occurrence(&now.with_timezone(&self.tz), true).ok().map(|t| t.with_timezone(&Utc))
    }

    /// The first slot after `now`.
    pub fn next(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&now.with_timezone(&self.tz), false).ok().map(|t| t.with_timezone(&Utc))
    }

    /// The slot to run at `now`, if one is due: the latest, unless it is
    /// more than `max_lateness` old (a slot missed during a long outage is
    /// skipped rather than run days late with a stale window).
    pub fn due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.latest(now).filter(|slot| now - *slot <= self.max_lateness)
    }

    /// The practice's calendar day of `slot`: the day a scheduled run's
    /// ages are counted from.
    pub fn day_of(&self, slot: DateTime<Utc>) -> NaiveDate {
        slot.with_timezone(&self.tz).date_naive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn windows_roll_with_the_run_day() {
        assert_eq!(Window::PreviousMonth.range(day(2026, 3, 1)), (day(2026, 2, 1), day(2026, 2, 28)));
        assert_eq!(Window::PreviousMonth.range(day(2026, 1, 15)), (day(2025, 12, 1), day(2025, 12, 31)));
        assert_eq!(Window::PreviousDay.range(day(2026, 3, 1)), (day(2026, 2, 28), day(2026, 2, 28)));
        // 2026-12-02 is a Wednesday.
        assert_eq!(Window::PreviousWeek.range(day(2026, 12, 2)), (day(2026, 11, 23), day(2026, 11, 29)));
        assert_eq!(Window::Days(7).range(day(2026, 12, 2)), (day(2026, 11, 25), day(2026, 12, 1)));
        assert!("fortnight".parse::<Window>().is_err());
    }

    #[test]
    fn a_daily_slot_in_the_spring_gap_runs_once_just_after_it() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let s = Schedule::new("30 2 * * *", tz, chrono::Duration::hours(6)).unwrap();
        // 2026-03-08: clocks jump from 02:00 EST to 03:00 EDT; 02:30 never happens.
        let mut t = utc("2026-03-06T12:00:00Z");
        let mut slots = Vec::new();
        for _ in 0..4 {
            t = s.next(t).unwrap();
            slots.push(t.with_timezone(&tz).to_rfc3339());
        }
        assert_eq!(slots, ["2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"]);
    }

    #[test]
    fn a_daily_slot_in_the_autumn_overlap_runs_once() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let s = Schedule::new("30 1 * * *", tz, chrono::Duration::hours(6)).unwrap();
        // 2026-11-01: 01:30 happens twice (EDT, then EST); one slot, the first.
        let mut t = utc("2026-10-31T12:00:00Z");
        let mut slots = Vec::new();
        for _ in 0..3 {
            t = s.next(t).unwrap();
            slots.push(t.to_rfc3339());
        }
        assert_eq!(slots, ["2026-11-01T05:30:00+00:00", "2026-11-02T06:30:00+00:00", "2026-11-03T06:30:00+00:00"]);
        // During the repeated hour, the slot already passed is the latest; no second one.
        assert_eq!(s.latest(utc("2026-11-01T06:45:00Z")), Some(utc("2026-11-01T05:30:00Z")));
    }

    #[test]
    fn a_slot_is_due_until_it_is_too_late() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let s = Schedule::new("0 2 1 * *", tz, chrono::Duration::hours(6)).unwrap();
        let slot = utc("2026-12-01T01:00:00Z");
        assert_eq!(s.due(utc("2026-12-01T00:59:59Z")), None, "before the first slot of December, November's is too old");
        assert_eq!(s.due(slot), Some(slot));
        assert_eq!(s.due(utc("2026-12-01T06:59:00Z")), Some(slot));
        assert_eq!(s.due(utc("2026-12-01T07:00:01Z")), None);
        assert_eq!(s.day_of(slot), day(2026, 12, 1));
        assert!(Schedule::new("61 * * * *", tz, chrono::Duration::hours(1)).is_err());
    }

    #[test]
    fn the_fixed_clock_moves_only_when_told() {
        let c = FixedClock::new(utc("2026-12-01T00:00:00Z"));
        assert_eq!(c.now(), utc("2026-12-01T00:00:00Z"));
        c.set(utc("2026-12-02T00:00:00Z"));
        assert_eq!(c.now(), utc("2026-12-02T00:00:00Z"));
    }
}
