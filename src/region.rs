//! HSS regions and their endpoints, as the official SDKs list them.

/// Every region the official Python SDK (3.1.219) lists for HSS.
pub const REGIONS: &[&str] = &[
    "cn-north-9",
    "cn-north-1",
    "cn-north-4",
    "cn-southwest-2",
    "cn-east-2",
    "cn-east-3",
    "cn-east-4",
    "cn-south-1",
    "cn-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "na-mexico-1",
    "af-south-1",
    "sa-brazil-1",
    "la-south-2",
    "cn-south-4",
    "la-north-2",
    "tr-west-1",
    "cn-north-2",
    "ap-southeast-4",
    "ae-ad-1",
    "me-east-1",
    "cn-east-5",
    "my-kualalumpur-1",
    "eu-west-101",
    "ru-moscow-1",
    "cn-north-12",
    "cn-southwest-3",
    "cn-north-11",
    "af-north-1",
    "ap-southeast-5",
];

/// The environment variable that overrides a region's endpoint, as in the official SDKs:
/// `HUAWEICLOUD_SDK_REGION_HSS_CN_NORTH_4` for `cn-north-4`. A comma-separated list is allowed;
/// the first entry is used.
pub fn override_variable(region: &str) -> String {
    format!(
        "HUAWEICLOUD_SDK_REGION_HSS_{}",
        region.replace('-', "_").to_ascii_uppercase()
    )
}

/// The endpoint for `region`: the environment override if set, else the built-in one.
/// `None` for a region HSS does not list.
pub fn endpoint(region: &str) -> Option<String> {
    endpoint_with(region, |name| std::env::var(name).ok())
}

pub(crate) fn endpoint_with(region: &str, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    if let Some(value) = env(&override_variable(region))
        && let Some(first) = value.split(',').map(str::trim).find(|e| !e.is_empty())
    {
        return Some(first.to_owned());
    }
    builtin_endpoint(region)
}

/// The listed region `name` means, ignoring ASCII case: `CN-North-4` is `cn-north-4`.
pub fn known(name: &str) -> Option<&'static str> {
    let name = name.trim();
    REGIONS
        .iter()
        .copied()
        .find(|region| region.eq_ignore_ascii_case(name))
}

/// The listed region closest to a name that is not one (at most two edits away), for a
/// "did you mean" hint.
pub fn suggestion(name: &str) -> Option<&'static str> {
    let name = name.trim().to_ascii_lowercase();
    REGIONS
        .iter()
        .copied()
        .map(|region| (edit_distance(&name, region), region))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, region)| region)
}

/// Levenshtein distance over bytes (region names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, &x) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, &y) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(x != y);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// The endpoint compiled in for `region`, ignoring the environment.
pub fn builtin_endpoint(region: &str) -> Option<String> {
    if !REGIONS.contains(&region) {
        return None;
    }
    let domain = if region == "eu-west-101" {
        "myhuaweicloud.eu"
    } else {
        "myhuaweicloud.com"
    };
    Some(format!("https://hss.{region}.{domain}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_ignoring_case_and_near_misses_are_suggested() {
        assert_eq!(known("CN-North-4"), Some("cn-north-4"));
        assert_eq!(known(" ap-southeast-1 "), Some("ap-southeast-1"));
        assert_eq!(known("cn-north-44"), None);
        assert_eq!(suggestion("cn-nrth-4"), Some("cn-north-4"));
        assert_eq!(suggestion("cn-north4"), Some("cn-north-4"));
        assert_eq!(suggestion("eu-west-10"), Some("eu-west-101"));
        assert_eq!(suggestion("mars-central-1"), None);
    }

    #[test]
    fn builtin_endpoints() {
        assert_eq!(REGIONS.len(), 32);
        assert_eq!(
            builtin_endpoint("cn-north-4").as_deref(),
            Some("https://hss.cn-north-4.myhuaweicloud.com")
        );
        assert_eq!(
            builtin_endpoint("eu-west-101").as_deref(),
            Some("https://hss.eu-west-101.myhuaweicloud.eu")
        );
        assert_eq!(builtin_endpoint("xx-nowhere-1"), None);
    }

    #[test]
    fn environment_overrides_and_takes_first_of_list() {
        assert_eq!(
            override_variable("cn-north-4"),
            "HUAWEICLOUD_SDK_REGION_HSS_CN_NORTH_4"
        );
        let env = |name: &str| {
            (name == "HUAWEICLOUD_SDK_REGION_HSS_CN_NORTH_4")
                .then(|| "https://a.example:8443, https://b.example".to_owned())
        };
        assert_eq!(
            endpoint_with("cn-north-4", env).as_deref(),
            Some("https://a.example:8443")
        );
        assert_eq!(
            endpoint_with("cn-east-3", env).as_deref(),
            Some("https://hss.cn-east-3.myhuaweicloud.com")
        );
        // An override may even name a region the SDK does not list, as the SDKs allow.
        let custom = |_: &str| Some("http://127.0.0.1:9".to_owned());
        assert_eq!(
            endpoint_with("xx-test-1", custom).as_deref(),
            Some("http://127.0.0.1:9")
        );
    }
}
