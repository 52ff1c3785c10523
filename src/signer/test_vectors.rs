//! The official SDK's vectors for the algorithms besides SDK-HMAC-SHA256
//! (`tests/vectors/<algorithm>/`, recorded by `tests/oracle/record_algorithms.py`), read by the
//! unit tests that check what is not public: derived keys, `Z_A`, signatures with a given nonce.

// The key and signature fields are read only with the `ecdsa` and `sm2` features.
#![cfg_attr(not(all(feature = "ecdsa", feature = "sm2")), allow(dead_code))]

use serde::Deserialize;
use std::path::Path;

/// What the unit tests read of a vector; `tests/signing_vectors.rs` replays the rest.
#[derive(Deserialize, Debug)]
pub(crate) struct AlgorithmVector {
    pub name: String,
    pub credentials: Keys,
    pub nonce: Option<String>,
    pub expected: Expected,
}

#[derive(Deserialize, Debug)]
pub(crate) struct Keys {
    pub ak: String,
    pub sk: String,
}

#[derive(Deserialize, Debug)]
pub(crate) struct Expected {
    pub string_to_sign: String,
    pub signature: String,
    pub signing_key: Option<String>,
    pub private_key: Option<String>,
    pub public_key: Option<String>,
    pub za: Option<String>,
    pub za_quirk: Option<bool>,
}

/// Every vector of `tests/vectors/<dir>/`, by file name.
pub(crate) fn vectors(dir: &str) -> Vec<AlgorithmVector> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(file).unwrap();
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        })
        .collect()
}

pub(crate) fn from_hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}
