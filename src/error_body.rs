//! Reads Huawei Cloud error bodies the way the official SDKs do, so that `error_code` and
//! `error_msg` come out the same for every shape a gateway or service sends.
//!
//! Rules: at the top level, `encoded_authorization_message` is taken if present; then the first
//! pair whose two keys are both present wins: (`error_code`, `error_msg`), (`errorCode`,
//! `errorMsg`), (`code`, `message`). Without one, nested objects are searched in document order
//! and the *last* match wins. A missing (or false-y) code falls back to the HTTP status, a
//! missing message to the raw body text; non-JSON bodies keep the raw text as message.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashMap;
use std::fmt;

/// `error_code`, `error_msg` and `encoded_authorization_message` of an error response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorFields {
    /// Service error code such as `APIG.0301`, or the HTTP status when the body has none.
    pub error_code: String,
    /// Human-readable message, or the raw body text.
    pub error_msg: String,
    /// The encoded reason of an authorization failure, when the body has one.
    pub encoded_authorization_message: Option<String>,
}

impl ErrorFields {
    /// Fields with `error_code` and `error_msg` and no encoded authorization message, for
    /// tests (the type is `#[non_exhaustive]`).
    ///
    /// ```
    /// use hss_image_sync::error_body::{parse, ErrorFields};
    ///
    /// let body = br#"{"error_code":"HSS.0001","error_msg":"bad limit"}"#;
    /// assert_eq!(parse(400, body), ErrorFields::new("HSS.0001", "bad limit"));
    /// ```
    pub fn new(error_code: impl Into<String>, error_msg: impl Into<String>) -> Self {
        ErrorFields {
            error_code: error_code.into(),
            error_msg: error_msg.into(),
            encoded_authorization_message: None,
        }
    }
}

/// Parses an error response body; never fails, and takes time linear in the body's size.
pub fn parse(status: u16, body: &[u8]) -> ErrorFields {
    let text = String::from_utf8_lossy(body);
    let mut found = Found::default();
    if let Ok(Json::Object(members)) = serde_json::from_slice::<Json>(body) {
        found.search(&members);
    }
    let error_code = match found.code {
        Some(code) if code.truthy() => code.to_python_str(),
        _ => status.to_string(),
    };
    let error_msg = match found.message {
        Some(msg) if msg.truthy() => msg.to_python_str(),
        _ => text.into_owned(),
    };
    ErrorFields {
        error_code,
        error_msg,
        encoded_authorization_message: found.encoded.map(|e| e.to_python_str()),
    }
}

#[derive(Default)]
struct Found {
    code: Option<Json>,
    message: Option<Json>,
    encoded: Option<Json>,
}

impl Found {
    fn search(&mut self, members: &[(String, Json)]) {
        let get = |key: &str| members.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        if let Some(encoded) = get("encoded_authorization_message") {
            self.encoded = Some(encoded.clone());
        }
        for (code_key, msg_key) in [
            ("error_code", "error_msg"),
            ("errorCode", "errorMsg"),
            ("code", "message"),
        ] {
            if let (Some(code), Some(msg)) = (get(code_key), get(msg_key)) {
                self.code = Some(code.clone());
                self.message = Some(msg.clone());
                return;
            }
        }
        for (_, value) in members {
            if let Json::Object(nested) = value {
                self.search(nested);
            }
        }
    }
}

/// A JSON value that keeps object members in document order (Python dicts do; a duplicate key
/// keeps its first position and takes the last value).
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Python truthiness.
    fn truthy(&self) -> bool {
        match self {
            Json::Null => false,
            Json::Bool(b) => *b,
            Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Json::String(s) => !s.is_empty(),
            Json::Array(a) => !a.is_empty(),
            Json::Object(o) => !o.is_empty(),
        }
    }

    /// Text as Python's `str()` gives for strings, booleans, null and integers; JSON text for
    /// other numbers (Python writes `1e-05` where this writes `0.00001`) and containers.
    fn to_python_str(&self) -> String {
        match self {
            Json::Null => "None".to_owned(),
            Json::Bool(true) => "True".to_owned(),
            Json::Bool(false) => "False".to_owned(),
            Json::Number(n) => n.to_string(),
            Json::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Number(n) => write!(f, "{n}"),
            Json::String(s) => f.write_str(&quote(s)),
            Json::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Json::Object(members) => {
                f.write_str("{")?;
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {v}", quote(k))?;
                }
                f.write_str("}")
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(v)
            .map(Json::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members: Vec<(String, Json)> = Vec::new();
        // Where each key is, so that a body of many members is read in linear time.
        let mut position: HashMap<String, usize> = HashMap::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            match position.get(&key) {
                Some(&at) => members[at].1 = value,
                None => {
                    position.insert(key.clone(), members.len());
                    members.push((key, value));
                }
            }
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(status: u16, body: &str) -> (String, String, Option<String>) {
        let f = parse(status, body.as_bytes());
        (f.error_code, f.error_msg, f.encoded_authorization_message)
    }

    #[test]
    fn gateway_and_service_shapes() {
        assert_eq!(
            p(
                401,
                r#"{"error_code":"APIG.0301","error_msg":"bad sig","request_id":"r"}"#
            ),
            ("APIG.0301".into(), "bad sig".into(), None)
        );
        assert_eq!(
            p(
                400,
                r#"{"errorCode":"HSS.0001","errorMsg":"Invalid parameter."}"#
            ),
            ("HSS.0001".into(), "Invalid parameter.".into(), None)
        );
        assert_eq!(
            p(
                403,
                r#"{"code":"X","message":"m","encoded_authorization_message":"enc"}"#
            ),
            ("X".into(), "m".into(), Some("enc".into()))
        );
    }

    #[test]
    fn nested_search_last_match_wins() {
        let body = r#"{"a":{"error_code":"A","error_msg":"first"},"b":1,"c":{"d":{"code":"C","message":"last"}}}"#;
        assert_eq!(p(400, body), ("C".into(), "last".into(), None));
        // Document order, not key order, decides which match is last.
        let body = r#"{"z":{"code":"Z","message":"z"},"a":{"code":"A","message":"a"}}"#;
        assert_eq!(p(400, body), ("A".into(), "a".into(), None));
    }

    #[test]
    fn many_members_and_duplicates() {
        let mut body = String::from("{");
        for i in 0..50_000 {
            body.push_str(&format!("\"k{i}\":{i},"));
        }
        body.push_str(r#""k7":"last","error_code":"E","error_msg":"m"}"#);
        assert_eq!(p(400, &body), ("E".into(), "m".into(), None));
    }

    #[test]
    fn fallbacks() {
        assert_eq!(
            p(502, "<html>Bad Gateway</html>"),
            ("502".into(), "<html>Bad Gateway</html>".into(), None)
        );
        assert_eq!(p(500, ""), ("500".into(), "".into(), None));
        assert_eq!(p(400, "[1,2]"), ("400".into(), "[1,2]".into(), None));
        // A lone code is not used; a false-y code or message falls back.
        assert_eq!(
            p(400, r#"{"error_code":"E"}"#),
            ("400".into(), r#"{"error_code":"E"}"#.into(), None)
        );
        assert_eq!(p(400, r#"{"error_code":"","error_msg":null}"#).0, "400");
        assert_eq!(
            p(400, r#"{"error_code":17,"error_msg":true}"#),
            ("17".into(), "True".into(), None)
        );
        // Duplicate keys: the last value wins.
        assert_eq!(
            p(
                400,
                r#"{"error_code":"A","error_msg":"m","error_code":"B"}"#
            )
            .0,
            "B"
        );
    }
}
