//! The host's side of the kind substrate's runner: run a `lab` command in the runner pod
//! (kube-rs exec, output streamed as it comes), and fetch the runner's run folder back
//! into the host's run folder. The client is built from the lab's own kubeconfig only.

use crate::state::{KubeState, LabState};
use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{AttachParams, ListParams};
use std::path::Path;
use tokio::io::AsyncReadExt;

async fn runner_pod(kind: &KubeState, release: &str) -> anyhow::Result<(Api<Pod>, String)> {
    let client = crate::substrate::kube::client_for(kind)
        .await
        .with_context(|| format!("the lab's cluster (context {})", kind.context))?;
    let pods: Api<Pod> = Api::namespaced(client, &kind.namespace);
    let selector =
        format!("app.kubernetes.io/instance={release},app.kubernetes.io/component=runner");
    let list = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .with_context(|| format!("listing the runner pod ({selector}) in {}", kind.namespace))?;
    let running = list.items.into_iter().find(|pod| {
        pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            && pod.metadata.deletion_timestamp.is_none()
    });
    let Some(name) = running.and_then(|pod| pod.metadata.name) else {
        bail!(
            "no running runner pod ({selector}) in namespace {}; is the chart installed? (`cargo xtask status` needs `cargo xtask lab-up` first)",
            kind.namespace
        );
    };
    Ok((pods, name))
}

/// Runs `lab <args>` in the runner pod, streaming its output; fails when it fails.
pub async fn run_in_runner(state: &LabState, args: &[String]) -> anyhow::Result<()> {
    let kind = state.kube().context("not a lab on Kubernetes")?;
    let (pods, pod) = runner_pod(kind, &state.settings.release).await?;
    let command: Vec<String> = std::iter::once("lab".to_string())
        .chain(args.iter().cloned())
        .collect();
    let mut attached = pods
        .exec(
            &pod,
            command.clone(),
            &AttachParams::default()
                .stdin(false)
                .stdout(true)
                .stderr(true),
        )
        .await
        .with_context(|| format!("exec `{}` in pod {pod}", command.join(" ")))?;
    let mut stdout = attached.stdout().context("exec without stdout")?;
    let mut stderr = attached.stderr().context("exec without stderr")?;
    let status = attached.take_status().context("exec without status")?;
    let (mut our_stdout, mut our_stderr) = (tokio::io::stdout(), tokio::io::stderr());
    let (out, err) = tokio::join!(
        tokio::io::copy(&mut stdout, &mut our_stdout),
        tokio::io::copy(&mut stderr, &mut our_stderr),
    );
    out.context("streaming the runner's output")?;
    err.context("streaming the runner's errors")?;
    let status = status.await;
    attached.join().await.ok();
    match status {
        Some(status) if status.status.as_deref() == Some("Success") => Ok(()),
        Some(status) => bail!(
            "`{}` failed in pod {pod}: {}",
            command.join(" "),
            status.message.unwrap_or_else(|| "no message".into())
        ),
        None => bail!(
            "`{}` in pod {pod}: the exec ended without a status",
            command.join(" ")
        ),
    }
}

/// Copies the runner's current run folder into `run_dir` (its files replace same-named ones).
pub async fn fetch_run(state: &LabState, run_dir: &Path) -> anyhow::Result<()> {
    let kind = state.kube().context("not a lab on Kubernetes")?;
    let (pods, pod) = runner_pod(kind, &state.settings.release).await?;
    let mut attached = pods
        .exec(
            &pod,
            ["lab", "export-run"],
            &AttachParams::default()
                .stdin(false)
                .stdout(true)
                .stderr(false),
        )
        .await
        .with_context(|| format!("exec `lab export-run` in pod {pod}"))?;
    let mut tar = Vec::new();
    attached
        .stdout()
        .context("exec without stdout")?
        .read_to_end(&mut tar)
        .await
        .context("reading the runner's run folder")?;
    attached.join().await.ok();
    let incoming = run_dir.join(".incoming");
    let _ = std::fs::remove_dir_all(&incoming);
    // tar's unpack refuses paths that would leave the target folder.
    tar::Archive::new(tar.as_slice())
        .unpack(&incoming)
        .context("unpacking the runner's run folder")?;
    for run in std::fs::read_dir(&incoming)? {
        for entry in std::fs::read_dir(run?.path())? {
            let entry = entry?;
            let target = run_dir.join(entry.file_name());
            if target.is_dir() {
                std::fs::remove_dir_all(&target)?;
            } else if target.exists() {
                std::fs::remove_file(&target)?;
            }
            std::fs::rename(entry.path(), target)?;
        }
    }
    std::fs::remove_dir_all(&incoming)?;
    Ok(())
}
