//! The identity services the credential providers and project discovery talk to, served on the
//! emulator's listener next to HSS (their paths never collide with `/v5/{project}/...`):
//!
//! | endpoint | request | answer |
//! |---|---|---|
//! | IAM projects | `GET /v3/projects?name={region}`, signed (never V11, no `X-Project-Id`) | `{"projects": [...]}`, `X-IAM-Trace-Id` |
//! | IAM projects of the caller | `GET /v3/auth/projects`, signed as above | `{"links", "projects": [...]}`, no paging |
//! | IAM federated login | `POST /v3.0/OS-AUTH/id-token/tokens`, `X-Idp-Id` | 201, `X-Subject-Token` |
//! | IAM temporary keys | `POST /v3.0/OS-CREDENTIAL/securitytokens` | 201, `{"credential": {...}}` |
//! | STS | `POST /v5/agencies/assume-with-oidc`, unsigned | `{"credential": {...}}` |
//! | ECS metadata | `PUT /meta-data/latest/api/token`, `X-Metadata-Token-Ttl-Seconds` | a session token (text) |
//! | ECS metadata | `GET /openstack/latest/securitykey`, `X-Metadata-Token` | `{"credential": {...}}` |
//! | CCE pod identity | `POST /pod-identity/credentials`, `Authorization: <token>` | the keys, top level |
//!
//! Every temporary key handed out is then accepted for API calls (and IAM calls), signed with
//! its secret and carrying its security token, until it expires; after that the gateway refuses
//! it with 401 APIG.0301. The emulator keeps at most [`MAX_ISSUED_KEYS`] of them (expired ones,
//! then the oldest, go first), and a bounded number of IAM and metadata session tokens.
//!
//! Refusals have the gateway's body shape (`error_code`, `error_msg`, `request_id`); their codes
//! are the emulator's own, not the real services'.

use super::account::MOS_PROJECT_ID;
use super::gateway::{Judgement, Verdict, authenticate};
use super::server::Shared;
use super::verify::RawRequest;
use crate::signer::MASK;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};

mod store;

pub(crate) use store::*;
pub use store::{
    DEFAULT_TEMPORARY_CREDENTIALS_LIFETIME, IdentityCalls, IdentityEndpoint, MAX_ISSUED_KEYS,
    NO_AGENCY,
};

/// A reply with its body, for an accepted identity request.
#[derive(Debug)]
pub(crate) struct Reply {
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

fn accepted(
    status: u16,
    content_type: &'static str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Judgement {
    Judgement {
        status,
        error_code: None,
        message: "ok".into(),
        verdict: Verdict::Accepted,
        auth: "",
        canonical_request: None,
        call: None,
        reply: Some(Reply {
            content_type,
            headers,
            body,
        }),
        project_id: None,
    }
}

fn json_reply(status: u16, body: &Value) -> Judgement {
    accepted(
        status,
        "application/json",
        Vec::new(),
        body.to_string().into_bytes(),
    )
}

/// What a scripted identity request is logged with: it is not judged (judging would hand out
/// keys or tokens that nobody receives).
pub(crate) fn not_judged() -> Judgement {
    Judgement {
        verdict: Verdict::Scripted,
        error_code: None,
        ..Judgement::reject(0, "", "not judged, the answer is scripted")
    }
}

/// Judges a request to an identity endpoint (its body read in full).
pub(crate) fn judge(
    endpoint: IdentityEndpoint,
    raw: &RawRequest,
    shared: &Shared,
    request_id: &str,
) -> Judgement {
    if raw.method != endpoint.method() {
        return match endpoint {
            IdentityEndpoint::MetadataToken
            | IdentityEndpoint::MetadataSecurityKey
            | IdentityEndpoint::PodIdentity => {
                Judgement::reject(405, "EMULATOR.0405", "Method Not Allowed")
            }
            _ => Judgement::reject(
                404,
                "APIG.0101",
                "The API does not exist or has not been published in the environment",
            ),
        };
    }
    let identity = &shared.identity;
    let now = shared.now();
    match endpoint {
        IdentityEndpoint::IamProjects => list_projects(raw, shared, request_id),
        IdentityEndpoint::IamAuthProjects => list_auth_projects(raw, shared, request_id),
        IdentityEndpoint::IamIdTokenLogin => id_token_login(identity, raw, now),
        IdentityEndpoint::IamSecurityTokens => security_tokens(identity, raw, now),
        IdentityEndpoint::StsAssumeWithOidc => assume_with_oidc(identity, raw, now),
        IdentityEndpoint::MetadataToken => metadata_token(identity, raw, now),
        IdentityEndpoint::MetadataSecurityKey => metadata_key(identity, raw, now),
        IdentityEndpoint::PodIdentity => pod_identity(identity, raw, now),
    }
}

/// An IAM call's authentication: signed like an API call, but never with V11 and never with
/// `X-Project-Id` (IAM is not a project's service).
fn iam_authenticate(
    raw: &RawRequest,
    shared: &Shared,
) -> Result<(&'static str, Option<crate::signer::CanonicalRequest>), Box<Judgement>> {
    if raw
        .header("authorization")
        .is_some_and(|a| a.trim_start().starts_with("V11-HMAC-SHA256"))
    {
        return Err(Box::new(Judgement::unauthorized(
            "IAM does not accept V11-HMAC-SHA256 (derived keys): sign IAM calls with the \
             access key itself",
        )));
    }
    let (auth, canonical_request) = authenticate(raw, shared)?;
    if raw.header_values("x-project-id").next().is_some() {
        return Err(Box::new(Judgement {
            auth,
            canonical_request,
            ..Judgement::reject(
                400,
                "IAM.0007",
                "X-Project-Id is not accepted by IAM: the project listing is not a project's call",
            )
        }));
    }
    Ok((auth, canonical_request))
}

/// IAM's answer to a project listing: 200 with `body`, and `X-IAM-Trace-Id`.
fn iam_listing(
    auth: &'static str,
    canonical_request: Option<crate::signer::CanonicalRequest>,
    request_id: &str,
    body: &Value,
) -> Judgement {
    Judgement {
        auth,
        canonical_request,
        ..accepted(
            200,
            "application/json;charset=utf8",
            vec![("X-IAM-Trace-Id".into(), format!("{request_id}-iam"))],
            body.to_string().into_bytes(),
        )
    }
}

/// One project as IAM lists it.
fn project_json(id: &str, name: &str, parent_id: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "domain_id": DOMAIN_ID,
        "parent_id": parent_id,
        "is_domain": false,
        "enabled": true,
        "description": "",
        "links": {"self": format!("{}/{id}", IdentityEndpoint::IamProjects.path())},
    })
}

/// IAM `GET /v3/auth/projects`: every project the caller can use, no query, no paging. With an
/// account ([`Emulator::projects`](crate::emulator::Emulator::projects)): `MOS`, then its
/// region projects and sub-projects; else the region projects of
/// [`Emulator::iam_projects`](crate::emulator::Emulator::iam_projects) (by default the
/// emulator's own project for its region).
fn list_auth_projects(raw: &RawRequest, shared: &Shared, request_id: &str) -> Judgement {
    let (auth, canonical_request) = match iam_authenticate(raw, shared) {
        Ok(ok) => ok,
        Err(rejected) => return *rejected,
    };
    let listed: Vec<Value> = match &shared.config.account {
        Some(account) => std::iter::once(project_json(MOS_PROJECT_ID, "MOS", DOMAIN_ID))
            .chain(
                account
                    .projects()
                    .map(|p| project_json(&p.id, &p.name, &p.parent_id)),
            )
            .collect(),
        None => lock(&shared.identity.projects)
            .iter()
            .flat_map(|(region, ids)| ids.iter().map(|id| project_json(id, region, DOMAIN_ID)))
            .collect(),
    };
    let body = json!({
        "links": {
            "self": IdentityEndpoint::IamAuthProjects.path(),
            "previous": null,
            "next": null,
        },
        "projects": listed,
    });
    iam_listing(auth, canonical_request, request_id, &body)
}

/// IAM `GET /v3/projects?name={region}`: the projects [`Emulator::iam_projects`] set for the
/// region (with an account, its region project unless set), or every region's without `name`;
/// with an account, also its sub-projects named `name` (every one without `name`).
///
/// [`Emulator::iam_projects`]: crate::emulator::Emulator::iam_projects
fn list_projects(raw: &RawRequest, shared: &Shared, request_id: &str) -> Judgement {
    let (auth, canonical_request) = match iam_authenticate(raw, shared) {
        Ok(ok) => ok,
        Err(rejected) => return *rejected,
    };
    let mut name = None;
    for pair in raw.raw_query().split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == "name" {
            name = Some(
                percent_encoding::percent_decode_str(value)
                    .decode_utf8_lossy()
                    .into_owned(),
            );
        }
    }
    let projects = lock(&shared.identity.projects);
    let mut listed: Vec<Value> = projects
        .iter()
        .filter(|(region, _)| name.as_ref().is_none_or(|n| n == *region))
        .flat_map(|(region, ids)| ids.iter().map(|id| project_json(id, region, DOMAIN_ID)))
        .collect();
    drop(projects);
    // An account's sub-projects, by their own names.
    if let Some(account) = &shared.config.account {
        listed.extend(
            account
                .projects()
                .filter(|p| p.parent_id != DOMAIN_ID)
                .filter(|p| name.as_ref().is_none_or(|n| *n == p.name))
                .map(|p| project_json(&p.id, &p.name, &p.parent_id)),
        );
    }
    let body = json!({
        "links": {"self": format!("{}{}", IdentityEndpoint::IamProjects.path(), match raw.raw_query() {
            "" => String::new(),
            q => format!("?{q}"),
        }), "previous": null, "next": null},
        "projects": listed,
    });
    iam_listing(auth, canonical_request, request_id, &body)
}

/// The JSON object of a body, or a 400.
fn json_body(raw: &RawRequest) -> Result<Value, Box<Judgement>> {
    match serde_json::from_slice::<Value>(&raw.body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(Box::new(Judgement::reject(
            400,
            "EMULATOR.0400",
            "the body is not a JSON object",
        ))),
    }
}

/// The string at `pointer` (e.g. `/auth/id_token/id`), or a 400 naming it.
fn required_str<'a>(body: &'a Value, pointer: &str) -> Result<&'a str, Box<Judgement>> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Box::new(Judgement::reject(
                400,
                "EMULATOR.0400",
                format!("{pointer} is missing or not a string"),
            ))
        })
}

/// The positive integer at `pointer`, `default` when absent, or a 400.
fn duration_at(body: &Value, pointer: &str, default: i64) -> Result<i64, Box<Judgement>> {
    match body.pointer(pointer) {
        None => Ok(default),
        Some(value) => value.as_i64().filter(|n| *n > 0).ok_or_else(|| {
            Box::new(Judgement::reject(
                400,
                "EMULATOR.0400",
                format!("{pointer} is not a positive integer"),
            ))
        }),
    }
}

fn or_refusal(result: Result<Judgement, Box<Judgement>>) -> Judgement {
    result.unwrap_or_else(|refused| *refused)
}

/// IAM `POST /v3.0/OS-AUTH/id-token/tokens` (`X-Idp-Id`, `{"auth": {"id_token": {"id"}}}`):
/// 201 with an unscoped token in `X-Subject-Token`.
fn id_token_login(identity: &Identity, raw: &RawRequest, now: SystemTime) -> Judgement {
    or_refusal((|| {
        let Some(idp_id) = raw.header("x-idp-id").map(str::trim) else {
            return Err(Box::new(Judgement::reject(
                400,
                "IAM.0011",
                "X-Idp-Id is missing",
            )));
        };
        let body = json_body(raw)?;
        let id_token = required_str(&body, "/auth/id_token/id")?;
        let federation = identity
            .federation
            .as_ref()
            .filter(|f| f.idp_id == idp_id)
            .ok_or_else(|| {
                Box::new(Judgement::reject(
                    404,
                    "IAM.0012",
                    "the identity provider (X-Idp-Id) does not exist",
                ))
            })?;
        if federation.id_token.expose_secret() != id_token {
            return Err(Box::new(Judgement::reject(
                401,
                "IAM.0013",
                "the id token is not valid for this identity provider",
            )));
        }
        let token = format!("MIIemulator{}", random_text(120, ALNUM));
        let expiry = whole_second_after(now, UNSCOPED_TOKEN_LIFETIME);
        lock(&identity.unscoped_tokens).insert(token.clone(), (), expiry, now);
        let body = json!({"token": {
            "methods": ["mapped"],
            "issued_at": sts_time(now),
            "expires_at": sts_time(expiry),
            "user": {
                "domain": {"id": DOMAIN_ID, "name": "hss-emulator"},
                "id": "emulatorfederateduser0000000001",
                "name": "FederationUser",
                "OS-FEDERATION": {
                    "identity_provider": {"id": idp_id},
                    "protocol": {"id": "oidc"},
                    "groups": [],
                },
            },
        }});
        Ok(accepted(
            201,
            "application/json;charset=utf8",
            vec![("X-Subject-Token".into(), token)],
            body.to_string().into_bytes(),
        ))
    })())
}

/// IAM `POST /v3.0/OS-CREDENTIAL/securitytokens` with a token from the federated login (in the
/// body, else `X-Auth-Token`): 201 with temporary keys.
fn security_tokens(identity: &Identity, raw: &RawRequest, now: SystemTime) -> Judgement {
    or_refusal((|| {
        let body = json_body(raw)?;
        let methods = body
            .pointer("/auth/identity/methods")
            .and_then(Value::as_array);
        if !methods.is_some_and(|m| m.iter().any(|m| m == "token")) {
            return Err(Box::new(Judgement::reject(
                400,
                "IAM.0014",
                "/auth/identity/methods must list \"token\"",
            )));
        }
        let token = match body.pointer("/auth/identity/token/id") {
            Some(_) => required_str(&body, "/auth/identity/token/id")?.to_owned(),
            None => raw
                .header("x-auth-token")
                .map(|t| t.trim().to_owned())
                .ok_or_else(|| {
                    Box::new(Judgement::reject(
                        400,
                        "IAM.0015",
                        "no token: neither /auth/identity/token/id nor X-Auth-Token",
                    ))
                })?,
        };
        let duration = duration_at(
            &body,
            "/auth/identity/token/duration_seconds",
            DEFAULT_IAM_DURATION,
        )?;
        let expiry = lock(&identity.unscoped_tokens).get(&token).map(|(_, e)| *e);
        match expiry {
            None => Err(Box::new(Judgement::reject(
                401,
                "IAM.0016",
                "the token is not valid",
            ))),
            Some(expiry) if expiry <= now => Err(Box::new(Judgement::reject(
                401,
                "IAM.0017",
                "the token has expired",
            ))),
            Some(_) => {
                let keys = identity.issue(now, identity.lifetime_for(duration));
                Ok(json_reply(201, &json!({"credential": keys})))
            }
        }
    })())
}

/// STS `POST /v5/agencies/assume-with-oidc`, unsigned: the provider URN, agency URN and id
/// token must be the configured ones.
fn assume_with_oidc(identity: &Identity, raw: &RawRequest, now: SystemTime) -> Judgement {
    or_refusal((|| {
        let body = json_body(raw)?;
        let provider_urn = required_str(&body, "/provider_urn")?;
        let agency_urn = required_str(&body, "/agency_urn")?;
        let id_token = required_str(&body, "/id_token")?;
        if body.get("agency_session_name").is_some() {
            required_str(&body, "/agency_session_name")?;
        }
        let duration = duration_at(&body, "/duration_seconds", DEFAULT_STS_DURATION)?;
        let trust = identity.oidc.as_ref().ok_or_else(|| {
            Box::new(Judgement::reject(
                403,
                "STS.0003",
                "no OIDC identity provider is configured on this emulator",
            ))
        })?;
        if trust.provider_urn != provider_urn {
            return Err(Box::new(Judgement::reject(
                404,
                "STS.0004",
                "the identity provider (provider_urn) does not exist",
            )));
        }
        if trust.agency_urn != agency_urn {
            return Err(Box::new(Judgement::reject(
                403,
                "STS.0005",
                "the agency (agency_urn) does not trust this identity provider",
            )));
        }
        if trust.id_token.expose_secret() != id_token {
            return Err(Box::new(Judgement::reject(
                401,
                "STS.0006",
                "the id token is not valid",
            )));
        }
        let keys = identity.issue(now, identity.lifetime_for(duration));
        Ok(json_reply(200, &json!({"credential": keys})))
    })())
}

/// ECS metadata `PUT /meta-data/latest/api/token` with `X-Metadata-Token-Ttl-Seconds`
/// (1..=21600): a session token, as text.
fn metadata_token(identity: &Identity, raw: &RawRequest, now: SystemTime) -> Judgement {
    let ttl = raw
        .header("x-metadata-token-ttl-seconds")
        .and_then(|t| t.trim().parse::<u64>().ok())
        .filter(|t| (1..=MAX_SESSION_TOKEN_TTL).contains(t));
    let Some(ttl) = ttl else {
        return Judgement::reject(
            400,
            "EMULATOR.0400",
            format!(
                "X-Metadata-Token-Ttl-Seconds must be an integer in 1..={MAX_SESSION_TOKEN_TTL}"
            ),
        );
    };
    let token = random_text(64, ALNUM);
    let expiry = whole_second_after(now, Duration::from_secs(ttl));
    lock(&identity.session_tokens).insert(token.clone(), (), expiry, now);
    accepted(200, "text/plain", Vec::new(), token.into_bytes())
}

/// ECS metadata `GET /openstack/latest/securitykey` with a valid `X-Metadata-Token`: the
/// agency's temporary keys, or 401 "Please configure Cloud Service Agency first".
fn metadata_key(identity: &Identity, raw: &RawRequest, now: SystemTime) -> Judgement {
    let valid = raw.header("x-metadata-token").is_some_and(|token| {
        lock(&identity.session_tokens)
            .get(token.trim())
            .is_some_and(|(_, expiry)| *expiry > now)
    });
    if !valid {
        return Judgement::reject(
            401,
            "EMULATOR.0401",
            "Unauthorized: X-Metadata-Token is missing, unknown or expired",
        );
    }
    if !identity.ecs_agency {
        return Judgement::reject(401, "EMULATOR.0401", NO_AGENCY);
    }
    let keys = identity.issue(
        now,
        identity
            .lifetime
            .unwrap_or(DEFAULT_TEMPORARY_CREDENTIALS_LIFETIME),
    );
    json_reply(200, &json!({"credential": keys}))
}

/// CCE pod identity `POST /pod-identity/credentials` with `Authorization: <token>` (no
/// `Bearer`): the keys at the top level, `access_key_id`, `secret_access_key`,
/// `security_token`, `expiration`.
fn pod_identity(identity: &Identity, raw: &RawRequest, now: SystemTime) -> Judgement {
    let Some(expected) = &identity.pod_token else {
        return Judgement::reject(
            404,
            "EMULATOR.0404",
            "pod identity is not enabled on this emulator",
        );
    };
    let sent = raw.header("authorization").map(str::trim);
    if sent != Some(expected.expose_secret()) {
        return Judgement::reject(
            401,
            "EMULATOR.0401",
            "the Authorization token is missing or not valid",
        );
    }
    let keys = identity.issue(
        now,
        identity
            .lifetime
            .unwrap_or(DEFAULT_TEMPORARY_CREDENTIALS_LIFETIME),
    );
    json_reply(
        200,
        &json!({
            "access_key_id": keys["access"],
            "secret_access_key": keys["secret"],
            "security_token": keys["securitytoken"],
            "expiration": keys["expires_at"],
        }),
    )
}

/// Masks the secrets of an identity request before it is logged: the metadata session token,
/// the pod's `Authorization`, and the tokens in login bodies.
pub(crate) fn redact(endpoint: IdentityEndpoint, raw: &mut RawRequest) {
    if matches!(
        endpoint,
        IdentityEndpoint::IamProjects | IdentityEndpoint::IamAuthProjects
    ) {
        return; // signed like an API call, logged like one
    }
    for (name, value) in &mut raw.headers {
        if crate::signer::is_sensitive_header(name) || name == "x-metadata-token" {
            *value = MASK.as_bytes().to_vec();
        }
    }
    if raw.body.is_empty() {
        return;
    }
    match serde_json::from_slice::<Value>(&raw.body) {
        Ok(mut body) => {
            mask_tokens(&mut body);
            raw.body = body.to_string().into_bytes();
        }
        Err(_) => raw.body = MASK.as_bytes().to_vec(),
    }
}

/// Replaces the string values of `id_token` and `id` members, at any depth.
fn mask_tokens(value: &mut Value) {
    match value {
        Value::Object(members) => {
            for (key, member) in members.iter_mut() {
                if matches!(key.as_str(), "id_token" | "id") && member.is_string() {
                    *member = Value::String(MASK.into());
                } else {
                    mask_tokens(member);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_tokens),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_sts_writes_them() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_893_553_445);
        assert_eq!(sts_time(at), "2030-01-02T03:04:05.000000Z");
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(1_000_500);
        assert_eq!(
            whole_second_after(now, Duration::from_secs(2)),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_003)
        );
        // A lifetime too long to write stops at the last writable second, without a panic.
        let last = whole_second_after(now, Duration::MAX);
        assert_eq!(sts_time(last), "9999-12-31T23:59:59.000000Z");
    }

    #[test]
    fn the_key_store_stays_bounded_dropping_expired_then_oldest() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let mut store = Bounded::new(3);
        store.insert("old".into(), (), now - Duration::from_secs(1), now);
        store.insert("a".into(), (), now + Duration::from_secs(9), now);
        store.insert("b".into(), (), now + Duration::from_secs(9), now);
        store.insert("c".into(), (), now + Duration::from_secs(9), now);
        assert!(!store.contains("old") && store.contains("a"));
        store.insert("d".into(), (), now + Duration::from_secs(9), now);
        assert!(!store.contains("a") && store.contains("d"));
        assert_eq!(store.entries.len(), 3);
        assert_eq!(store.order.len(), 3);
    }

    #[test]
    fn login_bodies_are_masked_for_the_log() {
        let mut raw = RawRequest::new(
            "POST",
            IdentityEndpoint::IamSecurityTokens.path(),
            vec![("x-metadata-token".into(), b"SESSION".to_vec())],
            br#"{"auth": {"identity": {"methods": ["token"], "token": {"id": "SECRET", "duration_seconds": 900}}}}"#.to_vec(),
        );
        redact(IdentityEndpoint::IamSecurityTokens, &mut raw);
        let shown = format!("{raw:?} {}", String::from_utf8_lossy(&raw.body));
        assert!(
            !shown.contains("SECRET") && !shown.contains("SESSION"),
            "{shown}"
        );
        assert!(shown.contains("duration_seconds"), "{shown}");
    }

    #[test]
    fn endpoints_route_by_path() {
        for endpoint in IdentityEndpoint::ALL {
            assert_eq!(IdentityEndpoint::route(endpoint.path()), Some(endpoint));
        }
        assert_eq!(IdentityEndpoint::route("/v5/p/image/synchronize"), None);
        assert_eq!(IdentityEndpoint::route("/v3/projects/x"), None);
    }
}
