//! Property checks driven by the fuzz targets in `fuzz_targets/`, kept here as plain functions so
//! that `cargo test --lib` can replay the committed corpus on the stable toolchain.
//!
//! # Input format (signer and emulator targets)
//!
//! An input is a list of records separated by the byte `0xFF` (which never occurs in UTF-8).
//! The first byte of a record is its tag, the rest its content; text is read as lossy UTF-8:
//!
//! | tag | content |
//! | --- | --- |
//! | `M` | method |
//! | `H` | host (`host[:port]`) |
//! | `P` | path (raw, as sent) |
//! | `p` | one path segment, raw (the round trip percent-encodes it) |
//! | `Q` | query pair: key, `0xFE`, value (raw, decoded) |
//! | `h` | header: name, `0xFE`, value |
//! | `A` / `S` | access key / secret key |
//! | `T` | signing time, `[-]seconds[.nanoseconds]` since the Unix epoch |
//! | `Z` | an `Authorization` value to parse |
//! | `X` | knob bytes (which byte to flip, what to append, ...) |
//! | `B` | the body: every byte after the tag up to the end of the input, `0xFF` included |
//!
//! Unknown tags are ignored. The error-body target takes the input as the body itself.
//!
//! # Findings
//!
//! Inputs that showed a library bug stay in the corpus as regression inputs (`finding-*`);
//! FUZZING.md lists them. Each also has a reproducer in `artifacts/<target>/`, replayed by the
//! test `findings_stay_fixed`; an open finding would get a gate here so fuzzing can go past it.

use hss_image_sync::emulator::verify::{
    AuthorizationHeader, MAX_CLOCK_SKEW, RawRequest, canonical_request, parse_authorization,
    redact_security_token, verify_signature,
};
use hss_image_sync::error_body;
use hss_image_sync::signer::{
    self, SignableRequest, SigningError, canonical_query, canonical_uri, encode, sdk_date,
    trim_header_value,
};
use secrecy::SecretString;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DEFAULT_TIME: u64 = 1_710_491_730; // 2024-03-15T08:35:30Z

/// Record separator and key/value separator of the input format.
const SEP: u8 = 0xFF;
const KV: u8 = 0xFE;

/// The decoded records of one input.
#[derive(Debug, Default, Clone)]
struct Input {
    method: Option<String>,
    host: Option<String>,
    path: Option<String>,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    ak: Option<String>,
    sk: Option<String>,
    time: Option<String>,
    auths: Vec<String>,
    knobs: Vec<u8>,
    body: Vec<u8>,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn split_kv(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == KV) {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[]),
    }
}

impl Input {
    fn parse(data: &[u8]) -> Input {
        let mut input = Input::default();
        let mut rest = data;
        while let Some((&tag, after)) = rest.split_first() {
            if tag == b'B' {
                input.body = after.to_vec();
                break;
            }
            let end = after.iter().position(|&b| b == SEP).unwrap_or(after.len());
            let content = &after[..end];
            rest = after.get(end + 1..).unwrap_or_default();
            match tag {
                b'M' => input.method = Some(text(content)),
                b'H' => input.host = Some(text(content)),
                b'P' => input.path = Some(text(content)),
                b'p' => input.segments.push(text(content)),
                b'Q' => {
                    let (k, v) = split_kv(content);
                    input.query.push((text(k), text(v)));
                }
                b'h' => {
                    let (n, v) = split_kv(content);
                    input.headers.push((n.to_vec(), v.to_vec()));
                }
                b'A' => input.ak = Some(text(content)),
                b'S' => input.sk = Some(text(content)),
                b'T' => input.time = Some(text(content)),
                b'Z' => input.auths.push(text(content)),
                b'X' => input.knobs.extend_from_slice(content),
                _ => {}
            }
        }
        input
    }

    fn knob(&self, i: usize) -> u8 {
        self.knobs.get(i).copied().unwrap_or(0)
    }

    /// The `T` record as a time (whole seconds and nanoseconds, either side of the epoch), or
    /// the default when absent or unreadable.
    fn time(&self) -> SystemTime {
        self.time
            .as_deref()
            .and_then(parse_time)
            .unwrap_or(UNIX_EPOCH + Duration::from_secs(DEFAULT_TIME))
    }

    fn text_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(n, v)| (text(n), text(v)))
            .collect()
    }
}

fn parse_time(text: &str) -> Option<SystemTime> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (secs, nanos) = digits.split_once('.').unwrap_or((digits, "0"));
    let secs: u64 = secs.parse().ok()?;
    let nanos: u32 = nanos.parse().ok().filter(|n| *n < 1_000_000_000)?;
    let offset = Duration::new(secs, nanos);
    if negative {
        UNIX_EPOCH.checked_sub(offset)
    } else {
        UNIX_EPOCH.checked_add(offset)
    }
}

// ---------------------------------------------------------------------------------------------
// signer_canonicalization

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

/// The signer's canonicalization over any method, path, query, headers, body, keys and time.
pub fn check_signer(data: &[u8]) {
    let input = Input::parse(data);
    let method = input.method.clone().unwrap_or_else(|| "POST".into());
    let host = input
        .host
        .clone()
        .unwrap_or_else(|| "hss.example.com".into());
    let path = input
        .path
        .clone()
        .unwrap_or_else(|| "/v5/p/image/synchronize".into());
    let ak = input.ak.clone().unwrap_or_else(|| "AK".into());
    let sk = input.sk.clone().unwrap_or_else(|| "SK".into());
    let headers = input.text_headers();
    let time = input.time();

    // encode: unreserved or %XX only, and decodes back to its input.
    for s in input
        .query
        .iter()
        .flat_map(|(k, v)| [k, v])
        .chain(&input.segments)
        .chain([&path])
    {
        let e = encode(s).to_string();
        assert!(only_unreserved_escapes(&e, b""), "encode({s:?}) = {e:?}");
        let back = percent_encoding::percent_decode_str(&e).decode_utf8();
        assert_eq!(
            back.as_deref().ok(),
            Some(s.as_str()),
            "encode({s:?}) = {e:?}"
        );
    }

    // canonical_uri: always ends with `/`, only unreserved, escapes and `/`, idempotent.
    for p in [
        path.as_str(),
        input.segments.first().map_or("", String::as_str),
    ] {
        let uri = canonical_uri(p);
        assert!(uri.ends_with('/'), "canonical_uri({p:?}) = {uri:?}");
        assert!(
            only_unreserved_escapes(&uri, b"/"),
            "canonical_uri({p:?}) = {uri:?}"
        );
        assert_eq!(
            canonical_uri(&uri),
            uri,
            "canonical_uri not idempotent on {p:?}"
        );
    }

    // canonical_query: only unreserved, %XX, `=` and `&`; independent of the pair order.
    let cq = canonical_query(&input.query);
    assert!(
        only_unreserved_escapes(&cq, b"=&"),
        "canonical_query = {cq:?}"
    );
    assert_eq!(
        cq.split('&').filter(|p| !p.is_empty()).count(),
        input.query.len(),
        "one `k=v` per pair: {cq:?}"
    );
    let mut reordered = input.query.clone();
    reordered.reverse();
    if !reordered.is_empty() {
        let by = usize::from(input.knob(0)) % reordered.len();
        reordered.rotate_left(by);
    }
    assert_eq!(
        canonical_query(&reordered),
        cq,
        "canonical_query depends on order"
    );
    let mut sorted = input.query.clone();
    sorted.sort();
    assert_eq!(canonical_query(&sorted), cq);

    // trim_header_value: a substring, idempotent, nothing trimmable left at either end.
    for (_, value) in &headers {
        let t = trim_header_value(value);
        assert_eq!(trim_header_value(t), t);
        assert!(value.contains(t));
        let trimmable = |c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c);
        assert!(
            !t.starts_with(trimmable) && !t.ends_with(trimmable),
            "{t:?}"
        );
    }

    // sdk_date: parse(format(t)) == t (to the second) for formattable times; format(parse(s))
    // == s for parseable text; formattable exactly for 1970..=9999.
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
    for candidate in input.time.iter().chain(headers.iter().map(|(_, v)| v)) {
        if let Some(t) = sdk_date::parse(candidate) {
            assert_eq!(sdk_date::format(t).as_deref(), Some(candidate.as_str()));
        }
    }

    // sign: never panics; errors exactly when predicted; Ok results are consistent.
    let request = SignableRequest {
        method: &method,
        host: &host,
        path: &path,
        query: &input.query,
        headers: &headers,
        body: &input.body,
    };
    let secret = SecretString::from(sk.clone());
    let result = signer::sign(&request, &ak, &secret, time);
    let given_date = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("X-Sdk-Date"))
        .map(|(_, v)| v.as_str());
    // The first name (lowercased) that an earlier header already has, ignoring case.
    let duplicate = headers.iter().enumerate().find_map(|(i, (name, _))| {
        headers[..i]
            .iter()
            .any(|(earlier, _)| earlier.eq_ignore_ascii_case(name))
            .then(|| name.to_ascii_lowercase())
    });
    let expected_error = if ak.is_empty() || sk.is_empty() {
        Some("EmptyKey")
    } else if path.is_empty() {
        Some("EmptyPath")
    } else if duplicate.is_some() {
        Some("DuplicateHeader")
    } else if let Some(given) = given_date {
        sdk_date::parse(given).is_none().then_some("BadDateHeader")
    } else {
        sdk_date::format(time).is_none().then_some("TimeOutOfRange")
    };
    let signed = match result {
        Err(e) => {
            #[allow(unreachable_patterns)] // in case SigningError grows a variant
            let kind = match &e {
                SigningError::EmptyKey(_) => "EmptyKey",
                SigningError::EmptyPath => "EmptyPath",
                SigningError::BadDateHeader(_) => "BadDateHeader",
                SigningError::TimeOutOfRange => "TimeOutOfRange",
                SigningError::DuplicateHeader(name) => {
                    assert_eq!(Some(name), duplicate.as_ref(), "duplicate header named");
                    "DuplicateHeader"
                }
                _ => "other",
            };
            assert_eq!(Some(kind), expected_error, "unexpected error {e:?}");
            return;
        }
        Ok(signed) => {
            assert_eq!(
                expected_error, None,
                "signed although {expected_error:?} expected"
            );
            signed
        }
    };
    assert!(
        signed.authorization.starts_with("SDK-HMAC-SHA256 Access="),
        "{:?}",
        signed.authorization
    );
    assert_eq!(
        signed.authorization,
        format!(
            "SDK-HMAC-SHA256 Access={ak}, SignedHeaders={}, Signature={}",
            signed.signed_headers, signed.signature
        )
    );
    assert_eq!(signed.signature.len(), 64);
    assert!(
        signed
            .signature
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert!(
        signed.uri.starts_with(&path),
        "uri {:?} path {path:?}",
        signed.uri
    );
    let expected_uri = if cq.is_empty() {
        path.clone()
    } else {
        format!("{path}?{cq}")
    };
    assert_eq!(signed.uri, expected_uri);
    assert_eq!(signed.canonical_query, cq);
    // (The method is not validated and may hold a newline.)
    let head = format!(
        "{}\n{}\n{cq}\n",
        method.to_uppercase(),
        canonical_uri(&path)
    );
    assert!(
        signed.canonical_request.starts_with(&head),
        "{:?}",
        signed.canonical_request
    );
    // Signed: every header present before `Authorization` was added whose name has no `_`,
    // lowercased and sorted (names are not validated, so one may hold a `;`).
    let mut present: Vec<&str> = signed.headers.iter().map(|(n, _)| n.as_str()).collect();
    if !headers.iter().any(|(n, _)| n == "Authorization") {
        assert_eq!(present.pop(), Some("Authorization"));
    }
    let mut names: Vec<String> = present
        .iter()
        .filter(|n| !n.contains('_'))
        .map(|n| n.to_ascii_lowercase())
        .collect();
    names.sort_unstable();
    assert_eq!(signed.signed_headers, names.join(";"));
    assert!(names.iter().any(|n| n == "host"), "{names:?}");
    assert!(names.iter().any(|n| n == "x-sdk-date"), "{names:?}");
    let sts: Vec<&str> = signed.string_to_sign.split('\n').collect();
    assert_eq!(sts.len(), 3);
    assert_eq!(sts[0], "SDK-HMAC-SHA256");
    assert!(sdk_date::parse(sts[1]).is_some(), "date {:?}", sts[1]);
    // `Authorization` is set like a dictionary entry: the first exact match takes the value,
    // or a new header goes last.
    let given = headers.iter().filter(|(n, _)| n == "Authorization").count();
    let sent: Vec<&str> = signed
        .headers
        .iter()
        .filter(|(n, _)| n == "Authorization")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(sent.len(), given.max(1), "{:?}", signed.headers);
    assert_eq!(sent[0], signed.authorization);
    // The same request with its query in another order signs the same.
    let request = SignableRequest {
        query: &reordered,
        ..request
    };
    let again = signer::sign(&request, &ak, &secret, time).expect("signed once already");
    assert_eq!(again.authorization, signed.authorization);
}

// ---------------------------------------------------------------------------------------------
// error_body

/// `error_body::parse` over any body: never panics, `error_code` never empty, non-JSON bodies
/// keep their lossy text, the status only matters as the fallback code.
pub fn check_error_body(data: &[u8]) {
    let status = 400 + (data.len() % 200) as u16;
    let fields = error_body::parse(status, data);
    assert!(
        !fields.error_code.is_empty(),
        "empty error_code for {data:?}"
    );

    let value = serde_json::from_slice::<serde_json::Value>(data);
    let object = value.as_ref().ok().and_then(|v| v.as_object());
    match object {
        None => {
            // Not JSON, or JSON but not an object: nothing is taken from it.
            assert_eq!(fields.error_msg, String::from_utf8_lossy(data));
            assert_eq!(fields.error_code, status.to_string());
            assert_eq!(fields.encoded_authorization_message, None);
        }
        Some(members) => {
            let text = |key: &str| members.get(key).and_then(|v| v.as_str());
            if let (Some(code), Some(msg)) = (text("error_code"), text("error_msg"))
                && !code.is_empty()
                && !msg.is_empty()
            {
                assert_eq!(fields.error_code, code);
                assert_eq!(fields.error_msg, msg);
            }
            if let Some(encoded) = text("encoded_authorization_message") {
                assert_eq!(
                    fields.encoded_authorization_message.as_deref(),
                    Some(encoded)
                );
            }
        }
    }

    // Another status changes only a fallback code.
    let other = error_body::parse(0, data);
    assert_eq!(other.error_msg, fields.error_msg);
    assert_eq!(
        other.encoded_authorization_message,
        fields.encoded_authorization_message
    );
    if fields.error_code != status.to_string() {
        assert_eq!(other.error_code, fields.error_code);
    } else {
        assert!(other.error_code == "0" || other.error_code == fields.error_code);
    }
}

// ---------------------------------------------------------------------------------------------
// emulator_verify

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "post",
];

/// `tchar` of RFC 9110: what a header name may be made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The emulator's verification: never panics on any raw request; the emulator canonicalizes a
/// path as the signer does; and whatever the signer signs verifies, but no longer once the
/// body, the query or the path is changed.
pub fn check_emulator_verify(data: &[u8]) {
    let input = Input::parse(data);
    check_raw_request(&input);
    check_round_trip(&input, true);
}

/// [`check_emulator_verify`] without the gate of the open finding 3: fails on
/// `artifacts/emulator_verify/finding-3-*` until that bug is fixed.
pub fn check_emulator_verify_ungated(data: &[u8]) {
    let input = Input::parse(data);
    check_raw_request(&input);
    check_round_trip(&input, false);
}

fn check_raw_request(input: &Input) {
    let raw = RawRequest {
        method: input.method.clone().unwrap_or_default(),
        target: input.path.clone().unwrap_or_default(),
        headers: input
            .headers
            .iter()
            .map(|(n, v)| (text(n), v.clone()))
            .collect(),
        body: input.body.clone(),
    };
    let now = input.time();
    let sk = input.sk.clone().unwrap_or_default();
    let _ = raw.header("authorization");
    let _ = (raw.raw_path(), raw.raw_query());

    let from_headers = raw
        .header_values("authorization")
        .map(|v| String::from_utf8_lossy(v).into_owned());
    let candidates: Vec<String> = input.auths.iter().cloned().chain(from_headers).collect();
    for value in &candidates {
        let Some(auth) = parse_authorization(value) else {
            continue;
        };
        assert_eq!(auth.signature.len(), 64);
        assert!(
            auth.signature
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        // What was parsed, written back, parses the same.
        let rewritten = format!(
            "SDK-HMAC-SHA256 Access={}, SignedHeaders={}, Signature={}",
            auth.access_key,
            auth.signed_headers.join(";"),
            auth.signature
        );
        assert_eq!(
            parse_authorization(&rewritten).as_ref(),
            Some(&auth),
            "{value:?}"
        );
        let verdict = verify_signature(&raw, &auth, sk.as_bytes(), now);
        if let Ok(shown) = verdict {
            let canonical = canonical_request(&raw, &auth.signed_headers).expect("verified");
            assert_eq!(shown, redact_security_token(&canonical));
        }
    }
    // Any header list, any signature text (not only what parse_authorization lets through).
    for value in &input.auths {
        let mut signed: Vec<String> = value.split(';').map(str::to_owned).collect();
        if input.knob(1) & 1 == 1 {
            signed.push("x-sdk-date".into());
        }
        let auth = AuthorizationHeader {
            access_key: String::new(),
            signed_headers: signed.clone(),
            signature: value.clone(),
        };
        let _ = verify_signature(&raw, &auth, sk.as_bytes(), now);
        let _ = canonical_request(&raw, &signed);
    }

    // The emulator's canonical path of any raw path is the signer's.
    // (The method may hold a newline here, so the lines are found after it.)
    let emulator = canonical_request(&raw, &[]).expect("no signed header to miss");
    let method = raw.method.to_ascii_uppercase();
    let rest = emulator
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

fn check_round_trip(input: &Input, gated: bool) {
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

    let request = SignableRequest {
        method,
        host: &host,
        path: &path,
        query: &input.query,
        headers: &headers,
        body: &input.body,
    };
    // Errors (bad X-Sdk-Date header, time out of range) are the signer target's business.
    let Ok(signed) = signer::sign(&request, &ak, &SecretString::from(sk.clone()), time) else {
        return;
    };
    let date = signed
        .string_to_sign
        .split('\n')
        .nth(1)
        .expect("three lines");
    let now = sdk_date::parse(date).expect("the signer wrote a valid date");

    let raw = |target: &str, body: &[u8]| RawRequest {
        method: method.to_owned(),
        target: target.to_owned(),
        headers: signed
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec()))
            .collect(),
        body: body.to_vec(),
    };
    let auth = parse_authorization(&signed.authorization).unwrap_or_else(|| {
        panic!(
            "signer's Authorization unparseable: {:?}",
            signed.authorization
        )
    });
    assert_eq!(auth.access_key, ak);
    assert_eq!(auth.signature, signed.signature);
    assert_eq!(auth.signed_headers.join(";"), signed.signed_headers);
    let _ = gated; // no open finding needs a gate any more
    let good = raw(&signed.uri, &input.body);
    let sk = sk.as_bytes();
    match verify_signature(&good, &auth, sk, now) {
        Ok(shown) => assert_eq!(shown, redact_security_token(&signed.canonical_request)),
        Err(rejection) => panic!(
            "signed request refused: {}\nsigner's canonical request: {:?}",
            rejection.message, signed.canonical_request
        ),
    }

    // The clock: accepted at the edge of the allowed skew, refused one second past it.
    assert!(verify_signature(&good, &auth, sk, now + MAX_CLOCK_SKEW).is_ok());
    assert!(
        verify_signature(
            &good,
            &auth,
            sk,
            now + MAX_CLOCK_SKEW + Duration::from_secs(1)
        )
        .is_err()
    );
    if let Some(early) = now.checked_sub(MAX_CLOCK_SKEW + Duration::from_secs(1)) {
        assert!(verify_signature(&good, &auth, sk, early).is_err());
    }

    // A changed body byte is refused unless the payload hash is a declared, signed value.
    let declared = signed
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(signer::CONTENT_HASH_HEADER))
        .is_some_and(|(_, v)| !v.is_empty());
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn files(dir: &str) -> Vec<PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .map(|e| e.expect("readable directory").path())
                .filter(|p| p.is_file())
                .collect(),
            Err(_) => Vec::new(),
        };
        files.sort();
        files
    }

    fn replay(target: &str, check: fn(&[u8])) {
        let corpus = files(&format!("corpus/{target}"));
        assert!(!corpus.is_empty(), "corpus/{target} is empty");
        for file in corpus {
            let data = std::fs::read(&file).unwrap();
            let result = std::panic::catch_unwind(|| check(&data));
            assert!(result.is_ok(), "{} fails {target}", file.display());
        }
    }

    #[test]
    fn replay_signer_canonicalization_corpus() {
        replay("signer_canonicalization", check_signer);
    }

    #[test]
    fn replay_error_body_corpus() {
        replay("error_body", check_error_body);
    }

    #[test]
    fn replay_emulator_verify_corpus() {
        replay("emulator_verify", check_emulator_verify);
    }

    /// Every finding's reproducer `artifacts/<target>/finding-*` passes: the bugs stay fixed.
    #[test]
    fn findings_stay_fixed() {
        for file in files("artifacts/emulator_verify") {
            if file
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("finding-"))
            {
                check_emulator_verify_ungated(&std::fs::read(&file).unwrap());
            }
        }
    }

    /// Deep nesting is refused by serde_json's recursion limit even through the custom
    /// deserializer: no stack overflow, the body is kept as text.
    #[test]
    fn deeply_nested_error_bodies_do_not_overflow() {
        for depth in [127, 128, 129, 10_000, 1_000_000] {
            for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
                let body = format!("{}1{}", open.repeat(depth), close.repeat(depth));
                check_error_body(body.as_bytes());
                let fields = error_body::parse(400, body.as_bytes());
                if depth > 128 {
                    assert_eq!(fields.error_msg, body);
                    assert_eq!(fields.error_code, "400");
                }
            }
        }
        // Nested objects searched for the code, just under the limit.
        let body = format!(
            "{}{{\"error_code\":\"E\",\"error_msg\":\"deep\"}}{}",
            "{\"a\":".repeat(126),
            "}".repeat(126)
        );
        let fields = error_body::parse(400, body.as_bytes());
        assert_eq!(
            (fields.error_code.as_str(), fields.error_msg.as_str()),
            ("E", "deep")
        );
    }
}
