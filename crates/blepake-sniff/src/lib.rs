//! BLE capture analysis: reads pcap, pcapng and btsnoop captures, decodes the
//! link layer, L2CAP, ATT, SMP and HCI, tracks connections, explains why pairing
//! failed and recovers passkeys and keys where the pairing method allows it.
#![forbid(unsafe_code)]

pub mod analysis;
pub mod bytes;
pub mod capture;
pub mod codec;
pub mod crack;
pub mod crypto;
pub mod report;

pub use analysis::{Options, Progress, analyse, analyse_stream};
pub use report::Report;
