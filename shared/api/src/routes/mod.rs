//! HTTP routes. `HttpFunction` is the single list of them: each deployed function runs one
//! variant, the local gateway serves all of them, and a test checks `template.yaml`
//! declares exactly these.

mod get_profile;
mod list_profiles;
mod login;
mod payments;
mod signup;

use crate::services::Services;
use app::ports::ProfileRecord;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use tracing::Instrument;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpFunction {
    Signup,
    Login,
    GetProfile,
    ListProfiles,
    Checkout,
    Confirm,
    PaymentStatus,
}

impl HttpFunction {
    pub const ALL: [HttpFunction; 7] = [
        HttpFunction::Signup,
        HttpFunction::Login,
        HttpFunction::GetProfile,
        HttpFunction::ListProfiles,
        HttpFunction::Checkout,
        HttpFunction::Confirm,
        HttpFunction::PaymentStatus,
    ];

    /// The function's name: its crate under `functions/` and its binary.
    pub fn name(self) -> &'static str {
        match self {
            HttpFunction::Signup => "signup",
            HttpFunction::Login => "login",
            HttpFunction::GetProfile => "get-profile",
            HttpFunction::ListProfiles => "list-profiles",
            HttpFunction::Checkout => "checkout",
            HttpFunction::Confirm => "confirm",
            HttpFunction::PaymentStatus => "payment-status",
        }
    }

    pub fn method(self) -> &'static str {
        match self {
            HttpFunction::Signup
            | HttpFunction::Login
            | HttpFunction::Checkout
            | HttpFunction::Confirm => "POST",
            HttpFunction::GetProfile | HttpFunction::ListProfiles | HttpFunction::PaymentStatus => {
                "GET"
            }
        }
    }

    /// The API Gateway route path, with `{name}` path parameters.
    pub fn path(self) -> &'static str {
        match self {
            HttpFunction::Signup => "/api/members/signup",
            HttpFunction::Login => "/api/members/login",
            HttpFunction::GetProfile => "/api/profiles/{profileId}",
            HttpFunction::ListProfiles => "/api/profiles",
            HttpFunction::Checkout => "/api/payments/toss/checkout",
            HttpFunction::Confirm => "/api/payments/toss/confirm",
            HttpFunction::PaymentStatus => "/api/payments/toss/{orderId}",
        }
    }

    /// Routes behind the Lambda authorizer: the caller must present an access token.
    pub fn requires_token(self) -> bool {
        matches!(
            self,
            HttpFunction::Checkout | HttpFunction::Confirm | HttpFunction::PaymentStatus
        )
    }

    /// Answers one request. Every log line of it carries the function, the API Gateway
    /// request id and, once known, the member (see `telemetry`).
    pub async fn handle(self, services: &Services, req: Request) -> Response<Body> {
        let span = crate::telemetry::request_span(self.name(), &req);
        let response = self.route(services, req).instrument(span.clone()).await;
        span.in_scope(|| tracing::info!(status = response.status().as_u16(), "answered"));
        response
    }

    async fn route(self, services: &Services, req: Request) -> Response<Body> {
        match self {
            HttpFunction::Signup => signup::handle(services, req).await,
            HttpFunction::Login => login::handle(services, req).await,
            HttpFunction::GetProfile => get_profile::handle(services, req).await,
            HttpFunction::ListProfiles => list_profiles::handle(services, req).await,
            HttpFunction::Checkout => payments::handle_checkout(services, req).await,
            HttpFunction::Confirm => payments::handle_confirm(services, req).await,
            HttpFunction::PaymentStatus => payments::handle_status(services, req).await,
        }
    }
}

/// A profile as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileBody {
    pub profile_id: u64,
    pub member_id: u64,
    pub name: String,
    pub headline: String,
    pub category: &'static str,
    pub career_years: u8,
    pub region: &'static str,
    pub introduction: String,
    pub created_at: String,
    pub view_count: u64,
}

impl ProfileBody {
    pub fn new(p: ProfileRecord, view_count: u64) -> Self {
        Self {
            profile_id: p.id.0,
            member_id: p.member_id.0,
            name: p.name,
            headline: p.headline,
            category: p.category.as_str(),
            career_years: p.career_years,
            region: p.region.as_str(),
            introduction: p.introduction,
            created_at: p
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            view_count,
        }
    }
}
