//! Toss's webhook deliveries (docs/toss.md §7): what we take from one (its transmission id
//! and the order it names, nothing else: `PAYMENT_STATUS_CHANGED` is unsigned) and what
//! a fresh lookup of the payment means for points already charged.

use crate::error::ValidationError;
use crate::payment::OrderId;
use serde::Deserialize;

/// One delivery as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `tosspayments-webhook-transmission-id`: one per transmission, the dedupe key.
    pub transmission_id: String,
    /// `PAYMENT_STATUS_CHANGED`, `DEPOSIT_CALLBACK` (which has no `eventType`), …
    pub event_type: String,
    /// The order the body names; only a hint of what to look up at Toss.
    pub order_id: Option<OrderId>,
    pub retried_count: u32,
    /// `DEPOSIT_CALLBACK`'s `secret`: must equal the one Toss gave with the virtual account.
    pub secret: Option<String>,
    /// `DEPOSIT_CALLBACK`'s `status` (`DONE`, `WAITING_FOR_DEPOSIT`, …).
    pub deposit_status: Option<String>,
}

/// The body as Toss sends it, read for what names the order (the rest is ignored).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookBody {
    pub event_type: Option<String>,
    pub data: Option<NamedOrder>,
    /// `DEPOSIT_CALLBACK` names the order at the top level.
    pub order_id: Option<String>,
    pub secret: Option<String>,
    /// `DEPOSIT_CALLBACK`'s status, at the top level.
    pub status: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedOrder {
    pub order_id: Option<String>,
}

pub const TRANSMISSION_ID_MAX: usize = 100;

impl Delivery {
    /// The delivery's headers and body; one without a usable transmission id is refused
    /// (Toss always sends one).
    pub fn parse(
        transmission_id: Option<&str>,
        retried_count: Option<&str>,
        body: WebhookBody,
    ) -> Result<Self, ValidationError> {
        let transmission_id = transmission_id
            .map(str::trim)
            .filter(|id| {
                !id.is_empty()
                    && id.len() <= TRANSMISSION_ID_MAX
                    && id.bytes().all(|b| b.is_ascii_graphic())
            })
            .ok_or_else(|| {
                ValidationError::invalid(
                    "tosspayments-webhook-transmission-id",
                    "헤더가 필요합니다.",
                )
            })?;
        let secret = body.secret.clone();
        let deposit_status = body.status.clone().filter(|_| body.event_type.is_none());
        let event_type = match (body.event_type, &body.secret) {
            (Some(kind), _) => kind,
            (None, Some(_)) => "DEPOSIT_CALLBACK".to_owned(),
            (None, None) => "UNKNOWN".to_owned(),
        };
        let named = body.data.and_then(|d| d.order_id).or(body.order_id);
        Ok(Self {
            transmission_id: transmission_id.to_owned(),
            event_type: event_type.chars().take(40).collect(),
            // An order id we could never have issued is no order of ours.
            order_id: named.and_then(|raw| OrderId::parse(&raw).ok()),
            retried_count: retried_count
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0),
            secret,
            deposit_status,
        })
    }
}

/// Whether a deposit callback may be acted on: its `secret` equals the one Toss gave with
/// the virtual account (docs/toss.md §7b). Other events carry none and are not checked.
pub fn deposit_secret_matches(delivery: &Delivery, ours: Option<&str>) -> bool {
    if delivery.event_type != "DEPOSIT_CALLBACK" {
        return true;
    }
    matches!((delivery.secret.as_deref(), ours), (Some(theirs), Some(ours)) if theirs == ours)
}

/// A deposit callback whose secret matched says the deposit is undone.
pub fn says_deposit_undone(delivery: &Delivery) -> bool {
    delivery.event_type == "DEPOSIT_CALLBACK"
        && delivery.deposit_status.as_deref() == Some("WAITING_FOR_DEPOSIT")
}

/// Money Toss shows cancelled beyond our DONE refunds and earlier clawbacks: a cancel
/// made outside our API (the merchant console), whose points must be taken back.
pub fn cancelled_outside(approved: u64, balance: u64, refunded_won: u64, clawed_back: u64) -> u64 {
    approved
        .saturating_sub(balance)
        .saturating_sub(refunded_won)
        .saturating_sub(clawed_back)
}

/// A clawback of `won` from a lot with `remaining` points: what is taken, and what no
/// remaining points cover (used already: flagged, the balance never goes negative).
pub fn clawback_split(won: u64, remaining: u64) -> (u64, u64) {
    let taken = won.min(remaining);
    (taken, won - taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(json: &[u8]) -> WebhookBody {
        serde_json::from_slice(json).unwrap()
    }

    #[test]
    fn a_delivery_names_its_transmission_and_order_only() {
        let body =
            br#"{"eventType":"PAYMENT_STATUS_CHANGED","createdAt":"2026-12-02T10:00:00.000000",
            "data":{"orderId":"ord_abcdef","status":"CANCELED","totalAmount":1}}"#;
        let d = Delivery::parse(Some("tx-1"), Some("2"), parsed(body)).unwrap();
        assert_eq!(d.transmission_id, "tx-1");
        assert_eq!(d.event_type, "PAYMENT_STATUS_CHANGED");
        assert_eq!(d.order_id.as_ref().map(OrderId::as_str), Some("ord_abcdef"));
        assert_eq!(d.retried_count, 2);
        let deposit = br#"{"createdAt":"x","secret":"s","status":"DONE","transactionKey":"t","orderId":"ord_deposit"}"#;
        let d = Delivery::parse(Some("tx-2"), None, parsed(deposit)).unwrap();
        assert_eq!(
            (d.event_type.as_str(), d.order_id.is_some()),
            ("DEPOSIT_CALLBACK", true)
        );
        let foreign = br#"{"eventType":"PAYMENT_STATUS_CHANGED","data":{"orderId":"not ours!"}}"#;
        assert_eq!(
            Delivery::parse(Some("tx-3"), None, parsed(foreign))
                .unwrap()
                .order_id,
            None
        );
    }

    #[test]
    fn deliveries_without_a_usable_transmission_id_are_refused() {
        for id in [None, Some(" "), Some("has space"), Some(&*"x".repeat(101))] {
            assert!(
                Delivery::parse(id, None, WebhookBody::default()).is_err(),
                "{id:?}"
            );
        }
    }

    #[test]
    fn what_was_cancelled_outside_and_what_points_cover_it() {
        assert_eq!(cancelled_outside(10_000, 10_000, 0, 0), 0);
        assert_eq!(cancelled_outside(10_000, 0, 0, 0), 10_000);
        assert_eq!(cancelled_outside(10_000, 6_000, 3_000, 0), 1_000);
        assert_eq!(cancelled_outside(10_000, 6_000, 3_000, 1_000), 0);
        // A stale lookup (an older balance) never takes anything twice.
        assert_eq!(cancelled_outside(10_000, 8_000, 3_000, 1_000), 0);
        assert_eq!(clawback_split(4_000, 10_000), (4_000, 0));
        assert_eq!(clawback_split(4_000, 1_500), (1_500, 2_500));
    }
}
