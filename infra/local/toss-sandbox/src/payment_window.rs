//! `GET /sandbox/pay`: the sandbox's stand-in for Toss's payment window, where the SDK
//! stand-in (`/v2/standard`, assets/sdk-v2.js) sends the shopper. The shopper may change the
//! method and pick a sandbox fault, then either pays, which posts the checkout to
//! `/sandbox/authenticate` (it issues the paymentKey and redirects to successUrl), or
//! cancels, which goes to failUrl with `PAY_PROCESS_CANCELED` (docs/toss.md §8).

use crate::codes::{ApiError, Lang};
use crate::control::{Params, absolute_url, form_params, parse_checkout, with_query};
use crate::faults::PAYMENT_WINDOW_FAULTS;
use crate::state::{Checkout, Method};
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, Uri};
use axum::response::{Html, IntoResponse, Response};
use std::fmt::Write;

/// The failUrl code and message of a shopper's cancel (docs/toss.md §8; the message is the
/// sandbox's paraphrase).
const CANCELED_CODE: &str = "PAY_PROCESS_CANCELED";
const CANCELED_MESSAGE: &str = "사용자가 결제를 취소했습니다";

pub async fn page(headers: HeaderMap, uri: Uri) -> Response {
    let params = form_params(uri.query().unwrap_or("").as_bytes());
    match Window::parse(&Params(&params)) {
        // Every window is one order's: never answer it from a cache.
        Ok(window) => ([(CACHE_CONTROL, "no-store")], Html(window.render())).into_response(),
        Err(error) => error.respond(Lang::of(&headers)),
    }
}

/// What the window was opened for, checked by the rules `/sandbox/authenticate` applies.
struct Window<'a> {
    checkout: Checkout,
    client_key: Option<&'a str>,
    success_url: &'a str,
    fail_url: &'a str,
}

impl<'a> Window<'a> {
    fn parse(params: &Params<'a>) -> Result<Window<'a>, ApiError> {
        // The same checks as the authentication the form leads to, so a bad orderId, amount,
        // method or client key is refused here, before the shopper sees a page.
        let (checkout, _) = parse_checkout(params)?;
        Ok(Window {
            checkout,
            client_key: params.get("clientKey"),
            success_url: required_url(params, "successUrl")?,
            fail_url: required_url(params, "failUrl")?,
        })
    }

    fn render(&self) -> String {
        let checkout = &self.checkout;
        format!(
            r#"<!doctype html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>토스페이먼츠 결제창 (sandbox)</title>
<link rel="icon" href="data:,">
<style>{STYLE}</style>
</head>
<body>
<main>
<h1>토스페이먼츠 결제창 <small>sandbox</small></h1>
<dl>
<dt>주문명</dt><dd id="order-name">{order_name}</dd>
<dt>결제 금액</dt><dd id="amount">{amount}원</dd>
<dt>주문번호</dt><dd id="order-id">{order_id}</dd>
</dl>
<form id="pay-form" method="post" action="authenticate">
{hidden}<fieldset>
<legend>결제수단</legend>
{methods}</fieldset>
<p><label for="fault">sandbox fault (실제 결제창에는 없습니다)</label>
<select id="fault" name="faults">
{faults}</select></p>
<p><button id="pay" type="submit">결제하기</button> <a id="cancel" href="{cancel}">취소</a></p>
</form>
</main>
</body>
</html>
"#,
            order_name = escape(&checkout.order_name),
            amount = won(checkout.amount),
            order_id = escape(&checkout.order_id),
            hidden = self.hidden_inputs(),
            methods = method_radios(checkout.method),
            faults = fault_options(),
            cancel = escape(&self.cancel_url()),
        )
    }

    /// The fields `/sandbox/authenticate` needs besides the shopper's choices. The form's
    /// action is relative, `authenticate` next to this page, wherever the sandbox runs.
    fn hidden_inputs(&self) -> String {
        let amount = self.checkout.amount.to_string();
        let fields = [
            ("orderId", Some(self.checkout.order_id.as_str())),
            ("orderName", Some(self.checkout.order_name.as_str())),
            ("amount", Some(amount.as_str())),
            ("clientKey", self.client_key),
            ("successUrl", Some(self.success_url)),
            ("failUrl", Some(self.fail_url)),
        ];
        let mut html = String::new();
        for (name, value) in fields {
            if let Some(value) = value {
                let value = escape(value);
                let _ = writeln!(
                    html,
                    r#"<input type="hidden" name="{name}" value="{value}">"#
                );
            }
        }
        html
    }

    /// `failUrl?code=PAY_PROCESS_CANCELED&message=..&orderId=..`: where Toss's window sends a
    /// shopper who cancels (docs/toss.md §8 "failUrl query"). Nothing was issued to confirm.
    fn cancel_url(&self) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("code", CANCELED_CODE)
            .append_pair("message", CANCELED_MESSAGE)
            .append_pair("orderId", &self.checkout.order_id)
            .finish();
        // The message's spaces as %20, which every decoder reads as a space (a `+` is one
        // only to form decoders, not to decodeURIComponent). The serializer writes a literal
        // `+` as %2B, so each `+` left is a space.
        with_query(self.fail_url, &query.replace('+', "%20"))
    }
}

/// A URL the window cannot do without: both ends of the window lead to one.
fn required_url<'a>(params: &Params<'a>, name: &str) -> Result<&'a str, ApiError> {
    absolute_url(params, name)?.ok_or_else(|| {
        ApiError::invalid_request(
            format!("{name}이 필요합니다."),
            format!("{name} is required."),
        )
    })
}

/// One radio per method (`pay-method-CARD`, …), the one the widget chose checked.
fn method_radios(chosen: Method) -> String {
    let mut html = String::new();
    for method in Method::ALL {
        let code = method.code();
        let checked = if method == chosen { " checked" } else { "" };
        let _ = writeln!(
            html,
            r#"<div><input type="radio" name="method" id="pay-method-{code}" value="{code}"{checked}> <label for="pay-method-{code}">{label}</label></div>"#,
            label = method.label(),
        );
    }
    html
}

/// "정상" (no fault), then [`PAYMENT_WINDOW_FAULTS`] in their order.
fn fault_options() -> String {
    let mut html = String::from("<option value=\"\" selected>정상</option>\n");
    for (faults, description) in PAYMENT_WINDOW_FAULTS {
        let (faults, description) = (escape(faults), escape(description));
        let _ = writeln!(
            html,
            r#"<option value="{faults}">{faults}: {description}</option>"#
        );
    }
    html
}

/// Text for HTML text and double- or single-quoted attribute values.
fn escape(text: &str) -> String {
    let mut html = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            c => html.push(c),
        }
    }
    html
}

/// `15000` → `15,000`, as Korean prices are written.
fn won(amount: i64) -> String {
    let digits = amount.to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

const STYLE: &str = "body{font-family:sans-serif;margin:2rem;color:#191f28}\
main{max-width:28rem}dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}\
dd{margin:0}fieldset{margin:1rem 0}small{color:#8b95a1;font-size:.6em}\
#pay{background:#3182f6;color:#fff;border:0;border-radius:.4rem;padding:.6rem 1.2rem}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_character_that_could_leave_text_or_an_attribute() {
        assert_eq!(
            escape(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape("티셔츠 외 1건"), "티셔츠 외 1건");
    }

    #[test]
    fn amounts_are_grouped_by_thousands() {
        for (amount, text) in [
            (1, "1"),
            (999, "999"),
            (1_000, "1,000"),
            (15_000, "15,000"),
            (1_234_567, "1,234,567"),
        ] {
            assert_eq!(won(amount), text);
        }
    }
}
