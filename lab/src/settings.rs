//! What a lab is made of: release name, replica count and the Egeria names it uses.

use serde::{Deserialize, Serialize};

/// More connector pods than this would only measure the machine, not the topology.
pub const MAX_REPLICAS: u16 = 32;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabSettings {
    /// Prefix of every pod and service name, as a Helm release name would be.
    pub release: String,
    /// Number of connector pods behind the load-balancing service.
    pub replicas: u16,
    /// Egeria user id for every REST call.
    pub user: String,
    /// Cohort that the connector and PTS servers join.
    pub cohort: String,
    /// Name of the server hosting the Crux connector on every connector pod.
    pub connector_server: String,
    /// Name of the Performance Test Suite server on the PTS pod.
    pub pts_server: String,
    /// Organisation name written into the common configuration.
    pub organization: String,
}

impl Default for LabSettings {
    fn default() -> Self {
        Self {
            release: "lab".into(),
            replicas: 3,
            user: "myuser".into(),
            cohort: "coco".into(),
            connector_server: "crux".into(),
            pts_server: "pts".into(),
            organization: "egeria-ha-lab".into(),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("--replicas must be at least 1 (a load-balancing service needs a pod behind it)")]
    NoReplicas,
    #[error("--replicas {0} is above the limit of {MAX_REPLICAS} connector pods")]
    TooManyReplicas(u16),
    #[error(
        "{field} {value:?} is not a valid name: use 1 to 30 lowercase letters, digits or '-', starting with a letter"
    )]
    BadName { field: &'static str, value: String },
}

impl LabSettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.replicas == 0 {
            return Err(SettingsError::NoReplicas);
        }
        if self.replicas > MAX_REPLICAS {
            return Err(SettingsError::TooManyReplicas(self.replicas));
        }
        for (field, value) in [
            ("release", &self.release),
            ("user", &self.user),
            ("cohort", &self.cohort),
            ("connector server", &self.connector_server),
            ("PTS server", &self.pts_server),
        ] {
            if !is_dns_label(value) {
                return Err(SettingsError::BadName {
                    field,
                    value: value.clone(),
                });
            }
        }
        Ok(())
    }

    pub fn connector_pod(&self, ordinal: u16) -> String {
        format!("{}-crux-{ordinal}", self.release)
    }

    pub fn golden_store_pod(&self, ordinal: u16) -> String {
        format!("{}-kafka-{ordinal}", self.release)
    }

    pub fn pts_pod(&self) -> String {
        format!("{}-pts", self.release)
    }
}

/// Names end up in URLs, DNS names and file names, so they stay within a DNS label.
fn is_dns_label(value: &str) -> bool {
    let bytes = value.as_bytes();
    (1..=30).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && !value.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_bounds_are_enforced() {
        let mut settings = LabSettings {
            replicas: 0,
            ..Default::default()
        };
        assert_eq!(settings.validate(), Err(SettingsError::NoReplicas));
        settings.replicas = MAX_REPLICAS + 1;
        assert_eq!(
            settings.validate(),
            Err(SettingsError::TooManyReplicas(MAX_REPLICAS + 1))
        );
        settings.replicas = MAX_REPLICAS;
        assert_eq!(settings.validate(), Ok(()));
    }

    #[test]
    fn names_that_would_break_urls_are_refused() {
        for bad in ["", "Lab", "1lab", "lab/x", "lab-", "a b"] {
            let settings = LabSettings {
                release: bad.into(),
                ..Default::default()
            };
            assert!(settings.validate().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn pod_names_follow_the_release() {
        let settings = LabSettings::default();
        assert_eq!(settings.connector_pod(2), "lab-crux-2");
        assert_eq!(settings.golden_store_pod(0), "lab-kafka-0");
        assert_eq!(settings.pts_pod(), "lab-pts");
    }
}
