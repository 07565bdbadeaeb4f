//! How bytes reach a peer: the gRPC contract (`proto/tumult.proto`), the
//! conversions between it and the core's types, and the injected network.
//!
//! The engine never opens a socket itself. It asks a [`Network`] to connect
//! and to listen: [`TcpNetwork`] in production, `TurmoilNetwork` (feature
//! `turmoil`) in the simulator. Connections to peers use HTTP/2 keepalive, and
//! the node recreates a channel whose request timed out, because turmoil's TCP
//! never retransmits and a stalled connection would otherwise stay stalled
//! after a partition heals.

mod convert;
mod network;

pub use convert::{decode, encode, DecodeError};
#[cfg(feature = "turmoil")]
pub use network::TurmoilNetwork;
pub use network::{Conn, Listener, NetExecutor, Network, TcpNetwork};

/// The generated gRPC types and service stubs.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("tumult.v1");
}

use std::sync::Arc;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// Timing of connections between nodes.
#[derive(Clone, Copy, Debug)]
pub struct LinkConfig {
    /// How long a connect may take.
    pub connect_timeout: Duration,
    /// HTTP/2 ping interval, also while idle.
    pub keepalive_interval: Duration,
    /// A connection whose ping is not answered within this is torn down.
    pub keepalive_timeout: Duration,
    /// Deadline of one request.
    pub request_timeout: Duration,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            connect_timeout: Duration::from_millis(500),
            keepalive_interval: Duration::from_millis(500),
            keepalive_timeout: Duration::from_millis(500),
            request_timeout: Duration::from_millis(1000),
        }
    }
}

/// Opens a lazily connecting channel to `addr` ("host:port") over `net`.
pub fn channel(net: &Arc<dyn Network>, addr: &str, link: &LinkConfig) -> Channel {
    let net = Arc::clone(net);
    let target = addr.to_string();
    let connect_net = Arc::clone(&net);
    let connector = tower::service_fn(move |_uri: tonic::codegen::http::Uri| {
        let net = Arc::clone(&connect_net);
        let target = target.clone();
        async move {
            let conn = net.connect(&target).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(conn))
        }
    });
    let executor = NetExecutor(Arc::clone(&net));
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("a host:port address is a valid URI")
        .executor(executor)
        .connect_timeout(link.connect_timeout)
        .timeout(link.request_timeout)
        .http2_keep_alive_interval(link.keepalive_interval)
        .keep_alive_timeout(link.keepalive_timeout)
        .keep_alive_while_idle(true)
        .connect_with_connector_lazy(connector)
}

/// Serves the node's gRPC service on `listener` until `shutdown` resolves;
/// then every open connection is dropped at once.
///
/// HTTP/2 through hyper directly rather than through tonic's server, because
/// tonic's server stamps each response with a `date` header read from the
/// wall clock: in the simulator that changes the bytes on the wire, and so
/// the run, with the real time of day.
pub async fn serve<T: pb::tumult_server::Tumult>(
    net: Arc<dyn Network>,
    mut listener: Listener,
    server: pb::tumult_server::TumultServer<T>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use futures::StreamExt;
    use hyper_util::rt::TokioIo;
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;

    let mut builder = Builder::new(NetExecutor(Arc::clone(&net))).http2_only();
    builder.http2().auto_date_header(false);
    let (close_tx, close_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            conn = listener.next() => match conn {
                Some(Ok(conn)) => {
                    let service = TowerToHyperService::new(server.clone());
                    let builder = builder.clone();
                    let mut close = close_rx.clone();
                    net.spawn(Box::pin(async move {
                        let connection = builder.serve_connection(TokioIo::new(conn), service);
                        tokio::select! {
                            biased;
                            _ = close.wait_for(|c| *c) => {}
                            result = connection => {
                                if let Err(e) = result {
                                    tracing::debug!("connection ended: {e}");
                                }
                            }
                        }
                    }));
                }
                Some(Err(e)) => {
                    tracing::debug!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                None => break,
            }
        }
    }
    let _ = close_tx.send(true);
}
