//! The order the system claims, tried before any search.
//!
//! A history is linearizable as soon as one valid linearization is found,
//! and the system under test knows the order it applied commands in: each
//! command's invoke line carries its request id (`"request": [client,
//! seq]`), and the trace's `apply` event of the entry where that command
//! took effect names the same id at its `log_index`. For a register key the
//! claimed order is the commands by log index, each read placed right after
//! the command that wrote the value it returned (values are unique), reads
//! of one slot in invoke order; an indeterminate command the trace never
//! applied is left out (it did not happen).
//!
//! Nothing is trusted: the order is replayed through the spec and every
//! real-time constraint is checked, so a claim that is wrong, or
//! incomplete, is just not a witness, and the key goes to the search. A
//! witness that holds proves the key linearizable in time linear in its
//! operations.

use super::prepare::RequestId;
use super::spec::{Operation, RegisterOp, RegisterSpec, Spec};
use std::collections::HashMap;

/// Whether `ops` of one register key are linearizable in the order the
/// system claims: `requests[i]` is op `i`'s request id, `applied` the log
/// index where each request took effect.
pub(crate) fn register_holds(
    ops: &[Operation<RegisterSpec>],
    requests: &[Option<RequestId>],
    applied: &HashMap<RequestId, u64>,
) -> bool {
    // The commands the system applied, by log index.
    let mut changers: Vec<(u64, usize)> = Vec::new();
    let mut reads: Vec<usize> = Vec::new();
    for (i, o) in ops.iter().enumerate() {
        let open = o.metadata.is_some_and(|m| m.open);
        match (&o.op, requests.get(i).copied().flatten()) {
            (RegisterOp::Read(_), _) => reads.push(i),
            (_, Some(r)) => match applied.get(&r) {
                Some(&index) => changers.push((index, i)),
                // Never applied: an indeterminate one did not happen.
                None if open => {}
                None => return false,
            },
            // A command without a claim: no witness.
            (_, None) => return false,
        }
    }
    changers.sort_unstable();
    if changers.windows(2).any(|w| w[0].0 == w[1].0) {
        return false;
    }
    // The slots each value is held in: slot k is after the first k
    // changers, and a value holds from the slot after the changer that
    // wrote it up to the slot before the next changer that replaced it.
    let mut state = RegisterSpec::init();
    let mut held: HashMap<Option<i64>, (usize, usize)> = HashMap::new();
    let mut from = 0;
    for (k, &(_, i)) in changers.iter().enumerate() {
        let Some(next) = RegisterSpec::step(&state, &ops[i].op) else {
            return false;
        };
        if next != state {
            // A value held twice is not the unique writes reads are
            // placed by.
            if held.insert(state, (from, k)).is_some() {
                return false;
            }
            from = k + 1;
            state = next;
        }
    }
    if held.insert(state, (from, changers.len())).is_some() {
        return false;
    }
    // Each read in the earliest slot of its value's span that is after
    // every changer of the span that returned before the read was invoked;
    // a slot's reads in invoke order.
    let mut placed: Vec<(usize, i64, usize)> = Vec::with_capacity(reads.len());
    for &i in &reads {
        let RegisterOp::Read(v) = ops[i].op else {
            unreachable!("only reads were gathered")
        };
        let Some(&(first, last)) = held.get(&v) else {
            return false;
        };
        let call = ops[i].call_time;
        let slot = (first..last)
            .rev()
            .find(|&k| ops[changers[k].1].return_time < call)
            .map_or(first, |k| k + 1);
        placed.push((slot, call, i));
    }
    placed.sort_unstable();
    let mut order: Vec<usize> = Vec::with_capacity(changers.len() + placed.len());
    let mut next_read = placed.iter().peekable();
    for slot in 0..=changers.len() {
        while let Some(&(_, _, i)) = next_read.next_if(|r| r.0 == slot) {
            order.push(i);
        }
        if slot < changers.len() {
            order.push(changers[slot].1);
        }
    }
    holds(ops, &order)
}

/// Whether `order` (indices into `ops`) is a linearization: every closed
/// operation is in it once, each step is allowed by the spec, and no
/// operation comes after one that was invoked after it returned.
pub(crate) fn holds<M: Spec>(ops: &[Operation<M>], order: &[usize]) -> bool {
    let mut seen = vec![false; ops.len()];
    let mut state = M::init();
    let mut latest_call = i64::MIN;
    for &i in order {
        if std::mem::replace(&mut seen[i], true) {
            return false;
        }
        let o = &ops[i];
        if o.return_time < latest_call {
            return false;
        }
        latest_call = latest_call.max(o.call_time);
        match M::step(&state, &o.op) {
            Some(next) => state = next,
            None => return false,
        }
    }
    ops.iter()
        .zip(&seen)
        .all(|(o, &s)| s || o.metadata.is_some_and(|m| m.open))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lin::spec::{CasOutcome, OpMeta};

    fn op(call: i64, ret: i64, op: RegisterOp, open: bool) -> Operation<RegisterSpec> {
        Operation {
            client_id: Some(0),
            call_time: call,
            return_time: ret,
            op,
            metadata: Some(OpMeta {
                process: 0,
                index: call as u64,
                invoke_line: call as usize,
                complete_line: Some(ret as usize),
                invoke_time: call as u64,
                complete_time: Some(ret as u64),
                open,
            }),
        }
    }

    #[test]
    fn the_claimed_order_is_a_witness_only_if_it_replays_in_real_time() {
        let ops = vec![
            op(0, 3, RegisterOp::Write(1), false),
            op(2, 100, RegisterOp::Write(2), true),
            op(4, 6, RegisterOp::Read(Some(2)), false),
            op(
                5,
                8,
                RegisterOp::Cas {
                    expected: 2,
                    new: 3,
                    outcome: CasOutcome::Ok,
                },
                false,
            ),
            op(9, 10, RegisterOp::Read(Some(3)), false),
        ];
        let requests = vec![Some([1, 1]), Some([2, 1]), None, Some([1, 2]), None];
        let applied: HashMap<[u64; 2], u64> = [([1, 1], 3), ([2, 1], 4), ([1, 2], 6)]
            .into_iter()
            .collect();
        assert!(register_holds(&ops, &requests, &applied));
        // The indeterminate write applied before the first: the read of 2
        // and the cas cannot both hold.
        let swapped: HashMap<[u64; 2], u64> = [([1, 1], 5), ([2, 1], 4), ([1, 2], 6)]
            .into_iter()
            .collect();
        assert!(!register_holds(&ops, &requests, &swapped));
        // A claim missing for an acknowledged write: no witness.
        let missing: HashMap<[u64; 2], u64> = [([2, 1], 4), ([1, 2], 6)].into_iter().collect();
        assert!(!register_holds(&ops, &requests, &missing));
        // A read that returned before the write it saw was invoked.
        let mut early = ops.clone();
        early[2] = op(0, 1, RegisterOp::Read(Some(2)), false);
        assert!(!register_holds(&early, &requests, &applied));
    }

    #[test]
    fn an_indeterminate_command_never_applied_did_not_happen() {
        let ops = vec![
            op(0, 2, RegisterOp::Write(1), false),
            op(1, 100, RegisterOp::Write(2), true),
            op(3, 4, RegisterOp::Read(Some(1)), false),
        ];
        let requests = vec![Some([1, 1]), Some([2, 1]), None];
        let applied: HashMap<[u64; 2], u64> = [([1, 1], 1)].into_iter().collect();
        assert!(register_holds(&ops, &requests, &applied));
    }

    #[test]
    fn a_read_goes_after_the_commands_that_left_its_value_and_returned_before_it() {
        let mismatch = RegisterOp::Cas {
            expected: 5,
            new: 6,
            outcome: CasOutcome::Mismatch,
        };
        let ops = vec![
            op(0, 2, RegisterOp::Write(1), false),
            op(1, 3, mismatch, false),
            op(4, 5, RegisterOp::Read(Some(1)), false),
            op(6, 7, RegisterOp::Write(2), false),
        ];
        let requests = vec![Some([1, 1]), Some([2, 1]), None, Some([1, 2])];
        let applied: HashMap<[u64; 2], u64> = [([1, 1], 1), ([2, 1], 2), ([1, 2], 3)]
            .into_iter()
            .collect();
        assert!(register_holds(&ops, &requests, &applied));
        // Seen after the value was replaced: no slot holds it.
        let mut late = ops.clone();
        late[2] = op(8, 9, RegisterOp::Read(Some(1)), false);
        assert!(!register_holds(&late, &requests, &applied));
    }
}
