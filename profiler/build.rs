//! Builds the eBPF object (profiler-ebpf, nightly, bpfel-unknown-none) with aya-build; the result is
//! embedded by `lib.rs` from OUT_DIR. Userspace stays on stable. Without the default `ebpf` feature
//! (the fuzz targets) nothing is built.

fn main() -> anyhow::Result<()> {
    #[cfg(feature = "ebpf")]
    {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../profiler-ebpf");
        let package = aya_build::Package {
            name: "profiler-ebpf",
            root_dir: root,
            ..Default::default()
        };
        aya_build::build_ebpf([package], aya_build::Toolchain::default())?;
    }
    Ok(())
}
