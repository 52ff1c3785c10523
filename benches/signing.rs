//! Signing speed of our signer, of the bare hashing SDK-HMAC-SHA256 needs (the floor), and of
//! each SHA-256 backend the crate can use (RustCrypto `sha2`, and `ring`, which rustls already
//! compiles), on the seed request. `cargo xtask bench` drives it next to the official Python
//! SDK's signer (`tests/oracle/bench_sign.py`), round by round (see BENCHMARKS.md).
//!
//! ```sh
//! cargo bench --bench signing             # 7 rounds of each kind, medians printed
//! cargo bench --bench signing -- --serve  # driven from stdin, one round per line
//! ```
//!
//! With `--serve` it prints `signature <Authorization>` for the fixed inputs, then for each line
//! `KIND N` on stdin runs N operations of KIND and prints `KIND <ns per op>`. The kinds:
//!
//! - `sign`: `signer::sign` (the public one-shot API: AK/SK in, every intermediate string out);
//! - `key`: `signer::SigningKey::sign_headers` with a key made once (HMAC key state computed
//!   once per credential, canonical request hashed as it is written, only the added headers
//!   made): the per-call path of the client, which keeps the key per credential;
//! - `floor-sha2`, `floor-ring`: SHA-256 of the body, SHA-256 of the canonical request and
//!   HMAC-SHA256 of the string to sign with the key's inner/outer state made once (the least
//!   hashing per request), with that backend;
//! - `floor-sha2-rekey`, `floor-ring-rekey`: the same with the HMAC key set up per request, as
//!   `sign` must (it is handed the secret key each time);
//! - `floor-writes`: `floor-sha2` plus writing the bytes every signer must write per request
//!   (the date from the time, the hex digests, the canonical request, the string to sign and
//!   the `Authorization` value) from parts handed over already encoded, lowercased and sorted,
//!   into buffers made once, with nothing checked: how close to the floor a signer can get.

use hmac::{Hmac, KeyInit, Mac};
use hss_image_sync::signer::{self, SignableRequest, SigningKey};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::io::BufRead;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const AK: &str = "HPUAL8FWGBJPNSCL4E2X";
const SK: &str = "xN3qV7mK2pL9sR4tW8yB1cD6fG0hJ5kZaQeUiOo";
const BODY: &[u8] = br#"{"image_type": "private_image"}"#;

struct Inputs {
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    sk: SecretString,
    key: SigningKey,
    time: SystemTime,
    /// What the floor hashes: exactly the canonical request and string to sign of the inputs.
    canonical_request: Vec<u8>,
    string_to_sign: Vec<u8>,
    hmac_sha2: Hmac<Sha256>,
    hmac_ring: ring::hmac::Key,
    writes: Writes,
}

/// What `floor-writes` is handed: the canonical request's parts that do not change with the
/// time, already in their final form.
#[derive(Default)]
struct Writes {
    /// Method, path, query and the canonical headers before `x-sdk-date`'s value.
    before_date: Vec<u8>,
    /// From the end of the date's value to the body hash (the rest of that line, the blank
    /// line, the signed header list and its newline).
    after_date: Vec<u8>,
    authorization_prefix: String,
    canonical_request: std::cell::RefCell<Vec<u8>>,
    string_to_sign: std::cell::RefCell<Vec<u8>>,
}

impl Inputs {
    fn new() -> Self {
        let query = vec![(
            "enterprise_project_id".to_owned(),
            "all_granted_eps".to_owned(),
        )];
        let headers = vec![
            ("region".to_owned(), "cn-north-4".to_owned()),
            ("Content-Type".to_owned(), "application/json".to_owned()),
            (
                "User-Agent".to_owned(),
                "huaweicloud-usdk-python/3.0; bench".to_owned(),
            ),
            (
                "X-Project-Id".to_owned(),
                "0a1b2c3d4e5f60718293a4b5c6d7e8f9".to_owned(),
            ),
        ];
        let sk = SecretString::from(SK);
        let time = UNIX_EPOCH + Duration::from_secs(1_710_491_730);
        let mut inputs = Inputs {
            query,
            headers,
            key: SigningKey::new(signer::Algorithm::HmacSha256, AK, &sk),
            sk,
            time,
            canonical_request: Vec::new(),
            string_to_sign: Vec::new(),
            hmac_sha2: <Hmac<Sha256> as KeyInit>::new_from_slice(SK.as_bytes()).unwrap(),
            hmac_ring: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SK.as_bytes()),
            writes: Writes::default(),
        };
        let signed = signer::sign(&inputs.request(), AK, &inputs.sk, time).expect("signs");
        inputs.canonical_request = signed.canonical_request.as_str().as_bytes().to_vec();
        inputs.string_to_sign = signed.string_to_sign.into_bytes();
        // Split the canonical request around the date's value and before the body hash.
        let text = signed.canonical_request.as_str();
        let date_at = text.find("x-sdk-date:").expect("date line") + "x-sdk-date:".len();
        let date_end = date_at + 16;
        let hash_at = text.len() - 64;
        inputs.writes.before_date = text.as_bytes()[..date_at].to_vec();
        inputs.writes.after_date = text.as_bytes()[date_end..hash_at].to_vec();
        let signed_headers = text[date_end..hash_at].trim_matches('\n');
        inputs.writes.authorization_prefix =
            format!("SDK-HMAC-SHA256 Access={AK}, SignedHeaders={signed_headers}, Signature=");
        assert_eq!(inputs.floor_writes(), signed.authorization, "floor-writes");
        assert_eq!(
            *inputs.writes.canonical_request.borrow(),
            inputs.canonical_request,
            "floor-writes' canonical request"
        );
        inputs
    }

    /// `floor-writes`: the least a signer can do per request (see the module doc).
    fn floor_writes(&self) -> String {
        let w = &self.writes;
        let mut body_hash = [0u8; 64];
        hex_into(&Sha256::digest(black_box(BODY)), &mut body_hash);
        let date = sdk_date(black_box(self.time));
        let mut cr = w.canonical_request.borrow_mut();
        cr.clear();
        cr.extend_from_slice(&w.before_date);
        cr.extend_from_slice(&date);
        cr.extend_from_slice(&w.after_date);
        cr.extend_from_slice(&body_hash);
        let mut cr_hash = [0u8; 64];
        hex_into(&Sha256::digest(&cr[..]), &mut cr_hash);
        let mut sts = w.string_to_sign.borrow_mut();
        sts.clear();
        sts.extend_from_slice(b"SDK-HMAC-SHA256\n");
        sts.extend_from_slice(&date);
        sts.push(b'\n');
        sts.extend_from_slice(&cr_hash);
        let mut mac = self.hmac_sha2.clone();
        mac.update(&sts);
        let mut signature = [0u8; 64];
        hex_into(&mac.finalize().into_bytes(), &mut signature);
        let mut authorization = String::with_capacity(w.authorization_prefix.len() + 64);
        authorization.push_str(&w.authorization_prefix);
        authorization.push_str(std::str::from_utf8(&signature).unwrap_or_default());
        authorization
    }

    fn request(&self) -> SignableRequest<'_> {
        SignableRequest {
            method: "POST",
            host: "hss.cn-north-4.myhuaweicloud.com",
            path: "/v5/0a1b2c3d4e5f60718293a4b5c6d7e8f9/image/synchronize",
            query: &self.query,
            headers: &self.headers,
            body: BODY,
        }
    }

    /// The `Authorization` each kind computes, which must be the same for all.
    fn signatures(&self) -> Vec<(&'static str, String)> {
        let signed = signer::sign(&self.request(), AK, &self.sk, self.time).unwrap();
        let key = self.key.sign_headers(&self.request(), self.time).unwrap();
        // The floor's signature, from the same string to sign, with each backend.
        let sha2 = {
            let mut mac = self.hmac_sha2.clone();
            mac.update(&self.string_to_sign);
            hex(&mac.finalize().into_bytes())
        };
        let ring = hex(ring::hmac::sign(&self.hmac_ring, &self.string_to_sign).as_ref());
        vec![
            ("sign", signed.signature),
            ("key", signature_of(&key.authorization)),
            ("floor-writes", signature_of(&self.floor_writes())),
            ("floor-sha2", sha2),
            ("floor-ring", ring),
        ]
    }

    fn run(&self, kind: &str, n: u32) -> Option<f64> {
        let request = self.request();
        let started = Instant::now();
        match kind {
            "sign" => {
                for _ in 0..n {
                    let signed = signer::sign(black_box(&request), AK, &self.sk, self.time);
                    black_box(signed.ok());
                }
            }
            "key" => {
                for _ in 0..n {
                    black_box(self.key.sign_headers(black_box(&request), self.time).ok());
                }
            }
            "floor-sha2" => {
                for _ in 0..n {
                    black_box(Sha256::digest(black_box(BODY)));
                    black_box(Sha256::digest(black_box(&self.canonical_request)));
                    let mut mac = black_box(&self.hmac_sha2).clone();
                    mac.update(black_box(&self.string_to_sign));
                    black_box(mac.finalize());
                }
            }
            "floor-writes" => {
                for _ in 0..n {
                    black_box(self.floor_writes());
                }
            }
            "floor-sha2-rekey" => {
                for _ in 0..n {
                    black_box(Sha256::digest(black_box(BODY)));
                    black_box(Sha256::digest(black_box(&self.canonical_request)));
                    let mut mac =
                        <Hmac<Sha256> as KeyInit>::new_from_slice(black_box(SK.as_bytes()))
                            .unwrap();
                    mac.update(black_box(&self.string_to_sign));
                    black_box(mac.finalize());
                }
            }
            "floor-ring" => {
                use ring::digest::{SHA256, digest};
                for _ in 0..n {
                    black_box(digest(&SHA256, black_box(BODY)));
                    black_box(digest(&SHA256, black_box(&self.canonical_request)));
                    black_box(ring::hmac::sign(
                        black_box(&self.hmac_ring),
                        black_box(&self.string_to_sign),
                    ));
                }
            }
            "floor-ring-rekey" => {
                use ring::digest::{SHA256, digest};
                for _ in 0..n {
                    black_box(digest(&SHA256, black_box(BODY)));
                    black_box(digest(&SHA256, black_box(&self.canonical_request)));
                    let key =
                        ring::hmac::Key::new(ring::hmac::HMAC_SHA256, black_box(SK.as_bytes()));
                    black_box(ring::hmac::sign(&key, black_box(&self.string_to_sign)));
                }
            }
            _ => return None,
        }
        Some(started.elapsed().as_nanos() as f64 / f64::from(n.max(1)))
    }
}

fn signature_of(authorization: &str) -> String {
    authorization
        .rsplit_once("Signature=")
        .map(|(_, s)| s.to_owned())
        .unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    let mut out = vec![0; 2 * bytes.len()];
    hex_into(bytes, &mut out);
    String::from_utf8(out).expect("hex digits")
}

fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 15)];
    }
}

/// `YYYYMMDDTHHMMSSZ` of `time` (UTC; days to civil date as in Hinnant's `civil_from_days`).
fn sdk_date(time: SystemTime) -> [u8; 16] {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let mut out = *b"00000000T000000Z";
    let mut put = |at: usize, value: u64, width: usize| {
        let mut v = value;
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(4, month, 2);
    put(6, day, 2);
    put(9, rem / 3600, 2);
    put(11, rem / 60 % 60, 2);
    put(13, rem % 60, 2);
    out
}

const KINDS: [&str; 7] = [
    "sign",
    "key",
    "floor-writes",
    "floor-sha2",
    "floor-ring",
    "floor-sha2-rekey",
    "floor-ring-rekey",
];

fn main() {
    let inputs = Inputs::new();
    let signatures = inputs.signatures();
    if let Some((kind, _)) = signatures.iter().find(|(_, s)| *s != signatures[0].1) {
        eprintln!("signing bench: {kind} computes another signature: {signatures:?}");
        std::process::exit(1);
    }
    let serve = std::env::args().any(|a| a == "--serve");
    if !serve {
        // `cargo bench --bench signing`: a standalone look, interleaved kind by kind.
        let mut rounds = vec![Vec::new(); KINDS.len()];
        for _ in 0..7 {
            for (i, kind) in KINDS.iter().enumerate() {
                rounds[i].push(inputs.run(kind, 50_000).unwrap());
            }
        }
        for (kind, mut r) in KINDS.iter().zip(rounds) {
            r.sort_by(f64::total_cmp);
            println!("{kind:<18} {:>8.0} ns/op (median of 7)", r[3]);
        }
        return;
    }
    println!("signature {}", signatures[0].1);
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let mut words = line.split_whitespace();
        let (Some(kind), Some(Ok(n))) = (words.next(), words.next().map(str::parse::<u32>)) else {
            eprintln!("signing bench: expected `KIND N`, got {line:?}");
            std::process::exit(2);
        };
        match inputs.run(kind, n) {
            Some(ns) => println!("{kind} {ns:.1}"),
            None => {
                eprintln!("signing bench: unknown kind {kind:?}");
                std::process::exit(2);
            }
        }
    }
}
