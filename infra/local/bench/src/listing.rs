//! Section 6: `GET /api/profiles` (the list use case, in process) at 1,000,000 profiles,
//! every filter alone and combined: p50 and p99 of the first page and of a page deep in
//! the list (cursor at the middle id), against the goal of ~20 ms p99.

use crate::{Bench, Figures, PROFILES};
use app::usecases::list_profiles::{ListProfilesDeps, ListQuery, list_profiles};
use domain::{Cursor, PageSize, ProfileFilter, ProfileSort};
use std::time::Instant;

/// The one profile with this name is 777777 (see main::seed_profiles).
const RARE_KEYWORD: &str = "남궁하늘별";

/// Requests per case and page.
const SAMPLES: usize = 60;

/// A case's label and its query parameters: category, region, keyword, minCareerYears.
type Case = (&'static str, [Option<&'static str>; 4]);

/// The seed gives profile `id` category `id mod 10`, region `(id / 10) mod 18` and
/// `(id / 180) mod 41` career years, independently; names are a surname of 10 and two
/// syllables of 40 drawn by hash (16,000 names, ~62 profiles each), and profile 777777
/// alone is 남궁하늘별.
const CASES: [Case; 15] = [
    ("no filter", [None, None, None, None]),
    ("category (1 in 10)", [Some("DESIGN"), None, None, None]),
    ("region (1 in 18)", [None, Some("JEJU"), None, None]),
    (
        "keyword, a surname (김, 1 in 10)",
        [None, None, Some("김"), None],
    ),
    (
        "keyword, two syllables (민준, ~1 in 1,600)",
        [None, None, Some("민준"), None],
    ),
    (
        "keyword, a full name (김민준, ~1 in 16,000)",
        [None, None, Some("김민준"), None],
    ),
    (
        "keyword, rare (남궁하늘별, one profile)",
        [None, None, Some(RARE_KEYWORD), None],
    ),
    (
        "keyword, no such name (김민준호)",
        [None, None, Some("김민준호"), None],
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
        "category + keyword 김민준",
        [Some("DESIGN"), None, Some("김민준"), None],
    ),
    (
        "keyword 김 + minCareerYears 40 (1 in 410)",
        [None, None, Some("김"), Some("40")],
    ),
    (
        "all four (keyword 김)",
        [Some("DESIGN"), Some("JEJU"), Some("김"), Some("20")],
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
    let mut rare_p50 = f64::NAN;
    for (label, [category, region, keyword, min_years]) in CASES {
        let filter = ProfileFilter::parse(category, region, keyword, min_years).expect("a filter");
        for (page, cursor) in [("first page", None), ("deep page", Some(PROFILES / 2))] {
            let query = ListQuery {
                filter: filter.clone(),
                cursor: cursor.map(|before_id| Cursor { before_id }),
                size: PageSize::parse(Some("20")).expect("a size"),
                sort: ProfileSort::default(),
            };
            let (p50, p99, shown) = latencies(&deps, &query, bench).await;
            if keyword == Some(RARE_KEYWORD) && cursor.is_none() && category.is_none() {
                rare_p50 = p50;
            }
            figures.add(
                format!("list, {label}, {page}"),
                format!("{p50:.1} / {p99:.1} ms ({shown} shown)"),
            );
        }
    }
    full_like_scan(bench, figures, rare_p50).await;
}

/// The baseline for the keyword rows: the rare keyword's first page read as the list did
/// before the fragment index, a scan of every name with LIKE (median of 5; it is slow).
async fn full_like_scan(bench: &Bench, figures: &mut Figures, indexed_p50: f64) {
    let mut samples = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let rows: Vec<u64> = sqlx::query_scalar(
            "SELECT p.id FROM profiles p JOIN members m ON m.id = p.member_id \
             WHERE m.name LIKE '%남궁하늘별%' ORDER BY p.id DESC LIMIT 20",
        )
        .fetch_all(&bench.pool)
        .await
        .expect("the LIKE scan");
        assert_eq!(rows, [777777], "the rare name is one profile");
        samples.push(started.elapsed().as_secs_f64() * 1e3);
    }
    samples.sort_by(f64::total_cmp);
    let scan = samples[2];
    figures.add(
        "list, keyword rare, first page: full LIKE scan (no fragment index) vs indexed, p50",
        format!(
            "{scan:.1} ms vs {indexed_p50:.1} ms = {:.0}x",
            scan / indexed_p50
        ),
    );
}

/// p50 and p99 in ms of SAMPLES sequential calls (after one warm-up call), and how many
/// profiles the page shows (a fast empty page would be no figure).
async fn latencies(
    deps: &ListProfilesDeps<'_>,
    query: &ListQuery,
    bench: &Bench,
) -> (f64, f64, usize) {
    let shown = list_profiles(deps, query.clone(), bench.now)
        .await
        .expect("a page")
        .items
        .len();
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
    (at(0.5), at(0.99), shown)
}
