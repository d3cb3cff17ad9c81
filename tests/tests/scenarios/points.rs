//! A member sees their points: the account with its balance, and the history of every
//! change, newest first, page by page.

use integration_tests::TestApp;
use serde_json::Value;

/// A member who bought `amounts` in this order (each confirmed DONE).
async fn member_who_bought(app: &TestApp, amounts: &[u64]) -> (u64, Vec<String>) {
    let member = app.member().await;
    let mut orders = Vec::new();
    for &amount in amounts {
        let order_id = app.checkout(member, amount).await;
        let payment_key = app.authenticate(&order_id, amount, "").await;
        let (status, body) = app.confirm(member, &payment_key, &order_id, amount).await;
        assert_eq!(status, 200, "{body}");
        orders.push(order_id);
    }
    (member, orders)
}

/// Every history page of `member`, `size` at a time.
async fn history(app: &TestApp, member: u64, size: u32) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let path = match &cursor {
            Some(c) => format!("/api/members/me/points?size={size}&cursor={c}"),
            None => format!("/api/members/me/points?size={size}"),
        };
        let (status, page) = app.get_as(member, &path).await;
        assert_eq!(status, 200, "{page}");
        let items = page["result"]["items"].as_array().unwrap();
        assert!(items.len() <= size as usize);
        entries.extend(items.iter().cloned());
        match page["result"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return entries,
        }
    }
    panic!("the history's pagination must end");
}

#[tokio::test]
async fn the_account_shows_the_balance_and_the_history_pages_newest_first() {
    let app = TestApp::spawn().await;
    let amounts = [5_000, 1_000, 30_000];
    let (member, orders) = member_who_bought(&app, &amounts).await;

    let (status, me) = app.get_as(member, "/api/members/me").await;
    assert_eq!(status, 200, "{me}");
    let me = &me["result"];
    assert_eq!(me["memberId"], member);
    assert_eq!(me["points"], 36_000);
    assert_eq!(me["openLots"], 3);
    assert_eq!(me["name"], "홍길동");
    assert!(me["profile"]["profileId"].as_u64().is_some());
    assert_eq!(me["profile"]["category"], "DEVELOPMENT");

    let entries = history(&app, member, 2).await;
    let shown: Vec<(String, i64, i64, String)> = entries
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["amount"].as_i64().unwrap(),
                e["balanceAfter"].as_i64().unwrap(),
                e["orderId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = vec![
        ("PURCHASE".to_owned(), 30_000, 36_000, orders[2].clone()),
        ("PURCHASE".to_owned(), 1_000, 6_000, orders[1].clone()),
        ("PURCHASE".to_owned(), 5_000, 5_000, orders[0].clone()),
    ];
    assert_eq!(shown, expected);
    let ids: Vec<u64> = entries
        .iter()
        .map(|e| e["entryId"].as_u64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
}

#[tokio::test]
async fn a_member_sees_only_their_own_points() {
    let app = TestApp::spawn().await;
    let (buyer, _) = member_who_bought(&app, &[2_000]).await;
    let other = app.member().await;
    let (_, me) = app.get_as(other, "/api/members/me").await;
    assert_eq!(
        (
            me["result"]["points"].as_u64(),
            me["result"]["openLots"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert!(history(&app, other, 20).await.is_empty());
    // The buyer's cursor does not open the buyer's history to another member.
    let (_, page) = app.get_as(buyer, "/api/members/me/points?size=1").await;
    assert_eq!(page["result"]["items"].as_array().unwrap().len(), 1);
    let entry = page["result"]["items"][0]["entryId"].as_u64().unwrap();
    let cursor = domain::points::HistoryCursor {
        before_id: entry + 1,
    }
    .encode();
    let (status, page) = app
        .get_as(other, &format!("/api/members/me/points?cursor={cursor}"))
        .await;
    assert_eq!(status, 200);
    assert!(page["result"]["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn bad_history_requests_are_refused_with_their_code() {
    let app = TestApp::spawn().await;
    let member = app.member().await;
    let profile_cursor = domain::Cursor { before_id: 9 }.encode();
    for (query, code) in [
        ("size=0", "INVALID_PAGE_SIZE"),
        ("size=101", "INVALID_PAGE_SIZE"),
        ("cursor=garbage", "INVALID_CURSOR"),
        (
            &format!("cursor={profile_cursor}") as &str,
            "INVALID_CURSOR",
        ),
    ] {
        let (status, body) = app
            .get_as(member, &format!("/api/members/me/points?{query}"))
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some(code)),
            "{query}: {body}"
        );
    }
    // A valid token whose member is gone from the database (e.g. a restored backup).
    let mut conn = app.db.acquire().await.unwrap();
    sqlx::raw_sql("SET FOREIGN_KEY_CHECKS = 0; DELETE FROM members")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let (status, body) = app.get_as(member, "/api/members/me").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("MEMBER_NOT_FOUND")),
        "{body}"
    );
}

/// The lots migration turns each purchase recorded before it into a lot with nothing
/// used and a PURCHASE entry with the running balance (run here as shipped).
#[tokio::test]
async fn the_lots_migration_keeps_every_earlier_purchase() {
    let app = TestApp::spawn().await;
    let first = app.member().await;
    let second = app.member().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP TABLE point_lots; DROP TABLE point_history; \
         CREATE TABLE point_ledger (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, \
           member_id BIGINT UNSIGNED NOT NULL, order_id VARCHAR(64) NOT NULL, \
           points BIGINT UNSIGNED NOT NULL, created_at DATETIME(6) NOT NULL, PRIMARY KEY (id), \
           UNIQUE KEY uk_point_ledger_order (order_id), KEY ix_point_ledger_member (member_id, id)); \
         INSERT INTO point_ledger (member_id, order_id, points, created_at) VALUES \
           ({first}, 'ord_before_1', 5000, NOW(6)), ({second}, 'ord_before_2', 700, NOW(6)), \
           ({first}, 'ord_before_3', 3000, NOW(6)); \
         UPDATE members SET points = 8000 WHERE id = {first}; \
         UPDATE members SET points = 700 WHERE id = {second}"
    )))
    .execute(&app.db)
    .await
    .expect("the state before the migration");
    let migration = adapters::mysql::MIGRATOR
        .iter()
        .find(|m| m.description.contains("point lots and history"))
        .expect("the lots migration");
    sqlx::raw_sql(sqlx::AssertSqlSafe(migration.sql.as_str().to_owned()))
        .execute(&app.db)
        .await
        .expect("the migration runs on existing purchases");
    let (_, me) = app.get_as(first, "/api/members/me").await;
    assert_eq!(
        (
            me["result"]["points"].as_u64(),
            me["result"]["openLots"].as_u64()
        ),
        (Some(8000), Some(2))
    );
    let balances: Vec<(i64, i64)> = history(&app, first, 20)
        .await
        .iter()
        .map(|e| {
            (
                e["amount"].as_i64().unwrap(),
                e["balanceAfter"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(balances, [(3000, 8000), (5000, 5000)]);
    assert_eq!(history(&app, second, 20).await.len(), 1);
}
