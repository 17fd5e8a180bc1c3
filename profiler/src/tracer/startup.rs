//! Start-up steps of `Tracer::load_with` that run beside the loader or after it (issue 13):
//! verifying and attaching the programs two at a time, and reading the memory-accounting probe's
//! address from /proc/kallsyms after tracing is active.

use std::time::{Duration, Instant};

use aya::{
    Ebpf,
    maps::{Array, MapData},
    programs::RawTracePoint,
};
use profiler_common::maps;

use super::{PROGRAMS, TracerError, map_err};

/// Reads the memory-accounting probe's address range from /proc/kallsyms on a thread of its
/// own (generating the file costs the kernel ~50 ms) and writes it to VM_PROBE when done: the
/// recording does not wait for it. Until then, and when kallsyms hides addresses, the kernel
/// side classifies CAP_SYS_ADMIN probes by syscall.
pub(super) fn set_vm_probe_later(ebpf: &mut Ebpf) -> Result<(), TracerError> {
    let map = ebpf
        .take_map(maps::VM_PROBE)
        .ok_or(TracerError::MissingMap(maps::VM_PROBE))?;
    let mut array: Array<MapData, [u64; 2]> =
        Array::try_from(map).map_err(map_err(maps::VM_PROBE))?;
    std::thread::spawn(move || match symbol_range(VM_PROBE_SYMBOL) {
        Some((start, end)) => {
            if let Err(err) = array.set(0, [start, end], 0) {
                log::warn!("cannot set {}: {err}", maps::VM_PROBE);
            }
        }
        None => log::info!(
            "{VM_PROBE_SYMBOL} not found in /proc/kallsyms: classifying CAP_SYS_ADMIN probes by syscall"
        ),
    });
    Ok(())
}

/// A program's name, whether it loaded and attached, and when (since start-up began).
pub(super) type Attached = (&'static str, Result<(), TracerError>, Duration);

pub(super) fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Says where start-up time went (with `-vv`), or the first program that failed to attach.
pub(super) fn log_steps(
    started: Instant,
    [offsets, loader, maps]: [Duration; 3],
    attached: Vec<Attached>,
) -> Result<(), TracerError> {
    let mut steps = format!(
        "offsets (BTF) {:.1} while aya's loader (BTF) {:.1}, maps {:.1}; verified and attached by",
        ms(offsets),
        ms(loader),
        ms(maps - loader.max(offsets))
    );
    for (program, result, at) in attached {
        result?;
        steps += &format!(" {program} {:.1}", ms(at));
    }
    log::debug!(
        "eBPF loaded and attached in {:.1} ms ({steps} ms)",
        ms(started.elapsed())
    );
    Ok(())
}

/// Loads (the kernel verifies) and attaches [`PROGRAMS`] and then `cap_capable`, on two threads;
/// returns each one's result and when it was attached, in that order. A program missing from
/// the object is a build mismatch.
pub(super) fn attach_all(ebpf: &mut Ebpf, started: Instant) -> Result<Vec<Attached>, TracerError> {
    let wanted: Vec<(&'static str, &'static str)> = PROGRAMS
        .into_iter()
        .chain([("cap_capable", "cap_capable")])
        .collect();
    let mut found: Vec<Option<&mut aya::programs::Program>> = wanted.iter().map(|_| None).collect();
    for (name, program) in ebpf.programs_mut() {
        if let Some(index) = wanted.iter().position(|(wanted, _)| *wanted == name) {
            found[index] = Some(program);
        }
    }
    let mut jobs = Vec::with_capacity(wanted.len());
    for (&(name, tracepoint), program) in wanted.iter().zip(found) {
        jobs.push((
            name,
            tracepoint,
            program.ok_or(TracerError::MissingProgram(name))?,
        ));
    }
    // Alternate: sys_enter, fork, exit, cgroup_attach_task on one core; sys_exit, exec,
    // cgroup_mkdir, cap_capable on the other (sys_enter and cgroup_mkdir take the verifier
    // longest).
    let (mut odd, mut even) = (Vec::new(), Vec::new());
    for (index, job) in jobs.into_iter().enumerate() {
        if index % 2 == 0 { &mut even } else { &mut odd }.push((index, job));
    }
    let run = |jobs: Vec<(
        usize,
        (&'static str, &'static str, &mut aya::programs::Program),
    )>| {
        jobs.into_iter()
            .map(|(index, (name, tracepoint, program))| {
                (
                    index,
                    name,
                    load_attach(program, name, tracepoint),
                    started.elapsed(),
                )
            })
            .collect::<Vec<_>>()
    };
    let mut done = std::thread::scope(|scope| {
        let other = scope.spawn(|| run(odd));
        let mut done = run(even);
        done.extend(other.join().expect("a program-loading thread panicked"));
        done
    });
    done.sort_by_key(|(index, ..)| *index);
    Ok(done
        .into_iter()
        .map(|(_, name, result, at)| (name, result, at))
        .collect())
}

fn load_attach(
    program: &mut aya::programs::Program,
    name: &'static str,
    tracepoint: &'static str,
) -> Result<(), TracerError> {
    let prog: &mut RawTracePoint = program
        .try_into()
        .map_err(|err| TracerError::Program { program: name, err })?;
    prog.load()
        .map_err(|err| TracerError::Program { program: name, err })?;
    prog.attach(tracepoint).map_err(|err| TracerError::Attach {
        program: name,
        tracepoint,
        err,
    })?;
    Ok(())
}

/// The kernel function whose CAP_SYS_ADMIN check is the memory-accounting probe (mm/util.c).
const VM_PROBE_SYMBOL: &str = "security_vm_enough_memory_mm";

/// `[start, end)` of a kernel function from /proc/kallsyms: its address and the next higher
/// symbol's. None when absent or hidden (kptr_restrict shows zeros). Read line by line: the file
/// is ~12 MB of text, of which only the addresses are kept.
fn symbol_range(name: &str) -> Option<(u64, u64)> {
    let file = std::fs::File::open("/proc/kallsyms").ok()?;
    parse_symbol_range(std::io::BufReader::with_capacity(1 << 16, file), name)
}

fn parse_symbol_range(text: impl std::io::BufRead, name: &str) -> Option<(u64, u64)> {
    let mut start = None;
    let mut addresses = Vec::new();
    for line in text.lines() {
        let line = line.ok()?;
        let mut fields = line.split_whitespace();
        let Some(address) = fields.next().and_then(|a| u64::from_str_radix(a, 16).ok()) else {
            continue;
        };
        if fields.nth(1) == Some(name) {
            start = Some(address);
        }
        addresses.push(address);
    }
    let start = start.filter(|&a| a != 0)?;
    let end = addresses.into_iter().filter(|&a| a > start).min()?;
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_ranges() {
        let text = "ffffffff81a80b10 T cap_vm_enough_memory\nffffffff81a80a00 T cap_capable\n\
                    ffffffff81a80b40 T __pfx_cap_mmap_addr\nffffffffc0000000 t foo\t[mod]\n";
        assert_eq!(
            parse_symbol_range(text.as_bytes(), "cap_vm_enough_memory"),
            Some((0xffffffff81a80b10, 0xffffffff81a80b40))
        );
        assert_eq!(parse_symbol_range(text.as_bytes(), "missing"), None);
        // kptr_restrict=2 shows every address as zero.
        assert_eq!(
            parse_symbol_range(
                "0000000000000000 T cap_vm_enough_memory\n".as_bytes(),
                "cap_vm_enough_memory"
            ),
            None
        );
    }
}
