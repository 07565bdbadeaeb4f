//! The injected network: connect to a peer, listen for peers.

use crate::raft::NodeId;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Anything that can carry a byte stream both ways.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// Who is at the other end of a TLS connection, as its certificate says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerIdentity {
    /// A certificate naming `node-<id>` of a configured node.
    Node(NodeId),
    /// Any other certificate signed by the cluster's CA.
    Client,
}

/// One connection, whatever network it came from.
pub struct Conn(
    Pin<Box<dyn Io>>,
    Option<std::sync::Arc<std::sync::OnceLock<PeerIdentity>>>,
);

impl Conn {
    /// Wraps a byte stream.
    pub fn new(io: impl Io) -> Conn {
        Conn(Box::pin(io), None)
    }

    /// Wraps a byte stream whose peer will be known once `identity` is set
    /// (an accepted TLS connection, after its handshake).
    pub fn with_identity(
        io: impl Io,
        identity: std::sync::Arc<std::sync::OnceLock<PeerIdentity>>,
    ) -> Conn {
        Conn(Box::pin(io), Some(identity))
    }

    /// Where the peer's verified identity appears, for a TLS connection.
    pub fn identity(&self) -> Option<std::sync::Arc<std::sync::OnceLock<PeerIdentity>>> {
        self.1.clone()
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Conn")
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.0.as_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.as_mut().poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.as_mut().poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.as_mut().poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

/// Accepted connections.
pub type Listener = BoxStream<'static, io::Result<Conn>>;

/// Where the engine gets its sockets from.
pub trait Network: Send + Sync + 'static {
    /// Connects to `addr` ("host:port").
    fn connect(&self, addr: &str) -> BoxFuture<'static, io::Result<Conn>>;
    /// Listens on `addr` ("host:port").
    fn bind(&self, addr: &str) -> BoxFuture<'static, io::Result<Listener>>;
    /// Runs a background task of the engine (and of its gRPC stack) in this
    /// world. Default: `tokio::spawn`.
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        tokio::spawn(task);
    }
}

/// Hands hyper's and tonic's background tasks to a [`Network`]'s `spawn`.
#[derive(Clone)]
pub struct NetExecutor(pub std::sync::Arc<dyn Network>);

impl<F> hyper::rt::Executor<F> for NetExecutor
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    fn execute(&self, fut: F) {
        self.0.spawn(Box::pin(fut));
    }
}

fn accept_stream<L, S, F, Fut>(listener: L, accept: F) -> Listener
where
    L: Send + Sync + 'static,
    S: Io,
    F: Fn(std::sync::Arc<L>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = io::Result<S>> + Send + 'static,
{
    let listener = std::sync::Arc::new(listener);
    Box::pin(futures::stream::unfold(
        (listener, accept),
        |(listener, accept)| async move {
            let next = accept(std::sync::Arc::clone(&listener))
                .await
                .map(Conn::new);
            Some((next, (listener, accept)))
        },
    ))
}

/// Real TCP through tokio.
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpNetwork;

impl Network for TcpNetwork {
    fn connect(&self, addr: &str) -> BoxFuture<'static, io::Result<Conn>> {
        let addr = addr.to_string();
        Box::pin(async move {
            let s = tokio::net::TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            Ok(Conn::new(s))
        })
    }
    fn bind(&self, addr: &str) -> BoxFuture<'static, io::Result<Listener>> {
        let addr = addr.to_string();
        Box::pin(async move {
            let l = tokio::net::TcpListener::bind(addr).await?;
            Ok(accept_stream(
                l,
                |l: std::sync::Arc<tokio::net::TcpListener>| async move {
                    let (s, _) = l.accept().await?;
                    s.set_nodelay(true)?;
                    Ok(s)
                },
            ))
        })
    }
}

/// turmoil's simulated TCP.
#[cfg(feature = "turmoil")]
#[derive(Clone, Copy, Debug, Default)]
pub struct TurmoilNetwork;

#[cfg(feature = "turmoil")]
impl Network for TurmoilNetwork {
    /// Every task of a simulated host goes into the host's `LocalSet`: its
    /// tasks are then dropped in spawn order when the host crashes. (tokio's
    /// own task list is sharded by a process-wide task id, so with
    /// `tokio::spawn` the order of the sockets' FINs at a crash, and so the
    /// run, would depend on what else the process had spawned before.)
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        tokio::task::spawn_local(task);
    }

    fn connect(&self, addr: &str) -> BoxFuture<'static, io::Result<Conn>> {
        let addr = addr.to_string();
        Box::pin(async move {
            let s = turmoil::net::TcpStream::connect(addr).await?;
            Ok(Conn::new(s))
        })
    }
    fn bind(&self, addr: &str) -> BoxFuture<'static, io::Result<Listener>> {
        let addr = addr.to_string();
        Box::pin(async move {
            let l = turmoil::net::TcpListener::bind(addr).await?;
            Ok(accept_stream(
                l,
                |l: std::sync::Arc<turmoil::net::TcpListener>| async move {
                    let (s, _) = l.accept().await?;
                    Ok(s)
                },
            ))
        })
    }
}
