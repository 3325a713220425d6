//! An existing cluster (`--substrate cluster`): what is checked before anything is created
//! (the API server answers, every permission the lab and the chart need is held, a storage
//! class for the brokers' volumes, nodes to spread over, a namespace free of other objects),
//! the namespace the lab may create, and removing at lab-down only what the lab created.

use super::KubeError;
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::{Api, Client};
use std::collections::BTreeMap;
use std::time::Duration;

/// The label the lab puts on a namespace it creates; such a namespace is the lab's to delete.
pub const NAMESPACE_OWNER_LABEL: (&str, &str) = ("app.kubernetes.io/managed-by", "egeria-ha-lab");
const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
const PART_OF_LABEL: (&str, &str) = ("app.kubernetes.io/part-of", "egeria-ha-lab");
/// How long the API server has to answer the first call.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// Access reviews in flight at once.
const REVIEWS_AT_ONCE: usize = 8;

/// Every verb helm uses on an object it installs, upgrades and uninstalls.
const MANAGE: &[&str] = &["get", "list", "create", "update", "patch", "delete"];

/// One permission: a verb on a resource (`pods/exec`), in the lab's namespace or cluster-wide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permission {
    pub verb: &'static str,
    pub group: &'static str,
    pub resource: &'static str,
    pub subresource: &'static str,
    pub namespaced: bool,
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let group = if self.group.is_empty() {
            String::new()
        } else {
            format!(".{}", self.group)
        };
        let subresource = if self.subresource.is_empty() {
            String::new()
        } else {
            format!("/{}", self.subresource)
        };
        let scope = if self.namespaced {
            "in the namespace"
        } else {
            "cluster-wide"
        };
        write!(
            f,
            "{} {}{group}{subresource} ({scope})",
            self.verb, self.resource
        )
    }
}

/// What the chart renders for this install, as far as the checks depend on it.
#[derive(Clone, Debug)]
pub struct ClusterPlan {
    pub namespace: String,
    pub release: String,
    pub connector_replicas: u16,
    /// Brokers of the bundled Kafka; 0 with an external one (no volumes then).
    pub broker_replicas: u16,
    /// The brokers' storage class (`kafka.persistence.storageClassName`); `None`: the
    /// cluster's default.
    pub storage_class: Option<String>,
    pub disruption_budgets: bool,
}

impl ClusterPlan {
    /// Every permission the lab and the chart need. The chart's objects are managed by
    /// helm with the user's identity; the runner's Role can only be granted by someone who
    /// holds its rules; the host execs into the runner, reads logs and events, and deletes
    /// the brokers' volumes at lab-down.
    pub fn permissions(&self, namespace_exists: bool) -> Vec<Permission> {
        let mut namespaced: Vec<(&'static str, &'static str, &'static str, &[&'static str])> = vec![
            // helm keeps its release records in Secrets.
            ("", "secrets", "", MANAGE),
            ("", "configmaps", "", MANAGE),
            ("", "services", "", MANAGE),
            ("", "serviceaccounts", "", MANAGE),
            ("apps", "statefulsets", "", MANAGE),
            ("apps", "deployments", "", MANAGE),
            ("rbac.authorization.k8s.io", "roles", "", MANAGE),
            ("rbac.authorization.k8s.io", "rolebindings", "", MANAGE),
            ("", "pods", "", &["get", "list", "watch", "delete"]),
            ("", "pods", "status", &["patch"]),
            ("", "pods", "exec", &["create"]),
            ("", "pods", "log", &["get"]),
            ("", "endpoints", "", &["get", "list", "watch"]),
            ("apps", "statefulsets", "", &["watch"]),
            ("apps", "deployments", "", &["watch"]),
            ("", "events", "", &["list"]),
        ];
        if self.broker_replicas > 0 {
            namespaced.push(("", "persistentvolumeclaims", "", &["list", "delete"]));
        }
        if self.disruption_budgets {
            namespaced.push(("policy", "poddisruptionbudgets", "", MANAGE));
        }
        let mut cluster_wide: Vec<(&'static str, &'static str, &[&'static str])> =
            vec![("", "namespaces", &["get"]), ("", "nodes", &["list"])];
        if !namespace_exists {
            cluster_wide.push(("", "namespaces", &["create", "delete"]));
        }
        if self.broker_replicas > 0 {
            cluster_wide.push(("storage.k8s.io", "storageclasses", &["list"]));
        }
        let namespaced =
            namespaced
                .into_iter()
                .flat_map(|(group, resource, subresource, verbs)| {
                    verbs.iter().map(move |&verb| Permission {
                        verb,
                        group,
                        resource,
                        subresource,
                        namespaced: true,
                    })
                });
        let cluster_wide = cluster_wide
            .into_iter()
            .flat_map(|(group, resource, verbs)| {
                verbs.iter().map(move |&verb| Permission {
                    verb,
                    group,
                    resource,
                    subresource: "",
                    namespaced: false,
                })
            });
        namespaced.chain(cluster_wide).collect()
    }

    /// Whether a node for every connector pod and every broker lets the anti-affinity be
    /// `required`.
    pub fn spreads_over(&self, schedulable_nodes: usize) -> bool {
        schedulable_nodes >= usize::from(self.connector_replicas.max(self.broker_replicas))
    }
}

/// Why an existing cluster is refused, before anything is created.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error(
        "the Kubernetes API server {server} (context {context}) did not answer: {detail}; nothing was created"
    )]
    NoAnswer {
        context: String,
        server: String,
        detail: String,
    },
    #[error(
        "the Kubernetes API server {server} (context {context}) refused the context's credentials: {detail} (an expired token or certificate? refresh the context's credentials); nothing was created"
    )]
    Unauthorized {
        context: String,
        server: String,
        detail: String,
    },
    #[error(
        "the identity of context {context} lacks {} permissions the lab and the chart need (nothing was created):\n  {}",
        denied.len(),
        denied.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  ")
    )]
    Denied {
        context: String,
        denied: Vec<Permission>,
    },
    #[error(
        "namespace {namespace} holds objects the lab did not create: {}; choose another --namespace (the lab creates it when absent)",
        objects.join(", ")
    )]
    ForeignObjects {
        namespace: String,
        objects: Vec<String>,
    },
    #[error(
        "the brokers' volumes need a storage class, and the cluster has no default one: mark one as default (annotation storageclass.kubernetes.io/is-default-class=true) or name one with kafka.persistence.storageClassName in a --values file{}",
        if classes.is_empty() { String::new() } else { format!(" (the cluster has: {})", classes.join(", ")) }
    )]
    NoDefaultStorageClass { classes: Vec<String> },
    #[error(
        "the storage class {wanted} (kafka.persistence.storageClassName) does not exist (the cluster has: {})",
        classes.join(", ")
    )]
    NoSuchStorageClass {
        wanted: String,
        classes: Vec<String>,
    },
    #[error(transparent)]
    Kube(#[from] KubeError),
}

/// What the checks found, for the install.
#[derive(Debug)]
pub struct Preflight {
    pub namespace_exists: bool,
    /// Whether the lab created the namespace (an earlier run's, labelled as the lab's).
    pub namespace_is_the_labs: bool,
    pub schedulable_nodes: usize,
    pub warnings: Vec<String>,
}

fn api_error(action: impl Into<String>) -> impl FnOnce(kube::Error) -> KubeError {
    let action = action.into();
    move |error| KubeError::Api {
        action,
        detail: error.to_string(),
    }
}

/// Every check, in order, before anything is created; the first that fails is the error.
pub async fn preflight(
    client: &Client,
    context: &str,
    server: &str,
    plan: &ClusterPlan,
) -> Result<Preflight, PreflightError> {
    let no_answer = |detail: String| PreflightError::NoAnswer {
        context: context.to_string(),
        server: server.to_string(),
        detail,
    };
    match tokio::time::timeout(ANSWER_TIMEOUT, client.apiserver_version()).await {
        Err(_) => {
            return Err(no_answer(format!(
                "no answer within {}",
                humantime::format_duration(ANSWER_TIMEOUT)
            )));
        }
        Ok(Err(kube::Error::Api(status))) if status.code == 401 || status.code == 403 => {
            return Err(PreflightError::Unauthorized {
                context: context.to_string(),
                server: server.to_string(),
                detail: format!("{} {}", status.code, status.message),
            });
        }
        Ok(Err(error)) => return Err(no_answer(error.to_string())),
        Ok(Ok(_)) => {}
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = namespaces
        .get_opt(&plan.namespace)
        .await
        .map_err(api_error(format!("reading namespace {}", plan.namespace)))?;
    let namespace_exists = namespace.is_some();
    let namespace_is_the_labs = namespace.is_some_and(|namespace| is_labs(&namespace.metadata));
    let denied = denied(client, &plan.namespace, &plan.permissions(namespace_exists)).await?;
    if !denied.is_empty() {
        return Err(PreflightError::Denied {
            context: context.to_string(),
            denied,
        });
    }
    if namespace_exists {
        let objects = foreign_objects(client, &plan.namespace, &plan.release).await?;
        if !objects.is_empty() {
            return Err(PreflightError::ForeignObjects {
                namespace: plan.namespace.clone(),
                objects,
            });
        }
    }
    if plan.broker_replicas > 0 {
        check_storage_class(client, plan.storage_class.as_deref()).await?;
    }
    let schedulable_nodes = schedulable_nodes(client).await?;
    let mut warnings = Vec::new();
    if schedulable_nodes < usize::from(plan.connector_replicas) {
        warnings.push(format!(
            "{schedulable_nodes} schedulable nodes for {} connector pods: anti-affinity cannot spread them, and losing a node takes several at once",
            plan.connector_replicas
        ));
    }
    Ok(Preflight {
        namespace_exists,
        namespace_is_the_labs,
        schedulable_nodes,
        warnings,
    })
}

/// The permissions among `wanted` that the client's identity does not hold, each asked of
/// the API server with a SelfSubjectAccessReview.
pub async fn denied(
    client: &Client,
    namespace: &str,
    wanted: &[Permission],
) -> Result<Vec<Permission>, KubeError> {
    let reviews: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let answers: Vec<(Permission, bool)> = stream::iter(wanted.iter().cloned())
        .map(|permission| {
            let reviews = reviews.clone();
            async move {
                let review = SelfSubjectAccessReview {
                    spec: SelfSubjectAccessReviewSpec {
                        resource_attributes: Some(ResourceAttributes {
                            verb: Some(permission.verb.to_string()),
                            group: Some(permission.group.to_string()),
                            resource: Some(permission.resource.to_string()),
                            subresource: (!permission.subresource.is_empty())
                                .then(|| permission.subresource.to_string()),
                            namespace: permission.namespaced.then(|| namespace.to_string()),
                            ..ResourceAttributes::default()
                        }),
                        ..SelfSubjectAccessReviewSpec::default()
                    },
                    ..SelfSubjectAccessReview::default()
                };
                let answer = reviews
                    .create(&PostParams::default(), &review)
                    .await
                    .map_err(api_error(format!("asking whether it may {permission}")))?;
                let allowed = answer.status.is_some_and(|status| status.allowed);
                Ok::<_, KubeError>((permission, allowed))
            }
        })
        .buffered(REVIEWS_AT_ONCE)
        .try_collect()
        .await?;
    Ok(answers
        .into_iter()
        .filter(|(_, allowed)| !allowed)
        .map(|(permission, _)| permission)
        .collect())
}

fn is_labs(metadata: &ObjectMeta) -> bool {
    let (key, value) = NAMESPACE_OWNER_LABEL;
    label(metadata, key) == Some(value)
}

fn label<'a>(metadata: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    metadata.labels.as_ref()?.get(key).map(String::as_str)
}

/// Objects every namespace gets from the cluster itself, not from anyone using it.
fn is_cluster_default(kind: &str, metadata: &ObjectMeta, data_type: Option<&str>) -> bool {
    let name = metadata.name.as_deref().unwrap_or_default();
    match kind {
        "ConfigMap" => name == "kube-root-ca.crt",
        "ServiceAccount" => name == "default",
        "Secret" => data_type == Some("kubernetes.io/service-account-token"),
        _ => false,
    }
}

/// Whether an object belongs to the lab's release: the chart's labels (its pods and the
/// brokers' volumes carry them too), or helm's record of the release.
fn is_release_object(metadata: &ObjectMeta, release: &str) -> bool {
    let (part_of, lab) = PART_OF_LABEL;
    let chart_object =
        label(metadata, INSTANCE_LABEL) == Some(release) && label(metadata, part_of) == Some(lab);
    let helm_record =
        label(metadata, "owner") == Some("helm") && label(metadata, "name") == Some(release);
    chart_object || helm_record
}

/// `Kind/name` of every object in `namespace` that is neither the release's nor a default
/// of the cluster.
pub async fn foreign_objects(
    client: &Client,
    namespace: &str,
    release: &str,
) -> Result<Vec<String>, KubeError> {
    let kinds = [
        ("", "v1", "ConfigMap", "configmaps"),
        ("", "v1", "Secret", "secrets"),
        ("", "v1", "Service", "services"),
        ("", "v1", "ServiceAccount", "serviceaccounts"),
        ("", "v1", "Pod", "pods"),
        ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
        ("apps", "v1", "StatefulSet", "statefulsets"),
        ("apps", "v1", "Deployment", "deployments"),
        ("rbac.authorization.k8s.io", "v1", "Role", "roles"),
        (
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
        ),
    ];
    let mut foreign = Vec::new();
    for (group, version, kind, plural) in kinds {
        let resource =
            ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(api_error(format!(
                "listing the {plural} in namespace {namespace}"
            )))?;
        for object in list.items {
            let data_type = object.data.get("type").and_then(|t| t.as_str());
            if is_release_object(&object.metadata, release)
                || is_cluster_default(kind, &object.metadata, data_type)
            {
                continue;
            }
            foreign.push(format!(
                "{kind}/{}",
                object.metadata.name.as_deref().unwrap_or_default()
            ));
        }
    }
    Ok(foreign)
}

const DEFAULT_CLASS_ANNOTATIONS: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

async fn check_storage_class(client: &Client, wanted: Option<&str>) -> Result<(), PreflightError> {
    let classes: Api<StorageClass> = Api::all(client.clone());
    let list = classes
        .list(&ListParams::default())
        .await
        .map_err(api_error("listing the storage classes"))?;
    let names: Vec<String> = (list.items.iter())
        .filter_map(|class| class.metadata.name.clone())
        .collect();
    match wanted {
        Some(wanted) if names.iter().any(|name| name == wanted) => Ok(()),
        Some(wanted) => Err(PreflightError::NoSuchStorageClass {
            wanted: wanted.to_string(),
            classes: names,
        }),
        None => {
            let has_default = list.items.iter().any(|class| {
                let annotations = class.metadata.annotations.clone().unwrap_or_default();
                DEFAULT_CLASS_ANNOTATIONS
                    .iter()
                    .any(|key| annotations.get(*key).map(String::as_str) == Some("true"))
            });
            if has_default {
                Ok(())
            } else {
                Err(PreflightError::NoDefaultStorageClass { classes: names })
            }
        }
    }
}

/// Nodes that take new pods: Ready, not cordoned, without a NoSchedule or NoExecute taint.
async fn schedulable_nodes(client: &Client) -> Result<usize, KubeError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes
        .list(&ListParams::default())
        .await
        .map_err(api_error("listing the nodes"))?;
    Ok(list
        .items
        .iter()
        .filter(|node| is_schedulable(node))
        .count())
}

fn is_schedulable(node: &Node) -> bool {
    let spec = node.spec.clone().unwrap_or_default();
    let cordoned = spec.unschedulable == Some(true);
    let tainted = (spec.taints.unwrap_or_default().iter())
        .any(|taint| taint.effect == "NoSchedule" || taint.effect == "NoExecute");
    is_ready(node) && !cordoned && !tainted
}

/// Whether the node's `Ready` condition is `True`.
pub fn is_ready(node: &Node) -> bool {
    (node.status.as_ref())
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

/// Creates the lab's namespace, labelled as the lab's.
pub async fn create_namespace(client: &Client, name: &str) -> Result<(), KubeError> {
    let (key, value) = NAMESPACE_OWNER_LABEL;
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(BTreeMap::from([(key.to_string(), value.to_string())])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .map_err(api_error(format!("creating namespace {name}")))?;
    Ok(())
}

/// After `helm uninstall`: the brokers' volumes (helm leaves a StatefulSet's claims behind),
/// then the namespace if the lab created it. Objects of anyone else are never touched:
/// claims are chosen by the release's labels, and a namespace the lab did not create stays.
/// Returns what was deleted, as `Kind/name`.
pub async fn remove_what_the_lab_created(
    client: &Client,
    namespace: &str,
    release: &str,
    created_namespace: bool,
) -> Result<Vec<String>, KubeError> {
    let mut removed = Vec::new();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let (part_of, lab) = PART_OF_LABEL;
    let selector = format!("{INSTANCE_LABEL}={release},{part_of}={lab}");
    let list = claims
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(api_error(format!(
            "listing the release's volume claims in {namespace}"
        )))?;
    for claim in list.items {
        let name = claim.metadata.name.unwrap_or_default();
        claims
            .delete(&name, &DeleteParams::default())
            .await
            .map_err(api_error(format!("deleting volume claim {name}")))?;
        removed.push(format!("PersistentVolumeClaim/{name}"));
    }
    if created_namespace {
        let namespaces: Api<Namespace> = Api::all(client.clone());
        match namespaces.delete(namespace, &DeleteParams::default()).await {
            Ok(_) => removed.push(format!("Namespace/{namespace}")),
            // Already gone is what lab-down wants.
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(api_error(format!("deleting namespace {namespace}"))(error)),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::substrate::kube::mock::{MockApi, Seen, failure, list, ok};
    use http::Method;
    use serde_json::{Value, json};

    const NS: &str = "team-lab";

    fn plan() -> ClusterPlan {
        ClusterPlan {
            namespace: NS.into(),
            release: "lab".into(),
            connector_replicas: 3,
            broker_replicas: 3,
            storage_class: None,
            disruption_budgets: true,
        }
    }

    /// The chart's labels on an object of release `lab`.
    fn ours(name: &str) -> Value {
        json!({"metadata": {"name": name, "labels": {
            "app.kubernetes.io/instance": "lab", "app.kubernetes.io/part-of": "egeria-ha-lab"}}})
    }

    fn named(name: &str) -> Value {
        json!({"metadata": {"name": name}})
    }

    fn node(name: &str, ready: bool, unschedulable: bool) -> Value {
        json!({"metadata": {"name": name}, "spec": {"unschedulable": unschedulable},
               "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}})
    }

    /// A cluster that answers every check; `tweak` may answer a request differently first.
    struct Cluster {
        namespace: Option<Value>,
        denied: Vec<(&'static str, &'static str)>,
        objects: Vec<(&'static str, Value)>,
        classes: Vec<Value>,
        nodes: Vec<Value>,
    }

    impl Cluster {
        fn healthy() -> Self {
            Cluster {
                namespace: None,
                denied: Vec::new(),
                objects: Vec::new(),
                classes: vec![json!({"metadata": {"name": "standard", "annotations": {
                    "storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "x"})],
                nodes: (0..3)
                    .map(|i| node(&format!("n{i}"), true, false))
                    .collect(),
            }
        }

        fn answer(&self, seen: &Seen) -> Option<http::Response<kube::client::Body>> {
            let path = seen.path.as_str();
            if path == "/version" {
                return Some(ok(
                    json!({"major": "1", "minor": "33", "gitVersion": "v1.33.1"}),
                ));
            }
            if path == format!("/api/v1/namespaces/{NS}") {
                return Some(match &self.namespace {
                    Some(namespace) => ok(namespace.clone()),
                    None => failure(404, "NotFound", "namespaces \"team-lab\" not found"),
                });
            }
            if path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" {
                let attributes = &seen.body["spec"]["resourceAttributes"];
                let resource = attributes["resource"].as_str().unwrap_or_default();
                let subresource = attributes["subresource"].as_str().unwrap_or_default();
                let verb = attributes["verb"].as_str().unwrap_or_default();
                let what = if subresource.is_empty() {
                    resource.to_string()
                } else {
                    format!("{resource}/{subresource}")
                };
                let allowed = !self.denied.iter().any(|(v, w)| *v == verb && *w == what);
                let mut review = seen.body.clone();
                review["status"] = json!({"allowed": allowed});
                return Some(ok(review));
            }
            if path == "/apis/storage.k8s.io/v1/storageclasses" {
                return Some(ok(list("StorageClass", "1", self.classes.clone())));
            }
            if path == "/api/v1/nodes" {
                return Some(ok(list("Node", "1", self.nodes.clone())));
            }
            // Lists of the namespace's objects: /api/v1/namespaces/NS/<plural>, or under /apis.
            let plural = path.rsplit('/').next().unwrap_or_default();
            let items = (self.objects.iter())
                .filter(|(kind, _)| *kind == plural)
                .map(|(_, object)| object.clone())
                .collect();
            Some(ok(list("Object", "1", items)))
        }
    }

    fn serve(cluster: Cluster) -> MockApi {
        MockApi::new(Box::new(move |seen| cluster.answer(seen)))
    }

    async fn check(api: &MockApi) -> Result<Preflight, PreflightError> {
        preflight(&api.client, "prod-eu", "https://10.0.0.1:6443", &plan()).await
    }

    #[tokio::test]
    async fn a_cluster_with_everything_passes_and_creating_the_namespace_is_asked_for() {
        let api = serve(Cluster::healthy());
        let found = check(&api).await.unwrap();
        assert!(!found.namespace_exists);
        assert_eq!(found.schedulable_nodes, 3);
        assert!(found.warnings.is_empty(), "{:?}", found.warnings);
        let asked: Vec<String> = (api.seen().iter())
            .filter(|seen| seen.path.ends_with("selfsubjectaccessreviews"))
            .map(|seen| {
                let attributes = &seen.body["spec"]["resourceAttributes"];
                format!("{} {}", attributes["verb"], attributes["resource"])
            })
            .collect();
        for wanted in [
            r#""create" "namespaces""#,
            r#""delete" "pods""#,
            r#""create" "roles""#,
            r#""create" "poddisruptionbudgets""#,
        ] {
            assert!(
                asked.iter().any(|a| a == wanted),
                "{wanted} not asked: {asked:?}"
            );
        }
        // Nothing is created by a check.
        assert!(
            api.seen().iter().all(|seen| seen.method == Method::GET
                || seen.path.ends_with("selfsubjectaccessreviews"))
        );
    }

    #[tokio::test]
    async fn denied_permissions_are_listed_by_name_and_nothing_is_created() {
        let api = serve(Cluster {
            denied: vec![
                ("create", "pods/exec"),
                ("create", "roles"),
                ("create", "namespaces"),
            ],
            ..Cluster::healthy()
        });
        let error = check(&api).await.unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("the identity of context prod-eu lacks 3 permissions"),
            "{message}"
        );
        for line in [
            "create pods/exec (in the namespace)",
            "create roles.rbac.authorization.k8s.io (in the namespace)",
            "create namespaces (cluster-wide)",
        ] {
            assert!(message.contains(line), "{line} missing from: {message}");
        }
    }

    #[tokio::test]
    async fn a_namespace_holding_objects_the_lab_did_not_create_is_refused() {
        let api = serve(Cluster {
            namespace: Some(named(NS)),
            objects: vec![
                ("configmaps", named("kube-root-ca.crt")),
                ("configmaps", named("team-settings")),
                ("serviceaccounts", named("default")),
                ("statefulsets", ours("lab-crux")),
                ("deployments", named("billing-api")),
                (
                    "secrets",
                    json!({"metadata": {"name": "sh.helm.release.v1.lab.v1",
                    "labels": {"owner": "helm", "name": "lab"}}, "type": "helm.sh/release.v1"}),
                ),
            ],
            ..Cluster::healthy()
        });
        let error = check(&api).await.unwrap_err();
        match &error {
            PreflightError::ForeignObjects { objects, .. } => {
                assert_eq!(
                    objects,
                    &["ConfigMap/team-settings", "Deployment/billing-api"]
                );
            }
            other => panic!("{other}"),
        }
        // Only the release's own objects (an earlier install of it): accepted.
        let api = serve(Cluster {
            namespace: Some(named(NS)),
            objects: vec![
                ("statefulsets", ours("lab-crux")),
                ("configmaps", named("kube-root-ca.crt")),
            ],
            ..Cluster::healthy()
        });
        assert!(check(&api).await.unwrap().namespace_exists);
    }

    #[tokio::test]
    async fn no_default_storage_class_is_refused_naming_the_classes_there_are() {
        let api = serve(Cluster {
            classes: vec![json!({"metadata": {"name": "slow-hdd"}, "provisioner": "x"})],
            ..Cluster::healthy()
        });
        let message = check(&api).await.unwrap_err().to_string();
        assert!(message.contains("no default one"), "{message}");
        assert!(message.contains("(the cluster has: slow-hdd)"), "{message}");
    }

    #[tokio::test]
    async fn too_few_schedulable_nodes_give_a_warning_not_a_refusal() {
        let api = serve(Cluster {
            nodes: vec![
                node("a", true, false),
                node("b", true, true),
                node("c", false, false),
            ],
            ..Cluster::healthy()
        });
        let found = check(&api).await.unwrap();
        assert_eq!(found.schedulable_nodes, 1);
        assert_eq!(found.warnings.len(), 1);
        assert!(found.warnings[0].starts_with("1 schedulable nodes for 3 connector pods"));
        assert!(!plan().spreads_over(found.schedulable_nodes));
        assert!(plan().spreads_over(3));
    }

    #[tokio::test(start_paused = true)]
    async fn an_api_server_that_never_answers_is_named_with_its_context() {
        let api = MockApi::new(Box::new(|_| None));
        let message = check(&api).await.unwrap_err().to_string();
        assert_eq!(
            message,
            "the Kubernetes API server https://10.0.0.1:6443 (context prod-eu) did not answer: no answer within 15s; nothing was created"
        );
    }

    #[tokio::test]
    async fn expired_credentials_are_named_as_such_with_the_context_and_server() {
        let api = MockApi::new(Box::new(|_| {
            Some(failure(401, "Unauthorized", "Unauthorized"))
        }));
        let message = check(&api).await.unwrap_err().to_string();
        assert_eq!(
            message,
            "the Kubernetes API server https://10.0.0.1:6443 (context prod-eu) refused the context's credentials: 401 Unauthorized (an expired token or certificate? refresh the context's credentials); nothing was created"
        );
        assert_eq!(api.seen().len(), 1, "nothing after the first refusal");
    }

    #[tokio::test]
    async fn lab_down_removes_the_release_claims_and_only_a_namespace_it_created() {
        let answer = |seen: &Seen| match (&seen.method, seen.path.as_str()) {
            (&Method::GET, path) if path.ends_with("/persistentvolumeclaims") => Some(ok(list(
                "PersistentVolumeClaim",
                "1",
                vec![ours("data-lab-kafka-0"), ours("data-lab-kafka-1")],
            ))),
            (&Method::DELETE, _) => Some(ok(json!({"kind": "Status", "status": "Success"}))),
            _ => None,
        };
        for created_namespace in [false, true] {
            let api = MockApi::new(Box::new(answer));
            let removed = remove_what_the_lab_created(&api.client, NS, "lab", created_namespace)
                .await
                .unwrap();
            let seen = api.seen();
            assert!(
                seen[0].query.contains("labelSelector=app.kubernetes.io%2Finstance%3Dlab%2Capp.kubernetes.io%2Fpart-of%3Degeria-ha-lab"),
                "{:?}",
                seen[0]
            );
            let deleted: Vec<&str> = (seen.iter())
                .filter(|s| s.method == Method::DELETE)
                .map(|s| s.path.as_str())
                .collect();
            let mut expected = vec![
                "/api/v1/namespaces/team-lab/persistentvolumeclaims/data-lab-kafka-0",
                "/api/v1/namespaces/team-lab/persistentvolumeclaims/data-lab-kafka-1",
            ];
            if created_namespace {
                expected.push("/api/v1/namespaces/team-lab");
            }
            assert_eq!(deleted, expected);
            assert_eq!(removed.len(), expected.len());
        }
    }
}
