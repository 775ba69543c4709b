//! `blepake provision`: setup codes (or QR secrets), device records and QR
//! labels for one device or a factory batch. Nothing it makes is lost: a
//! batch adds to the manifest already in its folder, every file is created
//! new and private to its owner, and without a folder every device is
//! printed whole.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use blepake::{
    DeviceId, DeviceRecord, KdfAlgorithm, KdfParams, Password, QrSecret, SetupCode, SetupPayload,
};
use indicatif::{ProgressBar, ProgressStyle};
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};

use crate::qr;

#[derive(clap::Args)]
pub struct ProvisionArgs {
    /// Devices to provision
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub count: u32,
    /// Directory for the device records, QR labels and the manifest (created if missing;
    /// a batch adds to the manifest already there)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Manifest format
    #[arg(long, value_enum, default_value_t = ManifestFormat::Csv)]
    pub format: ManifestFormat,
    /// QR labels: PNG (with the code printed under it) or SVG files in --out, printed in
    /// the terminal, or none
    #[arg(long, value_enum, default_value_t = QrOutput::Png)]
    pub qr: QrOutput,
    /// Use this setup code (8 digits, or the 9 of the label as 314-159-266) instead of a
    /// random one; only with --count 1
    #[arg(long, conflicts_with = "qr_secret")]
    pub code: Option<String>,
    /// Pair from a 128-bit secret in the QR code instead of an 8-digit code: a stolen
    /// device record then gives nothing to guess, and there is no code to type
    #[arg(long)]
    pub qr_secret: bool,
    /// Argon2id memory, KiB
    #[arg(long, default_value_t = 64 * 1024)]
    pub memory_kib: u32,
    /// Argon2id passes
    #[arg(long, default_value_t = 3)]
    pub iterations: u8,
    /// Argon2id lanes
    #[arg(long, default_value_t = 4)]
    pub parallelism: u8,
    /// Worker threads (default: one per core)
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print the devices as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ManifestFormat {
    Csv,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QrOutput {
    Png,
    Svg,
    Terminal,
    None,
}

/// One provisioned device.
struct Provisioned {
    device_id: DeviceId,
    password: Password,
    record: DeviceRecord,
}

impl Provisioned {
    fn payload(&self) -> String {
        let payload = SetupPayload {
            info: self.record.setup_info(),
            password: self.password.clone(),
        };
        payload.to_text().as_str().to_owned()
    }

    /// The code's eight digits and its manual form, for a setup code.
    fn code_texts(&self) -> Option<(String, String)> {
        match &self.password {
            Password::Code(code) => Some((
                String::from_utf8_lossy(&code.digits()).into_owned(),
                code.manual().to_string(),
            )),
            Password::Secret(_) => None,
        }
    }

    /// What a person types, or (for a QR secret) the device id, so that a
    /// label can be matched to its device.
    fn caption(&self) -> String {
        self.code_texts()
            .map_or_else(|| format!("ID {}", self.device_id), |(_, manual)| manual)
    }

    fn record_hex(&self) -> String {
        self.record
            .to_bytes()
            .iter()
            .fold(String::new(), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            })
    }
}

pub fn run(args: ProvisionArgs) -> ExitCode {
    match provision(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("blepake provision: {message}");
            ExitCode::FAILURE
        }
    }
}

fn provision(args: &ProvisionArgs) -> Result<(), String> {
    let fixed_code = match &args.code {
        Some(_) if args.count != 1 => {
            return Err("--code needs --count 1: every device gets its own code".into());
        }
        Some(text) => Some(
            text.parse::<SetupCode>()
                .map_err(|e| format!("--code {text}: {e}"))?,
        ),
        None => None,
    };
    let template = if args.qr_secret {
        KdfParams::for_qr_secret([0; 16])
    } else {
        KdfParams {
            algorithm: KdfAlgorithm::Argon2id,
            memory_kib: args.memory_kib,
            iterations: args.iterations,
            parallelism: args.parallelism,
            salt: [0; 16],
        }
    };
    template.check().map_err(|_| {
        format!(
            "Argon2id parameters out of range (1 to {} lanes, 1 to {} passes, 8 KiB per lane to {} KiB)",
            KdfParams::MAX_PARALLELISM,
            KdfParams::MAX_ITERATIONS,
            KdfParams::MAX_MEMORY_KIB
        )
    })?;
    let files_wanted = matches!(args.qr, QrOutput::Png | QrOutput::Svg);
    if args.out.is_none() && files_wanted {
        return Err("QR files need --out DIR (or use --qr terminal or --qr none)".into());
    }
    let manifest = match &args.out {
        Some(dir) => {
            create_private_dir(dir)?;
            Some(Manifest::open(dir, args.format)?)
        }
        None => None,
    };

    let devices = derive_all(args, template, fixed_code)?;

    if let (Some(dir), Some(manifest)) = (&args.out, manifest) {
        // The codes first: a device whose code is lost is lost.
        manifest.append(&devices, dir, args.qr)?;
        write_files(dir, args.qr, &devices)?;
    }
    if args.json {
        let rows: Vec<_> = devices
            .iter()
            .map(|d| manifest_row(d, args.out.as_deref(), args.qr))
            .collect();
        print(&serde_json::to_string_pretty(&json!({ "devices": rows })).expect("JSON"));
    } else {
        print_summary(args, &devices);
    }
    Ok(())
}

/// Prints to standard output; a reader that went away is not an error.
fn print(text: &str) {
    let _ = writeln!(io::stdout().lock(), "{text}");
}

/// Draws unique ids, salts and passwords, then runs the derivation on
/// every core, with a progress bar on a terminal.
fn derive_all(
    args: &ProvisionArgs,
    template: KdfParams,
    fixed_code: Option<SetupCode>,
) -> Result<Vec<Provisioned>, String> {
    let count = args.count as usize;
    let mut ids = HashSet::with_capacity(count);
    let mut jobs = Vec::with_capacity(count);
    while jobs.len() < count {
        let device_id = DeviceId::random(&mut OsRng);
        if ids.insert(device_id) {
            let mut salt = [0; 16];
            OsRng.fill_bytes(&mut salt);
            let password = match &fixed_code {
                Some(code) => Password::Code(code.clone()),
                None if args.qr_secret => Password::Secret(QrSecret::generate(&mut OsRng)),
                None => Password::Code(SetupCode::generate(&mut OsRng)),
            };
            jobs.push((device_id, password, KdfParams { salt, ..template }));
        }
    }

    let progress = ProgressBar::new(count as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} {bar:40} {pos}/{len} devices, {per_sec}, ETA {eta}",
        )
        .expect("template"),
    );
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<Result<Provisioned, String>>>> =
        Mutex::new((0..count).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, count) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some((device_id, password, kdf)) = jobs.get(index) else {
                        break;
                    };
                    let result = DeviceRecord::provision(password, *device_id, *kdf)
                        .map(|record| Provisioned {
                            device_id: *device_id,
                            password: password.clone(),
                            record,
                        })
                        .map_err(|e| format!("device {device_id}: {e}"));
                    done.lock().expect("no panics while holding the lock")[index] = Some(result);
                    progress.inc(1);
                }
            });
        }
    });
    progress.finish_and_clear();
    done.into_inner()
        .expect("threads finished")
        .into_iter()
        .map(|result| result.expect("every job ran"))
        .collect()
}

fn create_private_dir(dir: &Path) -> Result<(), String> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// Options for a new file readable by its owner only, never replacing one.
fn private_new_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Writes a new file, refusing to replace one.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut file = private_new_file()
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn label_path(dir: &Path, device: &Provisioned, qr: QrOutput) -> Option<PathBuf> {
    let extension = match qr {
        QrOutput::Png => "png",
        QrOutput::Svg => "svg",
        QrOutput::Terminal | QrOutput::None => return None,
    };
    Some(dir.join(format!("{}.{extension}", device.device_id)))
}

fn record_path(dir: &Path, device: &Provisioned) -> PathBuf {
    dir.join(format!("{}.record", device.device_id))
}

fn write_files(dir: &Path, qr: QrOutput, devices: &[Provisioned]) -> Result<(), String> {
    for device in devices {
        write_new(&record_path(dir, device), &device.record.to_bytes())?;
        if let Some(path) = label_path(dir, device, qr) {
            let code = qr::encode(&device.payload());
            match qr {
                QrOutput::Png => write_new(&path, &qr::png(&code, &device.caption(), 8))?,
                _ => write_new(&path, qr::svg(&code).as_bytes())?,
            }
        }
    }
    Ok(())
}

const CSV_HEADER: &str = "device_id,password,setup_code,manual_code,qr_payload,record,kdf_algorithm,kdf_memory_kib,kdf_iterations,kdf_parallelism";

/// The manifest of a folder: a batch adds to it, and never replaces it.
enum Manifest {
    /// Rows are appended to this CSV file (its header checked or written).
    Csv(File),
    /// The devices already listed in this JSON file.
    Json { path: PathBuf, devices: Vec<Value> },
}

impl Manifest {
    /// Opens the folder's manifest before any device is made, refusing one
    /// this run cannot add to.
    fn open(dir: &Path, format: ManifestFormat) -> Result<Self, String> {
        match format {
            ManifestFormat::Csv => {
                let path = dir.join("manifest.csv");
                let existing = match fs::read_to_string(&path) {
                    Ok(text) => Some(text),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                    Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
                };
                if let Some(text) = &existing {
                    if text.lines().next() != Some(CSV_HEADER) || !text.ends_with('\n') {
                        return Err(format!(
                            "{} is not a manifest this version writes: move it away, or use another --out",
                            path.display()
                        ));
                    }
                }
                let mut options = private_new_file();
                options.create_new(existing.is_none()).append(true);
                let mut file = options
                    .open(&path)
                    .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
                if existing.is_none() {
                    writeln!(file, "{CSV_HEADER}")
                        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                }
                Ok(Self::Csv(file))
            }
            ManifestFormat::Json => {
                let path = dir.join("manifest.json");
                let devices = match fs::read(&path) {
                    Ok(bytes) => serde_json::from_slice::<Value>(&bytes)
                        .ok()
                        .and_then(|value| value["devices"].as_array().cloned())
                        .ok_or_else(|| {
                            format!(
                                "{} is not a manifest this version writes: move it away, or use another --out",
                                path.display()
                            )
                        })?,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
                    Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
                };
                Ok(Self::Json { path, devices })
            }
        }
    }

    /// Adds the batch and makes it durable.
    fn append(self, devices: &[Provisioned], dir: &Path, qr: QrOutput) -> Result<(), String> {
        match self {
            Self::Csv(mut file) => {
                let mut rows = String::new();
                for device in devices {
                    let kdf = device.record.kdf;
                    let (digits, manual) = device.code_texts().unwrap_or_default();
                    let _ = writeln!(
                        rows,
                        "{},{},{digits},{manual},{},{},{},{},{},{}",
                        device.device_id,
                        password_kind(device),
                        device.payload(),
                        device.record_hex(),
                        algorithm_name(kdf.algorithm),
                        kdf.memory_kib,
                        kdf.iterations,
                        kdf.parallelism
                    );
                }
                file.write_all(rows.as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|e| format!("cannot write the manifest: {e}"))
            }
            Self::Json {
                path,
                devices: mut listed,
            } => {
                listed.extend(devices.iter().map(|d| manifest_row(d, Some(dir), qr)));
                let text =
                    serde_json::to_string_pretty(&json!({ "devices": listed })).expect("JSON");
                // Written beside, then renamed over: the old manifest stays
                // whole until the new one is.
                let temporary = path.with_extension("json.new");
                let _ = fs::remove_file(&temporary);
                write_new(&temporary, text.as_bytes())?;
                fs::rename(&temporary, &path)
                    .map_err(|e| format!("cannot replace {}: {e}", path.display()))
            }
        }
    }
}

fn password_kind(device: &Provisioned) -> &'static str {
    match device.password {
        Password::Code(_) => "setup-code",
        Password::Secret(_) => "qr-secret",
    }
}

fn algorithm_name(algorithm: KdfAlgorithm) -> &'static str {
    match algorithm {
        KdfAlgorithm::Argon2id => "argon2id",
        _ => "hkdf-sha256",
    }
}

fn manifest_row(device: &Provisioned, dir: Option<&Path>, qr: QrOutput) -> Value {
    let kdf = device.record.kdf;
    let (digits, manual) = device.code_texts().unzip();
    json!({
        "device_id": device.device_id.to_string(),
        "password": password_kind(device),
        "setup_code": digits,
        "manual_code": manual,
        "qr_payload": device.payload(),
        "record": device.record_hex(),
        "kdf": {
            "algorithm": algorithm_name(kdf.algorithm),
            "memory_kib": kdf.memory_kib,
            "iterations": kdf.iterations,
            "parallelism": kdf.parallelism,
        },
        "record_file": dir.map(|d| record_path(d, device).display().to_string()),
        "label_file": dir.and_then(|d| label_path(d, device, qr)).map(|p| p.display().to_string()),
    })
}

fn print_summary(args: &ProvisionArgs, devices: &[Provisioned]) {
    // With files, the first devices tell the run went well and the manifest
    // holds them all; without, every device is printed whole, record
    // included, for it is saved nowhere else.
    const LISTED_WITH_FILES: usize = 10;
    let listed = if args.out.is_some() {
        LISTED_WITH_FILES
    } else {
        devices.len()
    };
    for device in devices.iter().take(listed) {
        print(&format!(
            "device {}  {}  ({})",
            device.device_id,
            device.code_texts().map_or_else(
                || "QR secret only".to_owned(),
                |(_, manual)| format!("code {manual}")
            ),
            device.payload()
        ));
        if args.out.is_none() {
            print(&format!("  record {}", device.record_hex()));
        }
        if args.qr == QrOutput::Terminal {
            print(&qr::terminal(&qr::encode(&device.payload())));
        }
    }
    if let Some(dir) = &args.out {
        let manifest = match args.format {
            ManifestFormat::Csv => "manifest.csv",
            ManifestFormat::Json => "manifest.json",
        };
        if devices.len() > listed {
            print(&format!(
                "... and {} more, every one in {manifest}",
                devices.len() - listed
            ));
        }
        print(&format!(
            "wrote {} device records ({} bytes each) to {} and added them to {manifest}",
            devices.len(),
            DeviceRecord::LEN,
            dir.display()
        ));
        print(
            "the manifest and the labels hold the secrets: print the labels, then keep them like a secret",
        );
    }
}
