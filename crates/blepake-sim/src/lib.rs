//! A deterministic simulated BLE link.
