//! What provisioning makes and a label carries: setup codes and QR
//! secrets, the Setup Info and QR payload a host reads, and the device
//! record written into the device's flash. A device's firmware uses only
//! [`DeviceRecord`] and [`SetupInfo`] of this; the linker drops the rest.

mod base45;
mod code;
mod device_record;
mod setup;

pub use code::{CodeError, ManualCode, QrSecret, SetupCode};
pub use device_record::DeviceRecord;
pub use setup::{PayloadError, PayloadText, SetupInfo, SetupPayload};

/// The SPAKE2+ password a label gives the host: an 8-digit setup code
/// (stretched with Argon2id) or a 128-bit QR secret (derived with HKDF).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Password {
    /// A setup code, typed or scanned.
    Code(SetupCode),
    /// A QR secret, only ever scanned.
    Secret(QrSecret),
}

impl From<SetupCode> for Password {
    fn from(code: SetupCode) -> Self {
        Self::Code(code)
    }
}

impl From<QrSecret> for Password {
    fn from(secret: QrSecret) -> Self {
        Self::Secret(secret)
    }
}
