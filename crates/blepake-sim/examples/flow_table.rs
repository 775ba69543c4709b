//! Prints what each pairing flow model costs on a 30 ms link, at ATT MTU 23
//! without Data Length Extension and at ATT MTU 247 with it.
//!
//! `cargo run -p blepake-sim --example flow_table [-- --timeline]`

use blepake_sim::LinkConfig;
use blepake_sim::flows::{models, run_flow};

fn main() {
    let show_timeline = std::env::args().any(|arg| arg == "--timeline");
    for (att_mtu, ll_payload) in [(23, 27), (247, 251)] {
        let config = LinkConfig {
            att_mtu,
            ll_payload,
            ..LinkConfig::default()
        };
        println!(
            "ATT MTU {att_mtu}, LL payload {ll_payload}, interval {} ms, {} packets per event",
            config.interval_us / 1000,
            config.packets_per_event
        );
        println!(
            "  {:<38} {:>9} {:>6} {:>6} {:>7} {:>7} {:>7} {:>6} {:>6}",
            "flow", "time ms", "msgs", "turns", "value B", "ATT B", "air B", "data", "empty"
        );
        for flow in models::all(att_mtu) {
            match run_flow(&config, &flow) {
                Ok(report) => {
                    let total = report.stats.total();
                    println!(
                        "  {:<38} {:>9.1} {:>6} {:>6} {:>7} {:>7} {:>7} {:>6} {:>6}",
                        report.name,
                        report.time_us as f64 / 1000.0,
                        report.steps,
                        report.turns,
                        total.value_bytes,
                        total.att_bytes,
                        total.air_bytes,
                        total.data_pdus,
                        total.empty_pdus
                    );
                    if show_timeline {
                        for entry in &report.timeline {
                            println!(
                                "      {:>10} µs  {:<10} {:<22} {:>4} B",
                                entry.at_us, entry.from, entry.kind, entry.att_len
                            );
                        }
                    }
                }
                Err(error) => println!("  {:<38} failed: {error}", flow.name),
            }
        }
        println!();
    }
}
