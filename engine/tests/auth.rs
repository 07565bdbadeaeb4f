//! A cluster with an id and a bearer token: every call without the token is
//! `Unauthenticated` (clients' writes, reads, admin and status calls, and
//! peers' `Deliver` and `FetchSnapshot`), a batch of another cluster is
//! `PermissionDenied` and counted, and the cluster itself, whose nodes send
//! both, elects and commits as usual.

mod common;

use common::*;
use std::sync::Arc;
use std::time::Duration;
use tonic::Code;
use tumult_engine::transport::pb::{self, tumult_client::TumultClient};
use tumult_engine::transport::{
    channel, client as auth_client, Credentials, LinkConfig, Network, TurmoilNetwork,
};

fn creds() -> Credentials {
    Credentials::new("blue").with_token("s3cret")
}

#[test]
fn calls_without_the_token_or_from_another_cluster_are_refused() {
    let mut sim = sim(61, Duration::from_secs(60));
    let mut spec = Spec::new(3, 1);
    spec.configure = Some(Arc::new(|_, c| c.credentials = creds()));
    let cluster = spec.start(&mut sim);
    let out = task(&mut sim, "probe", async move {
        let mut good = client(3, 1).with_token("s3cret");
        good.write(0, b"hello".to_vec())
            .await
            .expect("a write with the token");
        let net: Arc<dyn Network> = Arc::new(TurmoilNetwork);
        let ch = || channel(&net, &addr(1), &LinkConfig::default());
        let mut anon = TumultClient::new(ch());
        let mut wrong = auth_client(ch(), &Credentials::new("blue").with_token("guess"));
        let mut other_cluster = auth_client(ch(), &Credentials::new("red").with_token("s3cret"));
        fn code<T>(r: Result<tonic::Response<T>, tonic::Status>) -> Option<Code> {
            r.err().map(|s| s.code())
        }
        let mut got = Vec::new();
        let write = || pb::WriteRequest {
            shard: 0,
            data: b"x".to_vec(),
            ..Default::default()
        };
        got.push((
            "write without a token",
            code(anon.write(write()).await),
            Some(Code::Unauthenticated),
        ));
        got.push((
            "write with a wrong token",
            code(wrong.write(write()).await),
            Some(Code::Unauthenticated),
        ));
        let status = || pb::StatusRequest { shard: 0 };
        got.push((
            "status without a token",
            code(anon.status(status()).await),
            Some(Code::Unauthenticated),
        ));
        let fetch = || pb::SnapshotRequest { shard: 0, index: 1 };
        let r = anon.fetch_snapshot(fetch()).await.err().map(|s| s.code());
        got.push((
            "fetch-snapshot without a token",
            r,
            Some(Code::Unauthenticated),
        ));
        let batch = |cluster: &str| pb::Batch {
            from: 2,
            cluster: cluster.into(),
            messages: Vec::new(),
        };
        let r = anon
            .deliver(futures::stream::iter(vec![batch("blue")]))
            .await;
        got.push((
            "deliver without a token",
            code(r),
            Some(Code::Unauthenticated),
        ));
        let r = other_cluster
            .deliver(futures::stream::iter(vec![batch("red")]))
            .await;
        got.push((
            "deliver of another cluster",
            code(r),
            Some(Code::PermissionDenied),
        ));
        // The engine's own client is told why, and stops.
        let refused = client(3, 2).write(0, b"y".to_vec()).await;
        (got, refused)
    });
    assert!(run_for(&mut sim, Duration::from_secs(40), |_| finished(
        &out
    )));
    let (got, refused) = take(&out);
    for (what, code, want) in got {
        assert_eq!(code, want, "{what}");
    }
    match refused {
        Err(tumult_engine::node::ClientError::Refused(why)) => {
            assert!(why.contains("bearer token"), "{why}")
        }
        other => panic!("a client without the token must be refused: {other:?}"),
    }
    let n1 = cluster.node(1).expect("n1 running").metrics();
    assert_eq!(
        n1.peers[&2].messages_refused, 1,
        "the other cluster's batch was counted"
    );
    // Nothing refused reached the shard: only the authenticated write.
    for i in 1..=3 {
        assert!(run_for(&mut sim, Duration::from_secs(5), |_| cluster
            .state(i, 0)
            .len()
            == 1));
        assert_eq!(cluster.state(i, 0), vec![b"hello".to_vec()]);
    }
}
