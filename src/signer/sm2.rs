//! SDK-SM2-SM3: SM2 (GB/T 32918.2) with a private key derived from the AK/SK.
//!
//! `e = SM3(Z_A || string to sign)` with `Z_A` as the official SDK computes it: the curve
//! parameters and the public key written with their *minimal* big-endian length, where the
//! standard pads each to 32 bytes. The two differ for about one key in 128 (a public-key
//! coordinate below 2^248); for those keys a standard verifier refuses the SDK's signatures,
//! and so it would refuse ours. `k` comes from RFC 6979 (the `sm2` crate's choice) where the SDK
//! draws it at random; both verify the same way. The signature is DER, as lowercase hex.

use super::algorithm::{HashFn, kdf_candidate};
use super::{SigningError, hex};
use secrecy::SecretString;
use sm2::U256;
use sm2::dsa::signature::hazmat::PrehashSigner;
use sm2::elliptic_curve::ops::Reduce;
use sm2::elliptic_curve::sec1::ToSec1Point;
use sm2::{AffinePoint, NonZeroScalar, ProjectivePoint, Scalar};

const LABEL: &str = "SDK-SM2-SM3";
/// The default user ID of GB/T 32918, 16 bytes: `ENTL_A` is 128 bits.
const USER_ID: &str = "1234567812345678";

/// The private key the SDK derives from the AK/SK: the ECDSA loop with HMAC-SM3, including its
/// cut-off, which is P-256's `n - 2` rather than SM2's (the SDK's SM2 key class inherits it).
/// A candidate between the two orders (a chance of about 2^-32) gives `d = (c + 1) mod n`.
pub(crate) fn private_key(ak: &str, sk: &SecretString) -> Result<NonZeroScalar, SigningError> {
    for counter in 0..=254u8 {
        let candidate = kdf_candidate(HashFn::Sm3, LABEL, ak, sk, counter);
        if candidate > P256_ORDER_MINUS_2 {
            continue;
        }
        let c_plus_1 = U256::from_be_slice(&candidate).wrapping_add(&U256::ONE);
        let d = <Scalar as Reduce<U256>>::reduce(&c_plus_1);
        if let Some(d) = Option::<NonZeroScalar>::from(NonZeroScalar::new(d)) {
            return Ok(d);
        }
    }
    Err(SigningError::NoKey)
}

/// The order of P-256 minus two, big-endian: the SDK's cut-off for SM2 key candidates too.
const P256_ORDER_MINUS_2: [u8; 32] =
    hex32("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC63254F");

/// The curve's `a`, `b`, `xG`, `yG` (GB/T 32918.5), big-endian: hashed into `Z_A`.
const CURVE: [[u8; 32]; 4] = [
    hex32("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"),
    hex32("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"),
    hex32("32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"),
    hex32("BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"),
];

const fn hex32(text: &str) -> [u8; 32] {
    let t = text.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(t[2 * i]) << 4 | nibble(t[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'A' + 10,
    }
}

/// `Z_A` as the official SDK computes it (minimal-length coordinates).
pub(crate) fn z_a(public: &AffinePoint) -> [u8; 32] {
    let point = public.to_sec1_point(false);
    // An uncompressed point: 0x04, x, y (32 bytes each).
    let (x, y) = point.as_bytes()[1..].split_at(32);
    let mut data = Vec::with_capacity(2 + USER_ID.len() + 6 * 32);
    data.extend_from_slice(&((USER_ID.len() * 8) as u16).to_be_bytes());
    data.extend_from_slice(USER_ID.as_bytes());
    for field in &CURVE {
        data.extend_from_slice(minimal(field));
    }
    data.extend_from_slice(minimal(x));
    data.extend_from_slice(minimal(y));
    HashFn::Sm3.digest(&data)
}

/// Big-endian bytes without leading zeros.
fn minimal(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    &bytes[zeros..]
}

/// `e = SM3(Z_A || string to sign)`.
fn message_digest(public: &AffinePoint, string_to_sign: &str) -> [u8; 32] {
    let mut data = z_a(public).to_vec();
    data.extend_from_slice(string_to_sign.as_bytes());
    HashFn::Sm3.digest(&data)
}

/// DER-hex SM2 signature of the string to sign.
pub(crate) fn sign(
    ak: &str,
    sk: &SecretString,
    string_to_sign: &str,
) -> Result<String, SigningError> {
    let d = private_key(ak, sk)?;
    let public = (ProjectivePoint::GENERATOR * *d).to_affine();
    let e = message_digest(&public, string_to_sign);
    // The key's own identity hash is not used: `e` is computed above, with the SDK's `Z_A`.
    let key =
        sm2::dsa::SigningKey::from_nonzero_scalar(USER_ID, d).map_err(|_| SigningError::NoKey)?;
    let signature: sm2::dsa::Signature = key.sign_prehash(&e).map_err(|_| SigningError::NoKey)?;
    Ok(hex(signature.to_der().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::test_vectors::{AlgorithmVector, from_hex, vectors};
    use sm2::dsa::signature::hazmat::PrehashVerifier;
    use sm2::elliptic_curve::PrimeField;
    use sm2::elliptic_curve::point::AffineCoordinates;

    /// SM2 with a given `k`: `r = (e + x1) mod n`, `s = (1 + d)^-1 (k - r d) mod n`.
    fn sign_with_k(d: &NonZeroScalar, k: &NonZeroScalar, e: &[u8; 32]) -> sm2::dsa::Signature {
        let reduce = |bytes: &[u8]| <Scalar as Reduce<U256>>::reduce(&U256::from_be_slice(bytes));
        let e = reduce(e);
        let x1 = (ProjectivePoint::GENERATOR * **k).to_affine().x();
        let r = e + reduce(&x1);
        let s = (Scalar::ONE + **d).invert().unwrap() * (**k - r * **d);
        sm2::dsa::Signature::from_scalars(r.to_repr(), s.to_repr()).unwrap()
    }

    fn check(v: &AlgorithmVector) {
        let sk = SecretString::from(v.credentials.sk.clone());
        let d = private_key(&v.credentials.ak, &sk).unwrap();
        assert_eq!(
            hex(&d.to_repr()),
            v.expected.private_key.as_deref().unwrap(),
            "{}",
            v.name
        );
        let public = (ProjectivePoint::GENERATOR * *d).to_affine();
        assert_eq!(
            hex(public.to_sec1_point(false).as_bytes()),
            v.expected.public_key.as_deref().unwrap(),
            "{}",
            v.name
        );
        assert_eq!(
            hex(&z_a(&public)),
            v.expected.za.as_deref().unwrap(),
            "{}",
            v.name
        );
        let e = message_digest(&public, &v.expected.string_to_sign);
        // With the SDK's nonce, the SDK's signature, byte for byte.
        let k = NonZeroScalar::try_from(from_hex(v.nonce.as_deref().unwrap()).as_slice()).unwrap();
        let with_k = sign_with_k(&d, &k, &e);
        assert_eq!(
            hex(with_k.to_der().as_bytes()),
            v.expected.signature,
            "{}",
            v.name
        );
        // Our own signature verifies with the SDK's public key and Z_A.
        let ours = sign(&v.credentials.ak, &sk, &v.expected.string_to_sign).unwrap();
        let ours = sm2::dsa::Signature::from_der(&from_hex(&ours)).unwrap();
        let verifier = sm2::dsa::VerifyingKey::from_affine(USER_ID, public).unwrap();
        verifier.verify_prehash(&e, &ours).unwrap();
    }

    #[test]
    fn sdk_vectors() {
        let vectors = vectors("sdk-sm2-sm3");
        assert!(vectors.len() >= 3, "{} SM2 vectors", vectors.len());
        assert!(
            vectors.iter().any(|v| v.expected.za_quirk == Some(true)),
            "no vector exercises the Z_A quirk"
        );
        for v in &vectors {
            check(v);
        }
    }
}
