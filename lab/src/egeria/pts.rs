//! Facts of the Performance Test Suite (PTS) that the lab and the stand-in share: its
//! profiles (ids and names as real PTS reports them), the workbench and its configuration.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const SERVER_TYPE: &str = "PerformanceTestSuite";
pub const WORKBENCH_ID: &str = "performance-workbench";

/// Every profile real PTS reports, with its id.
pub const PROFILES: &[(u32, &str)] = &[
    (1, "Entity creation"),
    (2, "Entity search"),
    (3, "Relationship creation"),
    (4, "Relationship search"),
    (5, "Entity classification"),
    (6, "Classification search"),
    (7, "Entity update"),
    (8, "Relationship update"),
    (9, "Classification update"),
    (10, "Entity undo"),
    (11, "Relationship undo"),
    (12, "Entity retrieval"),
    (13, "Entity history retrieval"),
    (14, "Relationship retrieval"),
    (15, "Relationship history retrieval"),
    (16, "Entity history search"),
    (17, "Relationship history search"),
    (18, "Graph queries"),
    (19, "Graph history queries"),
    (20, "Entity re-home"),
    (21, "Relationship re-home"),
    (22, "Entity declassify"),
    (23, "Entity retype"),
    (24, "Relationship retype"),
    (25, "Entity re-identify"),
    (26, "Relationship re-identify"),
    (27, "Relationship delete"),
    (28, "Entity delete"),
    (29, "Entity restore"),
    (30, "Relationship restore"),
    (31, "Relationship purge"),
    (32, "Entity purge"),
    (999, "Environment"),
];

/// The profile holding the run's environment (discovered properties, no timings).
pub const ENVIRONMENT_PROFILE: &str = "Environment";

/// `--skip-profile` takes real profile names only; the error lists them.
pub fn check_profile_names(names: &[String]) -> Result<(), String> {
    let unknown: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|name| !PROFILES.iter().any(|(_, known)| known == name))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let valid: Vec<&str> = PROFILES.iter().map(|(_, name)| *name).collect();
    Err(format!(
        "unknown PTS profile {}; valid names: {}",
        unknown
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", "),
        valid.join(", ")
    ))
}

/// `RepositoryPerformanceWorkbenchConfig`, as the admin services take it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkbenchConfig {
    pub tut_repository_server_name: String,
    pub instances_per_type: u32,
    pub max_search_results: u32,
    /// Seconds.
    pub wait_between_scenarios: u32,
    #[serde(default)]
    pub profiles_to_skip: Vec<String>,
}

impl WorkbenchConfig {
    pub fn to_request(&self) -> Value {
        let mut body = serde_json::to_value(self).expect("plain struct");
        body["class"] = json!("RepositoryPerformanceWorkbenchConfig");
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_profiles_are_named_with_the_valid_ones() {
        let error =
            check_profile_names(&["Entity creation".into(), "Entity teleport".into()]).unwrap_err();
        assert!(error.contains("\"Entity teleport\""), "{error}");
        assert!(error.contains("Graph queries"), "{error}");
        assert!(check_profile_names(&["Entity purge".into()]).is_ok());
    }

    #[test]
    fn workbench_config_uses_egeria_field_names() {
        let config = WorkbenchConfig {
            tut_repository_server_name: "crux".into(),
            instances_per_type: 2,
            max_search_results: 2,
            wait_between_scenarios: 0,
            profiles_to_skip: vec![],
        };
        let body = config.to_request();
        assert_eq!(body["class"], "RepositoryPerformanceWorkbenchConfig");
        assert_eq!(body["tutRepositoryServerName"], "crux");
        assert_eq!(body["instancesPerType"], 2);
        assert_eq!(PROFILES.len(), 33);
    }
}
