//! Jepsen's own history files (`--format jepsen-edn`) with Knossos's
//! models and semantics: our own EDN fixtures, good and bad.

use tumult_models::history::HistoryError;
use tumult_models::lin::jepsen::{JepsenModel, JepsenOptions};
use tumult_models::lin::{check_text, CheckOptions, Format, Report, Verdict};

fn check(model: JepsenModel, initial: Option<&str>, text: &str) -> Result<Report, HistoryError> {
    let opts = CheckOptions {
        jepsen: JepsenOptions {
            model,
            initial: initial.map(str::to_string),
        },
        threads: 1,
        ..CheckOptions::default()
    };
    check_text(text, Format::JepsenEdn, &opts)
}

fn verdict(model: JepsenModel, initial: Option<&str>, text: &str) -> Verdict {
    check(model, initial, text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .verdict
}

fn linearizable(model: JepsenModel, text: &str) -> bool {
    match verdict(model, None, text) {
        Verdict::Ok => true,
        Verdict::Violation { .. } => false,
        Verdict::Unknown => panic!("undecided:\n{text}"),
    }
}

fn bad(model: JepsenModel, text: &str) -> (usize, String) {
    match check(model, None, text) {
        Err(HistoryError::Line { line, message }) => (line, message),
        Err(e) => panic!("not a line error: {e}"),
        Ok(r) => panic!("accepted: {:?}\n{text}", r.verdict),
    }
}

use JepsenModel::{CasRegister, MultiRegister, Register};

#[test]
fn a_vector_of_op_maps_with_a_nemesis_and_an_indeterminate_cas() {
    // As `jepsen.history` writes it: a vector, one map per line, tagged
    // records and nemesis operations among the clients'.
    let h = r#"[{:type :invoke, :f :write, :value 1, :process 0, :time 10, :index 0}
 {:type :ok, :f :write, :value 1, :process 0, :time 20, :index 1}
 {:type :info, :f :start, :value nil, :process :nemesis, :time 25, :index 2}
 #jepsen.history.Op{:type :invoke, :f :cas, :value [1 2], :process 1, :time 30, :index 3}
 {:type :info, :f :cas, :value [1 2], :process 1, :time 40, :index 4, :error :timeout}
 {:type :invoke, :f :read, :value nil, :process 2, :time 50, :index 5}
 {:type :ok, :f :read, :value 2, :process 2, :time 60, :index 6}]
"#;
    assert!(linearizable(CasRegister, h));
    let r = check(CasRegister, None, h).unwrap();
    assert_eq!(
        (r.model, r.operations, r.indeterminate),
        ("cas-register", 3, 1)
    );
    // The same history read 3: nothing wrote 3.
    assert!(!linearizable(
        CasRegister,
        &h.replace(":value 2, :process 2", ":value 3, :process 2")
    ));
}

#[test]
fn a_stale_read_one_map_per_line_is_a_violation_naming_its_lines() {
    let h = "{:process 0, :type :invoke, :f :write, :value 1}\n\
             {:process 0, :type :ok, :f :write, :value 1}\n\
             {:process 0, :type :invoke, :f :write, :value 2}\n\
             {:process 0, :type :ok, :f :write, :value 2}\n\
             {:process 1, :type :invoke, :f :read, :value nil}\n\
             {:process 1, :type :ok, :f :read, :value 1}\n";
    let Verdict::Violation { ops, .. } = verdict(Register, None, h) else {
        panic!("the stale read is not caught");
    };
    let lines: Vec<usize> = ops.iter().map(|o| o.invoke_line).collect();
    assert!(lines.contains(&5), "the read of line 5 is in {ops:?}");
    assert!(
        lines.contains(&3),
        "the overwriting write of line 3 is in {ops:?}"
    );
}

#[test]
fn a_nil_read_matches_any_state_as_in_knossos() {
    let h = "{:process 0, :type :invoke, :f :write, :value 1}\n\
             {:process 0, :type :ok, :f :write, :value 1}\n\
             {:process 1, :type :invoke, :f :read, :value nil}\n\
             {:process 1, :type :ok, :f :read, :value nil}\n";
    assert!(linearizable(Register, h));
    assert_eq!(check(Register, None, h).unwrap().dropped, 1);
}

#[test]
fn a_failed_op_did_not_happen_an_info_op_may_have() {
    let h = |t: &str| {
        format!(
            "{{:process 0, :type :invoke, :f :write, :value 7}}\n\
             {{:process 0, :type :{t}, :f :write, :value 7}}\n\
             {{:process 1, :type :invoke, :f :read, :value nil}}\n\
             {{:process 1, :type :ok, :f :read, :value 7}}\n"
        )
    };
    assert!(!linearizable(Register, &h("fail")));
    assert!(linearizable(Register, &h("info")));
    assert!(linearizable(Register, &h("ok")));
    // An invoke that never completes may have happened, too.
    let never = "{:process 0, :type :invoke, :f :write, :value 7}\n\
                 {:process 1, :type :invoke, :f :read, :value nil}\n\
                 {:process 1, :type :ok, :f :read, :value 7}\n";
    assert!(linearizable(Register, never));
    // A failed cas did not happen either.
    let cas = "{:process 0, :type :invoke, :f :cas, :value [nil 5]}\n\
               {:process 0, :type :fail, :f :cas, :value [nil 5]}\n\
               {:process 1, :type :invoke, :f :read, :value nil}\n\
               {:process 1, :type :ok, :f :read, :value 5}\n";
    assert!(!linearizable(CasRegister, cas));
}

#[test]
fn the_initial_value_comes_from_initial() {
    let h = "{:process 0, :type :invoke, :f :cas, :value [0 1]}\n\
             {:process 0, :type :ok, :f :cas, :value [0 1]}\n\
             {:process 1, :type :invoke, :f :read, :value nil}\n\
             {:process 1, :type :ok, :f :read, :value 1}\n";
    assert!(
        !linearizable(CasRegister, h),
        "a nil register cannot swap from 0"
    );
    assert_eq!(verdict(CasRegister, Some("0"), h), Verdict::Ok);
    // EDN values other than integers compare as data.
    let kw = h
        .replace("[0 1]", "[:a \"b\"]")
        .replace(":value 1}", ":value \"b\"}");
    assert_eq!(verdict(CasRegister, Some(":a"), &kw), Verdict::Ok);
    assert!(matches!(
        verdict(CasRegister, Some("\"a\""), &kw),
        Verdict::Violation { .. }
    ));
}

#[test]
fn independent_keys_are_checked_one_by_one() {
    // Key 1 is fine; key 2 reads a value written only to key 1.
    let h = "{:process 0, :type :invoke, :f :write, :value [1 5]}\n\
             {:process 0, :type :ok, :f :write, :value [1 5]}\n\
             {:process 1, :type :invoke, :f :read, :value [1 nil]}\n\
             {:process 1, :type :ok, :f :read, :value [1 5]}\n\
             {:process 2, :type :invoke, :f :cas, :value [2 [nil 3]]}\n\
             {:process 2, :type :info, :f :cas, :value [2 [nil 3]]}\n\
             {:process 3, :type :invoke, :f :read, :value [2 nil]}\n\
             {:process 3, :type :ok, :f :read, :value [2 5]}\n";
    let r = check(CasRegister, None, h).unwrap();
    assert_eq!(r.keys, 2);
    let Verdict::Violation { key, .. } = r.verdict else {
        panic!("key 2 is not caught: {:?}", r.verdict);
    };
    assert_eq!(key, "2");
    assert!(linearizable(CasRegister, &h.replace("[2 5]", "[2 3]")));
}

#[test]
fn multi_register_transactions() {
    // A txn writes x and y together; a reader sees the new x with the old y.
    let h = "{:process 0, :type :invoke, :f :txn, :value [[:write :x 1] [:write :y 1]]}\n\
             {:process 0, :type :ok, :f :txn, :value [[:write :x 1] [:write :y 1]]}\n\
             {:process 1, :type :invoke, :f :txn, :value [[:read :x nil] [:read :y nil]]}\n\
             {:process 1, :type :ok, :f :txn, :value [[:read :x 1] [:read :y 1]]}\n";
    assert!(linearizable(MultiRegister, h));
    let torn = h.replace("[:read :y 1]", "[:read :y 0]");
    assert!(!linearizable(MultiRegister, &torn));
    // With every register 0 at first, the torn read is still torn: the
    // writes were one transaction, and the read came after it.
    assert!(matches!(
        verdict(MultiRegister, Some("0"), &torn),
        Verdict::Violation { .. }
    ));
    // Reading 0 for y before anything was written is fine with --initial 0.
    let before = "{:process 1, :type :invoke, :f :txn, :value [[:read :y nil]]}\n\
                  {:process 1, :type :ok, :f :txn, :value [[:read :y 0]]}\n\
                  {:process 0, :type :invoke, :f :txn, :value [[:write :y 1]]}\n\
                  {:process 0, :type :ok, :f :txn, :value [[:write :y 1]]}\n";
    assert_eq!(verdict(MultiRegister, Some("0"), before), Verdict::Ok);
    assert!(!linearizable(MultiRegister, before));
    // An indeterminate txn may have written.
    let info = "{:process 0, :type :invoke, :f :txn, :value [[:write :x 2] [:read :y nil]]}\n\
                {:process 0, :type :info, :f :txn, :value [[:write :x 2] [:read :y nil]]}\n\
                {:process 1, :type :invoke, :f :txn, :value [[:read :x nil]]}\n\
                {:process 1, :type :ok, :f :txn, :value [[:read :x 2]]}\n";
    assert!(linearizable(MultiRegister, info));
}

#[test]
fn bad_input_names_the_line_and_what_is_wrong() {
    let cases: &[(JepsenModel, &str, usize, &str)] = &[
        (Register, "{:process 0, :type :invoke, :f :read}\n[1 2]\n", 2, "must be a map"),
        (Register, "\n\n{:process 0, :f :read}\n", 3, "no :type"),
        (Register, "{:process 0, :type :done, :f :read}\n", 1, ":type must be"),
        (Register, "{:type :invoke, :f :read}\n", 1, "no :process"),
        (
            Register,
            "{:process 0, :type :invoke, :f :cas, :value [1 2]}\n",
            1,
            "--model cas-register",
        ),
        (
            CasRegister,
            "{:process 0, :type :invoke, :f :txn, :value []}\n",
            1,
            "--model multi-register",
        ),
        (Register, "{:process 0, :type :ok, :f :read, :value 1}\n", 1, "no open :invoke"),
        (
            Register,
            "{:process 0, :type :invoke, :f :read}\n{:process 0, :type :invoke, :f :read}\n",
            2,
            "still open",
        ),
        (
            CasRegister,
            "{:process 0, :type :invoke, :f :cas, :value 3}\n{:process 0, :type :ok, :f :cas, :value 3}\n",
            2,
            "[old new]",
        ),
        (Register, "[{:process 0, :type :invoke, :f :read}\n", 2, "`]`"),
        (Register, "{:process 0, :type :invoke,\n :f :read :value ]}\n", 2, "not EDN"),
        (
            MultiRegister,
            "{:process 0, :type :invoke, :f :txn, :value [[:append :x 1]]}\n",
            1,
            "micro-operation",
        ),
        (Register, "{:process 0, :type :invoke, :f :read, :time -4}\n", 1, ":time"),
    ];
    for (model, text, line, what) in cases {
        let (l, m) = bad(*model, text);
        assert_eq!(
            (l, m.contains(what)),
            (*line, true),
            "{text:?}: line {l}: {m}"
        );
    }
    assert!(tumult_models::lin::jepsen::parse_initial("1 2").is_err());
    assert!(tumult_models::lin::jepsen::parse_initial("{:a").is_err());
}
