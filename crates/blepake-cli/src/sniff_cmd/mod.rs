//! `blepake sniff` (explain a capture) and `blepake crack` (recover its keys).
//!
//! Exit status: 0 when no error-severity finding was made, 1 when one was, 2 when
//! the file could not be read as a capture or an argument was wrong.

mod render;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use blepake_sniff::analysis::findings::Severity;
use blepake_sniff::bytes::parse_hex;
use blepake_sniff::{Options, Progress, Report, analyse};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when standard output is a terminal.
    Auto,
    Always,
    Never,
}

#[derive(clap::Args)]
pub struct SniffArgs {
    /// Capture file (pcap, pcapng or btsnoop)
    pub file: PathBuf,
    /// Print the report as JSON (schema in crates/blepake-sniff/README.md)
    #[arg(long)]
    pub json: bool,
    /// Long-term key to decrypt encrypted links with, 32 hex digits as Wireshark shows them; repeatable
    #[arg(long = "ltk", value_name = "HEX")]
    pub ltks: Vec<String>,
    /// Skip the legacy TK brute force (a second or so per pairing)
    #[arg(long)]
    pub no_crack: bool,
    /// Colour the terminal report
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(clap::Args)]
pub struct CrackArgs {
    /// Capture file (pcap, pcapng or btsnoop)
    pub file: PathBuf,
    /// Print the recovered keys and decrypted PDUs as JSON (the `sniff --json` schema)
    #[arg(long)]
    pub json: bool,
    /// Long-term key to decrypt encrypted links with, 32 hex digits; repeatable
    #[arg(long = "ltk", value_name = "HEX")]
    pub ltks: Vec<String>,
    /// Colour the terminal output
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

pub fn sniff(args: SniffArgs) -> ExitCode {
    let options = |ltks| Options {
        ltks,
        brute_force: !args.no_crack,
    };
    run(
        &args.file,
        &args.ltks,
        options,
        args.json,
        args.color,
        render::report,
    )
}

pub fn crack(args: CrackArgs) -> ExitCode {
    let options = |ltks| Options {
        ltks,
        brute_force: true,
    };
    run(
        &args.file,
        &args.ltks,
        options,
        args.json,
        args.color,
        render::keys,
    )
}

const EXIT_ERROR_FINDINGS: u8 = 1;
const EXIT_UNREADABLE: u8 = 2;

fn run(
    file: &PathBuf,
    ltk_args: &[String],
    options: impl FnOnce(Vec<[u8; 16]>) -> Options,
    json: bool,
    color: ColorChoice,
    render: fn(&Report, &render::Style) -> String,
) -> ExitCode {
    let mut ltks = Vec::new();
    for text in ltk_args {
        match parse_hex::<16>(text) {
            Some(key) => ltks.push(key),
            None => {
                eprintln!("blepake: --ltk {text}: expected 32 hexadecimal digits");
                return ExitCode::from(EXIT_UNREADABLE);
            }
        }
    }
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("blepake: {}: {e}", file.display());
            return ExitCode::from(EXIT_UNREADABLE);
        }
    };
    let mut bars = Bars::new(bytes.len() as u64);
    let report = match analyse(&bytes, &options(ltks), &mut |p| bars.update(p)) {
        Ok(report) => report,
        Err(e) => {
            bars.finish();
            eprintln!(
                "blepake: {}: not a capture this tool reads ({e})",
                file.display()
            );
            return ExitCode::from(EXIT_UNREADABLE);
        }
    };
    bars.finish();
    let text = if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => text + "\n",
            Err(e) => {
                eprintln!("blepake: cannot write JSON: {e}");
                return ExitCode::from(EXIT_UNREADABLE);
            }
        }
    } else {
        let colour = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => std::io::stdout().is_terminal(),
        };
        render(&report, &render::Style { colour })
    };
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if report.worst_severity() == Some(Severity::Error) {
        ExitCode::from(EXIT_ERROR_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

/// Captures smaller than this read too fast for a bar to be worth drawing.
const BAR_MIN_BYTES: u64 = 4 << 20;

/// Progress bars on standard error, drawn only when it is a terminal.
struct Bars {
    reading: Option<ProgressBar>,
    brute_force: Option<ProgressBar>,
    terminal: bool,
}

impl Bars {
    fn new(file_size: u64) -> Bars {
        let terminal = std::io::stderr().is_terminal();
        let reading = (terminal && file_size >= BAR_MIN_BYTES).then(|| {
            new_bar(
                file_size,
                "{spinner} reading   [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
        });
        Bars {
            reading,
            brute_force: None,
            terminal,
        }
    }

    fn update(&mut self, progress: Progress) {
        match progress {
            Progress::Reading { done, .. } => {
                if let Some(bar) = &self.reading {
                    bar.set_position(done);
                }
            }
            Progress::BruteForce { done, total } => {
                if !self.terminal {
                    return;
                }
                let bar = self.brute_force.get_or_insert_with(|| {
                    new_bar(
                        total,
                        "{spinner} TK search [{bar:40}] {pos}/{len} ({per_sec}, {eta})",
                    )
                });
                bar.set_position(done);
                if done >= total {
                    bar.finish_and_clear();
                    self.brute_force = None;
                }
            }
        }
    }

    fn finish(&mut self) {
        for bar in [self.reading.take(), self.brute_force.take()]
            .into_iter()
            .flatten()
        {
            bar.finish_and_clear();
        }
    }
}

fn new_bar(length: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
