//! V11-HMAC-SHA256: HMAC-SHA256 with a key derived from the AK/SK for one day, region and
//! service, and the official SDKs' rule for which hosts get it.

use super::hex;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// `YYYYMMDD/region/service`: the derived key's scope, from the `X-Sdk-Date` value.
pub(crate) fn info(date: &str, region: &str, service: &str) -> String {
    let day = date.get(..8).unwrap_or(date);
    format!("{day}/{region}/{service}")
}

/// The HMAC key: the *hex text* of HKDF-SHA256 (salt = AK, input key = SK, info, 32 bytes).
pub(crate) fn signing_key(ak: &str, sk: &SecretString, info: &str) -> Zeroizing<String> {
    let hkdf = hkdf::Hkdf::<sha2::Sha256>::new(Some(ak.as_bytes()), sk.expose_secret().as_bytes());
    let mut okm = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's limit of 255 blocks: this cannot fail.
    hkdf.expand(info.as_bytes(), okm.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    Zeroizing::new(hex(okm.as_ref()))
}

/// The official SDKs' default "derived predicate": V11 is used for a host that does *not*
/// match `^[a-z][a-z0-9-]+(\.[a-z]{2,}-[a-z]+-\d{1,2})?\.(my)?(huaweicloud|myhwclouds).(com|cn)`
/// (a prefix match on the authority, port included, with the `.` before `com|cn` unescaped).
/// Standard endpoints such as `hss.cn-north-4.myhuaweicloud.com` match and keep their
/// algorithm.
pub fn uses_derived_key(host: &str) -> bool {
    !is_standard_host(host.as_bytes())
}

fn is_standard_host(h: &[u8]) -> bool {
    // `[a-z][a-z0-9-]+`: the first label (it cannot contain `.`, so no backtracking matters).
    if !h.first().is_some_and(u8::is_ascii_lowercase) {
        return false;
    }
    let label_end = 1 + run(&h[1..], |b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
    });
    if label_end < 2 {
        return false;
    }
    let rest = &h[label_end..];
    // With the optional region group, or without it.
    region_group(rest).is_some_and(cloud_domain) || cloud_domain(rest)
}

/// `\.[a-z]{2,}-[a-z]+-\d{1,2}`: what follows it.
fn region_group(h: &[u8]) -> Option<&[u8]> {
    let h = h.strip_prefix(b".")?;
    let letters = run(h, |b| b.is_ascii_lowercase());
    if letters < 2 {
        return None;
    }
    let h = h[letters..].strip_prefix(b"-")?;
    let letters = run(h, |b| b.is_ascii_lowercase());
    if letters < 1 {
        return None;
    }
    let h = h[letters..].strip_prefix(b"-")?;
    let digits = run(h, |b| b.is_ascii_digit());
    // `\d{1,2}` must be followed by the `\.` of the domain: more digits cannot match.
    (1..=2).contains(&digits).then(|| &h[digits..])
}

/// `\.(my)?(huaweicloud|myhwclouds).(com|cn)` as a prefix.
fn cloud_domain(h: &[u8]) -> bool {
    let Some(h) = h.strip_prefix(b".") else {
        return false;
    };
    let names = |h: &[u8]| -> bool {
        [&b"huaweicloud"[..], b"myhwclouds"].iter().any(|name| {
            h.strip_prefix(*name)
                .and_then(|h| h.get(1..))
                .is_some_and(|h| h.starts_with(b"com") || h.starts_with(b"cn"))
        })
    };
    names(h) || h.strip_prefix(b"my").is_some_and(names)
}

fn run(h: &[u8], class: impl Fn(u8) -> bool) -> usize {
    h.iter().take_while(|&&b| class(b)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_key_of_signing_md() {
        let key = signing_key(
            "HPUAL8FWGBJPNSCL4E2X",
            &SecretString::from("xN3qV7mK2pL9sR4tW8yB1cD6fG0hJ5kZaQeUiOo"),
            "20240315/cn-north-4/hss",
        );
        assert_eq!(
            key.as_str(),
            "75e30f2c2b5ddeb438163a004759dc65e99bf27550a810a907769b17410a9562"
        );
        assert_eq!(
            info("20240315T081530Z", "cn-north-4", "hss"),
            "20240315/cn-north-4/hss"
        );
    }

    #[test]
    fn derived_keys_of_the_sdk_vectors() {
        let vectors = crate::signer::test_vectors::vectors("v11-hmac-sha256");
        assert!(vectors.len() >= 3, "{} V11 vectors", vectors.len());
        for v in vectors {
            // The string to sign's third line is the scope: `YYYYMMDD/region/service`.
            let info = v.expected.string_to_sign.split('\n').nth(2).unwrap();
            let key = signing_key(
                &v.credentials.ak,
                &SecretString::from(v.credentials.sk.clone()),
                info,
            );
            assert_eq!(
                Some(key.as_str()),
                v.expected.signing_key.as_deref(),
                "{}",
                v.name
            );
        }
    }

    /// The cases SIGNING.md lists for the SDK's regular expression.
    #[test]
    fn default_predicate_matches_the_sdk_regex() {
        for standard in [
            "hss.cn-north-4.myhuaweicloud.com",
            "hss.cn-north-4.myhuaweicloud.com:443",
            "hss.cn-north-4.myhuaweicloud.com.evil.example",
            "hss.myhuaweicloud.com",
            "iam.huaweicloud.com",
            "ab.cn-north-4.myhwclouds.cn",
            "ab.myhwclouds.com",
            "hss.ap-southeast-12.huaweicloudxcom",
        ] {
            assert!(!uses_derived_key(standard), "{standard}");
        }
        for derived in [
            "127.0.0.1:8080",
            "HSS.cn-north-4.myhuaweicloud.com",
            "h.cn-north-4.myhuaweicloud.com",
            "hss.cn-north-123.myhuaweicloud.com",
            "hss.eu-west-101.myhuaweicloud.eu",
            "hss.c-north-4.myhuaweicloud.com",
            "localhost",
            "",
        ] {
            assert!(uses_derived_key(derived), "{derived}");
        }
    }
}
