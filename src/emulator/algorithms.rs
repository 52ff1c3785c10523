//! The per-algorithm half of signature verification: the key each algorithm checks with, and
//! how its signature is checked against the string to sign.
//!
//! The key derivations and the curve arithmetic are the signer's (the ECDSA and SM2 private keys
//! the official SDKs derive from the AK/SK, V11's HKDF key, the SDK's SM2 `Z_A`); everything the
//! signature covers (canonical request, string to sign) is computed by [`super::verify`] from the
//! raw request.

use crate::signer::algorithm::HashFn;
use crate::signer::{Algorithm, v11};
use hmac::{EagerHash, Hmac, KeyInit, Mac};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use sm3::Sm3;

/// The SM2 user ID the SDKs hash into `Z_A` (GB/T 32918's default). Only the signer's `z_a`
/// uses it; the verifying key needs one to be built.
const SM2_USER_ID: &str = "1234567812345678";

/// The most bytes a DER `SEQUENCE { INTEGER r, INTEGER s }` of a 256-bit curve takes: two
/// 33-byte integers with their tag and length, and the sequence's tag and length.
pub(crate) const MAX_DER_SIGNATURE: usize = 72;

/// Whether `signature` (decoded from the header's hex) is `algorithm`'s signature of
/// `string_to_sign` by the holder of `access_key` / `secret_key`. `scope` is V11's
/// `YYYYMMDD/region/service`, already checked against what the gateway accepts.
pub(crate) fn signature_matches(
    algorithm: Algorithm,
    access_key: &str,
    secret_key: &[u8],
    scope: &str,
    string_to_sign: &str,
    signature: &[u8],
) -> bool {
    let message = string_to_sign.as_bytes();
    match algorithm {
        Algorithm::HmacSha256 => hmac_matches::<Sha256>(secret_key, message, signature),
        Algorithm::HmacSm3 => hmac_matches::<Sm3>(secret_key, message, signature),
        Algorithm::V11HmacSha256 => {
            let key = v11::signing_key(access_key, &secret(secret_key), scope);
            hmac_matches::<Sha256>(key.as_bytes(), message, signature)
        }
        Algorithm::EcdsaP256Sha256 => ecdsa_matches(access_key, secret_key, message, signature),
        Algorithm::Sm2Sm3 => sm2_matches(access_key, secret_key, message, signature),
    }
}

/// The SK as the signer holds it. Credentials are text, so a non-UTF-8 SK (only a hand-made
/// verification can have one) is read lossily: no client could have signed with it.
fn secret(secret_key: &[u8]) -> SecretString {
    SecretString::from(String::from_utf8_lossy(secret_key).into_owned())
}

/// HMAC of `message` keyed with `key`, compared with `signature` in constant time.
fn hmac_matches<D: EagerHash>(key: &[u8], message: &[u8], signature: &[u8]) -> bool
where
    Hmac<D>: KeyInit + Mac,
{
    let Ok(mut mac) = <Hmac<D> as KeyInit>::new_from_slice(key) else {
        return false;
    };
    mac.update(message);
    mac.verify_slice(signature).is_ok()
}

/// ECDSA-P256 over `SHA-256(string to sign)` with the public key of the private key the SDK
/// derives from the AK/SK. High `s` is accepted: the SDK does not normalize it.
fn ecdsa_matches(access_key: &str, secret_key: &[u8], message: &[u8], der: &[u8]) -> bool {
    use ecdsa::signature::hazmat::PrehashVerifier;
    let Ok(d) = crate::signer::ecdsa::private_key(access_key, &secret(secret_key)) else {
        return false;
    };
    let Ok(signature) = p256::ecdsa::Signature::from_der(der) else {
        return false;
    };
    let public = p256::ecdsa::VerifyingKey::from(p256::PublicKey::from_secret_scalar(&d));
    public
        .verify_prehash(&Sha256::digest(message), &signature)
        .is_ok()
}

/// SM2 (GB/T 32918.2) with `e = SM3(Z_A || string to sign)`, `Z_A` as the SDK computes it, and
/// the public key of the private key the SDK derives from the AK/SK.
fn sm2_matches(access_key: &str, secret_key: &[u8], message: &[u8], der: &[u8]) -> bool {
    use sm2::dsa::signature::hazmat::PrehashVerifier;
    let Ok(d) = crate::signer::sm2::private_key(access_key, &secret(secret_key)) else {
        return false;
    };
    let Ok(signature) = sm2::dsa::Signature::from_der(der) else {
        return false;
    };
    let public = (sm2::ProjectivePoint::GENERATOR * *d).to_affine();
    let mut hashed = crate::signer::sm2::z_a(&public).to_vec();
    hashed.extend_from_slice(message);
    let e = HashFn::Sm3.digest(&hashed);
    let Ok(key) = sm2::dsa::VerifyingKey::from_affine(SM2_USER_ID, public) else {
        return false;
    };
    key.verify_prehash(&e, &signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::{SignableRequest, SigningParams, sign_with};
    use std::time::SystemTime;

    /// Each algorithm's own signature of a string to sign matches; another key's, another
    /// string's or a flipped byte does not.
    #[test]
    fn each_algorithm_checks_its_own_signature() {
        let headers = [("Content-Type".to_owned(), "application/json".to_owned())];
        let request = SignableRequest {
            method: "POST",
            host: "127.0.0.1:1",
            path: "/v5/p/image/synchronize",
            query: &[],
            headers: &headers,
            body: b"{}",
        };
        let sk = SecretString::from("secret");
        for algorithm in Algorithm::ALL {
            let params = SigningParams::new(algorithm, "AK", &sk, SystemTime::now())
                .with_scope("cn-north-4", "hss");
            let signed = sign_with(&request, &params).unwrap();
            let scope = signed.string_to_sign.split('\n').nth(2).unwrap_or_default();
            let signature = from_hex(&signed.signature);
            let sts = &signed.string_to_sign;
            let check = |ak: &str, sk: &[u8], sts: &str, sig: &[u8]| {
                signature_matches(algorithm, ak, sk, scope, sts, sig)
            };
            assert!(check("AK", b"secret", sts, &signature), "{algorithm}");
            assert!(!check("AK", b"secret2", sts, &signature), "{algorithm}");
            // The plain HMACs are keyed with the SK alone; the others' keys derive from both.
            let keyed_by_ak = !matches!(algorithm, Algorithm::HmacSha256 | Algorithm::HmacSm3);
            assert_eq!(
                check("AK2", b"secret", sts, &signature),
                !keyed_by_ak,
                "{algorithm}"
            );
            assert!(!check("AK", b"secret", &format!("{sts}x"), &signature));
            let mut flipped = signature.clone();
            *flipped.last_mut().unwrap() ^= 1;
            assert!(!check("AK", b"secret", sts, &flipped), "{algorithm}");
            assert!(!check("AK", b"secret", sts, &[]), "{algorithm}");
            assert!(signature.len() <= MAX_DER_SIGNATURE, "{algorithm}");
        }
    }

    fn from_hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }
}
