//! kube-proxy for the connector service: every inbound TCP connection goes to the next
//! *ready* connector pod in round-robin order; with none ready, it is refused.

use super::ClusterState;
use super::wire::ServiceStats;
use crate::substrate::{PodPhase, Role};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone)]
pub(super) struct Stats(Arc<Mutex<ServiceStats>>);

impl Stats {
    pub(super) fn new(address: SocketAddr) -> Self {
        Self(Arc::new(Mutex::new(ServiceStats {
            address: address.to_string(),
            ..Default::default()
        })))
    }

    pub(super) fn snapshot(&self) -> ServiceStats {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ServiceStats> {
        self.0.lock().expect("service stats lock")
    }
}

pub(super) async fn serve(listener: TcpListener, state: ClusterState, stats: Stats) {
    let next = AtomicUsize::new(0);
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            continue;
        };
        let backends: Vec<(String, String)> = state
            .borrow()
            .pods
            .iter()
            .filter(|pod| {
                pod.role == Role::Connector && pod.ready && pod.phase == PodPhase::Running
            })
            .map(|pod| (pod.name.clone(), pod.address.clone()))
            .collect();
        if backends.is_empty() {
            stats.lock().refused += 1;
            continue; // dropping the stream refuses the connection
        }
        let (name, address) =
            backends[next.fetch_add(1, Ordering::Relaxed) % backends.len()].clone();
        *stats.lock().connections.entry(name).or_default() += 1;
        let stats = stats.clone();
        tokio::spawn(async move {
            match TcpStream::connect(&address).await {
                Ok(outbound) => proxy(inbound, outbound).await,
                Err(_) => stats.lock().failed += 1,
            }
        });
    }
}

async fn proxy(mut inbound: TcpStream, mut outbound: TcpStream) {
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
}
