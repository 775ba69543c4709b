//! What a label carries and provisioning makes: setup codes, QR secrets,
//! Setup Info, QR payloads, device records; and what pairing leaves: bonds.

use blepake::{
    Bond as CoreBond, DeviceId, DeviceRecord as CoreRecord, KdfAlgorithm, KdfParams, Password,
    ProverSecrets as CoreSecrets, QrSecret as CoreQrSecret, SetupCode as CoreCode,
    SetupInfo as CoreInfo, SetupPayload as CorePayload,
};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rand_core::{OsRng, RngCore};

use crate::errors;

/// An 8-digit setup code. `SetupCode("314-159-266")` reads the label's
/// manual form (the check digit is verified) or the 8 digits alone;
/// spaces and hyphens are ignored. Trivial codes are refused.
#[pyclass(module = "blepake._native", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct SetupCode(pub CoreCode);

#[pymethods]
impl SetupCode {
    #[new]
    fn new(py: Python<'_>, text: &str) -> PyResult<Self> {
        text.parse()
            .map(Self)
            .map_err(|e| errors::code_error(py, e))
    }

    /// A uniformly random non-trivial code.
    #[staticmethod]
    fn generate() -> Self {
        Self(CoreCode::generate(&mut OsRng))
    }

    /// The eight digits, as the key derivation takes them.
    #[getter]
    fn digits(&self) -> String {
        String::from_utf8_lossy(&self.0.digits()).into_owned()
    }

    /// The manual-entry form printed on labels: `314-159-266`.
    #[getter]
    fn manual(&self) -> String {
        self.0.manual().to_string()
    }

    fn __repr__(&self) -> &'static str {
        // The code is the device's password: never in logs.
        "SetupCode(…)"
    }
}

/// A 128-bit secret that a QR code carries instead of a setup code.
#[pyclass(module = "blepake._native", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct QrSecret(pub CoreQrSecret);

#[pymethods]
impl QrSecret {
    #[new]
    fn new(py: Python<'_>, secret: &[u8]) -> PyResult<Self> {
        let bytes = <[u8; CoreQrSecret::LEN]>::try_from(secret)
            .map_err(|_| errors::invalid(py, "QR secret", "it takes 16 bytes"))?;
        Ok(Self(CoreQrSecret::from_bytes(bytes)))
    }

    /// 16 random bytes.
    #[staticmethod]
    fn generate() -> Self {
        Self(CoreQrSecret::generate(&mut OsRng))
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.0.as_bytes())
    }

    fn __repr__(&self) -> &'static str {
        "QrSecret(…)"
    }
}

/// What a host needs before pairing besides the password: the device id
/// and the key-derivation parameters. Read from the device's Setup Info
/// characteristic or from its QR code.
#[pyclass(module = "blepake._native", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct SetupInfo(pub CoreInfo);

#[pymethods]
impl SetupInfo {
    /// Reads the 32 bytes of the Setup Info characteristic; refuses unknown
    /// formats and out-of-range parameters.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        CoreInfo::decode(data)
            .map(Self)
            .map_err(|e| errors::invalid(py, "Setup Info", e))
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.encode())
    }

    /// The device id, 16 hex digits.
    #[getter]
    fn device_id(&self) -> String {
        self.0.device_id.to_string()
    }

    /// Whether the device pairs from a typed setup code (`False`: only
    /// from its QR code, which carries a QR secret).
    #[getter]
    fn takes_setup_code(&self) -> bool {
        self.0.takes_setup_code()
    }

    /// `"argon2id"` (a setup code) or `"hkdf-sha256"` (a QR secret).
    #[getter]
    fn kdf(&self) -> &'static str {
        match self.0.kdf.algorithm {
            KdfAlgorithm::Argon2id => "argon2id",
            _ => "hkdf-sha256",
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "SetupInfo(device_id={:?}, kdf={:?})",
            self.device_id(),
            self.kdf()
        )
    }
}

/// Everything a host needs to pair, as the device's QR code carries it:
/// the Setup Info and the password.
#[pyclass(module = "blepake._native", frozen)]
pub struct SetupPayload(pub CorePayload);

#[pymethods]
impl SetupPayload {
    /// A payload from its parts: exactly one of `code` and `qr_secret`, the
    /// one the Setup Info's derivation takes.
    #[new]
    #[pyo3(signature = (info, *, code = None, qr_secret = None))]
    fn new(
        py: Python<'_>,
        info: &SetupInfo,
        code: Option<&SetupCode>,
        qr_secret: Option<&QrSecret>,
    ) -> PyResult<Self> {
        let password = match (code, qr_secret) {
            (Some(code), None) if info.0.takes_setup_code() => Password::Code(code.0.clone()),
            (None, Some(secret)) if !info.0.takes_setup_code() => {
                Password::Secret(secret.0.clone())
            }
            _ => {
                return Err(errors::invalid(
                    py,
                    "payload",
                    "give the code or the QR secret the Setup Info's derivation takes",
                ));
            }
        };
        Ok(Self(CorePayload {
            info: info.0,
            password,
        }))
    }

    /// Reads a scanned QR payload (`BP:` and Base45).
    #[staticmethod]
    fn parse(py: Python<'_>, text: &str) -> PyResult<Self> {
        CorePayload::parse(text)
            .map(Self)
            .map_err(|e| errors::payload_error(py, e))
    }

    /// The QR code's text. It holds the password.
    #[getter]
    fn text(&self) -> String {
        self.0.to_text().as_str().to_owned()
    }

    /// The device's Setup Info.
    #[getter]
    fn info(&self) -> SetupInfo {
        SetupInfo(self.0.info)
    }

    /// The setup code, or `None` for a QR secret.
    #[getter]
    fn code(&self) -> Option<SetupCode> {
        match &self.0.password {
            Password::Code(code) => Some(SetupCode(code.clone())),
            Password::Secret(_) => None,
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "SetupPayload(device_id={:?})",
            self.0.info.device_id.to_string()
        )
    }
}

/// The secrets a host derives from the password (Argon2id for a code: slow
/// and memory-hard, so it runs without the GIL).
#[pyclass(module = "blepake._native", frozen)]
pub struct ProverSecrets {
    pub info: CoreInfo,
    pub secrets: CoreSecrets,
}

#[pymethods]
impl ProverSecrets {
    /// Derives the secrets for the device `info` describes, from its setup
    /// code or its QR secret.
    #[staticmethod]
    fn derive(py: Python<'_>, info: &SetupInfo, password: &Bound<'_, PyAny>) -> PyResult<Self> {
        let password = if let Ok(code) = password.cast::<SetupCode>() {
            Password::Code(code.get().0.clone())
        } else if let Ok(secret) = password.cast::<QrSecret>() {
            Password::Secret(secret.get().0.clone())
        } else {
            return Err(errors::invalid(
                py,
                "password",
                "give a SetupCode or a QrSecret",
            ));
        };
        let info = info.0;
        let secrets = py
            .detach(|| info.kdf.derive(&password, &info.device_id))
            .map_err(|e| errors::kdf_error(py, e))?;
        Ok(Self { info, secrets })
    }

    /// Derives the secrets a QR payload gives.
    #[staticmethod]
    fn from_payload(py: Python<'_>, payload: &SetupPayload) -> PyResult<Self> {
        let info = payload.0.info;
        let password = payload.0.password.clone();
        let secrets = py
            .detach(|| info.kdf.derive(&password, &info.device_id))
            .map_err(|e| errors::kdf_error(py, e))?;
        Ok(Self { info, secrets })
    }

    /// The device the secrets are for.
    #[getter]
    fn info(&self) -> SetupInfo {
        SetupInfo(self.info)
    }

    fn __repr__(&self) -> String {
        format!(
            "ProverSecrets(device_id={:?})",
            self.info.device_id.to_string()
        )
    }
}

/// The 163 bytes a device keeps in flash: its id, the derivation's
/// parameters and the SPAKE2+ verifier. It holds no code.
#[pyclass(module = "blepake._native", frozen)]
pub struct DeviceRecord(pub CoreRecord);

#[pymethods]
impl DeviceRecord {
    /// Reads a record, checking every field.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        CoreRecord::from_bytes(data)
            .map(Self)
            .map_err(|e| errors::invalid(py, "device record", e))
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.to_bytes())
    }

    /// What the device's Setup Info characteristic serves.
    #[getter]
    fn setup_info(&self) -> SetupInfo {
        SetupInfo(self.0.setup_info())
    }

    /// The device id, 16 hex digits.
    #[getter]
    fn device_id(&self) -> String {
        self.0.setup_info().device_id.to_string()
    }

    fn __repr__(&self) -> String {
        format!("DeviceRecord(device_id={:?})", self.device_id())
    }
}

/// What provisioning makes for one device.
#[pyclass(module = "blepake._native", frozen, get_all)]
pub struct Provisioned {
    /// The record for the device's flash.
    record: Py<DeviceRecord>,
    /// The QR code's payload (it holds the password).
    payload: Py<SetupPayload>,
    /// The setup code, or `None` when the QR code carries a QR secret.
    code: Option<SetupCode>,
}

/// Provisions one device: a random id and salt, a setup code (the one
/// given, or a fresh one) or a QR secret, and the record derived from it.
/// Argon2id takes `memory_kib`, `iterations` and `parallelism`.
#[pyfunction]
#[pyo3(signature = (*, code = None, qr_secret = false, memory_kib = 65536, iterations = 3, parallelism = 4))]
pub fn provision(
    py: Python<'_>,
    code: Option<&SetupCode>,
    qr_secret: bool,
    memory_kib: u32,
    iterations: u8,
    parallelism: u8,
) -> PyResult<Provisioned> {
    let mut salt = [0; 16];
    OsRng.fill_bytes(&mut salt);
    let (password, kdf) = if qr_secret {
        if code.is_some() {
            return Err(errors::invalid(
                py,
                "provisioning",
                "a code or a QR secret, not both",
            ));
        }
        let secret = CoreQrSecret::generate(&mut OsRng);
        (Password::Secret(secret), KdfParams::for_qr_secret(salt))
    } else {
        let code = code.map_or_else(|| CoreCode::generate(&mut OsRng), |c| c.0.clone());
        let kdf = KdfParams {
            memory_kib,
            iterations,
            parallelism,
            ..KdfParams::recommended(salt)
        };
        (Password::Code(code), kdf)
    };
    let device_id = DeviceId::random(&mut OsRng);
    let record = py
        .detach(|| CoreRecord::provision(&password, device_id, kdf))
        .map_err(|e| errors::kdf_error(py, e))?;
    let code = match &password {
        Password::Code(code) => Some(SetupCode(code.clone())),
        Password::Secret(_) => None,
    };
    let payload = CorePayload {
        info: record.setup_info(),
        password,
    };
    Ok(Provisioned {
        record: Py::new(py, DeviceRecord(record))?,
        payload: Py::new(py, SetupPayload(payload))?,
        code,
    })
}

/// A host's bond with one device: 49 secret bytes (`bytes(bond)`) that let
/// it reconnect without the code. Keep them as a key.
#[pyclass(module = "blepake._native", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct Bond(pub CoreBond);

#[pymethods]
impl Bond {
    /// Reads a bond's bytes (`PROTOCOL.md` §8.1).
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        CoreBond::from_bytes(data)
            .map(Self)
            .map_err(|e| errors::invalid(py, "bond", e))
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.to_bytes())
    }

    /// The device, 16 hex digits.
    #[getter]
    fn device_id(&self) -> String {
        self.0.device_id.to_string()
    }

    /// The host as the device knows it, 16 hex digits.
    #[getter]
    fn host_id(&self) -> String {
        self.0.host_id.to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "Bond(device_id={:?}, host_id={:?})",
            self.device_id(),
            self.host_id()
        )
    }
}
