//! `__host-tracer` (hidden): the process that owns the programs concurrent recordings share
//! (`tracer::share::host`). Started detached by the first recorder that finds none; not for users.

use crate::{cli::HostTracerArgs, tracer::share::host};

pub fn run(args: HostTracerArgs) -> anyhow::Result<i32> {
    host::run(&args.socket)
}
