//! `cargo xtask runner-image`: builds the runner image (the `lab` binary and the chart's
//! runner) under a name the user chooses, and says how to push it. The lab never pushes:
//! where a cluster pulls from, and with which credentials, is the user's to decide.

use crate::chart::step;
use xshell::{Shell, cmd};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image reference to build, REPOSITORY:TAG, e.g. registry.example.com/team/egeria-ha-lab-runner:0.1.0
    #[arg(long, value_name = "REF", value_parser = parse_reference)]
    pub tag: ImageReference,
}

/// `REPOSITORY:TAG`, as the chart takes a runner image (no digest, no moving tag).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageReference {
    pub repository: String,
    pub tag: String,
}

impl std::fmt::Display for ImageReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.repository, self.tag)
    }
}

pub fn parse_reference(text: &str) -> Result<ImageReference, String> {
    if text.contains('@') {
        return Err(format!(
            "{text:?}: give REPOSITORY:TAG; the chart pins the runner by tag, not by digest"
        ));
    }
    // A registry's port (`host:5000/…`) is not a tag: the tag follows the last '/'.
    let (repository, tag) = match text.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => (repository, tag),
        _ => ("", ""),
    };
    if repository.is_empty() || tag.is_empty() {
        return Err(format!(
            "{text:?} has no tag: give REPOSITORY:TAG, e.g. registry.example.com/team/egeria-ha-lab-runner:0.1.0"
        ));
    }
    if tag == "latest" {
        return Err(format!(
            "{text:?}: a moving tag; give a pinned one, so the cluster runs what was built"
        ));
    }
    Ok(ImageReference {
        repository: repository.to_string(),
        tag: tag.to_string(),
    })
}

/// `docker build` of the workspace's Dockerfile as `reference`.
pub fn build(shell: &Shell, reference: &str) -> anyhow::Result<()> {
    shell.change_dir(crate::paths::workspace_root());
    step("building the runner image", || {
        cmd!(shell, "docker build --tag {reference} --file Dockerfile .")
            .run()
            .map_err(Into::into)
    })
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let reference = args.tag.to_string();
    build(&Shell::new()?, &reference)?;
    println!("built {reference}");
    println!("push it where the cluster pulls images from (the lab never pushes):");
    println!("  docker push {reference}");
    println!(
        "then: cargo xtask lab-up --substrate cluster --context CONTEXT --runner-image {reference}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_base_image_of_the_runner_is_pinned_by_digest() {
        let dockerfile =
            std::fs::read_to_string(crate::paths::workspace_root().join("Dockerfile")).unwrap();
        let bases: Vec<&str> = dockerfile
            .lines()
            .filter_map(|line| line.strip_prefix("FROM "))
            .collect();
        assert_eq!(bases.len(), 2, "{bases:?}");
        for base in bases {
            let image = base.split_whitespace().next().unwrap();
            let (_, digest) = image.split_once("@sha256:").expect("pinned by digest");
            assert!(
                digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
                "{image}"
            );
        }
    }

    #[test]
    fn references_split_at_the_tag_not_at_a_registry_port() {
        assert_eq!(
            parse_reference("registry.example.com:5000/team/runner:0.1.0").unwrap(),
            ImageReference {
                repository: "registry.example.com:5000/team/runner".into(),
                tag: "0.1.0".into()
            }
        );
        for bad in [
            "registry.example.com:5000/team/runner",
            "runner",
            "runner:",
            "runner:latest",
            "runner@sha256:abc",
        ] {
            assert!(parse_reference(bad).is_err(), "{bad} accepted");
        }
    }
}
