//! What the CLI tells a user about their configuration besides the error itself: a token beside
//! keys, a project ID that may be another region's, half a key pair, a refused token.

use crate::terminal::printable;
use hss_image_sync::credentials;

/// The hint for a 401 to a call authenticated with an IAM token (not a signature).
pub const REFUSED_TOKEN: &str = "the gateway refused the IAM token: it is invalid or has expired \
     (tokens last 24 hours). Get a new one (IAM POST /v3/auth/tokens) and pass it with \
     HUAWEICLOUD_SDK_AUTH_TOKEN or --auth-token-file.";

fn set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// An IAM token is used: says so when AK/SK are configured too, and where (the environment, or
/// the profile file's `ak`).
pub fn token_beside_keys() {
    let keys = if set("HUAWEICLOUD_SDK_AK") {
        "HUAWEICLOUD_SDK_AK".to_owned()
    } else {
        let Some(path) = credentials::profile_path() else {
            return;
        };
        if credentials::from_profile_file(&path).is_err() {
            return;
        }
        format!("the profile file {}", path.display())
    };
    eprintln!(
        "note: both an IAM token and an AK/SK ({}) are configured: using the IAM token \
         (X-Auth-Token); the AK/SK are not used",
        printable(&keys)
    );
}

/// Project IDs are per region: one from HUAWEICLOUD_SDK_PROJECT_ID, used with `--region` and
/// no `--project-id`, may be another region's. Says which is used and where it came from. It
/// is used by a token and by the environment's keys (not by the profile's).
pub fn project_of_region(region: &str, token: bool) {
    let Some(project) = std::env::var("HUAWEICLOUD_SDK_PROJECT_ID")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        return;
    };
    if token || set("HUAWEICLOUD_SDK_AK") {
        eprintln!(
            "note: project ID {} (from HUAWEICLOUD_SDK_PROJECT_ID) is used for region {}; \
             project IDs are per region: if it is another region's, pass --project-id, or unset \
             the variable to look the region's project up in IAM",
            printable(&project),
            printable(region)
        );
    }
}

/// Half an AK/SK pair in the environment, said briefly: the usual reason for "no credentials".
pub fn half_key_pair() -> Option<&'static str> {
    match (set("HUAWEICLOUD_SDK_AK"), set("HUAWEICLOUD_SDK_SK")) {
        (true, false) => Some("HUAWEICLOUD_SDK_SK is missing (HUAWEICLOUD_SDK_AK is set)"),
        (false, true) => Some("HUAWEICLOUD_SDK_AK is missing (HUAWEICLOUD_SDK_SK is set)"),
        _ => None,
    }
}
