//! Seed lists and `--partition K/N`.

use tumult_harness::scenario::{parse_seeds, partition_runs, Partition, MAX_SEEDS};

#[test]
fn seed_forms() {
    assert_eq!(parse_seeds("7").unwrap(), vec![7]);
    assert_eq!(parse_seeds("1..=5").unwrap(), vec![1, 2, 3, 4, 5]);
    assert_eq!(parse_seeds("1..5").unwrap(), vec![1, 2, 3, 4]);
    assert_eq!(parse_seeds("1,5,9").unwrap(), vec![1, 5, 9]);
    assert_eq!(parse_seeds(" 9 , 1,5 ").unwrap(), vec![1, 5, 9]);
    assert_eq!(parse_seeds("3,1..=4,2").unwrap(), vec![1, 2, 3, 4]);
    assert_eq!(parse_seeds("0").unwrap(), vec![0]);
    assert_eq!(parse_seeds("5..=5").unwrap(), vec![5]);
    assert_eq!(parse_seeds("18446744073709551615").unwrap(), vec![u64::MAX]);
    assert_eq!(
        parse_seeds("18446744073709551614..=18446744073709551615").unwrap(),
        vec![u64::MAX - 1, u64::MAX]
    );
}

#[test]
fn bad_seeds_say_why() {
    for (input, needle) in [
        ("", "empty"),
        ("  ", "empty"),
        ("5..5", "empty"),
        ("5..1", "empty"),
        ("5..=1", "empty"),
        ("1,,2", "empty item"),
        ("x", "not a seed"),
        ("-1", "not a seed"),
        ("1..=y", "not a seed"),
        ("1...3", "not a seed"),
        ("18446744073709551616", "too large"),
        ("0..=18446744073709551615", "more than"),
    ] {
        let e = parse_seeds(input).unwrap_err();
        let shown = e.to_string();
        assert!(shown.contains(needle), "{input:?}: {shown}");
        assert!(shown.contains(&format!("\"{input}\"")), "{shown}");
    }
    assert!(parse_seeds(&format!("1..={MAX_SEEDS}")).is_ok());
    assert!(parse_seeds(&format!("0..={MAX_SEEDS}")).is_err());
}

#[test]
fn partition_parsing() {
    assert_eq!("1/1".parse::<Partition>().unwrap(), Partition::WHOLE);
    assert_eq!(
        "2/4".parse::<Partition>().unwrap(),
        Partition { index: 2, count: 4 }
    );
    assert_eq!(" 3 / 4 ".parse::<Partition>().unwrap().to_string(), "3/4");
    for bad in ["0/4", "5/4", "1/0", "1", "a/b", "1/2/3", "-1/2", ""] {
        let e = bad.parse::<Partition>().unwrap_err();
        assert!(e.to_string().starts_with("bad partition"), "{e}");
    }
}

#[test]
fn partitions_cover_every_run_exactly_once() {
    let runs: Vec<(String, u64)> = ["a", "b", "c", "d"]
        .iter()
        .flat_map(|s| (1..=5).map(move |seed| (s.to_string(), seed)))
        .collect();
    for n in 1..=25 {
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        for k in 1..=n {
            let slice = partition_runs(&format!("{k}/{n}"), &runs).unwrap();
            sizes.push(slice.len());
            // Deterministic.
            assert_eq!(slice, Partition::new(k, n).unwrap().select(&runs));
            seen.extend(slice.into_iter().cloned());
        }
        seen.sort();
        let mut all = runs.clone();
        all.sort();
        assert_eq!(seen, all, "N = {n}");
        // Balanced: slice sizes differ by at most one.
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(max - min <= 1, "N = {n}: {sizes:?}");
    }
}

#[test]
fn partition_keeps_original_order() {
    let items: Vec<u32> = (0..10).collect();
    let p = Partition::new(1, 3).unwrap();
    assert_eq!(p.select(&items), vec![&0, &3, &6, &9]);
    assert!(p.contains(6) && !p.contains(7));
}
