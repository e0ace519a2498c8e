//! Join tokens (seat reservations) and resume tokens: HMAC-SHA256 signed, base64url.
//!
//! A token is `base64url(payload) "." base64url(HMAC-SHA256(key, label "." base64url(payload)))`
//! without padding, where the payload is a small JSON object and the label (`tickwire-join`
//! or `tickwire-resume`) keeps one kind of token from passing for the other.
//!
//! - **Join token**: `{"room", "player", "exp", "nonce"}`: a seat in `room` for the player
//!   id `player`, valid until `exp` (Unix seconds), usable once (`nonce`, 128 random bits,
//!   remembered until `exp`). Signed with the configured join secret (so an operator's
//!   matchmaker can mint them too) or, without one, with a random per-process key.
//! - **Resume token**: `{"room", "player", "entity", "generation"}`: the player `player` of `room`
//!   with net id `entity`, in its session generation `generation`. It has no expiry of its own:
//!   the room honours it while it holds the player (the grace period) and only for the
//!   newest generation, so a used one is void. Signed with a random per-process key:
//!   players do not outlive the process either.
//!
//! Verification compares MACs in constant time (`hmac`'s `verify_slice`) before looking
//! at the payload, so nothing a forger writes is parsed.

// Peer-controlled tokens are parsed here: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::Sha256;
use shared::protocol::close;

type HmacSha256 = Hmac<Sha256>;

const JOIN_LABEL: &[u8] = b"tickwire-join";
const RESUME_LABEL: &[u8] = b"tickwire-resume";

/// Join tokens remembered as used (until they expire) at most; beyond, joins are refused
/// with 1013 until some expire.
pub const MAX_USED_TOKENS: usize = 65_536;

/// What a join token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinClaims {
    pub room: String,
    pub player: String,
    /// Expiry, Unix seconds.
    pub exp: u64,
    /// 32 hex digits, unique per token.
    pub nonce: String,
}

/// Who a resume token lets back in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumeClaims {
    pub room: String,
    pub player: String,
    pub entity: u32,
    pub generation: u64,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad token signature")]
    Forged,
    #[error("the token has expired")]
    Expired,
    #[error("the token was used already")]
    Reused,
    #[error("the token is for room {token_room:?}, not {room:?}")]
    WrongRoom { token_room: String, room: String },
    #[error("too many join tokens in flight, try again later")]
    Busy,
}

impl TokenError {
    /// The close code a session refused for this reason gets.
    pub fn close_code(&self) -> u16 {
        match self {
            TokenError::Malformed | TokenError::Forged => close::TOKEN_INVALID,
            TokenError::Expired => close::TOKEN_EXPIRED,
            TokenError::Reused => close::TOKEN_REUSED,
            TokenError::WrongRoom { .. } => close::WRONG_ROOM,
            TokenError::Busy => close::TRY_AGAIN_LATER,
        }
    }
}

/// The keys, and the join tokens used so far.
#[derive(Debug)]
pub struct TokenKeys {
    join: Vec<u8>,
    resume: [u8; 32],
    join_secret_configured: bool,
    used: Mutex<HashMap<String, u64>>,
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// 128 random bits as 32 hex digits.
pub fn random_nonce() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl TokenKeys {
    /// Join tokens are signed with `join_secret` when given (the operator's, shared with
    /// its matchmaker), otherwise with a random key; resume tokens always with a random key.
    pub fn new(join_secret: Option<&[u8]>) -> TokenKeys {
        let random: [u8; 32] = rand::random();
        TokenKeys {
            join_secret_configured: join_secret.is_some(),
            join: join_secret.map_or_else(|| random.to_vec(), <[u8]>::to_vec),
            resume: rand::random(),
            used: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a join secret was configured (then every join needs a token).
    pub fn join_secret_configured(&self) -> bool {
        self.join_secret_configured
    }

    pub fn sign_join(&self, claims: &JoinClaims) -> String {
        sign(&self.join, JOIN_LABEL, claims)
    }

    /// Checks the signature and decodes; expiry, room and reuse are the caller's next
    /// steps ([`JoinClaims::check`], [`TokenKeys::consume`]).
    pub fn verify_join(&self, token: &str) -> Result<JoinClaims, TokenError> {
        verify(&self.join, JOIN_LABEL, token)
    }

    pub fn sign_resume(&self, claims: &ResumeClaims) -> String {
        sign(&self.resume, RESUME_LABEL, claims)
    }

    pub fn verify_resume(&self, token: &str) -> Result<ResumeClaims, TokenError> {
        verify(&self.resume, RESUME_LABEL, token)
    }

    /// Marks a join token used; refuses one used before. Used tokens are remembered
    /// until they expire, at most [`MAX_USED_TOKENS`] of them.
    pub fn consume(&self, claims: &JoinClaims, now: u64) -> Result<(), TokenError> {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        if used.contains_key(&claims.nonce) {
            return Err(TokenError::Reused);
        }
        if used.len() >= MAX_USED_TOKENS {
            used.retain(|_, exp| *exp >= now);
            if used.len() >= MAX_USED_TOKENS {
                return Err(TokenError::Busy);
            }
        }
        used.insert(claims.nonce.clone(), claims.exp);
        Ok(())
    }

    /// Forgets used tokens that have expired (they would be refused as expired anyway).
    pub fn prune(&self, now: u64) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        used.retain(|_, exp| *exp >= now);
    }

    /// Used tokens remembered.
    pub fn used_len(&self) -> usize {
        self.used.lock().map_or(0, |u| u.len())
    }
}

impl JoinClaims {
    /// The token must be for `room` and not expired at `now` (Unix seconds), checked in
    /// that order.
    pub fn check(&self, room: &str, now: u64) -> Result<(), TokenError> {
        if self.room != room {
            return Err(TokenError::WrongRoom {
                token_room: self.room.clone(),
                room: room.to_owned(),
            });
        }
        if self.exp < now {
            return Err(TokenError::Expired);
        }
        Ok(())
    }
}

fn mac(key: &[u8], label: &[u8], payload: &str) -> HmacSha256 {
    // HMAC takes keys of any length: `new_from_slice` cannot fail. Were it ever to, an
    // all-zero key would make every token fail to verify rather than panic.
    let mut mac = HmacSha256::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()));
    mac.update(label);
    mac.update(b".");
    mac.update(payload.as_bytes());
    mac
}

fn sign<T: Serialize>(key: &[u8], label: &[u8], claims: &T) -> String {
    // Serialising plain structs of strings and integers cannot fail.
    let json = serde_json::to_vec(claims).unwrap_or_default();
    let payload = URL_SAFE_NO_PAD.encode(json);
    let tag = mac(key, label, &payload).finalize().into_bytes();
    format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag))
}

fn verify<T: DeserializeOwned>(key: &[u8], label: &[u8], token: &str) -> Result<T, TokenError> {
    let (payload, tag) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| TokenError::Malformed)?;
    mac(key, label, payload)
        .verify_slice(&tag)
        .map_err(|_| TokenError::Forged)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> JoinClaims {
        JoinClaims {
            room: "duel".into(),
            player: "ada".into(),
            exp,
            nonce: random_nonce(),
        }
    }

    #[test]
    fn join_tokens_round_trip_and_check() {
        let keys = TokenKeys::new(Some(b"0123456789abcdef"));
        let c = claims(1_000);
        let token = keys.sign_join(&c);
        assert!(token.len() < shared::protocol::MAX_TOKEN_BYTES);
        assert_eq!(keys.verify_join(&token), Ok(c.clone()));
        assert_eq!(c.check("duel", 1_000), Ok(()));
        assert_eq!(c.check("duel", 1_001), Err(TokenError::Expired));
        assert!(matches!(
            c.check("other", 0),
            Err(TokenError::WrongRoom { .. })
        ));
        // Another server with the same secret accepts it; one with another does not.
        assert!(
            TokenKeys::new(Some(b"0123456789abcdef"))
                .verify_join(&token)
                .is_ok()
        );
        assert_eq!(
            TokenKeys::new(Some(b"0123456789abcdeX")).verify_join(&token),
            Err(TokenError::Forged)
        );
    }

    #[test]
    fn forgeries_are_refused() {
        let keys = TokenKeys::new(None);
        let token = keys.sign_join(&claims(5));
        let (payload, tag) = token.split_once('.').unwrap();
        // A payload edited to another room keeps the old signature: refused.
        let edited = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&JoinClaims {
                room: "other".into(),
                ..claims(5)
            })
            .unwrap(),
        );
        assert_eq!(
            keys.verify_join(&format!("{edited}.{tag}")),
            Err(TokenError::Forged)
        );
        assert_eq!(keys.verify_join(payload), Err(TokenError::Malformed));
        assert_eq!(keys.verify_join("a.b!"), Err(TokenError::Malformed));
        assert_eq!(keys.verify_join(""), Err(TokenError::Malformed));
        // A resume token is not a join token, even from the same server.
        let resume = keys.sign_resume(&ResumeClaims {
            room: "duel".into(),
            player: "ada".into(),
            entity: 3,
            generation: 1,
        });
        assert_eq!(keys.verify_join(&resume), Err(TokenError::Forged));
        assert!(keys.verify_resume(&resume).is_ok());
    }

    #[test]
    fn tokens_are_single_use_until_they_expire() {
        let keys = TokenKeys::new(None);
        let a = claims(100);
        assert_eq!(keys.consume(&a, 50), Ok(()));
        assert_eq!(keys.consume(&a, 50), Err(TokenError::Reused));
        assert_eq!(keys.consume(&claims(100), 50), Ok(()));
        keys.prune(101);
        assert_eq!(keys.used_len(), 0);
    }
}
