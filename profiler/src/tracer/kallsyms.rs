//! Kernel symbol addresses from /proc/kallsyms, for the programs that classify a capability check
//! by the kernel function it came from (`cap_capable`). Moved out of `tracer/mod.rs` unchanged.

/// The kernel function whose CAP_SYS_ADMIN check is the memory-accounting probe (mm/util.c).
pub(super) const VM_PROBE_SYMBOL: &str = "security_vm_enough_memory_mm";

/// `[start, end)` of a kernel function from /proc/kallsyms: its address and the next higher
/// symbol's. None when absent or hidden (kptr_restrict shows zeros).
pub(super) fn symbol_range(name: &str) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/kallsyms").ok()?;
    parse_symbol_range(&text, name)
}

fn parse_symbol_range(text: &str, name: &str) -> Option<(u64, u64)> {
    let entries = text.lines().filter_map(|line| {
        let mut fields = line.split_whitespace();
        let address = u64::from_str_radix(fields.next()?, 16).ok()?;
        let _kind = fields.next()?;
        Some((address, fields.next()?))
    });
    let mut start = None;
    let mut addresses = Vec::new();
    for (address, symbol) in entries {
        if symbol == name {
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
            parse_symbol_range(text, "cap_vm_enough_memory"),
            Some((0xffffffff81a80b10, 0xffffffff81a80b40))
        );
        assert_eq!(parse_symbol_range(text, "missing"), None);
        // kptr_restrict=2 shows every address as zero.
        assert_eq!(
            parse_symbol_range(
                "0000000000000000 T cap_vm_enough_memory\n",
                "cap_vm_enough_memory"
            ),
            None
        );
    }
}
