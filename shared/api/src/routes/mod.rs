//! HTTP routes. `ROUTES` is the single table of them: each deployed function runs one
//! entry, the local gateway serves all of them, and the tests check `template.yaml` and
//! the OpenAPI document declare exactly these. Adding an endpoint is one entry here plus
//! its handler file.

mod edit_profile;
mod get_profile;
mod list_profiles;
mod login;
mod my_points;
mod payments;
mod signup;

use crate::envelope::Outcome;
use crate::services::{Needs, Services};
use app::ports::ProfileRecord;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use tracing::Instrument;

/// One HTTP function: what API Gateway routes to it and what it needs.
pub struct Route {
    /// The function's name: its crate under `functions/` and its binary.
    pub name: &'static str,
    pub method: &'static str,
    /// The API Gateway route path, with `{name}` path parameters.
    pub path: &'static str,
    /// Behind the Lambda authorizer: the caller must present an access token.
    pub requires_token: bool,
    /// The clients built for it and the secrets its cold start checks.
    pub needs: Needs,
    handler: Handler,
}

type Answer<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;
type Handler = for<'a> fn(&'a Services, Request) -> Answer<'a>;

/// What members' routes need: MySQL, Redis (the attempt limiter) and the signing key.
const MEMBERS: Needs = Needs {
    redis: true,
    tokens: true,
    ..Needs::MYSQL
};

/// Every HTTP function, in the order of `HttpFunction`.
pub const ROUTES: [Route; 12] = [
    Route {
        name: "signup",
        method: "POST",
        path: "/api/members/signup",
        requires_token: false,
        needs: MEMBERS,
        handler: |s, r| Box::pin(signup::handle(s, r)),
    },
    Route {
        name: "login",
        method: "POST",
        path: "/api/members/login",
        requires_token: false,
        needs: MEMBERS,
        handler: |s, r| Box::pin(login::handle(s, r)),
    },
    Route {
        name: "get-me",
        method: "GET",
        path: "/api/members/me",
        requires_token: true,
        needs: Needs::MYSQL,
        handler: |s, r| Box::pin(my_points::handle_account(s, r)),
    },
    Route {
        name: "my-points",
        method: "GET",
        path: "/api/members/me/points",
        requires_token: true,
        needs: Needs::MYSQL,
        handler: |s, r| Box::pin(my_points::handle_history(s, r)),
    },
    Route {
        name: "get-profile",
        method: "GET",
        path: "/api/profiles/{profileId}",
        requires_token: false,
        needs: Needs {
            redis: true,
            dynamo: true,
            ..Needs::MYSQL
        },
        handler: |s, r| Box::pin(get_profile::handle(s, r)),
    },
    Route {
        name: "list-profiles",
        method: "GET",
        path: "/api/profiles",
        requires_token: false,
        needs: Needs {
            redis: true,
            ..Needs::MYSQL
        },
        handler: |s, r| Box::pin(list_profiles::handle(s, r)),
    },
    Route {
        name: "edit-profile",
        method: "PATCH",
        path: "/api/profiles/me",
        requires_token: true,
        needs: Needs {
            redis: true,
            ..Needs::MYSQL
        },
        handler: |s, r| Box::pin(edit_profile::handle(s, r)),
    },
    Route {
        name: "checkout",
        method: "POST",
        path: "/api/payments/toss/checkout",
        requires_token: true,
        needs: Needs {
            dynamo: true,
            ..Needs::MYSQL
        },
        handler: |s, r| Box::pin(payments::handle_checkout(s, r)),
    },
    Route {
        name: "confirm",
        method: "POST",
        path: "/api/payments/toss/confirm",
        requires_token: true,
        needs: Needs {
            dynamo: true,
            events: true,
            toss: true,
            ..Needs::MYSQL
        },
        handler: |s, r| Box::pin(payments::handle_confirm(s, r)),
    },
    Route {
        name: "refund",
        method: "POST",
        path: "/api/payments/toss/{orderId}/refund",
        requires_token: true,
        needs: Needs {
            dynamo: true,
            events: true,
            toss: true,
            ..Needs::MYSQL
        },
        handler: |s, r| Box::pin(payments::handle_refund(s, r)),
    },
    Route {
        name: "toss-webhook",
        method: "POST",
        path: "/api/payments/toss/webhook",
        requires_token: false,
        needs: Needs {
            events: true,
            toss: true,
            ..Needs::MYSQL
        },
        handler: |s, r| Box::pin(payments::handle_webhook(s, r)),
    },
    Route {
        name: "payment-status",
        method: "GET",
        path: "/api/payments/toss/{orderId}",
        requires_token: true,
        needs: Needs::MYSQL,
        handler: |s, r| Box::pin(payments::handle_status(s, r)),
    },
];

/// A function's identity, named in its `main.rs`; its entry in `ROUTES` says the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpFunction {
    Signup,
    Login,
    GetMe,
    MyPoints,
    GetProfile,
    ListProfiles,
    EditProfile,
    Checkout,
    Confirm,
    Refund,
    TossWebhook,
    PaymentStatus,
}

impl HttpFunction {
    pub const ALL: [HttpFunction; 12] = [
        HttpFunction::Signup,
        HttpFunction::Login,
        HttpFunction::GetMe,
        HttpFunction::MyPoints,
        HttpFunction::GetProfile,
        HttpFunction::ListProfiles,
        HttpFunction::EditProfile,
        HttpFunction::Checkout,
        HttpFunction::Confirm,
        HttpFunction::Refund,
        HttpFunction::TossWebhook,
        HttpFunction::PaymentStatus,
    ];

    pub fn route(self) -> &'static Route {
        &ROUTES[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.route().name
    }

    pub fn method(self) -> &'static str {
        self.route().method
    }

    pub fn path(self) -> &'static str {
        self.route().path
    }

    pub fn requires_token(self) -> bool {
        self.route().requires_token
    }

    /// Answers one request. Every log line of it carries the function, the API Gateway
    /// request id and, once known, the member (see `telemetry`).
    pub async fn handle(self, services: &Services, req: Request) -> Response<Body> {
        let span = crate::telemetry::request_span(self.name(), &req);
        let outcome = (self.route().handler)(services, req)
            .instrument(span.clone())
            .await;
        let response = crate::envelope::into_response(outcome);
        span.in_scope(|| tracing::info!(status = response.status().as_u16(), "answered"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::HttpFunction;

    #[test]
    fn every_function_has_its_own_entry() {
        for function in HttpFunction::ALL {
            let name = format!("{function:?}").to_lowercase();
            assert_eq!(function.name().replace('-', ""), name, "{function:?}");
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
