//! `blepake provision`: setup codes, device records and QR labels for one
//! device or a factory batch.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use blepake::{DeviceId, DeviceRecord, KdfAlgorithm, KdfParams, SetupCode, SetupPayload};
use indicatif::{ProgressBar, ProgressStyle};
use rand_core::{OsRng, RngCore};
use serde_json::json;

use crate::qr;

#[derive(clap::Args)]
pub struct ProvisionArgs {
    /// Devices to provision
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub count: u32,
    /// Directory for the device records, QR labels and the manifest (created if missing)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Manifest format
    #[arg(long, value_enum, default_value_t = ManifestFormat::Csv)]
    pub format: ManifestFormat,
    /// QR labels: PNG or SVG files in --out, printed in the terminal, or none
    #[arg(long, value_enum, default_value_t = QrOutput::Png)]
    pub qr: QrOutput,
    /// Use this setup code (8 digits) instead of a random one; only with --count 1
    #[arg(long)]
    pub code: Option<String>,
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
    code: SetupCode,
    record: DeviceRecord,
}

impl Provisioned {
    fn payload(&self) -> String {
        let payload = SetupPayload {
            info: self.record.setup_info(),
            code: self.code.clone(),
        };
        payload.to_text().as_str().to_owned()
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
    let template = KdfParams {
        algorithm: KdfAlgorithm::Argon2id,
        memory_kib: args.memory_kib,
        iterations: args.iterations,
        parallelism: args.parallelism,
        salt: [0; 16],
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
    if let Some(dir) = &args.out {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }

    let devices = derive_all(args, template, fixed_code)?;

    if let Some(dir) = &args.out {
        write_files(dir, args, &devices)?;
    }
    if args.json {
        let rows: Vec<_> = devices
            .iter()
            .map(|d| manifest_row(d, args.out.as_deref(), args.qr))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "devices": rows })).expect("JSON")
        );
    } else {
        print_summary(args, &devices);
    }
    Ok(())
}

/// Draws unique ids, salts and codes, then runs the slow derivation on
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
            let code = fixed_code
                .clone()
                .unwrap_or_else(|| SetupCode::generate(&mut OsRng));
            jobs.push((device_id, code, KdfParams { salt, ..template }));
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
                    let Some((device_id, code, kdf)) = jobs.get(index) else {
                        break;
                    };
                    let result = DeviceRecord::provision(code, *device_id, *kdf)
                        .map(|record| Provisioned {
                            device_id: *device_id,
                            code: code.clone(),
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

fn write_files(dir: &Path, args: &ProvisionArgs, devices: &[Provisioned]) -> Result<(), String> {
    let write = |path: &Path, bytes: &[u8]| {
        fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    for device in devices {
        write(&record_path(dir, device), &device.record.to_bytes())?;
        if let Some(path) = label_path(dir, device, args.qr) {
            let code = qr::encode(&device.payload());
            match args.qr {
                QrOutput::Png => write(&path, &qr::png(&code, 8))?,
                _ => write(&path, qr::svg(&code).as_bytes())?,
            }
        }
    }
    let manifest = match args.format {
        ManifestFormat::Csv => {
            let mut csv = String::from(
                "device_id,setup_code,manual_code,qr_payload,record,kdf_memory_kib,kdf_iterations,kdf_parallelism\n",
            );
            for device in devices {
                let kdf = device.record.kdf;
                let _ = writeln!(
                    csv,
                    "{},{},{},{},{},{},{},{}",
                    device.device_id,
                    std::str::from_utf8(&device.code.digits()).expect("ASCII digits"),
                    device.code.manual(),
                    device.payload(),
                    device.record_hex(),
                    kdf.memory_kib,
                    kdf.iterations,
                    kdf.parallelism
                );
            }
            (dir.join("manifest.csv"), csv)
        }
        ManifestFormat::Json => {
            let rows: Vec<_> = devices
                .iter()
                .map(|d| manifest_row(d, Some(dir), args.qr))
                .collect();
            (
                dir.join("manifest.json"),
                serde_json::to_string_pretty(&json!({ "devices": rows })).expect("JSON"),
            )
        }
    };
    write(&manifest.0, manifest.1.as_bytes())
}

fn manifest_row(device: &Provisioned, dir: Option<&Path>, qr: QrOutput) -> serde_json::Value {
    let kdf = device.record.kdf;
    json!({
        "device_id": device.device_id.to_string(),
        "setup_code": std::str::from_utf8(&device.code.digits()).expect("ASCII digits"),
        "manual_code": device.code.manual().to_string(),
        "qr_payload": device.payload(),
        "record": device.record_hex(),
        "kdf": {
            "algorithm": "argon2id",
            "memory_kib": kdf.memory_kib,
            "iterations": kdf.iterations,
            "parallelism": kdf.parallelism,
        },
        "record_file": dir.map(|d| record_path(d, device).display().to_string()),
        "label_file": dir.and_then(|d| label_path(d, device, qr)).map(|p| p.display().to_string()),
    })
}

fn print_summary(args: &ProvisionArgs, devices: &[Provisioned]) {
    const LISTED: usize = 10;
    for device in devices.iter().take(LISTED) {
        println!(
            "device {}  code {}  ({})",
            device.device_id,
            device.code.manual(),
            device.payload()
        );
        if args.qr == QrOutput::Terminal {
            println!("{}", qr::terminal(&qr::encode(&device.payload())));
        }
    }
    if devices.len() > LISTED {
        println!("... and {} more", devices.len() - LISTED);
    }
    if let Some(dir) = &args.out {
        let manifest = match args.format {
            ManifestFormat::Csv => "manifest.csv",
            ManifestFormat::Json => "manifest.json",
        };
        println!(
            "wrote {} device records ({} bytes each) and {} to {}",
            devices.len(),
            DeviceRecord::LEN,
            manifest,
            dir.display()
        );
        println!(
            "the manifest holds the setup codes: print the labels, then keep it like a secret"
        );
    }
}
