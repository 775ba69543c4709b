//! `blepake`: the command-line face of the project.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod ble;
mod connect;
mod demo;
mod device_cmd;
mod lines;
mod provision;
mod qr;
mod sniff_cmd;
mod uart;

#[derive(Parser)]
#[command(
    name = "blepake",
    version,
    about = "Secure a BLE link with a static setup code, and diagnose BLE pairing"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Provision a simulated device, pair with it from its QR code, exchange
    /// messages, refuse a guesser and reconnect with a bond
    Demo(demo::DemoArgs),
    /// Make setup codes, device records and QR labels for one device or a batch
    Provision(provision::ProvisionArgs),
    /// Explain a BLE capture: connections, pairing, link-layer faults, recovered keys
    Sniff(sniff_cmd::SniffArgs),
    /// Recover passkeys, TKs and LTKs from a BLE capture
    Crack(sniff_cmd::CrackArgs),
    /// Serve a provisioned device over an HCI controller; Enter or SIGUSR1
    /// opens its pairing window
    Device(device_cmd::DeviceArgs),
    /// Connect to a device as its host: pair with the code or QR code (or
    /// reconnect with the bond), then send, receive or chat
    Connect(connect::ConnectArgs),
}

/// The `HOST:PORT` of an option's `tcp:HOST:PORT` (`--hci`, `--uart`).
fn tcp_address<'a>(option: &str, address: &'a str) -> Result<&'a str, String> {
    address
        .strip_prefix("tcp:")
        .ok_or_else(|| format!("{option} {address}: give tcp:HOST:PORT"))
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Demo(args) => demo::run(args),
        Command::Provision(args) => provision::run(args),
        Command::Sniff(args) => sniff_cmd::sniff(args),
        Command::Crack(args) => sniff_cmd::crack(args),
        Command::Device(args) => device_cmd::run(args),
        Command::Connect(args) => connect::run(args),
    }
}
