use futures::future::join_all;
use integration_tests::{TestApp, kst};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

fn ids(page: &Value) -> Vec<u64> {
    page["result"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["profileId"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn keyset_pages_return_every_profile_exactly_once_while_new_profiles_arrive() {
    let app = TestApp::spawn().await;
    let mut existing = BTreeSet::new();
    for i in 0..40 {
        existing.insert(app.signup(json!({ "name": format!("기존{i}") })).await);
    }

    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/profiles?size=7&cursor={c}"),
            None => "/api/profiles?size=7".to_owned(),
        };
        // New members sign up between every page request.
        let (inserted, (status, page)) = futures::join!(
            join_all((0..3).map(|i| app.signup(json!({ "name": format!("신규{pages}-{i}") })))),
            app.get(&path, None)
        );
        assert_eq!(status, 200, "{page}");
        assert_eq!(inserted.len(), 3);
        let page_ids = ids(&page);
        assert!(
            page_ids.windows(2).all(|w| w[0] > w[1]),
            "newest first within a page"
        );
        for id in page_ids {
            *seen.entry(id).or_default() += 1;
        }
        pages += 1;
        match page["result"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 50, "pagination must end");
    }
    assert!(seen.values().all(|n| *n == 1), "no profile twice: {seen:?}");
    for id in &existing {
        assert!(seen.contains_key(id), "profile {id} missing from the pages");
    }
}

#[tokio::test]
async fn filters_combine_in_one_query() {
    let app = TestApp::spawn().await;
    let wanted = app
        .signup(json!({ "name": "김개발", "category": "DEVELOPMENT", "region": "BUSAN", "careerYears": 12 }))
        .await;
    app.signup(
        json!({ "name": "김개발", "category": "DEVELOPMENT", "region": "BUSAN", "careerYears": 3 }),
    )
    .await;
    app.signup(
        json!({ "name": "김개발", "category": "DESIGN", "region": "BUSAN", "careerYears": 12 }),
    )
    .await;
    app.signup(json!({ "name": "김개발", "category": "DEVELOPMENT", "region": "SEOUL", "careerYears": 12 })).await;
    app.signup(json!({ "name": "이디자인", "category": "DEVELOPMENT", "region": "BUSAN", "careerYears": 12 })).await;
    // A LIKE wildcard in the keyword is a literal character.
    app.signup(json!({ "name": "100%_전문가" })).await;

    let (_, page) = app.get("/api/profiles?category=DEVELOPMENT&region=BUSAN&keyword=%EA%B0%9C%EB%B0%9C&minCareerYears=10", None).await;
    assert_eq!(ids(&page), vec![wanted]);
    let (_, page) = app.get("/api/profiles?keyword=%25_", None).await;
    assert_eq!(page["result"]["items"].as_array().unwrap().len(), 1);
    let (_, page) = app.get("/api/profiles?region=BUSAN", None).await;
    assert_eq!(ids(&page).len(), 4);
    let (_, page) = app.get("/api/profiles", None).await;
    assert_eq!(ids(&page).len(), 6);
}

#[tokio::test]
async fn in_page_sort_by_views_and_by_korean_name() {
    let app = TestApp::spawn().await;
    let at = kst("2026-11-24T12:00:00");
    let mut by_name = BTreeMap::new();
    for (name, views) in [
        ("하지원", 1),
        ("가나다", 4),
        ("나비", 0),
        ("Zed", 2),
        ("다람쥐", 3),
    ] {
        let id = app.signup(json!({ "name": name })).await;
        for _ in 0..views {
            app.view(id, at).await;
        }
        by_name.insert(name, id);
    }
    let names = |page: &Value| -> Vec<String> {
        page["result"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, page) = app.get("/api/profiles?sort=NAME", Some(at)).await;
    assert_eq!(names(&page), ["가나다", "나비", "다람쥐", "하지원", "Zed"]);
    let (_, page) = app.get("/api/profiles?sort=VIEWS", Some(at)).await;
    assert_eq!(names(&page), ["가나다", "다람쥐", "Zed", "하지원", "나비"]);
    let counts: Vec<u64> = page["result"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["viewCount"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [4, 3, 2, 1, 0]);
}

/// Each filter shape walks its own index (category, region, both, neither): paged two at
/// a time, every shape returns exactly the matching profiles, newest first, once each.
#[tokio::test]
async fn every_filter_shape_pages_through_exactly_its_profiles() {
    let app = TestApp::spawn().await;
    let mut profiles = Vec::new();
    for i in 0..12 {
        let category = ["DESIGN", "LEGAL", "DESIGN"][i % 3];
        let region = ["JEJU", "BUSAN"][i % 2];
        let id = app
            .signup(json!({ "category": category, "region": region }))
            .await;
        profiles.push((id, category, region));
    }
    let shapes: [(&str, Option<&str>, Option<&str>); 4] = [
        ("", None, None),
        ("category=DESIGN", Some("DESIGN"), None),
        ("region=JEJU", None, Some("JEJU")),
        ("category=DESIGN&region=JEJU", Some("DESIGN"), Some("JEJU")),
    ];
    for (query, category, region) in shapes {
        let mut expected: Vec<u64> = profiles
            .iter()
            .filter(|(_, c, r)| category.is_none_or(|x| x == *c) && region.is_none_or(|x| x == *r))
            .map(|(id, _, _)| *id)
            .collect();
        expected.reverse();
        let mut listed = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/profiles?size=2&{query}&cursor={c}"),
                None => format!("/api/profiles?size=2&{query}"),
            };
            let (status, page) = app.get(&path, None).await;
            assert_eq!(status, 200, "{query}: {page}");
            listed.extend(ids(&page));
            match page["result"]["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
            assert!(listed.len() <= 12, "{query}: pagination must end");
        }
        assert_eq!(listed, expected, "{query}");
    }
}

/// Invariant: for any keyword and filters, the pages of `GET /api/profiles` hold exactly
/// the profiles that a full scan with `name LIKE '%keyword%'` finds (the name-fragment
/// index changes how a page is read, never what it holds), newest first, once each.
/// Names and keywords are random over an alphabet with LIKE's wildcards, spaces and
/// letters the collation folds; two fragments also get more than SPARSE_POSTINGS ghost
/// entries, so both plans (walk the fragment, walk the filter's index) are taken.
/// LISTING_SEED (default: random) is printed and settable.
#[tokio::test]
async fn keyword_pages_hold_exactly_what_a_full_like_scan_finds() {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    let seed = std::env::var("LISTING_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    println!("keyword listing: LISTING_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    const ALPHABET: [&str; 12] = [
        "김", "철", "수", "이", "a", "A", "b", "%", "_", "!", " ", "ß",
    ];
    let word = |rng: &mut StdRng, max: usize| -> String {
        let len = rng.random_range(1..=max);
        (0..len)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
            .collect()
    };
    let app = TestApp::spawn().await;
    let mut names = Vec::new();
    for _ in 0..48 {
        let name = word(&mut rng, 7).trim().to_owned();
        let name = if name.is_empty() {
            "김".to_owned()
        } else {
            name
        };
        let category = ["DESIGN", "LEGAL"][rng.random_range(0..2)];
        let region = ["JEJU", "BUSAN"][rng.random_range(0..2)];
        app.signup(json!({ "name": name, "category": category, "region": region }))
            .await;
        names.push(name);
    }
    // Ghost postings (no such profile) make two fragments "common" for the planner.
    let ghosts = domain::name_search::SPARSE_POSTINGS + 5;
    for gram in ["김", "a"] {
        sqlx::query(
            "INSERT INTO member_name_grams (gram, profile_id) \
             SELECT ?, 1000000000 + seq FROM seq_1_to_2000 WHERE seq <= ?",
        )
        .bind(gram)
        .bind(ghosts)
        .execute(&app.db)
        .await
        .expect("ghost postings");
    }
    for round in 0..40 {
        let keyword = if round % 2 == 0 {
            // A piece of an existing name, so most keywords match something.
            let name: Vec<char> = names[rng.random_range(0..names.len())].chars().collect();
            let start = rng.random_range(0..name.len());
            let end = rng.random_range(start + 1..=name.len().min(start + 5));
            name[start..end].iter().collect::<String>()
        } else {
            word(&mut rng, 5)
        };
        let keyword = keyword.trim();
        if keyword.is_empty() {
            continue;
        }
        let filters = [
            "",
            "&category=DESIGN",
            "&category=LEGAL&region=JEJU",
            "&minCareerYears=5",
        ][rng.random_range(0..4)];
        let expected = like_scan(&app, keyword, filters).await;
        let encoded: String = keyword.bytes().map(|b| format!("%{b:02X}")).collect();
        let listed = all_pages(&app, &format!("keyword={encoded}{filters}")).await;
        assert_eq!(
            listed, expected,
            "LISTING_SEED={seed}: keyword {keyword:?}{filters} listed differently from a LIKE scan"
        );
    }
}

/// The reference: every profile whose name contains `keyword`, by a full scan, newest first.
async fn like_scan(app: &TestApp, keyword: &str, filters: &str) -> Vec<u64> {
    let escaped: String = keyword
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '!' => vec!['!', c],
            _ => vec![c],
        })
        .collect();
    let category = filters
        .split("category=")
        .nth(1)
        .map(|s| s.split('&').next().unwrap());
    let region = filters.split("region=").nth(1);
    let min_years: u8 = if filters.contains("minCareerYears") {
        5
    } else {
        0
    };
    sqlx::query_scalar(
        "SELECT p.id FROM profiles p IGNORE INDEX (ix_profiles_category_id, ix_profiles_region_id, \
         ix_profiles_category_region_id) JOIN members m ON m.id = p.member_id \
         WHERE m.name LIKE ? ESCAPE '!' AND (? IS NULL OR p.category = ?) \
         AND (? IS NULL OR p.region = ?) AND p.career_years >= ? ORDER BY p.id DESC",
    )
    .bind(format!("%{escaped}%"))
    .bind(category)
    .bind(category)
    .bind(region)
    .bind(region)
    .bind(min_years)
    .fetch_all(&app.db)
    .await
    .expect("the LIKE scan")
}

/// Every page of the list for `query`, three at a time.
async fn all_pages(app: &TestApp, query: &str) -> Vec<u64> {
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let path = match &cursor {
            Some(c) => format!("/api/profiles?size=3&{query}&cursor={c}"),
            None => format!("/api/profiles?size=3&{query}"),
        };
        let (status, page) = app.get(&path, None).await;
        assert_eq!(status, 200, "{query}: {page}");
        listed.extend(ids(&page));
        match page["result"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return listed,
        }
    }
    panic!("{query}: pagination must end");
}

/// The fragment index's migration indexes the names of members who signed up before it
/// (run here as shipped, on rows written without fragments).
#[tokio::test]
async fn the_name_fragment_migration_indexes_existing_members() {
    let app = TestApp::spawn().await;
    let kept = app.signup(json!({ "name": "새회원" })).await;
    sqlx::raw_sql(
        "INSERT INTO members (id, name, email, created_at) VALUES \
         (900001, '남궁민수', 'old1@example.com', NOW(6)), (900002, 'Kim Min', 'old2@example.com', NOW(6)); \
         INSERT INTO profiles (id, member_id, headline, category, career_years, region, introduction, created_at) \
         SELECT id, id, '예전 회원', 'DESIGN', 3, 'SEOUL', '', NOW(6) FROM members WHERE id > 900000; \
         DROP TABLE member_name_grams",
    )
    .execute(&app.db)
    .await
    .expect("members from before the index");
    let migration = adapters::mysql::MIGRATOR
        .iter()
        .find(|m| m.description.contains("member name grams"))
        .expect("the fragment migration");
    sqlx::raw_sql(sqlx::AssertSqlSafe(migration.sql.as_str().to_owned()))
        .execute(&app.db)
        .await
        .expect("the migration runs on existing rows");
    for (keyword, expected) in [
        ("%EB%AF%BC%EC%88%98", vec![900001]),                   // 민수
        ("%EB%82%A8%EA%B6%81%EB%AF%BC%EC%88%98", vec![900001]), // 남궁민수
        ("min", vec![900002]),
        ("%EC%83%88", vec![kept]), // 새
    ] {
        assert_eq!(
            all_pages(&app, &format!("keyword={keyword}")).await,
            expected,
            "{keyword}"
        );
    }
}
