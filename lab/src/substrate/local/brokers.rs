//! The golden store on the local substrate: three real Kafka brokers, the version the
//! chart runs, each a JVM on its own loopback address, combined broker and KRaft
//! controller, with its log folder under the run folder (kept when the broker is
//! restarted, as a PersistentVolume outlives its pod).

use super::AddressPlan;
use crate::settings::LabSettings;
use crate::substrate::Role;
use crate::substrate::local::control_plane::PodSpec;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::kafka::BROKERS as MEMBERS;
pub const CLIENT_PORT: u16 = 9092;
pub const CONTROLLER_PORT: u16 = 9093;

/// JVM options for three brokers sharing two cores with the rest of the lab. The load is
/// a few writes a second: a small heap, one GC thread, and the C1 compiler only, which
/// starts a broker in about half the CPU time of the tiered default. Out of memory ends the
/// process, so the control plane restarts it rather than leave it half alive.
const JVM_OPTIONS: &[&str] = &[
    "-Xms64m",
    "-Xmx384m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
];

/// The broker settings, as the chart sets them, plus the local run's failure detection.
/// Each timing trades how fast a dead broker is noticed against how likely a live one
/// that stalled (a GC pause, a starved core) is taken for dead.
fn server_properties(plan: &AddressPlan, ordinal: u16, log_dir: &Path) -> String {
    let ip = plan.golden_store(ordinal, CLIENT_PORT).ip();
    let voters: Vec<String> = (0..MEMBERS)
        .map(|j| format!("{j}@{}", plan.golden_store(j, CONTROLLER_PORT)))
        .collect();
    format!(
        "\
process.roles=broker,controller
node.id={ordinal}
controller.quorum.voters={voters}
listeners=PLAINTEXT://{ip}:{CLIENT_PORT},CONTROLLER://{ip}:{CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://{ip}:{CLIENT_PORT}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={log_dir}
num.partitions=1
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
# Few partitions for the internal topics: the lab has a handful of clients.
offsets.topic.num.partitions=5
transaction.state.log.num.partitions=5
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
# Leaderships stay where elections put them: a preferred leader taking its partitions
# back minutes later would be a second, unannounced fault.
auto.leader.rebalance.enable=false
# A broker that stops heartbeating is fenced after 1.5 s (default 9 s): its partitions get
# new leaders, and it leaves every in-sync replica set.
broker.heartbeat.interval.ms=250
broker.session.timeout.ms=1500
# A follower that has not caught up for 1 s (default 30 s) leaves the in-sync replicas:
# until then, writes acknowledged by all of them wait for a dead follower. Followers
# fetch at least every 200 ms (default 500 ms) so a live one is never that late.
replica.lag.time.max.ms=1000
replica.fetch.wait.max.ms=200
# A lost controller is noticed after 1 s without its fetches (default 2 s) and a new one
# elected within 0.5-1 s (default 1-2 s).
controller.quorum.fetch.timeout.ms=1000
controller.quorum.election.timeout.ms=500
controller.quorum.election.backoff.max.ms=500
",
        voters = voters.join(","),
        log_dir = log_dir.display(),
    )
}

/// Broker logs go to stderr, which the control plane writes to the pod's log file.
const LOG4J_PROPERTIES: &str = "\
log4j.rootLogger=INFO, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaConfig=WARN
log4j.logger.org.apache.kafka.common.config.AbstractConfig=WARN
";

/// One broker as `lab-up` lays it out.
#[derive(Clone, Debug)]
pub struct Broker {
    pub name: String,
    pub ordinal: u16,
    pub config: PathBuf,
    pub log_dir: PathBuf,
    pub log_file: PathBuf,
}

/// What every broker JVM is started with.
#[derive(Clone, Debug)]
pub struct Jvm {
    pub java: PathBuf,
    pub classpath: String,
    pub log4j: PathBuf,
}

impl Jvm {
    /// `java` with the lab's options and `pod` named on its command line (so `lab-down`
    /// can tell the process is the lab's before it signals it), ready for a main class.
    fn args(&self, pod: &str) -> Vec<String> {
        let mut args: Vec<String> = JVM_OPTIONS.iter().map(|s| s.to_string()).collect();
        args.push(format!("-Degeria.ha.lab.pod={pod}"));
        args.push(format!(
            "-Dlog4j.configuration=file:{}",
            self.log4j.display()
        ));
        args.push("-cp".into());
        args.push(self.classpath.clone());
        args
    }
}

/// Writes every broker's configuration under `run_dir/golden-store/` and returns them.
pub fn lay_out(
    settings: &LabSettings,
    plan: &AddressPlan,
    run_dir: &Path,
) -> std::io::Result<(Vec<Broker>, PathBuf)> {
    let folder = run_dir.join("golden-store");
    std::fs::create_dir_all(&folder)?;
    let log4j = folder.join("log4j.properties");
    std::fs::write(&log4j, LOG4J_PROPERTIES)?;
    let mut brokers = Vec::new();
    for ordinal in 0..MEMBERS {
        let name = settings.golden_store_pod(ordinal);
        let log_dir = folder.join(&name);
        let config = folder.join(format!("{name}.properties"));
        std::fs::write(&config, server_properties(plan, ordinal, &log_dir))?;
        brokers.push(Broker {
            log_file: run_dir.join("logs").join(format!("{name}.log")),
            name,
            ordinal,
            config,
            log_dir,
        });
    }
    Ok((brokers, log4j))
}

/// How long formatting one broker's log folder may take (a JVM start and a few writes).
const FORMAT_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
#[error(
    "broker {broker}: formatting its log folder {log_dir} failed: {detail}\n  its log: {log_file}"
)]
pub struct FormatError {
    pub broker: String,
    pub log_dir: PathBuf,
    pub log_file: PathBuf,
    pub detail: String,
}

/// Formats every broker's log folder for one new KRaft cluster, all at once.
pub async fn format_all(jvm: &Jvm, brokers: &[Broker]) -> Result<(), FormatError> {
    let cluster_id = new_cluster_id();
    let formats = brokers
        .iter()
        .map(|broker| format(jvm, broker, &cluster_id));
    futures::future::try_join_all(formats).await.map(drop)
}

async fn format(jvm: &Jvm, broker: &Broker, cluster_id: &str) -> Result<(), FormatError> {
    let fail = |detail: String| FormatError {
        broker: broker.name.clone(),
        log_dir: broker.log_dir.clone(),
        log_file: broker.log_file.clone(),
        detail,
    };
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&broker.log_file)
        .map_err(|e| fail(format!("cannot open its log: {e}")))?;
    let stderr = log
        .try_clone()
        .map_err(|e| fail(format!("cannot open its log: {e}")))?;
    let mut command = tokio::process::Command::new(&jvm.java);
    command
        .args(jvm.args(&broker.name))
        .arg("kafka.tools.StorageTool")
        .args(["format", "--cluster-id", cluster_id, "--config"])
        .arg(&broker.config)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(stderr)
        .kill_on_drop(true);
    let status = tokio::time::timeout(FORMAT_DEADLINE, command.status())
        .await
        .map_err(|_| fail(format!("no result within {FORMAT_DEADLINE:?}")))?
        .map_err(|e| fail(format!("cannot run {}: {e}", jvm.java.display())))?;
    if status.success() {
        Ok(())
    } else {
        Err(fail(format!("the storage tool ended with {status}")))
    }
}

/// The pods of the golden store, for the control plane to run.
pub fn pod_specs(jvm: &Jvm, plan: &AddressPlan, brokers: &[Broker]) -> Vec<PodSpec> {
    brokers
        .iter()
        .map(|broker| PodSpec {
            name: broker.name.clone(),
            role: Role::GoldenStore,
            ordinal: broker.ordinal,
            address: plan.golden_store(broker.ordinal, CLIENT_PORT),
            program: jvm.java.clone(),
            args: jvm
                .args(&broker.name)
                .into_iter()
                .chain([
                    "kafka.Kafka".to_string(),
                    broker.config.display().to_string(),
                ])
                .collect(),
            // A broker's log folder is its volume: kept across restarts.
            workdir: None,
        })
        .collect()
}

/// A KRaft cluster id: 16 random bytes, base64url without padding (what
/// `kafka-storage.sh random-uuid` prints). Like Kafka's own, never one starting with `-`:
/// the storage tool would read it as an option ("--cluster-id: expected one argument"),
/// which failed one `lab-up` in about 64.
fn new_cluster_id() -> String {
    loop {
        let id = base64url(uuid::Uuid::new_v4().into_bytes());
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn base64url(bytes: [u8; 16]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut held = 0;
    let mut id = String::with_capacity(22);
    for byte in bytes {
        bits = (bits << 8) | u32::from(byte);
        held += 8;
        while held >= 6 {
            held -= 6;
            id.push(ALPHABET[((bits >> held) & 63) as usize] as char);
        }
    }
    if held > 0 {
        id.push(ALPHABET[((bits << (6 - held)) & 63) as usize] as char);
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::substrate::local::LoopbackNet;

    #[test]
    fn cluster_ids_are_22_base64url_characters() {
        let id = new_cluster_id();
        assert_eq!(id.len(), 22, "{id}");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(id, new_cluster_id());
        // 2,000 draws hold about 31 that would start with '-' if left alone.
        assert!((0..2_000).all(|_| !new_cluster_id().starts_with('-')));
        assert!(
            base64url([0xf8; 16]).starts_with('-'),
            "the case the loop avoids"
        );
    }

    #[test]
    fn every_broker_is_a_voter_on_its_own_address_with_the_charts_replication() {
        let plan = AddressPlan::new(LoopbackNet(77), 3);
        let properties = server_properties(&plan, 1, Path::new("/run/lab-kafka-1"));
        for expected in [
            "node.id=1\n",
            "controller.quorum.voters=0@127.77.1.1:9093,1@127.77.1.2:9093,2@127.77.1.3:9093\n",
            "listeners=PLAINTEXT://127.77.1.2:9092,CONTROLLER://127.77.1.2:9093\n",
            "advertised.listeners=PLAINTEXT://127.77.1.2:9092\n",
            "log.dirs=/run/lab-kafka-1\n",
            "default.replication.factor=3\n",
            "min.insync.replicas=2\n",
        ] {
            assert!(properties.contains(expected), "{expected}");
        }
    }

    #[test]
    fn broker_pods_run_kafka_with_their_name_on_the_command_line() {
        let plan = AddressPlan::new(LoopbackNet(77), 3);
        let folder = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(folder.path().join("logs")).unwrap();
        let (brokers, log4j) = lay_out(&LabSettings::default(), &plan, folder.path()).unwrap();
        let jvm = Jvm {
            java: "/usr/bin/java".into(),
            classpath: "a.jar:b.jar".into(),
            log4j,
        };
        let pods = pod_specs(&jvm, &plan, &brokers);
        assert_eq!(pods.len(), 3);
        let args = &pods[2].args;
        assert!(args.contains(&"-Degeria.ha.lab.pod=lab-kafka-2".to_string()));
        assert_eq!(args[args.len() - 2], "kafka.Kafka");
        assert!(
            args.last()
                .unwrap()
                .ends_with("golden-store/lab-kafka-2.properties")
        );
        assert_eq!(pods[2].address.to_string(), "127.77.1.3:9092");
    }
}
