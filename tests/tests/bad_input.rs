//! Bad input gets a clear message, a non-zero exit, and leaves nothing running.

use e2e::{Run, TestLab};

#[test]
fn replica_counts_out_of_range_are_refused() {
    let lab = TestLab::new("127.91");
    lab.up(&["--replicas", "0"])
        .assert_fails_with("--replicas must be at least 1");
    lab.up(&["--replicas", "33"])
        .assert_fails_with("above the limit of 32");
    assert!(lab.state().is_none());
}

#[test]
fn unknown_substrate_is_refused() {
    let lab = TestLab::new("127.91");
    lab.xtask(&["lab-up", "--substrate", "moon"])
        .assert_fails_with("invalid value 'moon'");
    assert!(lab.state().is_none());
}

#[test]
fn bootstrap_without_a_lab_says_to_start_one() {
    let lab = TestLab::new("127.91");
    lab.xtask(&["bootstrap"]).assert_fails_with("no lab is up");
    lab.xtask(&["status"])
        .assert_fails_with("cargo xtask lab-up");
}

#[test]
fn lab_down_without_a_lab_succeeds() {
    let lab = TestLab::new("127.91");
    let run = lab.xtask(&["lab-down"]);
    run.assert_ok();
    assert!(run.stdout.contains("nothing was running"));
}

#[test]
fn missing_java_prints_the_install_command_and_starts_nothing() {
    let lab = TestLab::new("127.92");
    let run = lab
        .command(&["lab-up", "--substrate", "local", "--loopback-net", "127.92"])
        .env("EGERIA_HA_LAB_JAVA", "/nonexistent/java")
        .output()
        .unwrap();
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("missing prerequisite java: not found")
            && stderr.contains("apt-get install -y openjdk-17-jre-headless"),
        "{stderr}"
    );
    assert!(lab.state().is_none());
}

#[test]
fn a_java_older_than_17_is_refused_with_its_version() {
    let lab = TestLab::new("127.92");
    let folder = tempfile::tempdir().unwrap();
    let old_java = folder.path().join("java");
    std::fs::write(
        &old_java,
        "#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &old_java,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let run = lab
        .command(&["doctor", "--substrate", "local"])
        .env("EGERIA_HA_LAB_JAVA", &old_java)
        .output()
        .unwrap();
    assert!(!run.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(said.contains("11.0.2"), "{said}");
    assert!(said.contains("openjdk-17-jre-headless"), "{said}");
}

#[test]
fn an_address_in_use_is_named_and_nothing_starts() {
    let lab = TestLab::new("127.93");
    let _squatter = std::net::TcpListener::bind("127.93.0.2:9443").unwrap();
    lab.up(&[])
        .assert_fails_with("127.93.0.2:9443 (for connector service) is already in use");
    assert!(lab.state().is_none());
}

#[test]
fn platforms_that_never_answer_fail_lab_up_and_leave_nothing_running() {
    let lab = TestLab::new("127.94");
    let run = lab.up(&[
        "--replicas",
        "1",
        "--platform-delay",
        "1h",
        "--ready-timeout",
        "3s",
    ]);
    // The brokers may still be starting too; the stand-ins never answer.
    run.assert_fails_with("lab-pts, lab-crux-0");
    // The control plane and every pod it started are gone.
    assert!(lab.state().is_none());
    let spec = std::fs::read_to_string(lab.latest_run().join("control-plane.json")).unwrap();
    assert!(spec.contains("lab-crux-0"));
    // The stand-ins listen in the lab's range; the control plane's and the brokers'
    // command lines name the lab's folder.
    for pattern in [
        "--listen 127.94.".to_string(),
        lab.dir.path().display().to_string(),
    ] {
        let pids = std::process::Command::new("pgrep")
            .args(["-f", &pattern])
            .output()
            .unwrap();
        assert!(
            pids.stdout.is_empty(),
            "processes still running: {}",
            String::from_utf8_lossy(&pids.stdout)
        );
    }
}

#[test]
fn real_egeria_on_a_java_runtime_without_a_compiler_names_the_jdk_and_starts_nothing() {
    let lab = TestLab::new("127.86");
    let run = up_with_fake_java_and(&lab, "exit 1", &["--egeria", "real"]);
    run.assert_fails_with("missing prerequisite javac");
    run.assert_fails_with("a JRE, not a JDK");
    run.assert_fails_with("apt-get install -y openjdk-17-jdk-headless");
    assert!(lab.state().is_none());
    assert!(!lab.dir.path().join("runs").exists(), "nothing was started");
}

/// `lab-up` in `lab`'s range with a `java` that reports version 17 and then does what
/// `script` says with its arguments.
fn up_with_fake_java(lab: &TestLab, script: &str) -> Run {
    up_with_fake_java_and(lab, script, &[])
}

fn up_with_fake_java_and(lab: &TestLab, script: &str, extra: &[&str]) -> Run {
    let folder = tempfile::tempdir().unwrap();
    let java = folder.path().join("java");
    std::fs::write(
        &java,
        format!(
            "#!/bin/sh\ncase \"$*\" in *-version*) echo 'openjdk version \"17.0.99\"' >&2; exit 0;; esac\n{script}\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&java, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    Run::from_output(
        lab.command(&["lab-up", "--substrate", "local", "--loopback-net", &lab.net])
            .args(extra)
            .env("EGERIA_HA_LAB_JAVA", &java)
            .output()
            .unwrap(),
    )
}

#[test]
fn a_broker_that_exits_at_start_is_named_with_its_log_and_nothing_is_left_running() {
    let lab = TestLab::new("127.86");
    let run = up_with_fake_java(
        &lab,
        "case \"$*\" in *StorageTool*) exit 0;; esac\necho 'ERROR Exiting Kafka due to fatal exception' >&2\nexit 1",
    );
    run.assert_fails_with("exited during start-up (exit code 1); nothing is left running");
    // The log named is the broker's, and it holds the broker's own last words.
    let log = run
        .stderr
        .split("its log: ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .expect("a log path");
    assert!(log.contains("/logs/lab-kafka-"), "{log}");
    let said = std::fs::read_to_string(log).unwrap();
    assert!(
        said.contains("Exiting Kafka due to fatal exception"),
        "{said}"
    );
    assert!(lab.state().is_none());
    let pids = std::process::Command::new("pgrep")
        .args(["-f", &lab.dir.path().display().to_string()])
        .output()
        .unwrap();
    assert!(
        pids.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&pids.stdout)
    );
}

#[test]
fn a_log_folder_that_cannot_be_formatted_names_the_broker_and_starts_nothing() {
    let lab = TestLab::new("127.87");
    let run = up_with_fake_java(
        &lab,
        "echo 'Error while writing meta.properties file' >&2\nexit 1",
    );
    run.assert_fails_with("broker lab-kafka-");
    run.assert_fails_with("formatting its log folder");
    // The brokers are formatted at once: the one named is the first to fail, whichever
    // it is, and the log named with it holds the reason.
    let named_log = run
        .stderr
        .split("its log: ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap_or_else(|| panic!("no log named:\n{}", run.stderr));
    assert!(named_log.contains("logs/lab-kafka-"), "{named_log}");
    let log = std::fs::read_to_string(named_log.trim()).unwrap();
    assert!(log.contains("Error while writing meta.properties"), "{log}");
    assert!(lab.state().is_none());
}

#[test]
fn a_connector_that_is_not_one_is_refused_naming_the_file_before_anything_starts() {
    let lab = TestLab::new("127.84");
    let folder = tempfile::tempdir().unwrap();
    lab.up(&["--connector", folder.path().to_str().unwrap()])
        .assert_fails_with(&format!(
            "--connector {}: the folder holds no jar",
            folder.path().display()
        ));
    let not_a_jar = folder.path().join("connector.jar");
    std::fs::write(&not_a_jar, "text, not a zip").unwrap();
    lab.up(&["--connector", not_a_jar.to_str().unwrap()])
        .assert_fails_with("is not a readable jar");
    lab.up(&[
        "--egeria",
        "stand-in",
        "--connector",
        not_a_jar.to_str().unwrap(),
    ])
    .assert_fails_with("--connector and --xtdb-version run on real Egeria");
    lab.xtask(&["lab-up", "--substrate", "kind", "--connector", "x.jar"])
        .assert_fails_with("--connector is for --substrate local");
    assert!(lab.state().is_none());
    assert!(!lab.dir.path().join("runs").exists(), "nothing was started");
}

#[test]
fn traffic_on_a_lab_that_does_not_serve_is_refused_at_once_with_what_to_run() {
    let lab = TestLab::new("127.80");
    lab.up(&["--replicas", "1", "--egeria", "stand-in"])
        .assert_ok();
    lab.xtask(&["pts"])
        .assert_fails_with("run `cargo xtask bootstrap` first");
    lab.xtask(&["outage", "--scenario", "kafka-leader", "--during-pts"])
        .assert_fails_with("no connector pod of lab lab is in the rotation");
}
