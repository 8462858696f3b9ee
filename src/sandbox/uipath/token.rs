//! Access tokens of the client-credentials flow: issued by `/identity_/connect/token`,
//! checked on every API call.
//!
//! A token is JWT-shaped (`header.payload.signature`, base64url), so a client that decodes
//! it finds the usual claims: `iss`, `aud`, `client_id`, `scope` (an array), `iat`, `nbf`,
//! `exp` and `jti`. Like the real Identity Server's, tokens are self-contained: they stay
//! valid across a restart of the sandbox (with `--state`) until they expire, and stop being
//! valid when their application is removed or its secret changes, because the signature is
//! keyed with the organization's id and the application's id and secret.
//!
//! The signature is a keyed FNV-1a hash, not a cryptographic MAC: the sandbox guards
//! nothing real, and a forged token is still refused unless forged on purpose. No `prt_id`
//! claim: confidential applications' tokens may lack it (notes §2), so clients must not
//! depend on it.

use serde::{Deserialize, Serialize};
use serde_json::json;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) client_id: String,
    #[serde(rename = "scope")]
    pub(crate) scopes: Vec<String>,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
}

/// Why a token is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// Not a token of this sandbox's shape, signed for another key, or of an application
    /// that no longer exists.
    Malformed,
    /// Past its `exp` (Unix seconds).
    Expired(u64),
}

/// The key a client's tokens are signed with.
pub(crate) fn key(partition: &str, client_id: &str, secret: &str) -> String {
    format!("{partition}\n{client_id}\n{secret}")
}

/// Issues a token for `claims`, signed with `key`.
pub(crate) fn issue(claims: &Claims, key: &str, issuer: &str) -> String {
    let header = json!({"alg": "roster-sandbox-fnv", "typ": "at+jwt"});
    let payload = json!({
        "iss": issuer,
        "aud": "IdentityServerApi",
        "client_id": claims.client_id,
        "scope": claims.scopes,
        "iat": claims.iat,
        "nbf": claims.iat,
        "exp": claims.exp,
        "jti": uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
    });
    let signed =
        format!("{}.{}", encode(header.to_string().as_bytes()), encode(payload.to_string().as_bytes()));
    let signature = sign(key, &signed);
    format!("{signed}.{}", encode(&signature))
}

/// Checks a token at `now` (Unix seconds); `key_of` gives the signing key of a client id.
pub(crate) fn verify(
    token: &str,
    now: u64,
    key_of: impl Fn(&str) -> Option<String>,
) -> Result<Claims, Invalid> {
    let (signed, signature) = token.rsplit_once('.').ok_or(Invalid::Malformed)?;
    let (_, payload) = signed.split_once('.').ok_or(Invalid::Malformed)?;
    let claims: Claims =
        decode(payload).and_then(|bytes| serde_json::from_slice(&bytes).ok()).ok_or(Invalid::Malformed)?;
    let key = key_of(&claims.client_id).ok_or(Invalid::Malformed)?;
    if decode(signature).is_none_or(|given| given != sign(&key, signed)) {
        return Err(Invalid::Malformed);
    }
    if now >= claims.exp {
        return Err(Invalid::Expired(claims.exp));
    }
    Ok(claims)
}

/// 16 bytes: FNV-1a over key and message, twice with different offsets.
fn sign(key: &str, message: &str) -> Vec<u8> {
    let hash = |offset: u64| {
        let mut hash = offset;
        for byte in key.bytes().chain([0]).chain(message.bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash
    };
    let mut bytes = hash(0xcbf2_9ce4_8422_2325).to_be_bytes().to_vec();
    bytes.extend(hash(0x6c62_272e_07bb_0142).to_be_bytes());
    bytes
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding, as JWTs use.
fn encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            text.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    text
}

fn decode(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u32> = text
        .bytes()
        .map(|c| ALPHABET.iter().position(|a| *a == c).and_then(|p| u32::try_from(p).ok()))
        .collect::<Option<_>>()?;
    let mut bytes = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, d)| n | d << (18 - 6 * i));
        for i in 0..chunk.len() - 1 {
            bytes.push(u8::try_from(n >> (16 - 8 * i) & 0xff).ok()?);
        }
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Claims {
        Claims { client_id: "app".into(), scopes: vec!["PM.Group".into()], iat: 100, exp }
    }

    #[test]
    fn base64url_round_trips() {
        for text in ["", "f", "fo", "foo", "foob", "fooba", "foobar", "\u{ff}\u{fe}?>"] {
            assert_eq!(decode(&encode(text.as_bytes())).as_deref(), Some(text.as_bytes()), "{text:?}");
        }
        assert_eq!(encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(decode("a"), None);
        assert_eq!(decode("a+b="), None);
    }

    #[test]
    fn a_token_is_valid_until_it_expires_for_its_key_only() {
        let key = key("pid", "app", "secret");
        let token = issue(&claims(200), &key, "http://x/identity_");
        let known = |id: &str| (id == "app").then(|| key.clone());
        assert_eq!(verify(&token, 150, known), Ok(claims(200)));
        assert_eq!(verify(&token, 200, known), Err(Invalid::Expired(200)));
        let other = |_: &str| Some(super::key("pid", "app", "new secret"));
        assert_eq!(verify(&token, 150, other), Err(Invalid::Malformed));
        assert_eq!(verify(&token, 150, |_| None), Err(Invalid::Malformed));
        let mut forged = token.clone();
        forged.insert(token.find('.').unwrap() + 3, 'x');
        assert_eq!(verify(&forged, 150, known), Err(Invalid::Malformed));
        assert_eq!(verify("not.a.token", 150, known), Err(Invalid::Malformed));
        assert_eq!(verify("", 150, known), Err(Invalid::Malformed));
    }
}
