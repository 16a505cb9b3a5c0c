//! A synthetic national feed with the shape of England's acute sector: 230 trusts with 1,500
//! locations between them, 8 core services per location rated on the 5 key questions, a trust-level
//! well-led assessment and a published use-of-resources rating per trust; and NHSI's monthly
//! finance and productivity returns and daily ward staffing as NHSI feed CSV. Deterministic: the
//! same arguments give the same bytes.

use anyhow::Context;
use chrono::{Datelike, Duration, NaiveDate};
use cqc_rules::{
    KqServiceRating, LocationEvidence, ServiceEvidence, TrustEvidence, TrustType, WellLedAssessment,
};
use oversight_rating::{KeyQuestion, Rating, RatingValue};

pub const CORE_SERVICES: [&str; 8] = [
    "urgent",
    "care",
    "surgery",
    "critical",
    "maternity",
    "childrens",
    "life",
    "outpatients",
];

/// Productivity metrics sent every month (a representative subset of README's list).
pub const PRODUCTIVITY_METRICS: [&str; 5] = [
    "pre_procedure_elective_bed_days",
    "emergency_readmissions_30_days",
    "staff_retention_rate",
    "sickness_absence_rate",
    "pathology_cost_per_test",
];

const RATINGS: [Rating; 8] = [
    Rating::Good,
    Rating::Good,
    Rating::Good,
    Rating::RequiresImprovement,
    Rating::Outstanding,
    Rating::Good,
    Rating::RequiresImprovement,
    Rating::Inadequate,
];

const RATINGS_HEADER: &str = "record_type,trust_code,trust_name,trust_type,location_id,location_name,service,key_question,rating,report_date\n";

/// A deterministic mixer (splitmix64's finaliser).
pub fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// A three-character ODS-shaped trust code: `prefix` then two base-36 digits of `i`.
pub fn trust_code(prefix: char, i: usize) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    format!(
        "{prefix}{}{}",
        DIGITS[(i / 36) % 36] as char,
        DIGITS[i % 36] as char
    )
}

/// The key question as the ratings feed spells it.
pub fn feed_key_question(kq: KeyQuestion) -> &'static str {
    match kq {
        KeyQuestion::Safe => "safe",
        KeyQuestion::Effective => "effective",
        KeyQuestion::Caring => "caring",
        KeyQuestion::Responsive => "responsive",
        KeyQuestion::WellLed => "well-led",
    }
}

/// One service × key question rating.
#[derive(Debug, Clone)]
pub struct ServiceRating {
    pub location: usize,
    pub service: &'static str,
    pub key_question: KeyQuestion,
    pub rating: Rating,
    pub date: NaiveDate,
}

/// One synthetic trust.
#[derive(Debug, Clone)]
pub struct Trust {
    pub code: String,
    pub name: String,
    pub locations: usize,
    pub ratings: Vec<ServiceRating>,
    pub well_led: (Rating, NaiveDate),
    pub use_of_resources: (Rating, NaiveDate),
}

impl Trust {
    /// A trust with `locations` locations, all core services rated on every key question.
    pub fn generate(prefix: char, i: usize, locations: usize) -> anyhow::Result<Trust> {
        let code = trust_code(prefix, i);
        let base = NaiveDate::from_ymd_opt(2018, 1, 1).context("date")?;
        let mut ratings = Vec::new();
        for l in 0..locations {
            for (s, service) in CORE_SERVICES.iter().enumerate() {
                for (k, kq) in KeyQuestion::ALL.iter().enumerate() {
                    let h = mix((((i * 16 + l) * 8 + s) * 8 + k) as u64 ^ u64::from(prefix));
                    ratings.push(ServiceRating {
                        location: l,
                        service,
                        key_question: *kq,
                        rating: RATINGS[(h % RATINGS.len() as u64) as usize],
                        date: base + Duration::days(((h >> 8) % 330) as i64),
                    });
                }
            }
        }
        let wl = [
            Rating::Good,
            Rating::RequiresImprovement,
            Rating::Outstanding,
        ][i % 3];
        let uor = [
            Rating::Good,
            Rating::RequiresImprovement,
            Rating::Inadequate,
            Rating::Outstanding,
        ][i % 4];
        Ok(Trust {
            name: format!("{code} Hospitals NHS Trust"),
            code,
            locations,
            ratings,
            well_led: (wl, NaiveDate::from_ymd_opt(2018, 12, 15).context("date")?),
            use_of_resources: (uor, NaiveDate::from_ymd_opt(2019, 1, 10).context("date")?),
        })
    }

    pub fn site(&self, location: usize) -> String {
        format!("{}{:02}", self.code, location + 1)
    }

    /// Records this trust contributes to the ratings feed.
    pub fn records(&self) -> usize {
        self.ratings.len() + 2
    }

    /// The trust's rows of the ratings feed (no header).
    pub fn ratings_csv(&self, out: &mut String) {
        let (code, name) = (&self.code, &self.name);
        for r in &self.ratings {
            out.push_str(&format!(
                "service_rating,{code},{name},acute,{site},{code} site {l},{svc},{kq},{rating},{date}\n",
                site = self.site(r.location),
                l = r.location + 1,
                svc = r.service,
                kq = feed_key_question(r.key_question),
                rating = r.rating.cqc_str(),
                date = r.date,
            ));
        }
        out.push_str(&format!(
            "well_led,{code},{name},acute,,,,,{},{}\n",
            self.well_led.0.cqc_str(),
            self.well_led.1
        ));
        out.push_str(&format!(
            "use_of_resources,{code},{name},acute,,,,,{},{}\n",
            self.use_of_resources.0.cqc_str(),
            self.use_of_resources.1
        ));
    }

    /// The trust as the CQC rules see it.
    pub fn evidence(&self) -> anyhow::Result<TrustEvidence> {
        let mut locations = Vec::new();
        for l in 0..self.locations {
            let mut services = Vec::new();
            for service in CORE_SERVICES {
                let ratings = self
                    .ratings
                    .iter()
                    .filter(|r| r.location == l && r.service == service)
                    .map(|r| KqServiceRating {
                        key_question: r.key_question,
                        rating: RatingValue::Rated(r.rating),
                        report_date: r.date,
                        limiter: None,
                        statement_scores: vec![],
                    })
                    .collect();
                services.push(ServiceEvidence {
                    service: service.parse().context("service id")?,
                    ratings,
                    merged_from: None,
                    significantly_small: Vec::new(),
                });
            }
            locations.push(LocationEvidence {
                id: self.site(l).parse().context("site code")?,
                name: Some(format!("{} site {}", self.code, l + 1)),
                services,
            });
        }
        Ok(TrustEvidence {
            trust: self.code.parse().context("trust code")?,
            trust_type: TrustType::Acute,
            locations,
            well_led: vec![WellLedAssessment {
                rating: RatingValue::Rated(self.well_led.0),
                report_date: self.well_led.1,
                statement_scores: vec![],
            }],
        })
    }
}

/// The national feed: 1,500 locations spread over `trusts` trusts (at least one each).
pub fn national(trusts: usize, locations: usize) -> anyhow::Result<Vec<Trust>> {
    let per = (locations / trusts.max(1)).max(1);
    let extra = locations.saturating_sub(per * trusts);
    (0..trusts)
        .map(|i| Trust::generate('R', i, per + usize::from(i < extra)))
        .collect()
}

/// Ratings-feed batches of `per_batch` trusts each: (CSV, records).
pub fn ratings_batches(trusts: &[Trust], per_batch: usize) -> Vec<(Vec<u8>, usize)> {
    trusts
        .chunks(per_batch.max(1))
        .map(|group| {
            let mut csv = String::from(RATINGS_HEADER);
            for t in group {
                t.ratings_csv(&mut csv);
            }
            (csv.into_bytes(), group.iter().map(Trust::records).sum())
        })
        .collect()
}

/// One trust's ratings feed as a batch of its own.
pub fn single_trust_csv(t: &Trust) -> Vec<u8> {
    let mut csv = String::from(RATINGS_HEADER);
    t.ratings_csv(&mut csv);
    csv.into_bytes()
}

fn month_ends(months: usize) -> anyhow::Result<Vec<NaiveDate>> {
    let mut out = Vec::new();
    for m in 0..months {
        let (y, mo) = (2016 + (m / 12) as i32, (m % 12) as u32 + 1);
        let first_next = if mo == 12 {
            NaiveDate::from_ymd_opt(y + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(y, mo + 1, 1)
        }
        .context("date")?;
        out.push(first_next - Duration::days(1));
    }
    Ok(out)
}

/// The size of the NHSI feeds [`nhsi_files`] renders: records in all.
pub fn nhsi_records(trusts: usize, months: usize, wards: usize, days: usize) -> usize {
    trusts * (months * (1 + PRODUCTIVITY_METRICS.len()) + wards * days)
}

/// NHSI feed files (name, CSV, records): monthly finance and productivity for `months` months
/// from April 2016, and `days` days of staffing for `wards` wards per trust, one file per feed and
/// trust group of `per_file` trusts. Rendered lazily, a group at a time, so that a national
/// backfill (millions of rows) never sits in memory whole.
pub fn nhsi_files(
    trusts: &[Trust],
    months: usize,
    wards: usize,
    days: usize,
    per_file: usize,
) -> anyhow::Result<impl Iterator<Item = (String, Vec<u8>, usize)> + '_> {
    let ends = month_ends(months)?;
    let first_day = NaiveDate::from_ymd_opt(2016, 4, 1).context("date")?;
    Ok(trusts
        .chunks(per_file.max(1))
        .enumerate()
        .flat_map(move |(g, group)| nhsi_group(g, group, &ends, first_day, wards, days)))
}

/// The finance, productivity and staffing files of one trust group.
fn nhsi_group(
    g: usize,
    group: &[Trust],
    ends: &[NaiveDate],
    first_day: NaiveDate,
    wards: usize,
    days: usize,
) -> Vec<(String, Vec<u8>, usize)> {
    let mut files = Vec::new();
    {
        let mut finance = String::from(
            "trust_code,period_end,capital_service_capacity,liquidity_days,income_expenditure_margin_pct,distance_from_plan_pct,agency_spend_vs_ceiling_pct\n",
        );
        let mut productivity = String::from("trust_code,period_end,metric,value\n");
        let mut staffing = String::from(
            "trust_code,ward_code,date,patients_at_midnight,registered_nurse_hours,registered_midwife_hours,allied_health_professional_hours,healthcare_support_worker_hours\n",
        );
        let (mut nf, mut np, mut ns) = (0, 0, 0);
        for t in group {
            for (m, end) in ends.iter().enumerate() {
                let h = mix(m as u64 ^ mix(t.code.len() as u64 + u64::from(t.code.as_bytes()[2])));
                finance.push_str(&format!(
                    "{},{end},{}.{:02},{},{}.{},-{}.{},{}.{}\n",
                    t.code,
                    1 + h % 3,
                    h % 100,
                    5 + h % 40,
                    h % 3,
                    h % 10,
                    h % 2,
                    (h >> 4) % 10,
                    (h >> 8) % 60,
                    (h >> 12) % 10
                ));
                nf += 1;
                for (k, metric) in PRODUCTIVITY_METRICS.iter().enumerate() {
                    productivity.push_str(&format!(
                        "{},{end},{metric},{}.{}\n",
                        t.code,
                        1 + (h >> (k * 4)) % 90,
                        (h >> 20) % 10
                    ));
                    np += 1;
                }
            }
            for w in 0..wards {
                for d in 0..days {
                    let date = first_day + Duration::days(d as i64);
                    let h = mix((w * 10_000 + d) as u64 ^ u64::from(t.code.as_bytes()[2]));
                    staffing.push_str(&format!(
                        "{},W{:02},{date},{},{}.5,{},{}.0,{}.5\n",
                        t.code,
                        w + 1,
                        18 + h % 12,
                        150 + h % 50,
                        if date.weekday().number_from_monday() == 7 {
                            0
                        } else {
                            h % 12
                        },
                        h % 16,
                        60 + (h >> 8) % 40
                    ));
                    ns += 1;
                }
            }
        }
        files.push((format!("finance-{g:03}.csv"), finance.into_bytes(), nf));
        files.push((
            format!("productivity-{g:03}.csv"),
            productivity.into_bytes(),
            np,
        ));
        if ns > 0 {
            files.push((
                format!("ward-staffing-{g:03}.csv"),
                staffing.into_bytes(),
                ns,
            ));
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_shape() {
        let trusts = national(230, 1500).unwrap();
        assert_eq!(trusts.len(), 230);
        assert_eq!(trusts.iter().map(|t| t.locations).sum::<usize>(), 1500);
        let records: usize = trusts.iter().map(Trust::records).sum();
        assert_eq!(records, 1500 * 8 * 5 + 2 * 230);
        let codes: std::collections::BTreeSet<_> = trusts.iter().map(|t| &t.code).collect();
        assert_eq!(codes.len(), 230);
        assert!(trusts[0].evidence().is_ok());
    }
}
