//! `cargo xtask` as typed: its front door runs `report` itself and hands every other
//! command to the lab's `tasks` binary, arguments, output and exit status unchanged.

use e2e::{TestLab, workspace_root};

#[test]
fn cargo_xtask_report_gives_what_the_lab_binary_gives() {
    let lab = TestLab::new("127.91");
    let set = workspace_root().join("report/tests/data/pts-crux-2.11-trimmed");
    let by_front_door = lab.dir.path().join("by-front-door");
    let run = lab.cargo_xtask(&[
        "report",
        set.to_str().unwrap(),
        "--out",
        by_front_door.to_str().unwrap(),
    ]);
    run.assert_ok();
    assert!(run.stdout.contains("report written to"), "{}", run.stdout);
    let by_binary = lab.dir.path().join("by-lab-binary");
    lab.lab_binary(&[
        "report",
        set.to_str().unwrap(),
        "--out",
        by_binary.to_str().unwrap(),
    ])
    .assert_ok();
    let summary = |dir: &std::path::Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
    };
    let (front, binary) = (summary(&by_front_door), summary(&by_binary));
    assert!(!front["pairs"].as_array().unwrap().is_empty());
    assert_eq!(front["pairs"], binary["pairs"]);
    // Without a path: the latest run of the lab folder, named when there is none.
    lab.cargo_xtask(&["report"])
        .assert_fails_with("runs/latest/pts");
    lab.cargo_xtask(&["report", "--threshold=-1", set.to_str().unwrap()])
        .assert_fails_with("--threshold must be a percentage");
}

#[test]
fn other_commands_run_in_the_tasks_binary() {
    let lab = TestLab::new("127.91");
    let help = lab.cargo_xtask(&["--help"]);
    help.assert_ok();
    for command in ["lab-up", "lab-run", "report", "bench"] {
        assert!(help.stdout.contains(command), "{command}:\n{}", help.stdout);
    }
    assert!(
        help.stdout.contains("Usage: cargo xtask"),
        "{}",
        help.stdout
    );
    lab.cargo_xtask(&["status"])
        .assert_fails_with("no lab is up");
    lab.cargo_xtask(&["lab-up", "--substrate", "moon"])
        .assert_fails_with("invalid value 'moon'");
}

/// The `[profile.dev.package.*]` sections of a manifest: package, then its settings.
fn dev_package_profiles(manifest: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(workspace_root().join(manifest)).unwrap();
    let mut sections = std::collections::BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            current = line
                .strip_prefix("[profile.dev.package.")
                .and_then(|rest| rest.strip_suffix(']'))
                .map(str::to_owned);
        } else if let Some(package) = &current
            && !line.is_empty()
            && !line.starts_with('#')
        {
            sections
                .entry(package.clone())
                .or_insert_with(Vec::new)
                .push(line.to_owned());
        }
    }
    sections
}

#[test]
fn the_front_door_builds_the_report_as_the_lab_workspace_does() {
    let lab = dev_package_profiles("Cargo.toml");
    let front_door = dev_package_profiles("xtask/Cargo.toml");
    assert!(front_door.contains_key("pts-report"), "{front_door:?}");
    for (package, settings) in &front_door {
        assert_eq!(lab.get(package), Some(settings), "{package}");
    }
    // Every report crate the lab builds optimised, the front door does too.
    for package in lab.keys().filter(|package| *package != "sha2") {
        assert!(front_door.contains_key(package), "{package}");
    }
}

/// A copy of `set` whose every call took `factor` times as long.
fn slowed_copy(set: &std::path::Path, to: &std::path::Path, factor: u64) {
    let details = to.join("profile-details");
    std::fs::create_dir_all(&details).unwrap();
    for entry in std::fs::read_dir(set.join("profile-details")).unwrap() {
        let path = entry.unwrap().path();
        let mut profile: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        slow_down(&mut profile, factor);
        std::fs::write(details.join(path.file_name().unwrap()), profile.to_string()).unwrap();
    }
}

fn slow_down(value: &mut serde_json::Value, factor: u64) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                match inner.as_u64() {
                    Some(ms) if key == "elapsedTime" => *inner = (ms * factor).into(),
                    _ => slow_down(inner, factor),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| slow_down(v, factor)),
        _ => {}
    }
}

#[test]
fn a_regression_against_a_baseline_is_a_verdict_named_by_role_with_no_backtrace() {
    let lab = TestLab::new("127.91");
    let baseline = workspace_root().join("report/tests/data/pts-crux-2.11-trimmed");
    let slower = lab.dir.path().join("slower");
    slowed_copy(&baseline, &slower, 3);
    let out = lab.dir.path().join("judged");
    let args = [
        "report",
        slower.to_str().unwrap(),
        "--baseline",
        baseline.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--html",
    ];
    let by_front_door = lab.cargo_xtask(&args);
    let output = lab
        .lab_binary_command(&args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let by_binary = e2e::Run::from_output(output);
    for run in [&by_front_door, &by_binary] {
        run.assert_fails_with("slower in the run under judgement than in the baseline");
        assert!(
            run.stdout
                .contains(&format!("baseline:            {}", baseline.display())),
            "{}",
            run.stdout
        );
        assert!(
            run.stdout
                .contains(&format!("run under judgement: {}", slower.display())),
            "{}",
            run.stdout
        );
        assert!(!run.stderr.contains("stack backtrace"), "{}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(page.contains("<tr class=\"regressed\">"), "{page}");
    assert!(
        by_binary.stdout.contains(&format!(
            "page: file://{}",
            out.join("index.html").display()
        )),
        "{}",
        by_binary.stdout
    );
    // The older flag keeps working, roles swapped as it always meant, with a note.
    let old = lab.lab_binary(&[
        "report",
        baseline.to_str().unwrap(),
        "--compare",
        slower.to_str().unwrap(),
        "--out",
        lab.dir.path().join("old").to_str().unwrap(),
    ]);
    old.assert_fails_with("slower in the run under judgement");
    assert!(
        old.stdout
            .contains("note: --compare takes PATH as the baseline"),
        "{}",
        old.stdout
    );
    assert!(
        old.stdout
            .contains(&format!("run under judgement: {}", slower.display())),
        "{}",
        old.stdout
    );
}

#[test]
fn a_damaged_result_set_fails_the_page_as_it_fails_the_report() {
    let lab = TestLab::new("127.91");
    let damaged = lab.dir.path().join("damaged");
    std::fs::create_dir_all(damaged.join("profile-details")).unwrap();
    std::fs::write(
        damaged.join("profile-details/Entity_creation.json"),
        r#"{"profileResult": {"name": "Entity creation", "requirementResults": [{"positiveTestEvidence": [{"elapsedTime": 4"#,
    )
    .unwrap();
    let out = lab.dir.path().join("out");
    let path = damaged.to_str().unwrap();
    let plain = lab.lab_binary(&["report", path, "--out", out.to_str().unwrap()]);
    let with_page = lab.lab_binary(&["report", path, "--out", out.to_str().unwrap(), "--html"]);
    plain.assert_fails_with("Entity_creation.json");
    with_page.assert_fails_with("Entity_creation.json");
    assert_eq!(plain.stderr, with_page.stderr);
    assert!(!out.join("index.html").exists());
}
