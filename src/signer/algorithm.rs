//! The five signing algorithms of Huawei Cloud's API gateway, as the official SDKs implement
//! them: their names and what each hashes with (the signing itself is in `key.rs`).

use sha2::{Digest, Sha256};
use sm3::Sm3;
use std::fmt;

/// A signing algorithm, named as in the `Authorization` header.
///
/// ```
/// use hss_image_sync::signer::Algorithm;
///
/// let algorithm: Algorithm = "SDK-HMAC-SM3".parse().unwrap();
/// assert_eq!(algorithm, Algorithm::HmacSm3);
/// assert_eq!(algorithm.to_string(), "SDK-HMAC-SM3");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// `SDK-HMAC-SHA256`, the default.
    #[default]
    HmacSha256,
    /// `SDK-HMAC-SM3`: HMAC and hashes with SM3.
    HmacSm3,
    /// `V11-HMAC-SHA256`: HMAC-SHA256 with a key derived (HKDF) from the AK/SK for a scope of
    /// date, region and service; needs [`SigningParams::with_scope`](super::SigningParams::with_scope).
    V11HmacSha256,
    /// `SDK-ECDSA-P256-SHA256`: ECDSA on P-256 with a key derived from the AK/SK (crate
    /// feature `ecdsa`).
    EcdsaP256Sha256,
    /// `SDK-SM2-SM3`: SM2 with a key derived from the AK/SK (crate feature `sm2`). Its `Z_A`
    /// is computed as the official SDKs compute it, which differs from GB/T 32918 for about one
    /// key in 128 (see `SIGNING.md`).
    Sm2Sm3,
}

/// The hash function an algorithm uses for the payload, the canonical request and its key
/// derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashFn {
    Sha256,
    Sm3,
}

impl HashFn {
    pub(crate) fn digest(self, data: &[u8]) -> [u8; 32] {
        match self {
            HashFn::Sha256 => Sha256::digest(data).into(),
            HashFn::Sm3 => Sm3::digest(data).into(),
        }
    }

    #[cfg(any(feature = "ecdsa", feature = "sm2"))]
    pub(crate) fn hmac(self, key: &[u8], data: &[u8]) -> [u8; 32] {
        use hmac::{Hmac, KeyInit, Mac};
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
        match self {
            HashFn::Sha256 => {
                let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
                    .expect("HMAC takes any key length");
                mac.update(data);
                mac.finalize().into_bytes().into()
            }
            HashFn::Sm3 => {
                let mut mac =
                    <Hmac<Sm3> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
                mac.update(data);
                mac.finalize().into_bytes().into()
            }
        }
    }

    /// The header whose value, when given, replaces the payload hash.
    pub(crate) fn content_header(self) -> &'static str {
        match self {
            HashFn::Sha256 => "X-Sdk-Content-Sha256",
            HashFn::Sm3 => "X-Sdk-Content-Sm3",
        }
    }
}

impl Algorithm {
    /// Every algorithm, in the official SDK's order.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::HmacSha256,
        Algorithm::HmacSm3,
        Algorithm::V11HmacSha256,
        Algorithm::EcdsaP256Sha256,
        Algorithm::Sm2Sm3,
    ];

    /// The name written in the string to sign and in `Authorization`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacSha256 => "SDK-HMAC-SHA256",
            Algorithm::HmacSm3 => "SDK-HMAC-SM3",
            Algorithm::V11HmacSha256 => "V11-HMAC-SHA256",
            Algorithm::EcdsaP256Sha256 => "SDK-ECDSA-P256-SHA256",
            Algorithm::Sm2Sm3 => "SDK-SM2-SM3",
        }
    }

    /// Whether this build can sign with it (ECDSA and SM2 need their crate features).
    // `matches!` would hide which feature each arm depends on.
    #[allow(clippy::match_like_matches_macro)]
    pub fn is_available(self) -> bool {
        match self {
            Algorithm::EcdsaP256Sha256 => cfg!(feature = "ecdsa"),
            Algorithm::Sm2Sm3 => cfg!(feature = "sm2"),
            _ => true,
        }
    }

    pub(crate) fn hash(self) -> HashFn {
        match self {
            Algorithm::HmacSm3 | Algorithm::Sm2Sm3 => HashFn::Sm3,
            _ => HashFn::Sha256,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An algorithm name that is none of the five.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown signing algorithm {0:?}: expected SDK-HMAC-SHA256, SDK-HMAC-SM3, V11-HMAC-SHA256, \
     SDK-ECDSA-P256-SHA256 or SDK-SM2-SM3"
)]
pub struct UnknownAlgorithm(pub String);

impl std::str::FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// The `Authorization` name, in any case.
    fn from_str(text: &str) -> Result<Self, UnknownAlgorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownAlgorithm(text.to_owned()))
    }
}

/// The private-key derivation the SDK uses for ECDSA and SM2: NIST SP 800-108 counter mode with
/// HMAC over the label and the AK, keyed with the SK; candidate number `counter`.
#[cfg(any(feature = "ecdsa", feature = "sm2"))]
pub(crate) fn kdf_candidate(
    hash: HashFn,
    label: &str,
    ak: &str,
    sk: &secrecy::SecretString,
    counter: u8,
) -> [u8; 32] {
    use secrecy::ExposeSecret;
    let mut data = Vec::with_capacity(16 + label.len() + ak.len());
    data.extend_from_slice(&[0, 0, 0, 1]);
    data.extend_from_slice(label.as_bytes());
    data.push(0);
    data.extend_from_slice(ak.as_bytes());
    data.push(counter);
    data.extend_from_slice(&[0, 0, 1, 0]);
    hash.hmac(sk.expose_secret().as_bytes(), &data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::hex;

    #[test]
    fn names_round_trip() {
        for algorithm in Algorithm::ALL {
            assert_eq!(algorithm.name().parse::<Algorithm>(), Ok(algorithm));
            assert_eq!(
                algorithm.name().to_lowercase().parse::<Algorithm>(),
                Ok(algorithm)
            );
        }
        let err = "HMAC".parse::<Algorithm>().unwrap_err();
        assert!(err.to_string().contains("SDK-SM2-SM3"));
    }

    #[test]
    fn empty_hashes() {
        assert_eq!(
            hex(&HashFn::Sm3.digest(b"")),
            "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"
        );
        assert_eq!(
            hex(&HashFn::Sha256.digest(b"")),
            super::super::EMPTY_BODY_HASH
        );
    }
}
