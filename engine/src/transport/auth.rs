//! Who may talk to a node: every call carries the cluster's bearer token when
//! one is configured (peers' `Deliver` and `FetchSnapshot` as well as clients'
//! writes, reads and admin calls), and every Raft batch names the cluster it
//! belongs to, so that a node of another cluster whose ids overlap ours is
//! refused rather than matched (both logs start `(1, 1, Noop)`).
//!
//! ```
//! use tumult_engine::transport::Credentials;
//!
//! let creds = Credentials::new("prod-eu").with_token("s3cret");
//! let mut md = tonic::metadata::MetadataMap::new();
//! creds.stamp(&mut md).unwrap();
//! assert!(creds.verify(&md).is_ok());
//! assert_eq!(
//!     Credentials::new("prod-eu").with_token("other").verify(&md).unwrap_err().code(),
//!     tonic::Code::Unauthenticated
//! );
//! ```

use std::sync::Arc;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Request, Status};

/// The cluster's identity and shared secret, as a node or a client holds them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The cluster's id: peers' batches must carry the same.
    pub cluster: Arc<str>,
    /// The bearer token every call must carry; `None` accepts any call.
    pub token: Option<Arc<str>>,
}

impl Default for Credentials {
    /// Cluster `tumult`, no token.
    fn default() -> Credentials {
        Credentials::new("tumult")
    }
}

impl Credentials {
    /// The cluster `cluster`, without a token.
    pub fn new(cluster: &str) -> Credentials {
        Credentials {
            cluster: cluster.into(),
            token: None,
        }
    }

    /// Requires (and sends) `token` on every call.
    pub fn with_token(mut self, token: &str) -> Credentials {
        self.token = Some(token.into());
        self
    }

    /// Puts the token, if any, into an outgoing call's metadata.
    pub fn stamp(&self, md: &mut MetadataMap) -> Result<(), Status> {
        if let Some(t) = &self.token {
            let value = MetadataValue::try_from(format!("Bearer {t}"))
                .map_err(|_| Status::invalid_argument("the token is not valid header text"))?;
            md.insert("authorization", value);
        }
        Ok(())
    }

    /// Checks an incoming call's token: `Unauthenticated` if one is required
    /// and it is missing or wrong.
    pub fn verify(&self, md: &MetadataMap) -> Result<(), Status> {
        let Some(want) = &self.token else {
            return Ok(());
        };
        let got = md
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match got {
            None => Err(Status::unauthenticated(
                "this node requires a bearer token (authorization: Bearer <token>)",
            )),
            Some(got) if !same(got.as_bytes(), want.as_bytes()) => Err(Status::unauthenticated(
                "the bearer token is not this cluster's",
            )),
            Some(_) => Ok(()),
        }
    }

    /// Checks the cluster a peer's batch names: `PermissionDenied` if it is
    /// another cluster's.
    pub fn verify_cluster(&self, from: u64, cluster: &str) -> Result<(), Status> {
        if cluster == &*self.cluster {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "node {from} belongs to cluster {cluster:?}, this node to {:?}",
                self.cluster
            )))
        }
    }
}

/// Compares without stopping at the first difference, so the time taken does
/// not tell how much of a guessed token was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl tonic::service::Interceptor for Credentials {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        self.stamp(request.metadata_mut())?;
        Ok(request)
    }
}

/// A channel whose every call carries the credentials' token.
pub type AuthChannel = InterceptedService<Channel, Credentials>;

/// A client of the node service over `channel`, sending `creds`' token.
pub fn client(
    channel: Channel,
    creds: &Credentials,
) -> super::pb::tumult_client::TumultClient<AuthChannel> {
    super::pb::tumult_client::TumultClient::with_interceptor(channel, creds.clone())
}
