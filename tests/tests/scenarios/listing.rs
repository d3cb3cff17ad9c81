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
