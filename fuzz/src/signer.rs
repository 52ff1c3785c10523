//! `signer_canonicalization`: the signer over any method, host, path, query, headers, body,
//! keys and time.

use crate::input::{Input, is_lower_hex_64, with_secrets_replaced};
use hss_image_sync::signer::{
    self, SignableRequest, SignedRequest, SigningError, canonical_query, canonical_uri, encode,
    sdk_date, trim_header_value,
};
use percent_encoding::percent_decode_str;
use secrecy::SecretString;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Runs every signer property on one input.
pub fn check_signer(data: &[u8]) {
    let input = Input::parse(data);
    check_encoding(&input);
    check_trim(&input);
    check_sdk_date(&input);
    check_sign(&input);
}

/// True if `text` is only unreserved characters and `%XX` escapes with uppercase hex, plus the
/// bytes in `extra`.
fn only_unreserved_escapes(text: &str, extra: &[u8]) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            let hex = |x: u8| x.is_ascii_digit() || (b'A'..=b'F').contains(&x);
            if !(b.get(i + 1).copied().is_some_and(hex) && b.get(i + 2).copied().is_some_and(hex)) {
                return false;
            }
            i += 3;
        } else if c.is_ascii_alphanumeric() || b"-._~".contains(&c) || extra.contains(&c) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

fn decoded(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// `encode`, `canonical_uri` and `canonical_query`: only unreserved characters and escapes,
/// and nothing but the encoding changes (they decode back to their input).
fn check_encoding(input: &Input) {
    let path = input.path.as_deref().unwrap_or("/v5/p/image/synchronize");
    for s in input
        .query
        .iter()
        .flat_map(|(k, v)| [k, v])
        .chain(&input.segments)
        .map(String::as_str)
        .chain([path])
    {
        let e = encode(s).to_string();
        assert!(only_unreserved_escapes(&e, b""), "encode({s:?}) = {e:?}");
        let back = percent_decode_str(&e).decode_utf8();
        assert_eq!(back.as_deref().ok(), Some(s), "encode({s:?}) = {e:?}");
    }

    for p in [path, input.segments.first().map_or("", String::as_str)] {
        let uri = canonical_uri(p);
        assert!(uri.ends_with('/'), "canonical_uri({p:?}) = {uri:?}");
        assert!(
            only_unreserved_escapes(&uri, b"/"),
            "canonical_uri({p:?}) = {uri:?}"
        );
        // The same path, decoded (invalid UTF-8 as U+FFFD), with the trailing `/`.
        let (want, got) = (decoded(p), decoded(&uri));
        assert!(
            got == want || got.strip_suffix('/') == Some(want.as_str()),
            "canonical_uri({p:?}) = {uri:?}"
        );
        assert_eq!(canonical_uri(&uri), uri, "not idempotent on {p:?}");
    }

    // The pairs, encoded, in code-point order of (key, value).
    let cq = canonical_query(&input.query);
    assert!(
        only_unreserved_escapes(&cq, b"=&"),
        "canonical_query = {cq:?}"
    );
    let back: Vec<(String, String)> = cq
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').expect("every pair has `=`");
            (decoded(k), decoded(v))
        })
        .collect();
    let mut sorted = input.query.clone();
    sorted.sort();
    assert_eq!(back, sorted, "canonical_query = {cq:?}");
}

/// `trim_header_value` (Python's `str.strip()`): a substring, idempotent, and at least what
/// Rust's `str::trim` removes.
fn check_trim(input: &Input) {
    for (_, value) in input.text_headers() {
        let t = trim_header_value(&value);
        assert!(value.contains(t), "{value:?} -> {t:?}");
        assert_eq!(trim_header_value(t), t);
        assert_eq!(t.trim(), t, "{value:?} -> {t:?}");
    }
}

/// `sdk_date`: `parse(format(t)) == t` to the second, `format` fails exactly outside
/// 1970..=9999, and `format(parse(s)) == s`.
fn check_sdk_date(input: &Input) {
    let time = input.time();
    let whole = |t: SystemTime| {
        let d = t.duration_since(UNIX_EPOCH).ok()?;
        Some(UNIX_EPOCH + Duration::from_secs(d.as_secs()))
    };
    match sdk_date::format(time) {
        Some(text) => {
            assert_eq!(text.len(), 16, "{text:?}");
            assert_eq!(sdk_date::parse(&text), whole(time), "format gave {text:?}");
        }
        None => {
            // Before 1970 or from the year 10000 on (253402300800 = 10000-01-01T00:00:00Z).
            let secs = time.duration_since(UNIX_EPOCH).map(|d| d.as_secs());
            assert!(
                secs.is_err() || secs.unwrap() >= 253_402_300_800,
                "{time:?}"
            );
        }
    }
    let headers = input.text_headers();
    for candidate in input.time.iter().chain(headers.iter().map(|(_, v)| v)) {
        if let Some(t) = sdk_date::parse(candidate) {
            assert_eq!(sdk_date::format(t).as_deref(), Some(candidate.as_str()));
        }
    }
}

/// SDK-HMAC-SHA256 as SIGNING.md writes its rules, the naive way (whole strings, no streaming,
/// no shared code with the signer but `sdk_date`): the headers sent (`Authorization` last) and
/// the canonical request; `None` when the signer must refuse the request.
fn reference(
    request: &SignableRequest<'_>,
    ak: &str,
    sk: &SecretString,
    time: SystemTime,
) -> Option<(Vec<(String, String)>, String)> {
    use hmac::{Hmac, KeyInit, Mac};
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    use secrecy::ExposeSecret;
    use sha2::{Digest, Sha256};

    const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let e = |s: &str| utf8_percent_encode(s, UNRESERVED).to_string();
    let strip = |v: &str| {
        v.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
            .to_owned()
    };
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let any_case = |headers: &[(String, String)], name: &str| {
        headers
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    if ak.is_empty() || sk.expose_secret().is_empty() || request.path.is_empty() {
        return None;
    }
    let mut headers = request.headers.to_vec();
    for (i, (name, _)) in headers.iter().enumerate() {
        if name.eq_ignore_ascii_case("authorization") || any_case(&headers[..i], name).is_some() {
            return None;
        }
    }

    // The signer's additions, in the SDK's order.
    let content_type = headers
        .iter()
        .find(|(n, _)| n == "Content-Type")
        .map_or("", |(_, v)| v.as_str());
    let exact = headers
        .iter()
        .position(|(n, _)| n == "X-Sdk-Content-Sha256");
    let other_spelling = exact.is_none() && any_case(&headers, "X-Sdk-Content-Sha256").is_some();
    if !content_type.is_empty()
        && !content_type.starts_with("application/json")
        && !content_type.starts_with("application/bson")
        && !other_spelling
    {
        match exact {
            Some(i) => headers[i].1 = "UNSIGNED-PAYLOAD".into(),
            None => headers.push(("X-Sdk-Content-Sha256".into(), "UNSIGNED-PAYLOAD".into())),
        }
    }
    let date = match any_case(&headers, "X-Sdk-Date") {
        Some(i) => {
            sdk_date::parse(&headers[i].1)?;
            headers[i].1.clone()
        }
        None => {
            let date = sdk_date::format(time)?;
            headers.push(("X-Sdk-Date".into(), date.clone()));
            date
        }
    };
    if any_case(&headers, "Host").is_none() {
        headers.push(("Host".into(), request.host.into()));
    }
    for (_, value) in &mut headers {
        *value = strip(value);
    }

    let uri = percent_decode_str(request.path)
        .decode_utf8_lossy()
        .split('/')
        .map(e)
        .collect::<Vec<_>>()
        .join("/");
    let uri = if uri.ends_with('/') { uri } else { uri + "/" };
    let mut query = request.query.to_vec();
    query.sort();
    let query: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", e(k), e(v)))
        .collect();
    let mut signed: Vec<(String, &str)> = headers
        .iter()
        .filter(|(n, _)| !n.contains('_'))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.as_str()))
        .collect();
    signed.sort();
    let lines: String = signed.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let list = signed
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let given = any_case(&headers, "X-Sdk-Content-Sha256")
        .map(|i| headers[i].1.as_str())
        .filter(|v| !v.is_empty());
    let payload = match given {
        Some(given) if !request.body.is_empty() => given.to_owned(),
        _ => hex(&Sha256::digest(request.body)),
    };
    let canonical = format!(
        "{}\n{uri}\n{}\n{lines}\n{list}\n{payload}",
        request.method.to_uppercase(),
        query.join("&")
    );

    let sts = format!(
        "SDK-HMAC-SHA256\n{date}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(sk.expose_secret().as_bytes())
        .expect("any key length");
    mac.update(sts.as_bytes());
    let signature = hex(&mac.finalize().into_bytes());
    headers.push((
        "Authorization".into(),
        format!("SDK-HMAC-SHA256 Access={ak}, SignedHeaders={list}, Signature={signature}"),
    ));
    Some((headers, canonical))
}

/// The one signing path agrees with the naive [`reference`]: the client's call
/// (`SigningKey::sign_headers`, its additions applied to the request's headers) and `sign`
/// (with its captured canonical request) refuse what it refuses, and otherwise send its
/// headers and its `Authorization`.
fn check_against_reference(
    request: &SignableRequest<'_>,
    ak: &str,
    sk: &SecretString,
    time: SystemTime,
) {
    let key = signer::SigningKey::new(signer::Algorithm::HmacSha256, ak, sk);
    let added = key.sign_headers(request, time);
    let signed = signer::sign(request, ak, sk, time);
    let Some((headers, canonical)) = reference(request, ak, sk, time) else {
        assert!(added.is_err(), "signed what the reference refuses");
        assert!(signed.is_err(), "signed what the reference refuses");
        return;
    };
    let added = added.expect("the reference signs it");
    let signed = signed.expect("the reference signs it");
    let merged: Vec<(String, String)> = added
        .merged(request.headers, request.host)
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(merged, headers);
    let sent: Vec<(String, String)> = signed
        .headers
        .iter()
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect();
    assert_eq!(sent, headers);
    assert_eq!(signed.canonical_request.as_str(), canonical);
    assert_eq!(signed.authorization, added.authorization);
}

/// `sign`: never panics, refuses only for a reason the input has, and what it signs is
/// consistent: the `Authorization` format, the signed headers, the canonical request's lines,
/// independence of the query order, and masking.
fn check_sign(input: &Input) {
    let method = input.method.as_deref().unwrap_or("POST");
    let host = input.host.as_deref().unwrap_or("hss.example.com");
    let path = input.path.as_deref().unwrap_or("/v5/p/image/synchronize");
    let ak = input.ak.as_deref().unwrap_or("AK");
    let sk = SecretString::from(input.sk.clone().unwrap_or_else(|| "SK".into()));
    let headers = input.text_headers();
    let time = input.time();
    let request = SignableRequest {
        method,
        host,
        path,
        query: &input.query,
        headers: &headers,
        body: &input.body,
    };
    let sign = |request: &SignableRequest<'_>| signer::sign(request, ak, &sk, time);
    check_against_reference(&request, ak, &sk, time);

    let given_date = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(signer::DATE_HEADER))
        .map(|(_, v)| v.as_str());
    let given = |name: &str| {
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    };
    let signed = match sign(&request) {
        Err(e) => {
            // Every refusal has its reason in the input.
            let justified = match &e {
                SigningError::EmptyAccessKey => ak.is_empty(),
                SigningError::EmptySecretKey => input.sk.as_deref() == Some(""),
                SigningError::EmptyPath => path.is_empty(),
                SigningError::DuplicateHeader(name) => given(name) > 1,
                SigningError::AuthorizationGiven => given("authorization") > 0,
                SigningError::BadDateHeader(value) => {
                    given_date == Some(value.as_str()) && sdk_date::parse(value).is_none()
                }
                SigningError::TimeOutOfRange => {
                    given_date.is_none() && sdk_date::format(time).is_none()
                }
                _ => false,
            };
            assert!(justified, "refused without reason: {e:?}");
            return;
        }
        Ok(signed) => signed,
    };
    // Nothing that should be refused was signed.
    assert!(!ak.is_empty() && !path.is_empty());
    assert_eq!(
        given("authorization"),
        0,
        "a caller's Authorization was signed"
    );
    assert!(headers.iter().all(|(name, _)| given(name) == 1));
    match given_date {
        Some(date) => assert!(sdk_date::parse(date).is_some(), "{date:?}"),
        None => assert!(sdk_date::format(time).is_some()),
    }

    assert_eq!(
        signed.authorization,
        format!(
            "SDK-HMAC-SHA256 Access={ak}, SignedHeaders={}, Signature={}",
            signed.signed_headers, signed.signature
        )
    );
    assert!(is_lower_hex_64(&signed.signature), "{:?}", signed.signature);
    let cq = canonical_query(&input.query);
    assert_eq!(signed.canonical_query, cq);
    if cq.is_empty() {
        assert_eq!(signed.uri, path);
    } else {
        assert_eq!(signed.uri, format!("{path}?{cq}"));
    }
    let canonical = signed.canonical_request.as_str();
    // (The method is not validated and may hold a newline.)
    let head = format!("{}\n{}\n{cq}\n", method.to_uppercase(), canonical_uri(path));
    assert!(canonical.starts_with(&head), "{canonical:?}");
    assert!(
        canonical.contains(&format!("\n\n{}\n", signed.signed_headers)),
        "{canonical:?}"
    );
    if input.body.is_empty() {
        // Even with a declared content hash, as the official SDK does.
        assert!(canonical.ends_with(&format!("\n{}", signer::EMPTY_BODY_HASH)));
    }

    check_signed_headers(&signed);

    // The string to sign carries the date sent.
    let sts: Vec<&str> = signed.string_to_sign.split('\n').collect();
    assert_eq!(sts.len(), 3, "{:?}", signed.string_to_sign);
    assert_eq!(sts[0], signer::ALGORITHM);
    let sent_date = signed
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(signer::DATE_HEADER))
        .map(|h| h.value.as_str());
    assert_eq!(Some(sts[1]), sent_date);
    assert!(sdk_date::parse(sts[1]).is_some(), "date {:?}", sts[1]);
    assert!(is_lower_hex_64(sts[2]), "{:?}", sts[2]);

    // The same request with its query in another order signs the same.
    let mut reordered = input.query.clone();
    reordered.reverse();
    if !reordered.is_empty() {
        let by = usize::from(input.knob(0)) % reordered.len();
        reordered.rotate_left(by);
    }
    let again = sign(&SignableRequest {
        query: &reordered,
        ..request
    })
    .expect("signed once already");
    assert_eq!(again.authorization, signed.authorization);

    check_masking(&request, &headers, &signed, sign);
}

/// Every header sent is signed unless its name has `_`, under its lowercase name, in sorted
/// order, with the value sent; `Authorization` comes last and is not signed.
fn check_signed_headers(signed: &SignedRequest) {
    if signed.headers.iter().any(|h| h.name.contains(';')) {
        return; // names are not validated; a `;` in one makes the list ambiguous
    }
    let names: Vec<&str> = signed.signed_headers.split(';').collect();
    assert!(
        names.windows(2).all(|pair| pair[0] < pair[1]),
        "not sorted or not unique: {names:?}"
    );
    assert!(
        names.contains(&"host") && names.contains(&"x-sdk-date"),
        "{names:?}"
    );
    // `Authorization` (no caller may give one) goes last, unsigned.
    let authorization = signed.headers.len() - 1;
    assert_eq!(signed.headers[authorization].name, "Authorization");
    assert_eq!(signed.headers[authorization].value, signed.authorization);
    assert!(!names.contains(&"authorization"), "{names:?}");
    let canonical = signed.canonical_request.as_str();
    let mut signed_count = 0;
    for (i, header) in signed.headers.iter().enumerate() {
        let lower = header.name.to_ascii_lowercase();
        let is_signed = names.contains(&lower.as_str());
        if i == authorization {
            continue;
        }
        assert_eq!(is_signed, !header.name.contains('_'), "{:?}", header.name);
        if is_signed {
            signed_count += 1;
            let line = format!("\n{lower}:{}\n", header.value);
            assert!(canonical.contains(&line), "{line:?} in {canonical:?}");
        }
    }
    assert_eq!(signed_count, names.len(), "{names:?}");
}

/// What is shown of a signed request does not depend on its secrets: the headers' `Debug`
/// (the signature is in `Authorization`) and the canonical request's `Display` stay the same
/// when the sensitive headers get other values.
fn check_masking(
    request: &SignableRequest<'_>,
    headers: &[(String, String)],
    signed: &SignedRequest,
    sign: impl Fn(&SignableRequest<'_>) -> Result<SignedRequest, SigningError>,
) {
    for header in &signed.headers {
        assert_eq!(header.sensitive, signer::is_sensitive_header(&header.name));
    }
    let shown = format!("{:?}", signed.headers);
    assert!(!shown.contains(&signed.signature), "{shown}");
    let mut other = signed.clone();
    for header in other.headers.iter_mut().filter(|h| h.sensitive) {
        header.value = "other".into();
    }
    assert_eq!(format!("{:?}", other.headers), shown);
    assert!(!format!("{signed:?}").contains(&signed.signature));

    // A value with a line break would add a line of its own to the canonical request; the
    // client refuses such values before signing.
    let secrets = || {
        headers
            .iter()
            .filter(|(name, _)| signer::is_sensitive_header(name))
    };
    if secrets().next().is_none() || secrets().any(|(_, value)| value.contains('\n')) {
        return;
    }
    let replaced = with_secrets_replaced(headers, &"other".to_owned());
    let again = sign(&SignableRequest {
        headers: &replaced,
        ..*request
    })
    .expect("only sensitive values changed");
    assert_eq!(
        again.canonical_request.to_string(),
        signed.canonical_request.to_string()
    );
    assert_eq!(
        format!("{:?}", again.canonical_request),
        format!("{:?}", signed.canonical_request)
    );
}
