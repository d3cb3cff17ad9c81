//! The AWS emulator itself keeps DynamoDB's per-item guarantees, which the exactly-once
//! scenarios rely on: an `UpdateItem ADD` is atomic, a conditional write is decided and
//! applied in one step, and a transaction is all-or-nothing without touching other items.
//! Plain moto does not (its threaded server races on one item: of 400 concurrent ADDs a
//! few are lost, more on a wide item; two conditional puts both win; a cancelled transaction
//! undoes other writes or fails with a 500); infra/local/moto_serial.py is why the stack's
//! emulator does. Each test here fails against plain moto in most runs.
//!
//! Each test makes its own table. Nothing is random; the parameters (and the endpoint) are
//! printed with any failure. `EMULATOR_ADDS`, `EMULATOR_TASKS` and `EMULATOR_WIDTH` (of the wide
//! item) override the size of (a).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ScalarAttributeType, TransactWriteItem, Update,
};
use std::collections::BTreeMap;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
        })
        .unwrap_or(default)
}

/// A client as the services make it (the stack's environment), but without the SDK's
/// retries: a retried ADD could hide a lost one or count one twice, and a failed request
/// should fail the test, not be papered over.
async fn client() -> Client {
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&aws)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build(),
    )
}

/// A fresh table keyed by `pk` (a string) alone; its name.
async fn table(client: &Client, what: &str) -> String {
    let name = format!("emu-{what}-{}", uuid::Uuid::new_v4().simple());
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table {name}: {}", DisplayErrorContext(e)));
    name
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The item `pk`, read consistently.
async fn item(client: &Client, table: &str, pk: &str) -> Option<BTreeMap<String, AttributeValue>> {
    client
        .get_item()
        .table_name(table)
        .key("pk", s(pk))
        .consistent_read(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {pk} from {table}: {}", DisplayErrorContext(e)))
        .item
        .map(|i| i.into_iter().collect())
}

fn number(item: &Option<BTreeMap<String, AttributeValue>>, name: &str) -> Option<u64> {
    item.as_ref()?.get(name)?.as_n().ok()?.parse().ok()
}

/// `width` attributes of 100 bytes besides the key: what makes an item "wide". moto copies
/// an item on every write, so a wide one widens its read-modify-write window, and plain
/// moto's races show in most runs instead of a few.
fn padding(width: usize) -> impl Iterator<Item = (String, AttributeValue)> {
    (0..width).map(|i| (format!("a{i}"), s(&"v".repeat(100))))
}

fn params(what: &str, table: &str, detail: String) -> String {
    format!(
        "{what}: {detail} (table {table}, AWS_ENDPOINT_URL={})",
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "unset".into())
    )
}

/// `tasks` tasks share `adds` `UpdateItem ADD <attr> 1` on one item, each task one request
/// at a time (so `tasks` requests in flight, on as many connections); the value each ADD
/// returned.
async fn concurrent_adds(
    client: &Client,
    table: &str,
    pk: &str,
    attr: &str,
    adds: usize,
    tasks: usize,
) -> Vec<u64> {
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (client, table, pk, attr) = (
                client.clone(),
                table.to_owned(),
                pk.to_owned(),
                attr.to_owned(),
            );
            // Task t does the ADDs t, t + tasks, t + 2·tasks, ... below `adds`.
            let mine = (t..adds).step_by(tasks).count();
            tokio::spawn(async move {
                let mut seen: Vec<u64> = Vec::with_capacity(mine);
                for _ in 0..mine {
                    let out = client
                        .update_item()
                        .table_name(&table)
                        .key("pk", s(&pk))
                        .update_expression("ADD #a :one")
                        .expression_attribute_names("#a", &attr)
                        .expression_attribute_values(":one", n(1))
                        .return_values(ReturnValue::UpdatedNew)
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("ADD on {pk}: {}", DisplayErrorContext(e)));
                    let value = out
                        .attributes
                        .as_ref()
                        .and_then(|a| a.get(&attr))
                        .and_then(|v| v.as_n().ok());
                    seen.push(
                        value
                            .and_then(|v| v.parse().ok())
                            .expect("ADD returns the new value"),
                    );
                }
                seen
            })
        })
        .collect();
    let mut seen = Vec::with_capacity(adds);
    for h in futures::future::join_all(handles).await {
        seen.extend(h.expect("ADD task"));
    }
    seen
}

/// What an atomic counter owes: ADDs that each returned a different value, 1..=adds, and
/// the item at `adds`. The description of what went wrong otherwise.
fn counter_problems(mut seen: Vec<u64>, last: Option<u64>, adds: usize) -> Option<String> {
    seen.sort_unstable();
    let expected: Vec<u64> = (1..=adds as u64).collect();
    if seen == expected && last == Some(adds as u64) {
        return None;
    }
    let mut counts = BTreeMap::<u64, usize>::new();
    for v in &seen {
        *counts.entry(*v).or_default() += 1;
    }
    let repeated: Vec<_> = counts
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|(v, c)| format!("{v}×{c}"))
        .collect();
    Some(format!(
        "{adds} ADDs left the item at {last:?} (lost {}); values returned more than once: [{}]",
        adds as i64 - last.unwrap_or(0) as i64,
        repeated.join(", ")
    ))
}

/// (a) Concurrent ADDs on one item are all counted, each seeing its own predecessor: on a
/// bare item, and on a wide one (`padding`), the sharper probe.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_adds_on_one_item_are_all_counted() {
    let adds = setting("EMULATOR_ADDS", 400);
    let tasks = setting("EMULATOR_TASKS", 16);
    let width = setting("EMULATOR_WIDTH", 200);
    let client = client().await;
    let table = table(&client, "add").await;
    let mut problems = Vec::new();
    for (pk, other_attributes) in [("bare", 0), ("wide", width)] {
        if other_attributes > 0 {
            let mut put = client.put_item().table_name(&table).item("pk", s(pk));
            for (name, value) in padding(other_attributes) {
                put = put.item(name, value);
            }
            put.send()
                .await
                .unwrap_or_else(|e| panic!("put {pk}: {}", DisplayErrorContext(e)));
        }
        let seen = concurrent_adds(&client, &table, pk, "n", adds, tasks).await;
        let last = number(&item(&client, &table, pk).await, "n");
        if let Some(problem) = counter_problems(seen, last, adds) {
            problems.push(format!(
                "item {pk} ({other_attributes} other attributes): {problem}"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{}",
        params(
            &format!("{adds} ADDs over {tasks} tasks"),
            &table,
            problems.join("; ")
        )
    );
}

/// (b) Of 50 concurrent `PutItem`s of one key under `attribute_not_exists(pk)`, exactly one
/// is written; the others fail with ConditionalCheckFailed. Several keys, one after the other;
/// wide items (`padding`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_of_concurrent_conditional_puts_wins() {
    const WRITERS: usize = 50;
    const KEYS: usize = 4;
    const WIDTH: usize = 100;
    let client = client().await;
    let table = table(&client, "put").await;
    for key in 0..KEYS {
        let pk = format!("claim-{key}");
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (client, table, pk) = (client.clone(), table.clone(), pk.clone());
                tokio::spawn(async move {
                    let item = [
                        ("pk".to_owned(), s(&pk)),
                        ("writer".to_owned(), n(w as u64)),
                    ]
                    .into_iter()
                    .chain(padding(WIDTH))
                    .collect();
                    match client
                        .put_item()
                        .table_name(&table)
                        .set_item(Some(item))
                        .condition_expression("attribute_not_exists(pk)")
                        .send()
                        .await
                    {
                        Ok(_) => Ok(true),
                        Err(e)
                            if e.as_service_error()
                                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                        {
                            Ok(false)
                        }
                        Err(e) => Err(format!("writer {w}: {}", DisplayErrorContext(e))),
                    }
                })
            })
            .collect();
        let mut winners = Vec::new();
        for (w, h) in futures::future::join_all(handles)
            .await
            .into_iter()
            .enumerate()
        {
            match h.expect("put task") {
                Ok(true) => winners.push(w as u64),
                Ok(false) => {}
                Err(e) => panic!("{}", params(&format!("{WRITERS} puts of {pk}"), &table, e)),
            }
        }
        let stored = number(&item(&client, &table, &pk).await, "writer");
        let ok = winners.len() == 1 && stored == Some(winners[0]);
        assert!(
            ok,
            "{}",
            params(
                &format!("{WRITERS} conditional puts of {pk} (key {key} of {KEYS})"),
                &table,
                format!("winners {winners:?}, item written by {stored:?}")
            )
        );
    }
}

/// (c) Of 50 concurrent transactions that each claim one item (conditionally) and count on
/// another, exactly one commits, and only its writes are seen; meanwhile 200 plain ADDs on
/// a third item of the same table, beside the 49 cancelled transactions, are all kept.
/// (moto undoes a cancelled transaction by restoring a copy of each table it touched; some
/// wide filler items make that copy slow, so plain moto's lost writes show.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_of_conflicting_transactions_commits_and_cancelled_ones_undo_nothing_else() {
    const TRANSACTIONS: usize = 50;
    const ADDS: usize = 200;
    const TASKS: usize = 16;
    const FILLERS: usize = 10;
    const FILLER_WIDTH: usize = 100;
    let client = client().await;
    let table = table(&client, "tx").await;
    for filler in 0..FILLERS {
        let item = [("pk".to_owned(), s(&format!("filler-{filler}")))]
            .into_iter()
            .chain(padding(FILLER_WIDTH))
            .collect();
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put filler {filler}: {}", DisplayErrorContext(e)));
    }
    let transactions: Vec<_> = (0..TRANSACTIONS)
        .map(|t| {
            let (client, table) = (client.clone(), table.clone());
            tokio::spawn(async move {
                let claim = Update::builder()
                    .table_name(&table)
                    .key("pk", s("claim"))
                    .update_expression("SET #o = :me")
                    .condition_expression("attribute_not_exists(#o)")
                    .expression_attribute_names("#o", "owner")
                    .expression_attribute_values(":me", n(t as u64))
                    .build()
                    .unwrap();
                let count = Update::builder()
                    .table_name(&table)
                    .key("pk", s("tally"))
                    .update_expression("ADD n :one")
                    .expression_attribute_values(":one", n(1))
                    .build()
                    .unwrap();
                match client
                    .transact_write_items()
                    .transact_items(TransactWriteItem::builder().update(claim).build())
                    .transact_items(TransactWriteItem::builder().update(count).build())
                    .send()
                    .await
                {
                    Ok(_) => Ok(Some(t as u64)),
                    // Cancelled: its condition failed, or (as real DynamoDB may say) it
                    // conflicted with another transaction in flight.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|e| e.is_transaction_canceled_exception()) =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(format!("transaction {t}: {}", DisplayErrorContext(e))),
                }
            })
        })
        .collect();
    let (outcomes, bystander) = tokio::join!(
        futures::future::join_all(transactions),
        concurrent_adds(&client, &table, "bystander", "m", ADDS, TASKS)
    );
    let what = format!(
        "{TRANSACTIONS} transactions beside {ADDS} ADDs over {TASKS} tasks \
         ({FILLERS} fillers of width {FILLER_WIDTH})"
    );
    let (mut winners, mut errors) = (Vec::new(), Vec::new());
    for outcome in outcomes {
        match outcome.expect("transaction task") {
            Ok(Some(t)) => winners.push(t),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    let owner = number(&item(&client, &table, "claim").await, "owner");
    let tally = number(&item(&client, &table, "tally").await, "n");
    let bystander_last = number(&item(&client, &table, "bystander").await, "m");
    let mut problems = Vec::new();
    if let Some(first) = errors.first() {
        problems.push(format!(
            "{} transactions neither committed nor were cancelled, the first: {first}",
            errors.len()
        ));
    }
    if winners.len() != 1 || owner != Some(winners[0]) || tally != Some(1) {
        problems.push(format!(
            "committed {winners:?}, claim owned by {owner:?}, tally {tally:?} (1 expected)"
        ));
    }
    if let Some(p) = counter_problems(bystander, bystander_last, ADDS) {
        problems.push(format!("bystander: {p}"));
    }
    assert!(
        problems.is_empty(),
        "{}",
        params(&what, &table, problems.join("; "))
    );
}
