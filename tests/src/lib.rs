//! Helpers for the end-to-end tests: run the lab's commands as `cargo xtask` does (its
//! `tasks` binary, which the front door becomes), against
//! a lab that each test owns (its own lab folder and loopback range), and take that lab
//! down again — dumping its state and logs first when the test failed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The lab's workspace.
pub fn workspace_root() -> PathBuf {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests.parent().unwrap_or(tests).to_path_buf()
}

/// `target/debug`, found from this test binary's own location (`target/debug/deps/…`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps")
        .to_path_buf();
    for binary in ["tasks", "lab", "egeria-standin"] {
        assert!(
            dir.join(binary).is_file(),
            "{} is missing: build the binaries first (`cargo build --workspace --bins`; \
             the README's test command does this)",
            dir.join(binary).display()
        );
    }
    dir
}

/// An HTTPS client for the lab's own endpoints, which present self-signed certificates.
pub fn lab_endpoint_client() -> reqwest::Client {
    reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .no_proxy()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("a static client configuration")
}

/// What a command printed, and whether it succeeded.
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(output: Output) -> Self {
        Self {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.success,
            "command failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts failure and that the error output mentions `needle`.
    #[track_caller]
    pub fn assert_fails_with(&self, needle: &str) -> &Self {
        assert!(
            !self.success,
            "command succeeded but should have failed\nstdout:\n{}",
            self.stdout
        );
        assert!(
            self.stderr.contains(needle),
            "error output lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }
}

/// A lab folder owned by one test; dropping it takes down whatever it started.
pub struct TestLab {
    pub dir: tempfile::TempDir,
    pub net: String,
    bins: PathBuf,
}

impl TestLab {
    /// `net` is the loopback /16 (`127.N`) this test's pods live in: one per test, so
    /// tests can run side by side.
    pub fn new(net: &str) -> Self {
        Self {
            dir: tempfile::tempdir().expect("temporary lab folder"),
            net: net.to_string(),
            bins: bin_dir(),
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.bins.join("tasks"));
        command
            .args(args)
            .env("EGERIA_HA_LAB_DIR", self.dir.path())
            .env("EGERIA_HA_LAB_BIN_DIR", &self.bins);
        command
    }

    pub fn xtask(&self, args: &[&str]) -> Run {
        Run::from_output(
            self.command(args)
                .output()
                .expect("running the tasks binary"),
        )
    }

    /// `cargo xtask …` exactly as typed in the workspace, through its front door, on this
    /// test's lab folder. The front door is built into a target folder of its own, even
    /// under a `CARGO_TARGET_DIR`, so as not to wait for the build lock `cargo test` holds
    /// meanwhile; the commands it hands on run the prebuilt `tasks` binary.
    pub fn cargo_xtask(&self, args: &[&str]) -> Run {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let root = workspace_root();
        let output = Command::new(cargo)
            .current_dir(&root)
            .arg("xtask")
            .args(args)
            .env("CARGO_TARGET_DIR", root.join("xtask/target"))
            .env("EGERIA_HA_LAB_DIR", self.dir.path())
            .env("EGERIA_HA_LAB_BIN_DIR", &self.bins)
            .output()
            .expect("running cargo xtask");
        Run::from_output(output)
    }

    /// The built `lab` binary, as the README types it, on this test's lab folder.
    pub fn lab_binary(&self, args: &[&str]) -> Run {
        let output = self
            .lab_binary_command(args)
            .output()
            .expect("running the lab binary");
        Run::from_output(output)
    }

    /// The built `lab` binary on this test's lab folder, to run with more settings.
    pub fn lab_binary_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.bins.join("lab"));
        command.args(args).env("EGERIA_HA_LAB_DIR", self.dir.path());
        command
    }

    /// `lab-up` in this test's loopback range, with the given extra flags.
    pub fn up(&self, extra: &[&str]) -> Run {
        self.on_local("lab-up", extra)
    }

    /// `lab-run` in this test's loopback range, with the given extra flags.
    pub fn lab_run(&self, extra: &[&str]) -> Run {
        self.on_local("lab-run", extra)
    }

    fn on_local(&self, command: &str, extra: &[&str]) -> Run {
        let mut args = vec![command, "--substrate", "local", "--loopback-net", &self.net];
        args.extend_from_slice(extra);
        self.xtask(&args)
    }

    /// The control plane of this test's (local) lab, and its recorded process id.
    pub fn local_substrate(&self) -> (lab::substrate::local::LocalSubstrate, u32) {
        let state = self.state().expect("a lab is up");
        let local = state.local().expect("a local lab").clone();
        (
            lab::substrate::local::LocalSubstrate::new(local.api_address, state.endpoints.clone()),
            local.control_plane_pid,
        )
    }

    pub fn state(&self) -> Option<lab::state::LabState> {
        lab::state::LabDir::new(self.dir.path())
            .load_state()
            .expect("readable state")
    }

    pub fn latest_run(&self) -> PathBuf {
        self.dir.path().join("runs/latest")
    }

    fn dump(&self) {
        let status = self.xtask(&["status"]);
        eprintln!(
            "--- lab status at failure\n{}{}",
            status.stdout, status.stderr
        );
        let logs = self.latest_run().join("logs");
        let Ok(entries) = std::fs::read_dir(&logs) else {
            return;
        };
        for entry in entries.flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            // A failure's cause is often far from a log's end.
            let errors: Vec<&str> = text
                .lines()
                .filter(|line| line.contains("ERROR") || line.contains("Exception"))
                .collect();
            if !errors.is_empty() {
                eprintln!("--- {} (last error lines)", entry.path().display());
                for line in &errors[errors.len().saturating_sub(20)..] {
                    eprintln!("{line}");
                }
            }
            let tail: Vec<&str> = text.lines().rev().take(20).collect();
            eprintln!("--- {} (last lines)", entry.path().display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

impl Drop for TestLab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump();
        }
        let down = self.xtask(&["lab-down"]);
        if !down.success {
            eprintln!("lab-down failed while cleaning up: {}", down.stderr);
        }
    }
}

/// Whether a process with this pid exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    lab::substrate::local::is_alive_with(pid, |_| true)
}

/// A page as headless Chromium loaded it: the document after load, its text, and what
/// the browser's console said.
pub struct RenderedPage {
    pub dom: String,
    /// The document's text, tags dropped and spaces collapsed.
    pub text: String,
    /// Console messages (script errors among them); a page with no script has none.
    pub console: Vec<String>,
}

/// Opens `page` in headless Chromium (installed by `.ci/run`) and keeps a screenshot of
/// it at `screenshot`.
pub fn render_in_chromium(page: &Path, screenshot: &Path) -> RenderedPage {
    let url = format!("file://{}", page.display());
    let chromium = |args: &[&str]| {
        Command::new("chromium")
            // No sandbox: CI runs as root, which Chromium's sandbox refuses.
            .args(["--headless", "--no-sandbox", "--disable-gpu"])
            .args(args)
            .arg(&url)
            .output()
            .unwrap_or_else(|e| {
                panic!("running chromium ({e}); install it: apt-get install -y chromium")
            })
    };
    let loaded = chromium(&["--enable-logging=stderr", "--v=0", "--dump-dom"]);
    assert!(loaded.status.success(), "chromium failed on {url}");
    let shot = format!("--screenshot={}", screenshot.display());
    assert!(
        chromium(&[&shot, "--window-size=1280,2400"])
            .status
            .success()
    );
    let dom = String::from_utf8_lossy(&loaded.stdout).into_owned();
    let console = String::from_utf8_lossy(&loaded.stderr)
        .lines()
        .filter(|line| line.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    let mut text = String::new();
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    RenderedPage { dom, text, console }
}
