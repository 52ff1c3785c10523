//! The canonical request, written by one streaming writer for every caller (the client through
//! [`SigningKey`](super::SigningKey), [`sign_with`](super::sign_with), the public helpers below):
//! each rule of the official SDK lives here once. The writer feeds a hash as it goes; a caller
//! that wants the text (a debug log, `sign_with`) asks it to keep a copy too.

use super::algorithm::HashFn;
use super::{DATE_HEADER, SignableRequest, SigningError, sdk_date};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};
use sm3::Sm3;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt;
use zeroize::Zeroize;

/// RFC 3986's unreserved bytes `A-Z a-z 0-9 - . _ ~`, the only ones [`encode`] leaves as they
/// are.
pub(crate) const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes `text` the way the canonical request (and the query string sent) requires:
/// every UTF-8 byte but the unreserved ones as `%XX`, uppercase hex (space as `%20`).
pub fn encode(text: &str) -> impl fmt::Display + '_ {
    struct Encoded<'a>(&'a str);
    impl fmt::Display for Encoded<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let mut out = Vec::new();
            put_encoded(&mut out, self.0);
            // `%XX` and unreserved bytes: ASCII.
            f.write_str(std::str::from_utf8(&out).expect("ASCII"))
        }
    }
    Encoded(text)
}

/// Canonical URI of `path` (as sent): decoded, split on `/` (so `%2F` becomes a separator),
/// each segment re-encoded, and always ending in `/`. Invalid UTF-8 after decoding becomes
/// U+FFFD, as Python's `unquote` does.
pub fn canonical_uri(path: &str) -> String {
    let mut out = Vec::with_capacity(path.len() + 8);
    put_uri(&mut out, path);
    String::from_utf8(out).expect("ASCII")
}

/// Canonical query string: pairs sorted by raw key then raw value (code point order, which is
/// UTF-8 byte order), each written `E(key)=E(value)`, joined by `&`. It is also the query sent.
pub fn canonical_query<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut out = Vec::new();
    put_query(&mut out, pairs);
    String::from_utf8(out).expect("ASCII")
}

/// Trims a header value at both ends the way Python's `str.strip()` does: Unicode white space
/// plus the separators U+001C..U+001F, which Rust does not count as white space.
pub fn trim_header_value(value: &str) -> &str {
    let b = value.as_bytes();
    // Most values start and end with a visible ASCII character: nothing to look for.
    if b.first().is_some_and(u8::is_ascii_graphic) && b.last().is_some_and(u8::is_ascii_graphic) {
        return value;
    }
    value.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// Where canonical text goes: a [`Hashing`] writer, or bytes.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);

    /// `bytes` with ASCII letters lowercased.
    fn put_lowercase(&mut self, bytes: &[u8]) {
        put_changed(self, bytes, u8::to_ascii_lowercase);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

fn put_encoded(out: &mut impl Sink, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    // [`is_unreserved`] as a table: one load per byte.
    const UNRESERVED: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            table[b] = is_unreserved(b as u8);
            b += 1;
        }
        table
    };
    let mut rest = text.as_bytes();
    while let Some(at) = rest.iter().position(|&b| !UNRESERVED[usize::from(b)]) {
        let b = rest[at];
        out.put(&rest[..at]);
        out.put(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]]);
        rest = &rest[at + 1..];
    }
    out.put(rest);
}

fn put_uri(out: &mut impl Sink, path: &str) {
    let decoded = match path.contains('%') {
        true => percent_decode_str(path).decode_utf8_lossy(),
        false => Cow::Borrowed(path),
    };
    for (i, segment) in decoded.split('/').enumerate() {
        if i > 0 {
            out.put(b"/");
        }
        put_encoded(out, segment);
    }
    if !decoded.ends_with('/') {
        out.put(b"/");
    }
}

fn put_query<K: AsRef<str>, V: AsRef<str>>(out: &mut impl Sink, pairs: &[(K, V)]) {
    fn pair<K: AsRef<str>, V: AsRef<str>>((k, v): &(K, V)) -> (&str, &str) {
        (k.as_ref(), v.as_ref())
    }
    // The client sends its query in canonical order: then no sorted copy is needed.
    if pairs.windows(2).all(|w| pair(&w[0]) <= pair(&w[1])) {
        return put_pairs(out, pairs.iter().map(pair));
    }
    let mut sorted: Vec<(&str, &str)> = pairs.iter().map(pair).collect();
    sorted.sort_unstable();
    put_pairs(out, sorted.into_iter());
}

fn put_pairs<'p>(out: &mut impl Sink, pairs: impl Iterator<Item = (&'p str, &'p str)>) {
    for (i, (key, value)) in pairs.enumerate() {
        if i > 0 {
            out.put(b"&");
        }
        put_encoded(out, key);
        out.put(b"=");
        put_encoded(out, value);
    }
}

/// `bytes` with ASCII letters changed by `change`, through a small stack buffer (names and
/// methods are short; this saves allocating a changed copy).
fn put_changed(out: &mut (impl Sink + ?Sized), bytes: &[u8], change: fn(&u8) -> u8) {
    let mut buf = [0u8; 64];
    for chunk in bytes.chunks(buf.len()) {
        let buf = &mut buf[..chunk.len()];
        copy_changed(buf, chunk, change);
        out.put(buf);
    }
}

/// `to.copy_from_slice(from)`, each byte changed by `change` on the way (one pass).
#[inline]
fn copy_changed(to: &mut [u8], from: &[u8], change: fn(&u8) -> u8) {
    for (to, from) in to.iter_mut().zip(from) {
        *to = change(from);
    }
}

/// The SDK's header rules that come before the canonical request: the refusals, and which
/// headers the signer adds.
pub(crate) struct Additions<'a> {
    /// The request's own `X-Sdk-Date` (any case), checked to parse.
    pub date_given: Option<&'a str>,
    /// Whether the request has a `Host` (any case).
    pub host_given: bool,
    /// Whether the content-hash header is set to `UNSIGNED-PAYLOAD`.
    pub unsigned_payload: bool,
}

impl<'a> Additions<'a> {
    /// Applies the rules to `headers`, refusing what no gateway could verify: a caller's
    /// `Authorization`, a name given twice (ignoring case), an `X-Sdk-Date` that does not parse.
    pub(crate) fn of<H: AsRef<str>>(
        headers: &'a [(H, H)],
        content_header: &str,
    ) -> Result<Self, SigningError> {
        let mut date_given = None;
        let mut host_given = false;
        let mut content_type = "";
        let (mut exact_content_header, mut other_spelling) = (false, false);
        for (i, (name, value)) in headers.iter().enumerate() {
            let (name, value) = (name.as_ref(), value.as_ref());
            if name.eq_ignore_ascii_case("Authorization") {
                // The SDK would sign it and then overwrite it, or send two.
                return Err(SigningError::AuthorizationGiven);
            }
            if headers[..i]
                .iter()
                .any(|(n, _)| n.as_ref().eq_ignore_ascii_case(name))
            {
                // The SDK would sign the last value for both and send both.
                return Err(SigningError::DuplicateHeader(name.to_ascii_lowercase()));
            }
            if name == "Content-Type" {
                content_type = value;
            }
            if name == content_header {
                exact_content_header = true;
            } else if name.eq_ignore_ascii_case(content_header) {
                other_spelling = true;
            }
            if name.eq_ignore_ascii_case(DATE_HEADER) {
                date_given = Some(value);
            }
            host_given |= name.eq_ignore_ascii_case("Host");
        }
        if let Some(date) = date_given.filter(|date| sdk_date::parse(date).is_none()) {
            return Err(SigningError::BadDateHeader(date.to_owned()));
        }
        // The SDK looks at the exact name `Content-Type`, untrimmed, and sets the exact name of
        // the content-hash header; a caller's header of another spelling is left alone (the
        // SDK would add a second one, which no gateway can verify).
        let unsigned_payload = !content_type.is_empty()
            && !content_type.starts_with("application/json")
            && !content_type.starts_with("application/bson")
            && (exact_content_header || !other_spelling);
        Ok(Additions {
            date_given,
            host_given,
            unsigned_payload,
        })
    }
}

/// Writes the canonical request of `request` into `out`, whose `sent` headers are those sent
/// (values trimmed, the signer's additions included, `Authorization` not yet), and appends the
/// `;`-joined signed header names to `signed_list`.
pub(crate) fn write<'a, H>(
    out: &mut impl Sink,
    request: &SignableRequest<'_, H>,
    sent: impl Iterator<Item = (&'a str, &'a str)>,
    hash: HashFn,
    signed_list: &mut String,
) {
    let method = request.method;
    // Every real method is ASCII: uppercased without allocating.
    if method.is_ascii() {
        put_changed(out, method.as_bytes(), u8::to_ascii_uppercase);
    } else {
        out.put(method.to_uppercase().as_bytes());
    }
    out.put(b"\n");
    put_uri(out, request.path);
    out.put(b"\n");
    put_query(out, request.query);
    out.put(b"\n");

    // Every header is signed unless its name has `_` (gateways in the nginx family drop those),
    // sorted by lowercase name. Names are distinct ignoring case (see `Additions::of`).
    // On the stack for any usual request: one allocation fewer per signature.
    let mut signed: SmallVec<[(&str, &str); 16]> = SmallVec::new();
    // `for_each`, not `collect`: a chain of iterators runs faster folded than stepped.
    sent.for_each(|(name, value)| {
        if !name.contains('_') {
            signed.push((name, value));
        }
    });
    signed.sort_unstable_by(|(a, _), (b, _)| {
        let lower = u8::to_ascii_lowercase;
        a.as_bytes()
            .iter()
            .map(lower)
            .cmp(b.as_bytes().iter().map(lower))
    });
    for (name, value) in &signed {
        out.put_lowercase(name.as_bytes());
        out.put(b":");
        out.put(value.as_bytes());
        out.put(b"\n");
    }
    out.put(b"\n");
    let start = signed_list.len();
    for (i, (name, _)) in signed.iter().enumerate() {
        if i > 0 {
            signed_list.push(';');
        }
        signed_list.push_str(name);
    }
    signed_list[start..].make_ascii_lowercase();
    out.put(&signed_list.as_bytes()[start..]);
    out.put(b"\n");

    // The payload hash: the empty body's even with an UNSIGNED-PAYLOAD header (as the Python
    // SDK does), else a given content-hash value, else the body's.
    let content_header = hash.content_header();
    let given = signed
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(content_header))
        .map(|(_, value)| *value)
        .filter(|value| !value.is_empty() && !request.body.is_empty());
    match given {
        Some(value) => out.put(value.as_bytes()),
        None => out.put(super::hex_into(&hash.digest(request.body), &mut [0; 64]).as_bytes()),
    }
}

/// A [`Sink`] that hashes what is written, through a buffer on the stack (one call of the hash
/// function for a typical request), and keeps a copy of the text when asked.
pub(crate) struct Hashing<'c> {
    hasher: Hasher,
    buf: [u8; BUFFER],
    len: usize,
    /// Whether `buf` was ever full (so all of it held canonical text).
    flushed: bool,
    copy: Option<&'c mut Vec<u8>>,
}

const BUFFER: usize = 512;

enum Hasher {
    Sha256(Sha256),
    Sm3(Sm3),
}

impl<'c> Hashing<'c> {
    pub(crate) fn new(hash: HashFn, copy: Option<&'c mut Vec<u8>>) -> Self {
        let hasher = match hash {
            HashFn::Sha256 => Hasher::Sha256(Sha256::new()),
            HashFn::Sm3 => Hasher::Sm3(Sm3::new()),
        };
        Hashing {
            hasher,
            buf: [0; BUFFER],
            len: 0,
            flushed: false,
            copy,
        }
    }

    /// The digest of all that was written (taken by reference: moving the buffer costs).
    pub(crate) fn finish(&mut self) -> [u8; 32] {
        feed(&mut self.hasher, &mut self.copy, &self.buf[..self.len]);
        // The text may hold a security token: wiped from the stack.
        let used = if self.flushed { BUFFER } else { self.len };
        self.buf[..used].zeroize();
        (self.len, self.flushed) = (0, false);
        match &mut self.hasher {
            Hasher::Sha256(h) => h.finalize_reset().into(),
            Hasher::Sm3(h) => h.finalize_reset().into(),
        }
    }
}

fn feed(hasher: &mut Hasher, copy: &mut Option<&mut Vec<u8>>, bytes: &[u8]) {
    match hasher {
        Hasher::Sha256(h) => h.update(bytes),
        Hasher::Sm3(h) => h.update(bytes),
    }
    if let Some(copy) = copy {
        copy.extend_from_slice(bytes);
    }
}

impl Hashing<'_> {
    /// Room for `len` more bytes in the buffer, unless `len` is more than it holds.
    #[inline]
    fn make_room(&mut self, len: usize) -> bool {
        if self.len + len > BUFFER {
            feed(&mut self.hasher, &mut self.copy, &self.buf[..self.len]);
            self.len = 0;
            self.flushed = true;
        }
        len <= BUFFER
    }
}

impl Sink for Hashing<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        if !self.make_room(bytes.len()) {
            feed(&mut self.hasher, &mut self.copy, bytes);
            return;
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Lowercased where it lands in the buffer.
    fn put_lowercase(&mut self, bytes: &[u8]) {
        if !self.make_room(bytes.len()) {
            return put_changed(self, bytes, u8::to_ascii_lowercase);
        }
        let to = &mut self.buf[self.len..self.len + bytes.len()];
        copy_changed(to, bytes, u8::to_ascii_lowercase);
        self.len += bytes.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_everything_but_unreserved() {
        assert_eq!(encode("aZ09-._~").to_string(), "aZ09-._~");
        assert_eq!(
            encode(" +/*%=&é").to_string(),
            "%20%2B%2F%2A%25%3D%26%C3%A9"
        );
        for b in 0..=255u8 {
            let unreserved = b.is_ascii_alphanumeric() || b"-._~".contains(&b);
            assert_eq!(is_unreserved(b), unreserved, "{b:#x}");
        }
    }

    #[test]
    fn canonical_uri_quirks() {
        assert_eq!(
            canonical_uri("/v5/p/image/synchronize"),
            "/v5/p/image/synchronize/"
        );
        assert_eq!(canonical_uri("/v5/p/"), "/v5/p/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/v5/a%2Fb/x"), "/v5/a/b/x/");
        assert_eq!(canonical_uri("/a:b@c+d"), "/a%3Ab%40c%2Bd/");
        assert_eq!(canonical_uri("/%7e%41"), "/~A/");
        assert_eq!(canonical_uri("/%FF"), "/%EF%BF%BD/");
    }

    #[test]
    fn query_sorted_by_raw_pairs() {
        let q = [("b", "2"), ("a", "3"), ("a", "10"), ("a", "1")];
        assert_eq!(canonical_query(&q), "a=1&a=10&a=3&b=2");
        let q = [("aé", "1"), ("a~", "1"), ("B", "x")];
        assert_eq!(canonical_query(&q), "B=x&a~=1&a%C3%A9=1");
        let q = [("k", ""), ("s", "a b")];
        assert_eq!(canonical_query(&q), "k=&s=a%20b");
        assert_eq!(canonical_query::<&str, &str>(&[]), "");
    }

    #[test]
    fn trims_like_python_strip() {
        assert_eq!(trim_header_value(" \t a  b \u{3000}\u{1f}"), "a  b");
        assert_eq!(trim_header_value("\u{85}x\u{a0}"), "x");
        assert_eq!(trim_header_value("a\u{a0}"), "a");
        assert_eq!(trim_header_value("a b"), "a b");
        assert_eq!(trim_header_value(""), "");
    }

    /// Through the buffer or past it, the hash and the copy are of exactly what was written.
    #[test]
    fn hashing_hashes_and_copies_what_is_written() {
        for sizes in [
            &[3usize, 5][..],
            &[BUFFER - 1, 2],
            &[BUFFER + 7, 1],
            &[BUFFER, BUFFER],
        ] {
            let mut copy = Vec::new();
            let mut hashing = Hashing::new(HashFn::Sha256, Some(&mut copy));
            let mut written = Vec::new();
            for (i, &n) in sizes.iter().enumerate() {
                let part = vec![b'A' + i as u8; n];
                hashing.put(&part);
                written.extend_from_slice(&part);
                hashing.put_lowercase(&part);
                written.extend(part.to_ascii_lowercase());
            }
            assert_eq!(hashing.finish(), HashFn::Sha256.digest(&written));
            assert_eq!(copy, written);
        }
    }
}
