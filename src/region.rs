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

/// Whether `name` is written like a region name (`cn-north-4`, in any case): ASCII letters,
/// digits and hyphens (no white space), beginning with a letter and ending with a letter or
/// digit, at most 64 characters. Only such a name has an override variable; a URL, a list or an empty string is
/// not a region.
pub fn is_well_formed(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// What is wrong with `name` as a region that has no endpoint, and what to do: the near
/// miss, or for a well-formed name the override variable, or else what a region looks like.
/// A malformed name is not echoed (it may be a URL with a password in it).
pub(crate) fn unknown_region_problem(name: &str) -> String {
    if let Some(near) = suggestion(name) {
        return format!("unknown HSS region {name:?}: did you mean {near}?");
    }
    if is_well_formed(name) {
        return format!(
            "unknown HSS region {name:?} (`hss-image-sync regions` lists the known ones): pass \
             the endpoint explicitly (builder .endpoint(\"https://...\"), CLI --endpoint) or set {}",
            override_variable(name)
        );
    }
    let what = if name.trim().is_empty() {
        "is empty"
    } else if name.contains("://") {
        "is a URL, not a region name (give an endpoint URL with the builder's .endpoint(..) or \
         the CLI's --endpoint)"
    } else if name.contains(',') {
        "is a list: give one region"
    } else {
        "is not a region name"
    };
    format!(
        "the region {what}; a region is a name such as cn-north-4 (letters, digits and hyphens; \
         `hss-image-sync regions` lists the known ones)"
    )
}

/// The endpoint for `region`: the environment override if set, else the built-in one.
/// `None` for a region HSS does not list, and for a name that is not written like a region
/// (see [`is_well_formed`]; no variable is read for it).
pub fn endpoint(region: &str) -> Option<String> {
    endpoint_with(region, |name| std::env::var(name).ok())
}

pub(crate) fn endpoint_with(region: &str, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    if !is_well_formed(region) {
        return None;
    }
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
    fn only_names_written_like_regions_have_an_override_variable() {
        for good in ["cn-north-4", "CN-North-4", "xx-test-1", "eu-west-101"] {
            assert!(is_well_formed(good), "{good}");
        }
        let asked = std::cell::RefCell::new(Vec::new());
        let env = |name: &str| {
            asked.borrow_mut().push(name.to_owned());
            Some("http://127.0.0.1:9".to_owned())
        };
        for bad in [
            "",
            "  ",
            "https://hss.cn-north-4.myhuaweicloud.com",
            "cn-north-4,cn-east-3",
            "cn-north-4 cn-east-3",
            "-cn-north-4",
            "cn-north-4-",
            "4-north",
            "cn_north_4",
            " cn-north-4",
            "cn-north-4\n",
        ] {
            assert!(!is_well_formed(bad), "{bad:?}");
            assert_eq!(endpoint_with(bad, env), None, "{bad:?}");
            let problem = unknown_region_problem(bad);
            assert!(
                !problem.contains("HUAWEICLOUD_SDK_REGION_HSS_"),
                "{problem}"
            );
            if suggestion(bad).is_some() {
                assert!(problem.contains("did you mean cn-north-4?"), "{problem}");
                continue;
            }
            assert!(problem.contains("such as cn-north-4"), "{problem}");
            assert!(problem.contains("hss-image-sync regions"), "{problem}");
        }
        assert!(asked.borrow().is_empty(), "{:?}", asked.borrow());
        assert!(unknown_region_problem("https://user:pw@x.example").contains("is a URL"));
        assert!(!unknown_region_problem("https://user:pw@x.example").contains("pw"));
        assert!(unknown_region_problem("a-b-1,c-d-2").contains("is a list"));
        assert!(unknown_region_problem("").contains("is empty"));
        // A well-formed unknown name keeps the override hint, a near miss the suggestion.
        assert!(
            unknown_region_problem("xx-nowhere-1")
                .contains("HUAWEICLOUD_SDK_REGION_HSS_XX_NOWHERE_1")
        );
        assert!(unknown_region_problem("cn-nrth-4").contains("did you mean cn-north-4?"));
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
