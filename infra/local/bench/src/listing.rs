//! Section 6: `GET /api/profiles` (the list use case, in process) at 1,000,000 profiles,
//! every filter alone and combined: p50 and p99 of the first page and of a page deep in
//! the list (cursor at the middle id), against the goal of ~20 ms p99.

use crate::{Bench, Figures, PROFILES};
use app::usecases::list_profiles::{ListProfilesDeps, ListQuery, list_profiles};
use domain::{Cursor, PageSize, ProfileFilter, ProfileSort};
use std::time::Instant;

/// Requests per case and page.
const SAMPLES: usize = 60;

/// A case's label and its query parameters: category, region, keyword, minCareerYears.
type Case = (&'static str, [Option<&'static str>; 4]);

/// The seed gives profile `id` category `id mod 10`, region `(id / 10) mod 18` and
/// `(id / 180) mod 41` career years, independently; names are `전문가<id>`.
const CASES: [Case; 10] = [
    ("no filter", [None, None, None, None]),
    ("category (1 in 10)", [Some("DESIGN"), None, None, None]),
    ("region (1 in 18)", [None, Some("JEJU"), None, None]),
    (
        "keyword, common (전문가1…)",
        [None, None, Some("전문가1"), None],
    ),
    (
        "keyword, rare (one profile)",
        [None, None, Some("전문가777777"), None],
    ),
    (
        "minCareerYears 30 (11 in 41)",
        [None, None, None, Some("30")],
    ),
    (
        "minCareerYears 40 (1 in 41)",
        [None, None, None, Some("40")],
    ),
    (
        "category + region (1 in 180)",
        [Some("DESIGN"), Some("JEJU"), None, None],
    ),
    (
        "category + region + minCareerYears 40 (1 in 7,380)",
        [Some("DESIGN"), Some("JEJU"), None, Some("40")],
    ),
    (
        "all four (keyword 전문가1)",
        [Some("DESIGN"), Some("JEJU"), Some("전문가1"), Some("20")],
    ),
];

pub(crate) async fn run(bench: &Bench, figures: &mut Figures) {
    println!("\n6. profile list at {PROFILES} profiles: p50 / p99 per filter (goal p99 <= ~20 ms)");
    let services = &bench.services;
    let deps = ListProfilesDeps {
        search: &*services.store,
        counter: &*services.counter,
        collator: &services.collator,
    };
    for (label, [category, region, keyword, min_years]) in CASES {
        let filter = ProfileFilter::parse(category, region, keyword, min_years).expect("a filter");
        for (page, cursor) in [("first page", None), ("deep page", Some(PROFILES / 2))] {
            let query = ListQuery {
                filter: filter.clone(),
                cursor: cursor.map(|before_id| Cursor { before_id }),
                size: PageSize::parse(Some("20")).expect("a size"),
                sort: ProfileSort::default(),
            };
            let (p50, p99) = latencies(&deps, &query, bench).await;
            figures.add(
                format!("list, {label}, {page}"),
                format!("{p50:.1} / {p99:.1} ms"),
            );
        }
    }
}

/// p50 and p99 in ms of SAMPLES sequential calls (after one warm-up call).
async fn latencies(deps: &ListProfilesDeps<'_>, query: &ListQuery, bench: &Bench) -> (f64, f64) {
    list_profiles(deps, query.clone(), bench.now)
        .await
        .expect("a page");
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        list_profiles(deps, query.clone(), bench.now)
            .await
            .expect("a page");
        samples.push(started.elapsed().as_secs_f64() * 1e3);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}
