//! `emulator_verify`: the emulator's independent verifier on any raw request, and agreement
//! with the signer on every request a client could send, with each signing algorithm.

use crate::input::{Input, is_lower_hex_64, text, with_secrets_replaced};
use hss_image_sync::emulator::verify::{
    AuthorizationHeader, CredentialScope, DEFAULT_REGION, DEFAULT_SERVICE, MAX_CLOCK_SKEW,
    MAX_SIGNED_HEADERS, RawRequest, canonical_request, parse_authorization, verify_signature,
};
use hss_image_sync::signer::{
    self, Algorithm, SignableRequest, SigningParams, canonical_uri, encode, sdk_date,
};
use secrecy::SecretString;
use std::time::Duration;

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "post",
];

/// `tchar` of RFC 9110: what a header name may be made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The algorithm a knob byte picks (0, an absent knob, is SDK-HMAC-SHA256).
fn algorithm_of(knob: u8) -> Algorithm {
    Algorithm::ALL[usize::from(knob) % Algorithm::ALL.len()]
}

/// The header whose signed value replaces the payload hash, for `algorithm`.
fn content_header(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::HmacSm3 | Algorithm::Sm2Sm3 => "X-Sdk-Content-Sm3",
        _ => signer::CONTENT_HASH_HEADER,
    }
}

/// A parsed signature is lowercase hex: 64 digits for the HMAC algorithms, an even number of
/// at most 144 (a DER signature of a 256-bit curve) for ECDSA and SM2.
fn is_signature_text(auth: &AuthorizationHeader) -> bool {
    let text = &auth.signature;
    match auth.algorithm {
        Algorithm::EcdsaP256Sha256 | Algorithm::Sm2Sm3 => {
            text.len().is_multiple_of(2)
                && (2..=144).contains(&text.len())
                && text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        _ => is_lower_hex_64(text),
    }
}

/// The emulator's verification: never panics and never shows a secret on any raw request;
/// canonicalizes a path as the signer does; and whatever the signer signs verifies, but no
/// longer once the clock, the body, the query or the path is off.
pub fn check_emulator_verify(data: &[u8]) {
    let input = Input::parse(data);
    check_raw_request(&input);
    check_round_trip(&input);
}

fn check_raw_request(input: &Input) {
    let headers: Vec<(String, Vec<u8>)> = input
        .headers
        .iter()
        .map(|(n, v)| (text(n), v.clone()))
        .collect();
    let raw = RawRequest::new(
        input.method.clone().unwrap_or_default(),
        input.path.clone().unwrap_or_default(),
        headers.clone(),
        input.body.clone(),
    );
    // The same request with other secrets: what is shown must not change.
    let other = RawRequest::new(
        raw.method.clone(),
        raw.target.clone(),
        with_secrets_replaced(&headers, &b"other".to_vec()),
        raw.body.clone(),
    );
    assert_eq!(format!("{raw:?}"), format!("{other:?}"));
    // A line break in a secret would add a line of its own to the canonical request (hyper
    // refuses such values before the emulator sees them).
    let lines_intact = !headers
        .iter()
        .any(|(name, value)| signer::is_sensitive_header(name) && value.contains(&b'\n'));
    let now = input.time();
    let sk = input.sk.clone().unwrap_or_default();
    let verify = |auth: &AuthorizationHeader| {
        let verdict = verify_signature(&raw, auth, sk.as_bytes(), now);
        let again = verify_signature(&other, auth, sk.as_bytes(), now);
        if let (Err(refused), Err(again), true) = (&verdict, &again, lines_intact) {
            assert_eq!(refused.message, again.message);
            assert_eq!(
                refused.canonical_request.as_ref().map(ToString::to_string),
                again.canonical_request.as_ref().map(ToString::to_string)
            );
        }
    };

    let from_headers = raw
        .header_values("authorization")
        .map(|v| String::from_utf8_lossy(v).into_owned());
    let candidates: Vec<String> = input.auths.iter().cloned().chain(from_headers).collect();
    for value in &candidates {
        let Some(auth) = parse_authorization(value) else {
            continue;
        };
        assert!(is_signature_text(&auth), "{value:?}");
        assert_eq!(
            auth.credential_scope.is_some(),
            auth.algorithm == Algorithm::V11HmacSha256,
            "{value:?}"
        );
        // What was parsed, written back, parses the same.
        let credential = match &auth.credential_scope {
            Some(scope) => format!(
                "Credential={}/{}/{}/{}",
                auth.access_key, scope.date, scope.region, scope.service
            ),
            None => format!("Access={}", auth.access_key),
        };
        let rewritten = format!(
            "{} {credential}, SignedHeaders={}, Signature={}",
            auth.algorithm.name(),
            auth.signed_headers.join(";"),
            auth.signature
        );
        assert_eq!(
            parse_authorization(&rewritten).as_ref(),
            Some(&auth),
            "{value:?}"
        );
        verify(&auth);
    }
    // Any header list, any signature text (not only what parse_authorization lets through).
    for value in &input.auths {
        let mut signed: Vec<String> = value.split(';').map(str::to_owned).collect();
        if input.knob(1) & 1 == 1 {
            signed.push("x-sdk-date".into());
        }
        let algorithm = algorithm_of(input.knob(6));
        let mut auth =
            AuthorizationHeader::new("", signed.clone(), value.clone()).with_algorithm(algorithm);
        if algorithm == Algorithm::V11HmacSha256 || input.knob(1) & 2 == 2 {
            let day = text(&input.knobs);
            auth = auth.with_credential_scope(CredentialScope::new(
                day,
                DEFAULT_REGION,
                DEFAULT_SERVICE,
            ));
        }
        verify(&auth);
        if let (Ok(shown), Ok(again), true) = (
            canonical_request(&raw, &signed),
            canonical_request(&other, &signed),
            lines_intact,
        ) {
            assert_eq!(shown.to_string(), again.to_string());
        }
    }

    // The emulator's canonical path of any raw path is the signer's.
    // (The method may hold a newline here, so the lines are found after it.)
    let emulator = canonical_request(&raw, &[]).expect("no signed header to miss");
    let method = raw.method.to_ascii_uppercase();
    let rest = emulator
        .as_str()
        .strip_prefix(&method)
        .and_then(|r| r.strip_prefix('\n'))
        .unwrap_or_else(|| panic!("canonical request does not start with {method:?}"));
    let emulator_path = rest.split('\n').next().unwrap_or_default();
    assert_eq!(
        emulator_path,
        canonical_uri(raw.raw_path()),
        "canonical path of {:?}",
        raw.raw_path()
    );
}

fn check_round_trip(input: &Input) {
    // A request a client could send: known method, encoded path, valid header names, header
    // values and host without control characters, an alphanumeric AK.
    let method = match input.method.as_deref() {
        Some(m) if METHODS.contains(&m) => m,
        _ => METHODS[usize::from(input.knob(2)) % METHODS.len()],
    };
    let segments: Vec<String> = if input.segments.is_empty() {
        input
            .path
            .as_deref()
            .unwrap_or("/v5/p/image/synchronize")
            .split('/')
            .skip(1)
            .map(str::to_owned)
            .collect()
    } else {
        input.segments.clone()
    };
    let path: String = if segments.is_empty() {
        "/".into()
    } else {
        segments.iter().map(|s| format!("/{}", encode(s))).collect()
    };
    let no_controls = |s: &str| s.chars().filter(|c| !c.is_control()).collect::<String>();
    let host = no_controls(input.host.as_deref().unwrap_or("hss.example.com"));
    let headers: Vec<(String, String)> = input
        .headers
        .iter()
        .filter_map(|(n, v)| {
            let name: String = n
                .iter()
                .copied()
                .filter(|&b| is_tchar(b))
                .map(char::from)
                .collect();
            // An `Authorization` present before signing is signed and then replaced: not a
            // request a client sends.
            if name.is_empty() || name.eq_ignore_ascii_case("authorization") {
                return None;
            }
            Some((name, no_controls(&text(v))))
        })
        .collect();
    let ak: String = input
        .ak
        .as_deref()
        .unwrap_or("AK")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let ak = if ak.is_empty() { "AK".to_owned() } else { ak };
    let sk = input
        .sk
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "SK".into());
    let time = input.time();
    let algorithm = algorithm_of(input.knob(6));

    let request = SignableRequest {
        method,
        host: &host,
        path: &path,
        query: &input.query,
        headers: &headers,
        body: &input.body,
    };
    // Refusals (a name given twice, a bad X-Sdk-Date header, a time out of range) are the
    // signer target's business.
    let secret = SecretString::from(sk.clone());
    let params = SigningParams::new(algorithm, &ak, &secret, time)
        .with_scope(DEFAULT_REGION, DEFAULT_SERVICE);
    let Ok(signed) = signer::sign_with(&request, &params) else {
        return;
    };
    let date = signed
        .string_to_sign
        .split('\n')
        .nth(1)
        .expect("a date line");
    let now = sdk_date::parse(date).expect("the signer wrote a valid date");

    // As the emulator receives it: names lowercase, values as bytes.
    let raw = |target: &str, body: &[u8]| {
        let headers = signed
            .headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), h.value.as_bytes().to_vec()))
            .collect();
        RawRequest::new(method, target, headers, body)
    };
    let auth = parse_authorization(&signed.authorization).unwrap_or_else(|| {
        panic!(
            "signer's Authorization unparseable: {:?}",
            signed.authorization
        )
    });
    assert_eq!(auth.algorithm, algorithm);
    assert_eq!(auth.access_key, ak);
    assert_eq!(auth.signature, signed.signature);
    assert_eq!(auth.signed_headers.join(";"), signed.signed_headers);
    let good = raw(&signed.uri, &input.body);
    let sk = sk.as_bytes();
    // More signed headers than a request can carry is refused before any canonical request
    // (the gateway's limit; no request reaching the emulator has that many).
    if auth.signed_headers.len() > MAX_SIGNED_HEADERS {
        let refused = verify_signature(&good, &auth, sk, now).unwrap_err();
        assert!(refused.canonical_request.is_none(), "{}", refused.message);
        return;
    }
    match verify_signature(&good, &auth, sk, now) {
        Ok(verified) => assert_eq!(
            verified.as_str(),
            signed.canonical_request.as_str(),
            "the emulator's canonical request differs from the signer's"
        ),
        Err(rejection) => panic!(
            "signed request refused: {}\nsigner's canonical request: {:?}",
            rejection.message, signed.canonical_request
        ),
    }

    // The clock: accepted at the edge of the allowed skew, refused one second past it.
    assert!(verify_signature(&good, &auth, sk, now + MAX_CLOCK_SKEW).is_ok());
    let late = now + MAX_CLOCK_SKEW + Duration::from_secs(1);
    assert!(verify_signature(&good, &auth, sk, late).is_err());
    if let Some(early) = now.checked_sub(MAX_CLOCK_SKEW + Duration::from_secs(1)) {
        assert!(verify_signature(&good, &auth, sk, early).is_err());
    }

    // A changed body byte is refused unless the payload hash is a declared, signed value.
    let declared = signed
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(content_header(algorithm)))
        .is_some_and(|h| !h.value.is_empty());
    if !input.body.is_empty() && !declared {
        let len = input.body.len();
        let spots = [0, len - 1, usize::from(input.knob(3)) * 257 % len];
        for at in spots {
            let mut body = input.body.clone();
            body[at] ^= input.knob(4).max(1);
            let verdict = verify_signature(&raw(&signed.uri, &body), &auth, sk, now);
            assert!(verdict.is_err(), "body byte {at} changed, still accepted");
        }
    }

    // A changed query is refused: a pair added, or the query dropped.
    let (path_part, query_part) = signed.uri.split_once('?').unwrap_or((&signed.uri, ""));
    let key = char::from(b'a' + input.knob(5) % 26).to_string();
    let added = format!(
        "{}{}{}={}",
        signed.uri,
        if query_part.is_empty() { '?' } else { '&' },
        encode(&key),
        encode(&text(&input.knobs))
    );
    assert!(
        verify_signature(&raw(&added, &input.body), &auth, sk, now).is_err(),
        "{added:?}"
    );
    if !query_part.is_empty() {
        let dropped = raw(path_part, &input.body);
        assert!(
            verify_signature(&dropped, &auth, sk, now).is_err(),
            "query dropped"
        );
    }
    // A path with one more segment is refused.
    let longer = format!(
        "{path_part}/zz{}",
        signed.uri.strip_prefix(path_part).unwrap_or("")
    );
    assert!(
        verify_signature(&raw(&longer, &input.body), &auth, sk, now).is_err(),
        "{longer:?}"
    );
}
