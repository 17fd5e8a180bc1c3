//! The untraced path against the floor, alternated in one process (`hook-ab`, issue 13): the
//! recorder's `sys_enter`/`sys_exit` and the empty programs are attached in turn every few
//! milliseconds, so each round's pair sees the same machine. Separate runs, as the loop stage
//! makes them, move by 10–25 % on this VM from one to the next.

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::cmd;

/// What `hook-ab` printed: medians of its two series, and its per-round ratios.
pub struct Alternated {
    pub floor_ns: f64,
    pub untraced_ns: f64,
    pub ratios: Vec<f64>,
}

impl Alternated {
    pub fn to_json(&self) -> Value {
        json!({
            "floor_ns": self.floor_ns,
            "untraced_ns": self.untraced_ns,
            "untraced_over_floor_per_round": self.ratios,
        })
    }
}

/// Runs `hook-ab --rounds N` (built with the release binaries).
pub fn measure(rounds: usize) -> Result<Alternated> {
    let hook_ab = crate::workspace::release_bin("hook-ab");
    println!(
        "xtask: bench: {rounds} rounds of hook-ab (the recorder's sys_enter/sys_exit and the \
         empty programs attached in turn, one process)"
    );
    let mut c = cmd::new(&hook_ab);
    c.args(["--rounds", &rounds.to_string()]);
    let out = cmd::output(&mut c)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    parse(&stdout).with_context(|| {
        format!(
            "find `floor_ns=<ns> untraced_ns=<ns> ratios=<r>,…` in the stdout of `{}`:\n{}",
            cmd::display(&c),
            stdout.trim_end()
        )
    })
}

fn parse(stdout: &str) -> Option<Alternated> {
    let line = stdout.lines().find(|line| line.starts_with("floor_ns="))?;
    let value = |key: &str| {
        line.split_whitespace()
            .find_map(|word| word.strip_prefix(key))
    };
    let ratios = value("ratios=")?
        .split(',')
        .map(str::parse)
        .collect::<Result<Vec<f64>, _>>()
        .ok()?;
    Some(Alternated {
        floor_ns: value("floor_ns=")?.parse().ok()?,
        untraced_ns: value("untraced_ns=")?.parse().ok()?,
        ratios: (!ratios.is_empty()).then_some(ratios)?,
    })
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parses_hook_ab_line() {
        let parsed = parse("floor_ns=210.1 untraced_ns=221.5 ratios=1.0500,1.0600,0.9900\n")
            .expect("parsed");
        assert_eq!(parsed.floor_ns, 210.1);
        assert_eq!(parsed.untraced_ns, 221.5);
        assert_eq!(parsed.ratios, vec![1.05, 1.06, 0.99]);
        assert!(parse("floor_ns=1 untraced_ns=2 ratios=").is_none());
        assert!(parse("nothing").is_none());
    }
}
