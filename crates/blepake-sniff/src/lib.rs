//! BLE capture analysis: reads pcap, pcapng and btsnoop captures, decodes the
//! link layer, L2CAP, ATT, SMP and HCI, tracks connections, explains why pairing
//! failed and recovers passkeys and keys where the pairing method allows it.
#![forbid(unsafe_code)]

pub mod crypto;
