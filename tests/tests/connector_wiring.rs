//! `--connector PATH` followed from the command line to the platform's class loader, on
//! real Egeria, with a connector of the test's own (`tests/data/wiring-connector/`: the
//! XTDB provider's class name over Egeria's in-memory repository, announcing its start in
//! the XTDB connector's audit codes). The real connector cannot be fetched here (the
//! registry answers 404 for it), and no upstream code is built by the lab or its tests.

use e2e::TestLab;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Compiles the wiring connector against Egeria's cached jars into a jar of its own.
fn wiring_connector(dir: &Path) -> PathBuf {
    let java = lab::prereq::check_java();
    let java = java.path().expect("java (the lab's tests need a JDK)");
    let tool = |name: &str| {
        lab::prereq::jdk_tool(java, name).unwrap_or_else(|| panic!("no {name} beside {java:?}"))
    };
    let egeria_jars = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let cache = lab::artifacts::cache::Cache::from_env().unwrap();
        let lock = lab::artifacts::Lock::embedded().unwrap();
        cache
            .ensure(lab::artifacts::EGERIA, &lock.set(lab::artifacts::EGERIA))
            .await
            .unwrap()
    });
    let classpath = std::env::join_paths(&egeria_jars).unwrap();
    let source = e2e::workspace_root().join(
        "tests/data/wiring-connector/org/odpi/egeria/connectors/juxt/xtdb/repositoryconnector/XtdbOMRSRepositoryConnectorProvider.java",
    );
    let classes = dir.join("classes");
    let compiled = Command::new(tool("javac"))
        .arg("-cp")
        .arg(&classpath)
        .arg("-d")
        .arg(&classes)
        .arg(&source)
        .status()
        .unwrap();
    assert!(compiled.success(), "javac failed on {}", source.display());
    let jar = dir.join("wiring-connector.jar");
    let packed = Command::new(tool("jar"))
        .arg("cf")
        .arg(&jar)
        .arg("-C")
        .arg(&classes)
        .arg(".")
        .status()
        .unwrap();
    assert!(packed.success());
    jar
}

#[test]
fn a_connector_given_with_connector_is_what_every_platform_loads_and_starts() {
    let lab = TestLab::new("127.79");
    let build = tempfile::tempdir().unwrap();
    let jar = wiring_connector(build.path());
    let up = lab.up(&[
        "--egeria",
        "real",
        "--replicas",
        "1",
        "--connector",
        jar.to_str().unwrap(),
    ]);
    up.assert_ok();
    assert!(
        up.stdout
            .contains(&format!("(your build at {})", jar.display())),
        "{}",
        up.stdout
    );
    lab.xtask(&["bootstrap"]).assert_ok();

    // The configuration named the provider; the platform loaded it from the jar given, and
    // the lab read the node's start from the pod's own log.
    let bootstrap: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lab.latest_run().join("bootstrap.json")).unwrap())
            .unwrap();
    let pod = &bootstrap["pods"][0];
    assert_eq!(pod["ready"], true, "{bootstrap}");
    assert_eq!(pod["xtdb_version"], "none-wiring-test", "{bootstrap}");
    let log = std::fs::read_to_string(lab.latest_run().join("logs/lab-crux-0.log")).unwrap();
    assert!(
        log.contains(&format!("loaded from file:{}", jar.display())),
        "the provider came from elsewhere:\n{}",
        log.lines()
            .filter(|l| l.contains("OMRS-XTDB"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lab.dir.path().join("common-config.json")).unwrap())
            .unwrap();
    let provider = config
        .pointer("/repositoryServicesConfig/localRepositoryConfig/localRepositoryLocalConnection/embeddedConnections/0/embeddedConnection/connectorType/connectorProviderClassName")
        .or_else(|| config.pointer("/repositoryServicesConfig/localRepositoryConfig/localRepositoryLocalConnection/connectorType/connectorProviderClassName"));
    assert_eq!(
        provider.and_then(|p| p.as_str()),
        Some(
            "org.odpi.egeria.connectors.juxt.xtdb.repositoryconnector.XtdbOMRSRepositoryConnectorProvider"
        ),
        "{config:#}"
    );
    lab.xtask(&["status"]).assert_ok();
}
