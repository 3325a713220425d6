//! Admin-services and platform-services calls (ARCHITECTURE.md §2 steps 1–6).

use super::{Call, EgeriaError, Platform};
use serde_json::{Value, json};
use std::time::Duration;

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The admin services of one server on one platform.
pub struct Admin<'a> {
    platform: &'a Platform,
    server: &'a str,
}

impl Platform {
    pub fn admin<'a>(&'a self, server: &'a str) -> Admin<'a> {
        Admin {
            platform: self,
            server,
        }
    }

    /// What the platform says it is: real Egeria names itself and its version
    /// (`Egeria OMAG Server Platform (version 3.10)`); the stand-in names itself as one.
    pub async fn origin(&self) -> Result<String, EgeriaError> {
        let path = format!(
            "/open-metadata/platform-services/users/{}/server-platform/origin",
            encode(self.user())
        );
        self.call_text(Call::get("read the platform's origin", path))
            .await
    }

    /// Names of the servers running on this platform.
    pub async fn active_servers(&self) -> Result<Vec<String>, EgeriaError> {
        let path = format!(
            "/open-metadata/platform-services/users/{}/server-platform/servers/active",
            encode(self.user())
        );
        let servers: Option<Vec<String>> = self
            .call_for(Call::get("list active servers", path), "serverList")
            .await?;
        Ok(servers.unwrap_or_default())
    }
}

impl Admin<'_> {
    fn path(&self, rest: &str) -> String {
        format!(
            "/open-metadata/admin-services/users/{}/servers/{}/{rest}",
            encode(self.platform.user()),
            encode(self.server)
        )
    }

    async fn post(&self, step: &str, rest: &str, body: Option<&Value>) -> Result<(), EgeriaError> {
        self.platform
            .call(Call::post(step, self.path(rest), body))
            .await
            .map(drop)
    }

    /// The server's configuration document (`omagserverConfig`). A platform answering
    /// this call is up, whether or not the server is configured.
    pub async fn configuration(&self) -> Result<Value, EgeriaError> {
        let document: serde_json::Map<String, Value> = self
            .platform
            .call_for(
                Call::get("read configuration", self.path("configuration")),
                "omagserverConfig",
            )
            .await?;
        Ok(Value::Object(document))
    }

    /// The whole `OMAGServerConfigResponse`, as upstream saves it.
    pub async fn configuration_response(&self) -> Result<Value, EgeriaError> {
        self.platform
            .call(Call::get("read configuration", self.path("configuration")))
            .await
    }

    pub async fn set_server_url_root(&self, url: &str) -> Result<(), EgeriaError> {
        let rest = format!("server-url-root?url={}", encode(url));
        self.post("set server URL root", &rest, None).await
    }

    pub async fn set_server_type(&self, type_name: &str) -> Result<(), EgeriaError> {
        let rest = format!("server-type?typeName={}", encode(type_name));
        self.post("set server type", &rest, None).await
    }

    pub async fn set_organization(&self, name: &str) -> Result<(), EgeriaError> {
        let rest = format!("organization-name?name={}", encode(name));
        self.post("set organization name", &rest, None).await
    }

    pub async fn set_event_bus(
        &self,
        topic_root: &str,
        bootstrap: &str,
    ) -> Result<(), EgeriaError> {
        let body = json!({
            "producer": { "bootstrap.servers": bootstrap },
            "consumer": { "bootstrap.servers": bootstrap },
        });
        let rest = format!("event-bus?topicURLRoot={}", encode(topic_root));
        self.post("set event bus", &rest, Some(&body)).await
    }

    pub async fn set_plugin_repository(&self, connection: &Value) -> Result<(), EgeriaError> {
        self.post(
            "set plugin repository connection",
            "local-repository/mode/plugin-repository/connection",
            Some(connection),
        )
        .await
    }

    /// Egeria's own in-memory repository: each server keeps its metadata to itself.
    pub async fn set_in_memory_repository(&self) -> Result<(), EgeriaError> {
        self.post(
            "set in-memory local repository",
            "local-repository/mode/in-memory-repository",
            None,
        )
        .await
    }

    pub async fn join_cohort(&self, cohort: &str) -> Result<(), EgeriaError> {
        self.post("join cohort", &format!("cohorts/{}", encode(cohort)), None)
            .await
    }

    pub async fn deploy_configuration(&self, document: &Value) -> Result<(), EgeriaError> {
        self.post("deploy configuration", "configuration", Some(document))
            .await
    }

    pub async fn set_performance_workbench(&self, config: &Value) -> Result<(), EgeriaError> {
        self.post(
            "configure the performance workbench",
            "conformance-suite-workbenches/repository-workbench/performance",
            Some(config),
        )
        .await
    }

    pub async fn stop_instance(&self) -> Result<(), EgeriaError> {
        self.platform
            .call(Call::delete("stop server", self.path("instance")))
            .await
            .map(drop)
    }

    /// Starts the server; on real Egeria this can take minutes, hence its own deadline.
    pub async fn start_instance(&self, deadline: Duration) -> Result<String, EgeriaError> {
        let message: Option<String> = self
            .platform
            .call_for(
                Call::post("start server", self.path("instance"), None).with_timeout(deadline),
                "successMessage",
            )
            .await?;
        Ok(message.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_url_encoded() {
        assert_eq!(
            encode("https://a:9443/x?y=1"),
            "https%3A%2F%2Fa%3A9443%2Fx%3Fy%3D1"
        );
        assert_eq!(encode("Entity creation"), "Entity+creation");
    }
}
