//! Python bindings of blepake, the module `blepake._native` of the Python
//! package `blepake` (`python/`).
//!
//! The bindings hold no I/O and no async runtime: Python drives each
//! connection through the core's pump (`receive`, `timer`,
//! `disconnected`, `flush`), sends the values each step returns, and reads
//! the events. Errors are exceptions under `BlepakeError`, one class per
//! stable error code of the core.

use pyo3::prelude::*;

mod connection;
mod errors;
mod setup;

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<setup::SetupCode>()?;
    m.add_class::<setup::QrSecret>()?;
    m.add_class::<setup::SetupInfo>()?;
    m.add_class::<setup::SetupPayload>()?;
    m.add_class::<setup::ProverSecrets>()?;
    m.add_class::<setup::DeviceRecord>()?;
    m.add_class::<setup::Provisioned>()?;
    m.add_class::<setup::Bond>()?;
    m.add_function(wrap_pyfunction!(setup::provision, m)?)?;
    m.add_class::<connection::Step>()?;
    m.add_class::<connection::Connected>()?;
    m.add_class::<connection::Bonded>()?;
    m.add_class::<connection::Closed>()?;
    m.add_class::<connection::Failed>()?;
    m.add_class::<connection::HostConnection>()?;
    m.add_class::<connection::Device>()?;
    m.add_class::<connection::DeviceLink>()?;
    m.add_function(wrap_pyfunction!(connection::monotonic_ms, m)?)?;
    m.add("MAX_MESSAGE_LEN", blepake::MAX_MESSAGE_LEN)?;
    m.add("OUTBOX_MESSAGES", connection::OUTBOX_MESSAGES)?;
    m.add("DEVICE_LINKS", connection::DEVICE_LINKS)?;
    m.add("SERVICE_UUID", uuid(blepake::gatt::SERVICE))?;
    m.add("INBOUND_UUID", uuid(blepake::gatt::INBOUND))?;
    m.add("OUTBOUND_UUID", uuid(blepake::gatt::OUTBOUND))?;
    m.add("SETUP_INFO_UUID", uuid(blepake::gatt::SETUP_INFO))?;
    Ok(())
}

/// A 128-bit UUID in its usual text form, as bleak and Bumble take it.
fn uuid(value: u128) -> String {
    let hex = format!("{value:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
