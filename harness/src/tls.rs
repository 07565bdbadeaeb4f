//! Certificates for a run with `[engine] tls = true`: a CA, one certificate
//! per node (named `node-<id>`, as the engine expects) and one for the
//! clients, made when the run starts. Ed25519 keys: their signatures have a
//! fixed size, so the TLS handshakes have the same shape in every run and
//! the history stays byte-identical for a seed although the keys differ.

use tumult_engine::raft::NodeId;
use tumult_engine::transport::{node_name, TlsConfig};

/// The run's CA and certificates, as PEM.
pub struct Pki {
    ca: String,
    nodes: Vec<(String, String)>,
    client: (String, String),
}

impl Pki {
    /// Certificates for nodes `1..=nodes` and a client.
    pub fn new(nodes: u32) -> Result<Pki, rcgen::Error> {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, PKCS_ED25519};
        let ca_key = KeyPair::generate_for(&PKCS_ED25519)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key)?;
        let issue = |name: String| -> Result<(String, String), rcgen::Error> {
            let key = KeyPair::generate_for(&PKCS_ED25519)?;
            let cert = CertificateParams::new(vec![name])?.signed_by(&key, &ca, &ca_key)?;
            Ok((cert.pem(), key.serialize_pem()))
        };
        Ok(Pki {
            nodes: (1..=u64::from(nodes))
                .map(|i| issue(node_name(i)))
                .collect::<Result<_, _>>()?,
            client: issue("tumult-client".into())?,
            ca: ca.pem(),
        })
    }

    fn config(&self, (cert, key): &(String, String)) -> TlsConfig {
        TlsConfig::from_pem(self.ca.as_bytes(), cert.as_bytes(), key.as_bytes())
            .expect("certificates made for the run parse")
    }

    /// Node `id`'s TLS configuration.
    pub fn node(&self, id: NodeId) -> TlsConfig {
        self.config(&self.nodes[(id - 1) as usize])
    }

    /// The clients' TLS configuration.
    pub fn client(&self) -> TlsConfig {
        self.config(&self.client)
    }
}
