//! The QR code at a household's door (爱心敲门): an opaque, signed token with no personal data.
//!
//! ```text
//! token   = base64url(payload) "." base64url(HMAC-SHA256(key, "gridfed-visit|" payload))
//! payload = "v1|" household id "|" key id "|" issued_at (ms) "|" serial
//!           e.g. v1|H370102001001-0042|k2026a|1764028800000|1
//! ```
//! The household id names its community, so a token is bound to one node; the key id picks the node's
//! secret (a [`KeyRing`] keeps the current key and older ones still accepted while codes are
//! reprinted); the serial is the household's current code (a lost or photographed code is replaced by
//! bumping it, see `visits`). Verification refuses, in this order: a malformed token, an unknown key,
//! a forged signature (compared in constant time), a token of another node or household, a token
//! issued in the future or older than its validity. Replays of a scan are `replay`'s concern.

use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::household::HouseholdId;
use crate::code::Code;
use crate::Millis;

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest token accepted, in bytes (a real one is about 110).
pub const MAX_TOKEN_BYTES: usize = 256;
/// How long a printed code stays valid by default: a year and a month, reprinted yearly.
pub const DEFAULT_VALIDITY_MS: Millis = 400 * 24 * 3_600_000;
/// How far ahead of the node's clock an issue time may be (clocks of replicas differ a little).
pub const MAX_SKEW_MS: Millis = 5 * 60_000;

const DOMAIN: &[u8] = b"gridfed-visit|";
const VERSION: &str = "v1";

/// What a token says, once verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The household at whose door the code hangs.
    pub household: HouseholdId,
    /// Which of the node's keys signed it.
    pub key_id: String,
    /// When it was issued, by the node's clock.
    pub issued_at: Millis,
    /// The household's code serial at issue.
    pub serial: u32,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token of this format.
    #[error("token: not a visit code: {reason}")]
    Malformed {
        /// Which part of the token is wrong.
        reason: &'static str,
    },
    /// Signed with a key this node does not hold (retired, or another node's).
    #[error("token: signed with key {key_id:?}, which this node does not hold")]
    UnknownKey {
        /// The key id the token names.
        key_id: String,
    },
    /// The signature does not match: altered or made up.
    #[error("token: the signature does not match; the code is forged or damaged")]
    Forged,
    /// A code of another community.
    #[error("token: a code of community {community}, not of this node {node}")]
    WrongNode {
        /// The community of the household the token names.
        community: Code,
        /// The node checking it.
        node: Code,
    },
    /// A code of another household than the one checked in.
    #[error("token: a code of household {household}, not of {expected}")]
    WrongHousehold {
        /// The household the token names.
        household: HouseholdId,
        /// The household being checked in.
        expected: HouseholdId,
    },
    /// Issued later than now.
    #[error("token: issued at {issued_at}, after now ({now})")]
    NotYetValid {
        /// When the token says it was issued (beyond the allowed clock skew).
        issued_at: Millis,
        /// The node's time.
        now: Millis,
    },
    /// Older than its validity.
    #[error("token: issued at {issued_at}, expired at {expired_at}; print a new code")]
    Expired {
        /// When the token was issued.
        issued_at: Millis,
        /// When its validity ran out.
        expired_at: Millis,
    },
    /// A key id or secret that cannot be used.
    #[error("{field}: {reason}")]
    BadKey {
        /// The configuration field at fault (the key id or the secret).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A node's signing keys: the current one signs, every one verifies.
#[derive(Clone)]
pub struct KeyRing {
    current: String,
    keys: BTreeMap<String, Vec<u8>>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&String> = self.keys.keys().collect();
        write!(f, "KeyRing {{ current: {:?}, keys: {ids:?} (secrets not shown) }}", self.current)
    }
}

fn check_key(key_id: &str, secret: &[u8]) -> Result<(), TokenError> {
    let ok_id = !key_id.is_empty()
        && key_id.len() <= 16
        && key_id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok_id {
        let reason = format!("{key_id:?} is not a key id: 1 to 16 of a-z, 0-9 and -");
        return Err(TokenError::BadKey { field: "key_id".into(), reason });
    }
    if secret.len() < MIN_SECRET_BYTES {
        let reason =
            format!("key {key_id}: {} bytes; at least {MIN_SECRET_BYTES} are required", secret.len());
        return Err(TokenError::BadKey { field: "secret".into(), reason });
    }
    Ok(())
}

impl KeyRing {
    /// A ring whose current key is `key_id` with `secret` (at least [`MIN_SECRET_BYTES`]).
    pub fn new(key_id: &str, secret: &[u8]) -> Result<KeyRing, TokenError> {
        check_key(key_id, secret)?;
        Ok(KeyRing {
            current: key_id.to_string(),
            keys: BTreeMap::from([(key_id.to_string(), secret.to_vec())]),
        })
    }

    /// Also accepts tokens signed with an older key `key_id`.
    pub fn accept(mut self, key_id: &str, secret: &[u8]) -> Result<KeyRing, TokenError> {
        check_key(key_id, secret)?;
        self.keys.insert(key_id.to_string(), secret.to_vec());
        Ok(self)
    }

    /// The id of the key that signs new tokens.
    pub fn current(&self) -> &str {
        &self.current
    }

    fn mac(&self, key_id: &str) -> Result<Hmac<Sha256>, TokenError> {
        let secret =
            self.keys.get(key_id).ok_or_else(|| TokenError::UnknownKey { key_id: key_id.to_string() })?;
        Hmac::<Sha256>::new_from_slice(secret).map_err(|_| TokenError::BadKey {
            field: "secret".into(),
            reason: format!("key {key_id} cannot key HMAC-SHA256"),
        })
    }

    /// The token for `household`, code serial `serial`, issued at `issued_at`, signed with the
    /// current key.
    pub fn sign(
        &self,
        household: &HouseholdId,
        serial: u32,
        issued_at: Millis,
    ) -> Result<String, TokenError> {
        let payload = format!("{VERSION}|{household}|{}|{issued_at}|{serial}", self.current);
        let mut mac = self.mac(&self.current)?;
        mac.update(DOMAIN);
        mac.update(payload.as_bytes());
        let tag = mac.finalize().into_bytes();
        Ok(format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(tag)))
    }

    /// Verifies `token` on node `node` at `now`: signed by a key of this ring, for a household of
    /// `node` (and `expected`, when the check-in names one), issued no later than now (give or take
    /// [`MAX_SKEW_MS`]) and no more than `validity` ago.
    pub fn verify(
        &self,
        token: &str,
        node: &Code,
        expected: Option<&HouseholdId>,
        now: Millis,
        validity: Millis,
    ) -> Result<Claims, TokenError> {
        let malformed = |reason| TokenError::Malformed { reason };
        if token.len() > MAX_TOKEN_BYTES {
            return Err(malformed("too long"));
        }
        let (payload, tag) =
            token.trim().split_once('.').ok_or(malformed("expected two parts joined by '.'"))?;
        let payload =
            URL_SAFE_NO_PAD.decode(payload).map_err(|_| malformed("the first part is not base64url"))?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| malformed("the second part is not base64url"))?;
        let text = String::from_utf8(payload).map_err(|_| malformed("the payload is not text"))?;
        let claims =
            parse_payload(&text).ok_or(malformed("the payload is not v1|household|key|issued|serial"))?;
        let mut mac = self.mac(&claims.key_id)?;
        mac.update(DOMAIN);
        mac.update(text.as_bytes());
        mac.verify_slice(&tag).map_err(|_| TokenError::Forged)?;
        if claims.household.community() != node {
            return Err(TokenError::WrongNode {
                community: claims.household.community().clone(),
                node: node.clone(),
            });
        }
        if let Some(expected) = expected.filter(|e| **e != claims.household) {
            return Err(TokenError::WrongHousehold {
                household: claims.household,
                expected: expected.clone(),
            });
        }
        if claims.issued_at > now + MAX_SKEW_MS {
            return Err(TokenError::NotYetValid { issued_at: claims.issued_at, now });
        }
        if now - claims.issued_at > validity {
            return Err(TokenError::Expired {
                issued_at: claims.issued_at,
                expired_at: claims.issued_at + validity,
            });
        }
        Ok(claims)
    }
}

fn parse_payload(text: &str) -> Option<Claims> {
    let mut parts = text.split('|');
    let (v, household, key_id, issued_at, serial) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if v != VERSION || parts.next().is_some() {
        return None;
    }
    Some(Claims {
        household: HouseholdId::parse("token", household).ok()?,
        key_id: key_id.to_string(),
        issued_at: issued_at.parse().ok()?,
        serial: serial.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: Millis = 1_764_028_800_000;

    fn h(s: &str) -> HouseholdId {
        HouseholdId::parse("h", s).unwrap()
    }

    fn node() -> Code {
        Code::parse("c", "370102001001").unwrap()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // Test case 1: key 0x0b * 20, "Hi There".
        let mut mac = Hmac::<Sha256>::new_from_slice(&[0x0b; 20]).unwrap();
        mac.update(b"Hi There");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        // Test case 2: key "Jefe", "what do ya want for nothing?".
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_signed_token_verifies_and_holds_no_personal_data() {
        let ring = KeyRing::new("k2026a", SECRET).unwrap();
        let hh = h("H370102001001-0042");
        let token = ring.sign(&hh, 3, NOW).unwrap();
        assert!(token.len() < 128, "{token}");
        let claims = ring.verify(&token, &node(), Some(&hh), NOW + 1000, DEFAULT_VALIDITY_MS).unwrap();
        assert_eq!(
            (claims.household, claims.key_id.as_str(), claims.issued_at, claims.serial),
            (hh, "k2026a", NOW, 3)
        );
        let payload = URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap();
        assert_eq!(String::from_utf8(payload).unwrap(), "v1|H370102001001-0042|k2026a|1764028800000|3");
        assert!(!format!("{ring:?}").contains("0123"), "secrets are not shown");
    }

    #[test]
    fn forged_foreign_and_expired_tokens_are_refused() {
        let ring = KeyRing::new("k2026a", SECRET).unwrap();
        let hh = h("H370102001001-0042");
        let token = ring.sign(&hh, 1, NOW).unwrap();
        let verify = |t: &str, expected: Option<&HouseholdId>, now| {
            ring.verify(t, &node(), expected, now, DEFAULT_VALIDITY_MS)
        };

        // Another household's payload under this signature.
        let (_, tag) = token.split_once('.').unwrap();
        let forged =
            format!("{}.{tag}", URL_SAFE_NO_PAD.encode("v1|H370102001001-0043|k2026a|1764028800000|1"));
        assert_eq!(verify(&forged, None, NOW), Err(TokenError::Forged));
        // Signed with another secret under the same key id.
        let other = KeyRing::new("k2026a", b"fedcba9876543210fedcba9876543210").unwrap();
        assert_eq!(verify(&other.sign(&hh, 1, NOW).unwrap(), None, NOW), Err(TokenError::Forged));
        // A key this node does not hold.
        let stranger = KeyRing::new("k1999", SECRET).unwrap();
        assert!(matches!(
            verify(&stranger.sign(&hh, 1, NOW).unwrap(), None, NOW),
            Err(TokenError::UnknownKey { .. })
        ));
        // Another community's household, even signed with the same secret.
        let elsewhere = ring.sign(&h("H370102001002-0042"), 1, NOW).unwrap();
        assert!(matches!(verify(&elsewhere, None, NOW), Err(TokenError::WrongNode { .. })));
        // Checked in for another household.
        let err = verify(&token, Some(&h("H370102001001-0007")), NOW).unwrap_err();
        assert!(matches!(err, TokenError::WrongHousehold { .. }), "{err}");
        // Too old, or from the future.
        let err = verify(&token, None, NOW + DEFAULT_VALIDITY_MS + 1).unwrap_err();
        assert!(matches!(err, TokenError::Expired { .. }), "{err}");
        assert!(matches!(verify(&token, None, NOW - MAX_SKEW_MS - 1), Err(TokenError::NotYetValid { .. })));
        // Damaged.
        for bad in ["", "abc", "a.b.c", "!!!.???", &"A".repeat(MAX_TOKEN_BYTES + 1)] {
            assert!(matches!(verify(bad, None, NOW), Err(TokenError::Malformed { .. })), "{bad}");
        }
        let not_v1 =
            format!("{}.{tag}", URL_SAFE_NO_PAD.encode("v2|H370102001001-0042|k2026a|1764028800000|1"));
        assert!(matches!(verify(&not_v1, None, NOW), Err(TokenError::Malformed { .. })));
    }

    proptest::proptest! {
        #[test]
        fn any_token_roundtrips_and_any_altered_character_is_refused(
            number in 1u16..=9999,
            serial in 1u32..1000,
            age in 0i64..DEFAULT_VALIDITY_MS,
            at in 0usize..200,
            with in proptest::sample::select(vec!['A', 'z', '0', '-', '_', '.']),
        ) {
            let ring = KeyRing::new("k2026a", SECRET).unwrap();
            let hh = HouseholdId::new("h", &node(), number).unwrap();
            let token = ring.sign(&hh, serial, NOW - age).unwrap();
            let claims = ring.verify(&token, &node(), Some(&hh), NOW, DEFAULT_VALIDITY_MS).unwrap();
            proptest::prop_assert_eq!((claims.household, claims.serial), (hh, serial));
            let mut chars: Vec<char> = token.chars().collect();
            let i = at % chars.len();
            proptest::prop_assume!(chars[i] != with);
            chars[i] = with;
            let altered: String = chars.into_iter().collect();
            proptest::prop_assert!(ring.verify(&altered, &node(), None, NOW, DEFAULT_VALIDITY_MS).is_err());
        }
    }

    #[test]
    fn keys_rotate_and_weak_keys_are_refused() {
        let old = KeyRing::new("k2025", SECRET).unwrap();
        let hh = h("H370102001001-0042");
        let old_token = old.sign(&hh, 1, NOW).unwrap();
        let ring = KeyRing::new("k2026", b"a new secret of at least 32 bytes!")
            .unwrap()
            .accept("k2025", SECRET)
            .unwrap();
        assert_eq!(ring.current(), "k2026");
        ring.verify(&old_token, &node(), None, NOW, DEFAULT_VALIDITY_MS).unwrap();
        assert!(ring.sign(&hh, 1, NOW).unwrap() != old_token);
        let err = KeyRing::new("k1", b"short").unwrap_err();
        assert!(err.to_string().starts_with("secret: key k1: 5 bytes"), "{err}");
        assert!(KeyRing::new("K 1", SECRET).unwrap_err().to_string().starts_with("key_id:"));
    }
}
