//! A local stand-in for `https://api.tosspayments.com`: the payment confirm, lookup and cancel
//! APIs with Toss's auth, error codes and Idempotency-Key semantics, plus a widget-like
//! `/sandbox/authenticate`, a settable clock and faults selected through the paymentKey, and a
//! stand-in for the browser SDK v2 (`/v2/standard`) with its payment window (`/sandbox/pay`).
//! See README.md for the endpoints and the fault syntax.

mod auth;
mod codes;
mod control;
mod faults;
mod idempotency;
mod payment_window;
mod sdk;
mod state;
mod v1;
mod webhooks;

pub use auth::KeyFamily;
pub use codes::{ApiError, Lang, http_status, known_codes};
pub use faults::{
    FaultError, Faults, HANG, MIXED_KEY_CODE, PARTIAL_LANDING, PAYMENT_WINDOW_FAULTS,
};

use axum::Router;
use axum::routing::{get, post};
use state::State;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

/// The public docs test secret keys (widget and API-individual), accepted by default.
pub const DOCS_TEST_SECRET_KEYS: [&str; 2] = [
    "test_gsk_docs_OaPz8L5KdmQXkzRz3y47BMw6",
    "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R",
];

/// The client keys paired with [`DOCS_TEST_SECRET_KEYS`], in the same order (docs/toss.md §1):
/// pass one as `clientKey` to `/sandbox/authenticate` to open a widget or API-window payment.
pub const DOCS_TEST_CLIENT_KEYS: [&str; 2] = [
    "test_gck_docs_Ovk5rk1EwkEbP0W43n07xlzm",
    "test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq",
];

/// The sandbox's shared state; cheap to clone (all clones share the same payments and clock).
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    secret_keys: HashSet<String>,
    state: Mutex<State>,
}

impl Sandbox {
    /// A sandbox that accepts exactly these secret keys. Each key's family (widget or API,
    /// [`KeyFamily::of_secret_key`]) follows from its prefix, so one list configures both.
    pub fn new(secret_keys: Vec<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                secret_keys: secret_keys.into_iter().collect(),
                state: Mutex::new(State::default()),
            }),
        }
    }

    fn accepts(&self, secret_key: &str) -> bool {
        self.inner.secret_keys.contains(secret_key)
    }

    /// Nothing panics while holding the lock, but a poisoned lock must not take the whole
    /// sandbox down with it either.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// All routes: the Toss API under `/v1` (Basic auth), the sandbox controls under `/sandbox`
/// and the browser side (the SDK script and the payment window it opens).
pub fn router(sandbox: Sandbox) -> Router {
    let toss = Router::new()
        .route("/v1/payments/confirm", post(v1::confirm))
        .route("/v1/payments/orders/{order_id}", get(v1::get_by_order))
        .route("/v1/payments/{payment_key}", get(v1::get_by_key))
        .route("/v1/payments/{payment_key}/cancel", post(v1::cancel))
        .route_layer(axum::middleware::from_fn_with_state(
            sandbox.clone(),
            auth::require_secret_key,
        ));
    let controls = Router::new()
        .route(
            "/sandbox/authenticate",
            get(control::authenticate_get).post(control::authenticate_post),
        )
        .route(
            "/sandbox/clock",
            get(control::get_clock).post(control::set_clock),
        )
        .route("/sandbox/payments/{payment_key}/stats", get(control::stats))
        .route(
            "/sandbox/payments/{payment_key}/console-cancel",
            post(control::console_cancel),
        )
        .route("/sandbox/payments/{payment_key}", get(control::payment))
        .route(
            "/sandbox/payments/{payment_key}/deposit",
            post(control::deposit),
        )
        .route(
            "/sandbox/payments/{payment_key}/deposit-error",
            post(control::deposit_error),
        )
        .route(
            "/sandbox/webhooks",
            get(webhooks::list).post(webhooks::register),
        )
        .route(
            "/sandbox/webhooks/{transmission_id}/resend",
            post(webhooks::resend),
        );
    let browser = Router::new()
        .route("/v2/standard", get(sdk::script))
        .route("/sandbox/pay", get(payment_window::page));
    toss.merge(controls).merge(browser).with_state(sandbox)
}

/// Serves [`router`] on `listener`, and sends webhooks to the registered URL, until the
/// process ends.
pub async fn serve(listener: tokio::net::TcpListener, sandbox: Sandbox) -> std::io::Result<()> {
    tokio::spawn(webhooks::run(sandbox.clone()));
    axum::serve(listener, router(sandbox)).await
}

impl Sandbox {
    /// Registers the URL webhooks go to (`None`: no webhooks), as `POST /sandbox/webhooks`.
    /// Changes made before are not sent: they were never announced to this URL.
    pub fn set_webhook_url(&self, url: Option<String>) {
        let mut state = self.lock();
        state.webhooks.url = None;
        webhooks::collect_notices(&mut state);
        state.webhooks.url = url;
    }
}
