//! Conformance-suite calls on a PTS server (ARCHITECTURE.md §2 steps 7–8), and the
//! repository-services calls that record the environment (step 9).

use super::{Call, EgeriaError, Platform, encode_path_segment};
use serde_json::Value;

impl Platform {
    fn conformance_path(&self, server: &str, rest: &str) -> String {
        format!(
            "/servers/{}/open-metadata/conformance-suite/users/{}/{rest}",
            encode_path_segment(server),
            encode_path_segment(self.user())
        )
    }

    fn repository_path(&self, server: &str, rest: &str) -> String {
        format!(
            "/servers/{}/open-metadata/repository-services/users/{}/{rest}",
            encode_path_segment(server),
            encode_path_segment(self.user())
        )
    }

    /// `workbenchStatus.workbenchComplete` of one workbench.
    pub async fn workbench_complete(
        &self,
        server: &str,
        workbench: &str,
    ) -> Result<bool, EgeriaError> {
        let path = self.conformance_path(
            server,
            &format!("status/workbenches/{}", encode_path_segment(workbench)),
        );
        let status: Value = self
            .call_for(Call::get("read workbench status", path), "workbenchStatus")
            .await?;
        Ok(status["workbenchComplete"].as_bool().unwrap_or(false))
    }

    /// A report endpoint's whole envelope (as upstream saves it), checked.
    pub async fn conformance_report(
        &self,
        server: &str,
        step: &str,
        rest: &str,
    ) -> Result<Value, EgeriaError> {
        self.call(Call::get(step, self.conformance_path(server, rest)))
            .await
    }

    pub async fn profile_names(&self, server: &str) -> Result<Vec<String>, EgeriaError> {
        let names: Option<Vec<String>> = self
            .call_for(
                Call::get(
                    "list profiles",
                    self.conformance_path(server, "report/profiles"),
                ),
                "profileNames",
            )
            .await?;
        Ok(names.unwrap_or_default())
    }

    pub async fn profile_report(&self, server: &str, profile: &str) -> Result<Value, EgeriaError> {
        let rest = format!("report/profiles/{}", encode_path_segment(profile));
        self.conformance_report(server, "read profile report", &rest)
            .await
    }

    pub async fn test_case_ids(&self, server: &str) -> Result<Vec<String>, EgeriaError> {
        let ids: Option<Vec<String>> = self
            .call_for(
                Call::get(
                    "list test cases",
                    self.conformance_path(server, "report/test-cases"),
                ),
                "testCaseIds",
            )
            .await?;
        Ok(ids.unwrap_or_default())
    }

    /// A test case's report; one that never ran is the envelope alone.
    pub async fn test_case_report(&self, server: &str, id: &str) -> Result<Value, EgeriaError> {
        let rest = format!("report/test-cases/{}", encode_path_segment(id));
        self.conformance_report(server, "read test case report", &rest)
            .await
    }

    /// `metadata-highway/…` of a server: its own registration or its cohort's members.
    pub async fn metadata_highway(&self, server: &str, rest: &str) -> Result<Value, EgeriaError> {
        let path = self.repository_path(server, &format!("metadata-highway/{rest}"));
        self.call(Call::get("read cohort registration", path)).await
    }
}

#[cfg(test)]
mod tests {
    use crate::egeria::EgeriaClient;
    use serde_json::{Value, json};

    /// Answers every request with its own path, or with `body` for test-case reports.
    async fn echo_server(body: Value) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let body = body.clone();
            async move {
                if uri.path().contains("/report/test-cases/") {
                    axum::Json(body)
                } else {
                    axum::Json(json!({"class": "X", "relatedHTTPCode": 200, "path": uri.path()}))
                }
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn profile_names_with_spaces_are_encoded_in_the_path() {
        let base = echo_server(json!({})).await;
        let platform = EgeriaClient::new("myuser").platform("lab-pts", &base);
        let report = platform
            .profile_report("pts", "Entity creation")
            .await
            .unwrap();
        assert_eq!(
            report["path"],
            "/servers/pts/open-metadata/conformance-suite/users/myuser/report/profiles/Entity%20creation"
        );
    }

    #[tokio::test]
    async fn a_never_ran_test_case_is_an_envelope_alone_and_ids_are_encoded() {
        let base =
            echo_server(json!({"class": "TestCaseReportResponse", "relatedHTTPCode": 200})).await;
        let platform = EgeriaClient::new("myuser").platform("lab-pts", &base);
        let report = platform
            .test_case_report("pts", "case-<Glossary>")
            .await
            .unwrap();
        assert!(report.get("testCaseResult").is_none());
        assert_eq!(report["class"], "TestCaseReportResponse");
    }
}
