//! SDK-ECDSA-P256-SHA256: ECDSA on P-256 with a private key derived from the AK/SK.
//!
//! The official SDK signs with a random `k`; this signs with RFC 6979's deterministic `k`
//! (the `ecdsa` crate's choice), which verifies the same way. No low-s normalization, as the
//! SDK does none. The signature is DER, written as lowercase hex.

use super::algorithm::{HashFn, kdf_candidate};
use super::{SigningError, hex};
use ecdsa::signature::hazmat::PrehashSigner;
use p256::elliptic_curve::PrimeField;
use p256::{FieldBytes, NonZeroScalar, Scalar};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

const LABEL: &str = "SDK-ECDSA-P256-SHA256";

/// The private key the SDK derives from the AK/SK: the first KDF candidate `c` with
/// `c <= n - 2`, plus one.
pub(crate) fn private_key(ak: &str, sk: &SecretString) -> Result<NonZeroScalar, SigningError> {
    for counter in 0..=254u8 {
        let candidate = kdf_candidate(HashFn::Sha256, LABEL, ak, sk, counter);
        // `from_repr` refuses c >= n; `c + 1` is zero only for c = n - 1.
        let Some(c) = Option::<Scalar>::from(Scalar::from_repr(FieldBytes::from(candidate))) else {
            continue;
        };
        if let Some(d) = Option::<NonZeroScalar>::from(NonZeroScalar::new(c + Scalar::ONE)) {
            return Ok(d);
        }
    }
    Err(SigningError::NoKey)
}

/// DER-hex ECDSA signature of `SHA-256(string_to_sign)`.
pub(crate) fn sign(
    ak: &str,
    sk: &SecretString,
    string_to_sign: &str,
) -> Result<String, SigningError> {
    let key = p256::ecdsa::SigningKey::from(private_key(ak, sk)?);
    let digest = Sha256::digest(string_to_sign.as_bytes());
    let signature: p256::ecdsa::DerSignature =
        key.sign_prehash(&digest).map_err(|_| SigningError::NoKey)?;
    Ok(hex(signature.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::test_vectors::{AlgorithmVector, from_hex, vectors};
    use ecdsa::signature::hazmat::PrehashVerifier;
    use p256::elliptic_curve::sec1::ToSec1Point;

    fn check(v: &AlgorithmVector) {
        let sk = SecretString::from(v.credentials.sk.clone());
        let d = private_key(&v.credentials.ak, &sk).unwrap();
        assert_eq!(
            hex(&d.to_repr()),
            v.expected.private_key.as_deref().unwrap(),
            "{}",
            v.name
        );
        let public = p256::PublicKey::from_secret_scalar(&d);
        assert_eq!(
            hex(public.to_sec1_point(false).as_bytes()),
            v.expected.public_key.as_deref().unwrap(),
            "{}",
            v.name
        );
        let digest = Sha256::digest(v.expected.string_to_sign.as_bytes());
        // With the SDK's nonce, the SDK's signature, byte for byte.
        let k = NonZeroScalar::try_from(from_hex(v.nonce.as_deref().unwrap()).as_slice()).unwrap();
        let (with_k, _) = ecdsa::hazmat::sign_prehashed::<p256::NistP256>(&d, &k, &digest).unwrap();
        assert_eq!(
            hex(with_k.to_der().as_bytes()),
            v.expected.signature,
            "{}",
            v.name
        );
        // Our own (deterministic-k) signature verifies with the SDK's public key.
        let ours = sign(&v.credentials.ak, &sk, &v.expected.string_to_sign).unwrap();
        let der = p256::ecdsa::DerSignature::from_bytes(&from_hex(&ours)).unwrap();
        let verifier = p256::ecdsa::VerifyingKey::from(public);
        let plain = p256::ecdsa::Signature::try_from(der).unwrap();
        verifier.verify_prehash(&digest, &plain).unwrap();
    }

    #[test]
    fn sdk_vectors() {
        let vectors = vectors("sdk-ecdsa-p256-sha256");
        assert!(vectors.len() >= 3, "{} ECDSA vectors", vectors.len());
        for v in &vectors {
            check(v);
        }
    }
}
