//! Mutual TLS between nodes (and for clients), below gRPC: a [`TlsNetwork`]
//! wraps any [`Network`] (real TCP or turmoil's), so the simulator runs the
//! same code path as production.
//!
//! Every certificate is signed by the cluster's CA. A node's certificate
//! names it with the DNS name [`node_name`] (`node-<id>`); a client's names
//! anything else. A connection's verified peer is known to the service as a
//! [`PeerIdentity`]: a `Deliver` batch whose `from` is not the node its
//! certificate names is refused.

use super::network::{Conn, Listener, Network, PeerIdentity};
use crate::raft::NodeId;
use futures::future::BoxFuture;
use futures::StreamExt;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The DNS name a node's certificate carries.
pub fn node_name(id: NodeId) -> String {
    format!("node-{id}")
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{what}: {why}")]
    Pem { what: &'static str, why: String },
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The CA, this party's certificate chain and key, in PEM.
#[derive(Clone, Debug)]
pub struct TlsConfig {
    ca: Vec<CertificateDer<'static>>,
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl TlsConfig {
    /// Reads the CA certificate(s), this party's certificate chain and its
    /// private key from PEM text.
    pub fn from_pem(ca: &[u8], cert: &[u8], key: &[u8]) -> Result<TlsConfig, TlsError> {
        let certs = |what: &'static str, pem: &[u8]| {
            let list = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| TlsError::Pem {
                    what,
                    why: e.to_string(),
                })?;
            if list.is_empty() {
                return Err(TlsError::Pem {
                    what,
                    why: "no certificate found".into(),
                });
            }
            Ok(list)
        };
        Ok(TlsConfig {
            ca: certs("CA certificate", ca)?,
            chain: certs("certificate", cert)?,
            key: Arc::new(
                PrivateKeyDer::from_pem_slice(key).map_err(|e| TlsError::Pem {
                    what: "private key",
                    why: e.to_string(),
                })?,
            ),
        })
    }

    fn roots(&self) -> Result<rustls::RootCertStore, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        for c in &self.ca {
            roots
                .add(c.clone())
                .map_err(|e| TlsError::Config(format!("CA certificate: {e}")))?;
        }
        Ok(roots)
    }

    fn client_config(&self) -> Result<rustls::ClientConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_root_certificates(self.roots()?)
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| TlsError::Config(e.to_string()))
    }

    fn server_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(self.roots()?),
            Arc::clone(&provider),
        )
        .build()
        .map_err(|e| TlsError::Config(e.to_string()))?;
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| TlsError::Config(e.to_string()))
    }
}

/// A [`Network`] whose every connection is mutual TLS: outgoing ones verify
/// that the peer at a node's address holds that node's certificate; incoming
/// ones require a certificate of the cluster's CA and learn whose it is.
pub struct TlsNetwork {
    inner: Arc<dyn Network>,
    connector: tokio_rustls::TlsConnector,
    acceptor: tokio_rustls::TlsAcceptor,
    /// Address -> node, to know which certificate to expect there.
    nodes: BTreeMap<String, NodeId>,
}

impl TlsNetwork {
    /// TLS over `inner` for a party holding `tls`, in the cluster of `peers`.
    pub fn new(
        inner: Arc<dyn Network>,
        tls: &TlsConfig,
        peers: &BTreeMap<NodeId, String>,
    ) -> Result<TlsNetwork, TlsError> {
        Ok(TlsNetwork {
            inner,
            connector: tokio_rustls::TlsConnector::from(Arc::new(tls.client_config()?)),
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(tls.server_config()?)),
            nodes: peers.iter().map(|(id, a)| (a.clone(), *id)).collect(),
        })
    }
}

impl Network for TlsNetwork {
    fn connect(&self, addr: &str) -> BoxFuture<'static, io::Result<Conn>> {
        let inner = self.inner.connect(addr);
        let connector = self.connector.clone();
        let expected = self.nodes.get(addr).map(|id| node_name(*id));
        let addr = addr.to_string();
        Box::pin(async move {
            let name = expected.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("no node is configured at {addr}"),
                )
            })?;
            let server = ServerName::try_from(name)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
            let conn = inner.await?;
            let tls = connector.connect(server, conn).await?;
            Ok(Conn::new(tls))
        })
    }

    fn bind(&self, addr: &str) -> BoxFuture<'static, io::Result<Listener>> {
        let inner = self.inner.bind(addr);
        let acceptor = self.acceptor.clone();
        let ids: Arc<Vec<NodeId>> = Arc::new(self.nodes.values().copied().collect());
        Box::pin(async move {
            let listener = inner.await?;
            let tls: Listener = Box::pin(listener.map(move |conn| {
                conn.map(|c| {
                    let identity = Arc::new(OnceLock::new());
                    let io = Handshaking {
                        state: State::Accepting(Box::new(acceptor.accept(c))),
                        ids: Arc::clone(&ids),
                        identity: Arc::clone(&identity),
                    };
                    Conn::with_identity(io, identity)
                })
            }));
            Ok(tls)
        })
    }

    fn spawn(&self, task: BoxFuture<'static, ()>) {
        self.inner.spawn(task);
    }
}

/// Which configured node a verified certificate names, if any.
fn identify(cert: &CertificateDer<'_>, ids: &[NodeId]) -> PeerIdentity {
    let Ok(ee) = webpki::EndEntityCert::try_from(cert) else {
        return PeerIdentity::Client;
    };
    ids.iter()
        .copied()
        .find(|id| {
            ServerName::try_from(node_name(*id))
                .is_ok_and(|name| ee.verify_is_valid_for_subject_name(&name).is_ok())
        })
        .map_or(PeerIdentity::Client, PeerIdentity::Node)
}

enum State {
    Accepting(Box<tokio_rustls::Accept<Conn>>),
    Ready(Box<tokio_rustls::server::TlsStream<Conn>>),
    Failed,
}

/// An accepted connection whose handshake runs on first use (in the
/// connection's own task, so a slow handshake never holds up accepting).
struct Handshaking {
    state: State,
    ids: Arc<Vec<NodeId>>,
    identity: Arc<OnceLock<PeerIdentity>>,
}

impl Handshaking {
    fn stream(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<&mut tokio_rustls::server::TlsStream<Conn>>> {
        if let State::Accepting(accept) = &mut self.state {
            match ready!(Pin::new(accept.as_mut()).poll(cx)) {
                Ok(stream) => {
                    let who = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map_or(PeerIdentity::Client, |c| identify(c, &self.ids));
                    let _ = self.identity.set(who);
                    self.state = State::Ready(Box::new(stream));
                }
                Err(e) => {
                    self.state = State::Failed;
                    return Poll::Ready(Err(e));
                }
            }
        }
        match &mut self.state {
            State::Ready(stream) => Poll::Ready(Ok(stream)),
            State::Accepting(_) | State::Failed => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "TLS handshake failed",
            ))),
        }
    }
}

use std::future::Future;

impl AsyncRead for Handshaking {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let s = ready!(this.stream(cx))?;
        Pin::new(s).poll_read(cx, buf)
    }
}

impl AsyncWrite for Handshaking {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let s = ready!(this.stream(cx))?;
        Pin::new(s).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let s = ready!(this.stream(cx))?;
        Pin::new(s).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let s = ready!(this.stream(cx))?;
        Pin::new(s).poll_shutdown(cx)
    }
}
