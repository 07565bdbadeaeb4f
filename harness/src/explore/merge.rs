//! `tumult explore --merge DIR...`: the directories that explores on
//! several machines wrote (`--partition K/N`), merged into one: their
//! parents and found scenarios copied side by side, their coverage united,
//! their figures summed into one `explore.json`.

use super::{read_coverage, write_summary, Features, SUMMARY_FILE};
use std::path::{Path, PathBuf};
use tumult_models::artifact::{read_explore_summary, ExploreSummary};

/// What a merge made.
#[derive(Clone, Debug)]
pub struct Merged {
    pub summary: ExploreSummary,
    /// The most features any one directory reached by itself.
    pub largest_part: usize,
}

impl Merged {
    /// One line for the terminal.
    pub fn line(&self) -> String {
        let s = &self.summary;
        let seeds: Vec<String> = s.seeds.iter().map(u64::to_string).collect();
        format!(
            "explore merge: {} directories (seeds {}; partitions {}): {} runs, {:.0} simulated s, {:.1} wall s over the machines, {} coverage features (the union; the most one reached alone: {}), {} parents, {} unknown, {}",
            s.merged_from.len(),
            seeds.join(","),
            s.partitions.join(","),
            s.runs,
            s.sim_seconds,
            s.wall_seconds,
            s.features,
            self.largest_part,
            s.parents,
            s.unknown,
            if s.found.is_empty() {
                "nothing found".to_string()
            } else {
                format!("FOUND {}: {}", s.found.len(), s.found.join(", "))
            }
        )
    }
}

/// Merges `dirs` into `out` (which must not be one of them).
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Merged, String> {
    if dirs.is_empty() {
        return Err("--merge: name at least one explore directory".into());
    }
    for d in dirs {
        if same_dir(d, out) {
            return Err(format!(
                "--merge {}: it is also the output directory (--out); merge into a new one",
                d.display()
            ));
        }
    }
    for sub in ["parents", "found"] {
        std::fs::create_dir_all(out.join(sub))
            .map_err(|e| format!("{}: cannot create: {e}", out.join(sub).display()))?;
    }
    let mut total = ExploreSummary::default();
    let mut covered = Features::new();
    let mut largest_part = 0;
    for (k, dir) in dirs.iter().enumerate() {
        let part = read_explore_summary(&dir.join(SUMMARY_FILE)).map_err(|e| e.to_string())?;
        let features = read_coverage(dir)?;
        largest_part = largest_part.max(features.len());
        covered.extend(features);
        total.seeds.extend(&part.seeds);
        total.partitions.extend(part.partitions.iter().cloned());
        total.runs += part.runs;
        total.sim_seconds += part.sim_seconds;
        total.wall_seconds += part.wall_seconds;
        total.unknown += part.unknown;
        total.parents += copy_scenarios(&dir.join("parents"), &out.join("parents"), k)?.len();
        total
            .found
            .extend(copy_scenarios(&dir.join("found"), &out.join("found"), k)?);
        total.merged_from.push(dir.display().to_string());
    }
    total.features = covered.len();
    write_summary(out, &total, &covered)?;
    Ok(Merged {
        summary: total,
        largest_part,
    })
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Copies the scenario files of `from` (if it exists) into `to`, in name
/// order; a name taken by a different file gets the suffix `-m{k+1}`.
/// Returns the names written.
fn copy_scenarios(from: &Path, to: &Path, k: usize) -> Result<Vec<String>, String> {
    if !from.is_dir() {
        return Ok(Vec::new());
    }
    let files = crate::scenario::files_in(from)?;
    let mut names = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("scenario");
        let mut name = format!("{stem}.toml");
        if let Ok(existing) = std::fs::read_to_string(to.join(&name)) {
            if existing == text {
                continue;
            }
            name = format!("{stem}-m{}.toml", k + 1);
        }
        let path = to.join(&name);
        std::fs::write(&path, text)
            .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        names.push(name);
    }
    Ok(names)
}
