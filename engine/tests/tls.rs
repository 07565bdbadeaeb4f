//! Mutual TLS between nodes, over turmoil's network (the code path real TCP
//! uses): a cluster whose certificates are made at run time elects and
//! commits; a batch whose `from` is not the node its connection's
//! certificate names is refused; a connection without TLS gets nowhere.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tonic::Code;
use tumult_engine::transport::pb::{self, tumult_client::TumultClient};
use tumult_engine::transport::{
    channel, node_name, LinkConfig, Network, TlsConfig, TlsNetwork, TurmoilNetwork,
};

/// A CA, a certificate for each of nodes 1..=3 and one for a client.
struct Pki {
    ca: String,
    parties: BTreeMap<String, (String, String)>,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let mut parties = BTreeMap::new();
    for name in (1..=3).map(node_name).chain(["admin-client".to_string()]) {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.clone()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        parties.insert(name, (cert.pem(), key.serialize_pem()));
    }
    Pki {
        ca: ca.pem(),
        parties,
    }
}

impl Pki {
    fn config(&self, party: &str) -> TlsConfig {
        let (cert, key) = &self.parties[party];
        TlsConfig::from_pem(self.ca.as_bytes(), cert.as_bytes(), key.as_bytes()).unwrap()
    }
    fn network(&self, party: &str) -> Arc<dyn Network> {
        Arc::new(TlsNetwork::new(Arc::new(TurmoilNetwork), &self.config(party), &peers(3)).unwrap())
    }
}

#[test]
fn a_tls_cluster_commits_and_refuses_batches_that_do_not_match_their_certificate() {
    let pki = Arc::new(pki());
    let mut sim = sim(71, Duration::from_secs(60));
    let mut spec = Spec::new(3, 1);
    let for_nodes = Arc::clone(&pki);
    spec.configure = Some(Arc::new(move |id, c| {
        c.tls = Some(for_nodes.config(&node_name(id)))
    }));
    let cluster = spec.start(&mut sim);
    let p = Arc::clone(&pki);
    let out = task(&mut sim, "probe", async move {
        let mut c = tumult_engine::client::Client::new(p.network("admin-client"), peers(3), 1);
        c.deadline = Duration::from_secs(20);
        c.write(0, b"over tls".to_vec())
            .await
            .expect("a write over mutual TLS");
        let batch = |from: u64| pb::Batch {
            from,
            cluster: "tumult".into(),
            messages: Vec::new(),
        };
        let code =
            |r: Result<tonic::Response<pb::DeliverAck>, tonic::Status>| r.err().map(|s| s.code());
        // n2's certificate, claiming to be n3.
        let as_n2 = p.network(&node_name(2));
        let mut n1 = TumultClient::new(channel(&as_n2, &addr(1), &LinkConfig::default()));
        let forged = code(n1.deliver(futures::stream::iter(vec![batch(3)])).await);
        let honest = code(n1.deliver(futures::stream::iter(vec![batch(2)])).await);
        // A client's certificate is no node's.
        let admin = p.network("admin-client");
        let mut n1 = TumultClient::new(channel(&admin, &addr(1), &LinkConfig::default()));
        let from_client = code(n1.deliver(futures::stream::iter(vec![batch(2)])).await);
        // No TLS at all.
        let plain: Arc<dyn Network> = Arc::new(TurmoilNetwork);
        let mut n1 = TumultClient::new(channel(&plain, &addr(1), &LinkConfig::default()));
        let status = n1
            .status(pb::StatusRequest { shard: 0 })
            .await
            .err()
            .map(|s| s.code());
        (forged, honest, from_client, status)
    });
    assert!(run_for(&mut sim, Duration::from_secs(50), |_| finished(
        &out
    )));
    let (forged, honest, from_client, plain) = take(&out);
    assert_eq!(
        forged,
        Some(Code::PermissionDenied),
        "n2's certificate claiming n3"
    );
    assert_eq!(honest, None, "n2's certificate as n2");
    assert_eq!(
        from_client,
        Some(Code::PermissionDenied),
        "a client's certificate"
    );
    assert!(plain.is_some(), "a plain connection to a TLS node fails");
    let n1 = cluster.node(1).unwrap().metrics();
    assert_eq!(n1.peers[&3].messages_refused, 1);
    assert_eq!(n1.peers[&2].messages_refused, 1);
    for i in 1..=3 {
        assert!(run_for(&mut sim, Duration::from_secs(5), |_| cluster
            .state(i, 0)
            .len()
            == 1));
    }
}
