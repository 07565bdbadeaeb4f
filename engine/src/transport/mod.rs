//! How bytes reach a peer: the gRPC contract (`proto/tumult.proto`), the
//! conversions between it and the core's types, the injected network, the
//! node's gRPC service (`service`, which hands what it receives to the driver
//! as `node::input::Input`s and depends on nothing else of the node but its
//! configuration and counters) and the client calls a node makes of its peers.
//!
//! The engine never opens a socket itself. It asks a [`Network`] to connect
//! and to listen: [`TcpNetwork`] in production, `TurmoilNetwork` (feature
//! `turmoil`) in the simulator.
//!
//! Raft traffic between two nodes travels on one long-lived client-streaming
//! `Deliver` call per direction: each batch is one message on an open HTTP/2
//! stream (one DATA frame), not a call of its own. Such a call lives on a
//! [`stream_channel`], which has no per-request deadline (it would end the
//! stream after [`LinkConfig::request_timeout`]); every other call uses a
//! [`channel`], which has one. Both use HTTP/2 keepalive, which is what
//! notices a dead connection under an open stream: the call then ends with an
//! error and the node starts over on a fresh channel, because turmoil's TCP
//! never retransmits and a stalled connection would otherwise stay stalled
//! after a partition heals.

mod auth;
mod convert;
mod network;
pub(crate) mod service;
mod snapshot;
mod tls;

pub use auth::{client, AuthChannel, Credentials};
pub use convert::{decode, encode, DecodeError};
#[cfg(feature = "turmoil")]
pub use network::TurmoilNetwork;
pub use network::{Conn, Listener, NetExecutor, Network, PeerIdentity, TcpNetwork};
pub(crate) use snapshot::fetch_snapshot;
pub use tls::{node_name, TlsConfig, TlsError, TlsNetwork};

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
    /// Deadline of one request on a [`channel`] (a [`stream_channel`] has none).
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

/// Opens a lazily connecting channel to `addr` ("host:port") over `net`,
/// whose requests each have the deadline [`LinkConfig::request_timeout`].
/// For unary and short streaming calls.
pub fn channel(net: &Arc<dyn Network>, addr: &str, link: &LinkConfig) -> Channel {
    connect_lazy(
        net,
        addr,
        endpoint(net, addr, link).timeout(link.request_timeout),
    )
}

/// Opens a lazily connecting channel to `addr` ("host:port") over `net` whose
/// requests have no deadline: for long-lived streaming calls (the peer links'
/// `Deliver`), which a deadline would cut off. A dead connection is still
/// noticed, by the HTTP/2 keepalive of [`LinkConfig`] (a ping unanswered for
/// `keepalive_timeout` ends every call on the connection with an error); a
/// call whose peer is alive but never answers waits as long as its caller.
pub fn stream_channel(net: &Arc<dyn Network>, addr: &str, link: &LinkConfig) -> Channel {
    connect_lazy(net, addr, endpoint(net, addr, link))
}

/// The settings every channel to a peer shares: the injected network's
/// executor, the connect timeout and keepalive.
fn endpoint(net: &Arc<dyn Network>, addr: &str, link: &LinkConfig) -> Endpoint {
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("a host:port address is a valid URI")
        .executor(NetExecutor(Arc::clone(net)))
        .connect_timeout(link.connect_timeout)
        .http2_keep_alive_interval(link.keepalive_interval)
        .keep_alive_timeout(link.keepalive_timeout)
        .keep_alive_while_idle(true)
}

/// A channel of `endpoint` whose connections `net` opens.
fn connect_lazy(net: &Arc<dyn Network>, addr: &str, endpoint: Endpoint) -> Channel {
    let net = Arc::clone(net);
    let target = addr.to_string();
    let connector = tower::service_fn(move |_uri: tonic::codegen::http::Uri| {
        let net = Arc::clone(&net);
        let target = target.clone();
        async move {
            let conn = net.connect(&target).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(conn))
        }
    });
    endpoint.connect_with_connector_lazy(connector)
}

/// How much a server takes on at once: beyond `max_connections` open
/// connections it stops accepting (new ones wait in the listen backlog), and
/// each connection carries at most `max_concurrent_streams` calls (HTTP/2
/// flow control holds the client back). With the driver's bounded input this
/// bounds what a flood of clients can make a node hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    pub max_connections: usize,
    pub max_concurrent_streams: u32,
}

impl Default for ServerLimits {
    /// 1024 connections, 64 calls each.
    fn default() -> Self {
        ServerLimits {
            max_connections: 1024,
            max_concurrent_streams: 64,
        }
    }
}

/// Serves the node's gRPC service on `listener` until `shutdown` resolves;
/// then every open connection is dropped at once.
///
/// The server pings its connections too (`link`'s keepalive): a peer that
/// vanished without closing its connection (a crash, a partition) would
/// otherwise leave that connection, and the `Deliver` stream on it, waiting
/// forever.
///
/// HTTP/2 through hyper directly rather than through tonic's server, because
/// tonic's server stamps each response with a `date` header read from the
/// wall clock: in the simulator that changes the bytes on the wire, and so
/// the run, with the real time of day.
pub async fn serve<T: pb::tumult_server::Tumult>(
    net: Arc<dyn Network>,
    mut listener: Listener,
    server: pb::tumult_server::TumultServer<T>,
    link: LinkConfig,
    limits: ServerLimits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use futures::StreamExt;
    use hyper_util::rt::TokioIo;
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;

    let mut builder = Builder::new(NetExecutor(Arc::clone(&net))).http2_only();
    builder
        .http2()
        .auto_date_header(false)
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(link.keepalive_interval)
        .keep_alive_timeout(link.keepalive_timeout)
        .max_concurrent_streams(limits.max_concurrent_streams);
    let (close_tx, close_rx) = tokio::sync::watch::channel(false);
    let open = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        // Accept only with room for one more connection.
        let permit = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            permit = Arc::clone(&open).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            conn = listener.next() => match conn {
                Some(Ok(conn)) => {
                    // Each request learns who is at the other end (TLS).
                    let identity = conn.identity();
                    let service = TowerToHyperService::new(tower::util::MapRequest::new(
                        server.clone(),
                        move |mut req: hyper::Request<hyper::body::Incoming>| {
                            if let Some(who) = identity.as_ref().and_then(|c| c.get()) {
                                req.extensions_mut().insert(*who);
                            }
                            req
                        },
                    ));
                    let builder = builder.clone();
                    let mut close = close_rx.clone();
                    net.spawn(Box::pin(async move {
                        let _permit = permit;
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
