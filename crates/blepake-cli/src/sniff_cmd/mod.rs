//! `blepake sniff` and `blepake crack`.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct SniffArgs {
    /// Capture file (pcap, pcapng or btsnoop)
    pub file: PathBuf,
}

#[derive(clap::Args)]
pub struct CrackArgs {
    /// Capture file (pcap, pcapng or btsnoop)
    pub file: PathBuf,
}

pub fn sniff(_args: SniffArgs) -> ExitCode {
    eprintln!("blepake sniff: not built yet");
    ExitCode::FAILURE
}

pub fn crack(_args: CrackArgs) -> ExitCode {
    eprintln!("blepake crack: not built yet");
    ExitCode::FAILURE
}
