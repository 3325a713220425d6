//! Runner commands on a lab that lives on kind: they run in the runner pod (exec), their
//! output streams here, and the runner's run folder comes back into the host's.

use lab::state::LabDir;

/// The command line to hand to `lab` in the pod: this one's, less the host-only
/// `--lab-dir`.
pub fn forwarded_args() -> Vec<String> {
    let mut args = std::env::args().skip(1);
    let mut kept = Vec::new();
    while let Some(arg) = args.next() {
        if arg == "--lab-dir" {
            args.next();
        } else if !arg.starts_with("--lab-dir=") {
            kept.push(arg);
        }
    }
    kept
}

/// For a lab on kind: runs `args` in the runner pod, then (when `fetch`) copies the
/// runner's run folder into the host's; returns false for a lab elsewhere.
pub async fn on_kind(lab_dir: &LabDir, args: &[String], fetch: bool) -> anyhow::Result<bool> {
    let Some(state) = lab_dir.load_state()? else {
        return Ok(false);
    };
    let Some(kube) = state.kube() else {
        return Ok(false);
    };
    // Only an outage can stop a node; other commands need no one to carry that out.
    let outage = args.first().is_some_and(|command| command == "outage");
    let own_nodes = match outage {
        true => crate::kind::own_nodes(kube)?,
        false => None,
    };
    let outcome = match own_nodes {
        Some(nodes) => run_serving_node_faults(&state, kube, &nodes, args).await?,
        None => lab::remote::run_in_runner(&state, args).await,
    };
    if fetch {
        lab::remote::fetch_run(&state, &state.run_dir).await?;
        eprintln!("results copied into {}", state.run_dir.display());
    }
    outcome.map(|()| true)
}

/// Runs `args` in the runner pod while carrying out here, where the kind node containers
/// are, the node outages the runner asks for; the runner command's outcome.
async fn run_serving_node_faults(
    state: &lab::state::LabState,
    kube: &lab::state::KubeState,
    nodes: &[String],
    args: &[String],
) -> anyhow::Result<anyhow::Result<()>> {
    let client = lab::substrate::kube::client_for(kube).await?;
    let control = crate::kind::DockerNodes::new()?;
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    let runner = async {
        let outcome = lab::remote::run_in_runner(state, args).await;
        let _ = done.send(());
        outcome
    };
    let host = lab::node_faults::serve_host(
        client,
        &kube.namespace,
        &state.settings.release,
        nodes,
        &control,
        async {
            finished.await.ok();
        },
    );
    let (outcome, served) = tokio::join!(runner, host);
    if let Err(error) = served {
        eprintln!("warning: node outages could not be carried out: {error}");
    }
    Ok(outcome)
}

/// Runs a runner command: in the runner pod for a lab on kind (fetching its results
/// when `fetch`), here otherwise.
pub fn here_or_on_kind<F>(
    lab_dir: LabDir,
    fetch: bool,
    here: impl FnOnce(LabDir) -> F,
) -> anyhow::Result<()>
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    crate::paths::runtime()?.block_on(async {
        if on_kind(&lab_dir, &forwarded_args(), fetch).await? {
            return Ok(());
        }
        here(lab_dir).await
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn lab_dir_is_not_forwarded() {
        // The test binary's own arguments hold no --lab-dir: what is kept is what came in.
        assert!(
            !super::forwarded_args()
                .iter()
                .any(|a| a.starts_with("--lab-dir"))
        );
    }
}
