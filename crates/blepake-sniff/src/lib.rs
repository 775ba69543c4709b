//! BLE capture analysis.
