//! The client side of `FetchSnapshot`: how a node that fell behind a
//! compaction gets the leader's snapshot.

use super::{channel, client, pb, Credentials, LinkConfig, Network};
use crate::raft::{ShardId, SnapshotMeta};
use std::sync::Arc;
use tonic::Status;

/// Fetches the latest snapshot of `shard` from the node at `addr`. What the
/// peer streams is checked, not trusted: exactly one `meta`, in the first
/// chunk; every chunk repeats the same `total`; the bytes received add up to
/// it exactly; memory grows with what arrives, never with what is announced.
pub(crate) async fn fetch_snapshot(
    network: Arc<dyn Network>,
    addr: String,
    link: LinkConfig,
    credentials: &Credentials,
    max_message_bytes: usize,
    shard: ShardId,
    index: u64,
) -> Result<Option<(SnapshotMeta, Vec<u8>)>, Status> {
    // Snapshots can be large: no per-request deadline beyond the caller's.
    let link = LinkConfig {
        request_timeout: std::time::Duration::from_secs(30),
        ..link
    };
    let mut client = client(channel(&network, &addr, &link), credentials)
        .max_decoding_message_size(max_message_bytes);
    let mut stream = client
        .fetch_snapshot(pb::SnapshotRequest { shard, index })
        .await?
        .into_inner();
    let bad =
        |why: String| Status::data_loss(format!("snapshot of shard {shard} from {addr}: {why}"));
    let mut meta = None;
    let mut total = None;
    let mut data = Vec::new();
    let mut first = true;
    while let Some(chunk) = stream.message().await? {
        match (chunk.meta, first) {
            (Some(m), true) => {
                meta = Some(SnapshotMeta::try_from(m).map_err(|e| bad(e.to_string()))?);
            }
            (Some(_), false) => return Err(bad("a second meta after the first chunk".into())),
            (None, true) => return Err(bad("the first chunk carries no meta".into())),
            (None, false) => {}
        }
        first = false;
        if *total.get_or_insert(chunk.total) != chunk.total {
            return Err(bad(format!(
                "chunks announce different totals ({} and {})",
                total.unwrap_or(0),
                chunk.total
            )));
        }
        if data.len() as u64 + chunk.data.len() as u64 > chunk.total {
            return Err(bad(format!(
                "more than the announced {} bytes arrived",
                chunk.total
            )));
        }
        data.extend_from_slice(&chunk.data);
    }
    if let Some(t) = total {
        if data.len() as u64 != t {
            return Err(bad(format!(
                "the stream ended after {} of the announced {t} bytes",
                data.len()
            )));
        }
    }
    Ok(meta.map(|m| (m, data)))
}
