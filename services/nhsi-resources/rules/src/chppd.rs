//! Care hours per patient day (DOMAIN.md §4.3).
//!
//! CHPPD = hours worked by registered nurses, registered midwives, allied health professionals and
//! healthcare support workers ÷ patient days (the sum over days of patients in beds at 23:59).
//! Computed per ward and month, and rolled up per trust and month as total hours ÷ total patient
//! days, never as an average of ward ratios. Reported by staff group and combined.
//!
//! The trust roll-up is Σ care hours ÷ Σ patients at midnight over every ward-day of the month. A
//! ward with no patients at midnight on any day of a month has no ward figure that month (there
//! is nothing to divide by; it is neither an error nor zero), and its hours still count in the
//! trust roll-up ([`ChppdFigures::per_patient_day`] is `None`). The same ward and date given twice
//! is an input error ([`ChppdError::DuplicateWardDay`]): the first is kept.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use oversight_rating::TrustCode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A ward's code within its trust (as in the e-rostering data): non-empty, at most 64 characters,
/// letters, digits and `-_./ `.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WardCode(String);

impl WardCode {
    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WardCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A string that is not a ward code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ward code {0:?}: expected 1–64 letters, digits, spaces or -_./")]
pub struct InvalidWardCode(pub String);

impl FromStr for WardCode {
    type Err = InvalidWardCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let ok = !t.is_empty()
            && t.len() <= 64
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./ ".contains(c));
        ok.then(|| WardCode(t.to_string()))
            .ok_or_else(|| InvalidWardCode(s.to_string()))
    }
}

impl TryFrom<String> for WardCode {
    type Error = InvalidWardCode;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<WardCode> for String {
    fn from(w: WardCode) -> String {
        w.0
    }
}

/// A calendar month, shown as `2018-04`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct YearMonth {
    year: i32,
    month: u32,
}

impl YearMonth {
    /// The month a date falls in.
    pub fn of(date: NaiveDate) -> Self {
        YearMonth {
            year: date.year(),
            month: date.month(),
        }
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month, 1–12.
    pub fn month(self) -> u32 {
        self.month
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// A string that is not a `YYYY-MM` month.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid month {0:?}: expected YYYY-MM")]
pub struct InvalidMonth(pub String);

impl FromStr for YearMonth {
    type Err = InvalidMonth;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NaiveDate::parse_from_str(&format!("{}-01", s.trim()), "%Y-%m-%d")
            .map(YearMonth::of)
            .map_err(|_| InvalidMonth(s.to_string()))
    }
}

impl TryFrom<String> for YearMonth {
    type Error = InvalidMonth;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<YearMonth> for String {
    fn from(m: YearMonth) -> String {
        m.to_string()
    }
}

/// One ward's staffing on one day: the patients in beds at 23:59 and the hours worked by each
/// staff group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WardDay {
    /// The trust.
    pub trust: TrustCode,
    /// The ward.
    pub ward: WardCode,
    /// The day.
    pub date: NaiveDate,
    /// Patients in beds at 23:59.
    pub patients_at_midnight: u32,
    /// Hours worked by registered nurses.
    pub registered_nurse_hours: Decimal,
    /// Hours worked by registered midwives.
    pub registered_midwife_hours: Decimal,
    /// Hours worked by rostered allied health professionals.
    pub allied_health_professional_hours: Decimal,
    /// Hours worked by healthcare support workers.
    pub healthcare_support_worker_hours: Decimal,
}

/// A quantity per staff group: hours, or hours per patient day. Serialises with lowerCamelCase
/// names (`registeredNurse`, `registeredMidwife`, `alliedHealthProfessional`,
/// `healthcareSupportWorker`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ByStaffGroup {
    /// Registered nurses.
    pub registered_nurse: Decimal,
    /// Registered midwives.
    pub registered_midwife: Decimal,
    /// Allied health professionals.
    pub allied_health_professional: Decimal,
    /// Healthcare support workers.
    pub healthcare_support_worker: Decimal,
}

impl ByStaffGroup {
    /// The sum over staff groups.
    pub fn total(&self) -> Decimal {
        self.registered_nurse
            + self.registered_midwife
            + self.allied_health_professional
            + self.healthcare_support_worker
    }

    fn add(&mut self, other: &ByStaffGroup) {
        self.registered_nurse += other.registered_nurse;
        self.registered_midwife += other.registered_midwife;
        self.allied_health_professional += other.allied_health_professional;
        self.healthcare_support_worker += other.healthcare_support_worker;
    }

    fn map(&self, f: impl Fn(Decimal) -> Decimal) -> ByStaffGroup {
        ByStaffGroup {
            registered_nurse: f(self.registered_nurse),
            registered_midwife: f(self.registered_midwife),
            allied_health_professional: f(self.allied_health_professional),
            healthcare_support_worker: f(self.healthcare_support_worker),
        }
    }

    /// The four values with their staff-group names, for messages.
    pub fn named(&self) -> [(&'static str, Decimal); 4] {
        [
            ("registered nurse", self.registered_nurse),
            ("registered midwife", self.registered_midwife),
            (
                "allied health professional",
                self.allied_health_professional,
            ),
            ("healthcare support worker", self.healthcare_support_worker),
        ]
    }
}

impl WardDay {
    /// The day's hours by staff group.
    pub fn hours(&self) -> ByStaffGroup {
        ByStaffGroup {
            registered_nurse: self.registered_nurse_hours,
            registered_midwife: self.registered_midwife_hours,
            allied_health_professional: self.allied_health_professional_hours,
            healthcare_support_worker: self.healthcare_support_worker_hours,
        }
    }
}

/// Hours and patient days summed over some days, and the CHPPD they give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChppdFigures {
    /// Sum of patients at midnight over the days.
    pub patient_days: u64,
    /// Hours worked, by staff group.
    pub hours: ByStaffGroup,
    /// Hours ÷ patient days; `None` when there were no patient days (no figure: not an error,
    /// and not zero).
    pub per_patient_day: Option<PerPatientDay>,
}

/// Care hours per patient day, combined and by staff group (unrounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerPatientDay {
    /// Total hours ÷ patient days.
    pub chppd: Decimal,
    /// Each staff group's hours ÷ patient days.
    pub by_staff_group: ByStaffGroup,
}

impl ChppdFigures {
    /// The figures of summed hours and patient days; no CHPPD when there are no patient days.
    pub fn from_totals(hours: ByStaffGroup, patient_days: u64) -> Self {
        let per_patient_day = (patient_days > 0).then(|| {
            let days = Decimal::from(patient_days);
            PerPatientDay {
                chppd: hours.total() / days,
                by_staff_group: hours.map(|h| h / days),
            }
        });
        ChppdFigures {
            patient_days,
            hours,
            per_patient_day,
        }
    }

    /// Total hours ÷ patient days, if there were patient days.
    pub fn chppd(&self) -> Option<Decimal> {
        self.per_patient_day.map(|p| p.chppd)
    }
}

/// CHPPD of one ward in one month (every ward with staffing data that month, with or without
/// patients).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WardMonthChppd {
    /// The trust.
    pub trust: TrustCode,
    /// The ward.
    pub ward: WardCode,
    /// The month.
    pub month: YearMonth,
    /// How many days of data the month had.
    pub days: usize,
    /// The figures.
    pub figures: ChppdFigures,
}

/// CHPPD of a trust in one month: total hours ÷ total patient days over every ward-day of the
/// month, including the hours of wards that had no patients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustMonthChppd {
    /// The trust.
    pub trust: TrustCode,
    /// The month.
    pub month: YearMonth,
    /// How many ward-months were rolled up (with or without patients).
    pub wards: usize,
    /// The figures.
    pub figures: ChppdFigures,
}

/// A problem with ward staffing inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChppdError {
    /// Hours cannot be negative.
    #[error("ward {ward} of trust {trust} on {date}: negative {staff_group} hours {hours}")]
    NegativeHours {
        trust: TrustCode,
        ward: WardCode,
        date: NaiveDate,
        staff_group: &'static str,
        hours: Decimal,
    },
    /// The same ward and day was given more than once.
    #[error("ward {ward} of trust {trust} on {date} given more than once; the first is kept")]
    DuplicateWardDay {
        trust: TrustCode,
        ward: WardCode,
        date: NaiveDate,
    },
}

/// The CHPPD of every ward-month and trust-month in a set of ward days, with the input errors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChppdReport {
    /// Per ward and month, ordered by trust, month, ward; a ward without patient days that month
    /// is listed with its hours and no figure.
    pub wards: Vec<WardMonthChppd>,
    /// Per trust and month, ordered by trust, month.
    pub trusts: Vec<TrustMonthChppd>,
    /// Inputs that could not be used.
    pub errors: Vec<ChppdError>,
}

#[derive(Default)]
struct Sums {
    hours: ByStaffGroup,
    patient_days: u64,
    days: usize,
}

/// Computes CHPPD per ward and month and per trust and month. The order of the days does not
/// matter; days of one ward may come from several sources.
pub fn compute_chppd<'a>(days: impl IntoIterator<Item = &'a WardDay>) -> ChppdReport {
    let mut errors = Vec::new();
    let mut seen: BTreeMap<(&TrustCode, &WardCode, NaiveDate), ()> = BTreeMap::new();
    let mut ward_months: BTreeMap<(TrustCode, YearMonth, WardCode), Sums> = BTreeMap::new();
    for day in days {
        if let Some((staff_group, hours)) = day
            .hours()
            .named()
            .into_iter()
            .find(|(_, h)| *h < Decimal::ZERO)
        {
            errors.push(ChppdError::NegativeHours {
                trust: day.trust.clone(),
                ward: day.ward.clone(),
                date: day.date,
                staff_group,
                hours,
            });
            continue;
        }
        if seen.insert((&day.trust, &day.ward, day.date), ()).is_some() {
            errors.push(ChppdError::DuplicateWardDay {
                trust: day.trust.clone(),
                ward: day.ward.clone(),
                date: day.date,
            });
            continue;
        }
        let sums = ward_months
            .entry((day.trust.clone(), YearMonth::of(day.date), day.ward.clone()))
            .or_default();
        sums.hours.add(&day.hours());
        sums.patient_days += u64::from(day.patients_at_midnight);
        sums.days += 1;
    }

    let mut wards = Vec::new();
    let mut trust_months: BTreeMap<(TrustCode, YearMonth), (Sums, usize)> = BTreeMap::new();
    for ((trust, month, ward), sums) in ward_months {
        // Every ward-day counts at trust level, whether or not the ward had patients.
        let (roll_up, n_wards) = trust_months.entry((trust.clone(), month)).or_default();
        roll_up.hours.add(&sums.hours);
        roll_up.patient_days += sums.patient_days;
        *n_wards += 1;
        wards.push(WardMonthChppd {
            trust,
            ward,
            month,
            days: sums.days,
            figures: ChppdFigures::from_totals(sums.hours, sums.patient_days),
        });
    }
    let trusts = trust_months
        .into_iter()
        .map(|((trust, month), (sums, n_wards))| TrustMonthChppd {
            trust,
            month,
            wards: n_wards,
            figures: ChppdFigures::from_totals(sums.hours, sums.patient_days),
        })
        .collect();
    ChppdReport {
        wards,
        trusts,
        errors,
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_support::d;
    use proptest::prelude::*;

    fn day(trust: &str, ward: &str, date: &str, patients: u32, hours: [&str; 4]) -> WardDay {
        WardDay {
            trust: trust.parse().expect("trust"),
            ward: ward.parse().expect("ward"),
            date: date.parse().expect("date"),
            patients_at_midnight: patients,
            registered_nurse_hours: d(hours[0]),
            registered_midwife_hours: d(hours[1]),
            allied_health_professional_hours: d(hours[2]),
            healthcare_support_worker_hours: d(hours[3]),
        }
    }

    fn month_of_days(
        ward: &str,
        month: &str,
        n: u32,
        patients: u32,
        hours: [&str; 4],
    ) -> Vec<WardDay> {
        (1..=n)
            .map(|i| day("RXX", ward, &format!("{month}-{i:02}"), patients, hours))
            .collect()
    }

    #[test]
    fn ward_and_trust_roll_up_is_total_over_total() {
        let days = vec![
            // Ward A: 2 days, 20 patient days, 200 hours → 10.
            day("RXX", "A", "2018-04-01", 10, ["60", "0", "10", "30"]),
            day("RXX", "A", "2018-04-02", 10, ["60", "0", "10", "30"]),
            // Ward B: 1 day, 5 patient days, 20 hours → 4.
            day("RXX", "B", "2018-04-01", 5, ["10", "5", "0", "5"]),
        ];
        let r = compute_chppd(&days);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let chppd: Vec<_> = r
            .wards
            .iter()
            .map(|w| (w.ward.as_str(), w.figures.chppd()))
            .collect();
        assert_eq!(chppd, vec![("A", Some(d("10"))), ("B", Some(d("4")))]);
        assert_eq!(r.trusts.len(), 1);
        let t = &r.trusts[0];
        // 220 hours ÷ 25 patient days = 8.8, not the mean of ratios (7).
        assert_eq!(t.figures.chppd(), Some(d("8.8")));
        assert_eq!(t.figures.patient_days, 25);
        assert_eq!(t.wards, 2);
        let by = t.figures.per_patient_day.expect("patients").by_staff_group;
        assert_eq!(by.registered_nurse, d("5.2"));
        assert_eq!(by.registered_midwife, d("0.2"));
        assert_eq!(by.allied_health_professional, d("0.8"));
        assert_eq!(by.healthcare_support_worker, d("2.6"));
        assert_eq!(t.month.to_string(), "2018-04");
    }

    #[test]
    fn constant_staffing_gives_the_same_chppd_in_30_and_31_day_months() {
        let hours = ["100", "0", "7.5", "23"];
        let mut days = month_of_days("A", "2018-04", 30, 13, hours);
        days.extend(month_of_days("A", "2018-05", 31, 13, hours));
        let r = compute_chppd(&days);
        assert_eq!(r.wards.len(), 2);
        let (april, may) = (&r.wards[0], &r.wards[1]);
        assert_eq!((april.days, may.days), (30, 31));
        assert_eq!(april.figures.per_patient_day, may.figures.per_patient_day);
        // 130.5 hours ÷ 13 patients a day.
        assert_eq!(
            april.figures.chppd().map(|c| c.round_dp(2)),
            Some(d("10.04"))
        );
        assert_eq!(r.trusts[0].figures.chppd(), r.trusts[1].figures.chppd());
    }

    /// DOMAIN.md §4.3: the trust roll-up is total hours ÷ total patient days. A ward with no
    /// patients all month has no ward figure, which is not an error, and its hours still count.
    #[test]
    fn a_ward_without_patients_has_no_figure_but_its_hours_count_at_trust_level() {
        let mut days = vec![
            // Ward A: 16 hours, 0 + 4 patients at midnight → 4.
            day("RXX", "A", "2018-04-01", 0, ["8", "0", "0", "0"]),
            day("RXX", "A", "2018-04-02", 4, ["8", "0", "0", "0"]),
        ];
        // Ward B: 3 days of 12 hours with nobody in its beds at midnight.
        days.extend(month_of_days("B", "2018-04", 3, 0, ["12", "0", "0", "0"]));
        let r = compute_chppd(&days);
        assert_eq!(r.errors, vec![], "no patients is not an error");
        let wards: Vec<_> = r
            .wards
            .iter()
            .map(|w| {
                (
                    w.ward.as_str(),
                    w.figures.patient_days,
                    w.figures.hours.total(),
                    w.figures.chppd(),
                )
            })
            .collect();
        assert_eq!(
            wards,
            vec![("A", 4, d("16"), Some(d("4"))), ("B", 0, d("36"), None),]
        );
        // Trust: (16 + 36) hours ÷ 4 patient days = 13, not A's 4.
        let t = &r.trusts[0];
        assert_eq!(t.wards, 2);
        assert_eq!(t.figures.patient_days, 4);
        assert_eq!(t.figures.hours.total(), d("52"));
        assert_eq!(t.figures.chppd(), Some(d("13")));
        assert_eq!(
            t.figures
                .per_patient_day
                .map(|p| p.by_staff_group.registered_nurse),
            Some(d("13"))
        );
    }

    #[test]
    fn a_trust_month_without_any_patients_has_no_figure() {
        let days = month_of_days("B", "2018-04", 2, 0, ["12", "0", "0", "0"]);
        let r = compute_chppd(&days);
        assert!(r.errors.is_empty());
        assert_eq!(r.trusts.len(), 1);
        assert_eq!(r.trusts[0].figures.chppd(), None);
        assert_eq!(r.trusts[0].figures.hours.total(), d("24"));
    }

    #[test]
    fn negative_hours_and_duplicates_are_errors() {
        let days = vec![
            day("RXX", "A", "2018-04-01", 4, ["8", "0", "0", "0"]),
            day("RXX", "A", "2018-04-01", 4, ["80", "0", "0", "0"]),
            day("RXX", "A", "2018-04-02", 4, ["8", "-1", "0", "0"]),
        ];
        let r = compute_chppd(&days);
        assert_eq!(r.errors.len(), 2);
        assert!(matches!(r.errors[0], ChppdError::DuplicateWardDay { .. }));
        assert!(matches!(
            r.errors[1],
            ChppdError::NegativeHours {
                staff_group: "registered midwife",
                ..
            }
        ));
        assert_eq!(r.wards[0].figures.chppd(), Some(d("2")));
    }

    #[test]
    fn same_ward_code_in_two_trusts_is_two_wards() {
        let days = vec![
            day("RXX", "A", "2018-04-01", 4, ["8", "0", "0", "0"]),
            day("RYY", "A", "2018-04-01", 2, ["8", "0", "0", "0"]),
        ];
        let r = compute_chppd(&days);
        assert_eq!(r.wards.len(), 2);
        assert_eq!(r.trusts.len(), 2);
    }

    #[test]
    fn ward_codes_and_months_parse() {
        assert!("7B North".parse::<WardCode>().is_ok());
        assert!("".parse::<WardCode>().is_err());
        assert!("a\u{7}".parse::<WardCode>().is_err());
        assert_eq!(
            "2018-04".parse::<YearMonth>().map(|m| m.to_string()),
            Ok("2018-04".into())
        );
        assert!("2018-13".parse::<YearMonth>().is_err());
    }

    fn ward_day() -> impl Strategy<Value = WardDay> {
        (
            0usize..3,
            1u32..=28,
            0u32..40,
            [0i64..2000, 0i64..2000, 0i64..2000, 0i64..2000],
            3u32..=5,
        )
            .prop_map(|(w, dd, p, h, m)| WardDay {
                trust: "RXX".parse().expect("trust"),
                ward: ["A", "B", "C"][w].parse().expect("ward"),
                date: NaiveDate::from_ymd_opt(2018, m, dd).expect("date"),
                patients_at_midnight: p,
                registered_nurse_hours: Decimal::new(h[0], 1),
                registered_midwife_hours: Decimal::new(h[1], 1),
                allied_health_professional_hours: Decimal::new(h[2], 1),
                healthcare_support_worker_hours: Decimal::new(h[3], 1),
            })
    }

    proptest! {
        #[test]
        fn roll_up_equals_total_hours_over_total_patient_days(days in proptest::collection::vec(ward_day(), 1..60)) {
            let r = compute_chppd(&days);
            for t in &r.trusts {
                let wards: Vec<_> = r.wards.iter().filter(|w| w.trust == t.trust && w.month == t.month).collect();
                // Every ward with data counts, with or without patients.
                let hours: Decimal = wards.iter().map(|w| w.figures.hours.total()).sum();
                let pd: u64 = wards.iter().map(|w| w.figures.patient_days).sum();
                let want = (pd > 0).then(|| hours / Decimal::from(pd));
                prop_assert_eq!(t.figures.chppd(), want);
                prop_assert_eq!(t.wards, wards.len());
                if let Some(p) = t.figures.per_patient_day {
                    prop_assert!((p.by_staff_group.total() - p.chppd).abs() < Decimal::new(1, 20));
                }
            }
        }

        #[test]
        fn order_of_days_does_not_matter(days in proptest::collection::vec(ward_day(), 1..60), seed in any::<usize>()) {
            // Without duplicates (with them, the first one given is kept).
            let mut days: Vec<WardDay> = days
                .into_iter()
                .map(|d| ((d.ward.clone(), d.date), d))
                .collect::<BTreeMap<_, _>>()
                .into_values()
                .collect();
            let a = compute_chppd(&days);
            let len = days.len();
            days.rotate_left(seed % len);
            days.reverse();
            let b = compute_chppd(&days);
            prop_assert_eq!(a.wards, b.wards);
            prop_assert_eq!(a.trusts, b.trusts);
        }
    }
}
