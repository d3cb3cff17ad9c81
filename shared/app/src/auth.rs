//! Caller identity: Argon2id password hashes and short-lived signed access tokens (JWT,
//! HS256). The Lambda authorizer verifies tokens at the edge; handlers trust only the
//! member id the authorizer put in the request context.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use domain::MemberId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

const ISSUER: &str = "expert-matching";

/// Access tokens: 15 minutes, then log in again.
pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    iat: i64,
    exp: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessToken {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
}

#[derive(Clone)]
pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenIssuer(<key hidden>)")
    }
}

impl TokenIssuer {
    /// `secret`: the signing key (at least 32 bytes, from Secrets Manager in deployment).
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    pub fn issue(&self, member: MemberId, now: DateTime<Utc>) -> AccessToken {
        let claims = Claims {
            sub: member.0.to_string(),
            iss: ISSUER.into(),
            iat: now.timestamp(),
            exp: now.timestamp() + ACCESS_TOKEN_SECONDS,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail");
        AccessToken {
            access_token: token,
            token_type: "Bearer",
            expires_in: ACCESS_TOKEN_SECONDS,
        }
    }

    /// The member a token speaks for, if it is ours, unexpired and well-formed.
    pub fn verify(&self, token: &str) -> Option<MemberId> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok()?;
        data.claims
            .sub
            .parse()
            .ok()
            .filter(|id| *id > 0)
            .map(MemberId)
    }
}

/// Argon2id with the crate's recommended parameters, as a PHC string.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2 hashing with default parameters")
        .to_string()
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// The Argon2id hash (same parameters as `hash_password`) of a random secret that was
/// thrown away: login checks unknown e-mails against it so that "no such member" takes as
/// long as "wrong password". A constant, so no request or cold start pays for making it.
pub fn decoy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$aJ2HH8pnjuMra68aNvHH7g$XKRoG2tT0sEX5RHeLb1BEsNUd45qmukP9RKk8icCGCU"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let issuer = TokenIssuer::new(b"0123456789abcdef0123456789abcdef");
        let token = issuer.issue(MemberId(42), Utc::now());
        assert_eq!(issuer.verify(&token.access_token), Some(MemberId(42)));
        let other = TokenIssuer::new(b"another-key-another-key-another-k");
        assert_eq!(
            other.verify(&token.access_token),
            None,
            "signed with another key"
        );
        let expired = issuer.issue(MemberId(42), Utc::now() - chrono::Duration::hours(1));
        assert_eq!(issuer.verify(&expired.access_token), None, "expired");
        assert_eq!(issuer.verify("not.a.token"), None);
        let mut tampered = token.access_token.clone();
        tampered.insert(tampered.len() - 3, 'x');
        assert_eq!(issuer.verify(&tampered), None);
    }

    #[test]
    fn the_decoy_is_a_valid_hash_with_our_parameters() {
        let decoy = argon2::password_hash::PasswordHash::new(decoy_hash()).unwrap();
        let ours = hash_password("x");
        let ours = argon2::password_hash::PasswordHash::new(&ours).unwrap();
        assert_eq!(decoy.params, ours.params);
        assert!(!verify_password("", decoy_hash()));
    }

    #[test]
    fn passwords_verify_only_themselves() {
        let phc = hash_password("correct horse battery staple");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery staple", &phc));
        assert!(!verify_password("Correct horse battery staple", &phc));
        assert!(!verify_password("x", "not a phc string"));
    }
}
