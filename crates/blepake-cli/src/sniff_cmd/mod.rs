//! `blepake sniff` (explain a capture) and `blepake crack` (recover its keys).
//!
//! Exit status: 0 when no error-severity finding was made, 1 when one was, 2 when
//! the file could not be read as a capture or an argument was wrong.

mod render;

use std::io::{BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use blepake_sniff::analysis::findings::Severity;
use blepake_sniff::bytes::parse_hex;
use blepake_sniff::{Options, Progress, Report, analyse_stream};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

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
    /// Legacy pairing TK, 32 hex digits, most significant octet first as Wireshark
    /// shows it (the 128-bit OOB data of legacy out-of-band pairing, or a known
    /// passkey as a number); checked against the pairing instead of a brute force; repeatable
    #[arg(long = "tk", value_name = "HEX")]
    pub tks: Vec<String>,
    /// Skip the legacy TK brute force (a fraction of a second per pairing)
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
    /// Legacy pairing TK, 32 hex digits, most significant octet first as Wireshark
    /// shows it (the 128-bit OOB data of legacy out-of-band pairing, or a known
    /// passkey as a number); checked against the pairing instead of a brute force; repeatable
    #[arg(long = "tk", value_name = "HEX")]
    pub tks: Vec<String>,
    /// Colour the terminal output
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

pub fn sniff(args: SniffArgs) -> ExitCode {
    emit(run(
        &args.file,
        &Keys {
            ltks: &args.ltks,
            tks: &args.tks,
        },
        !args.no_crack,
        args.json,
        args.color,
        render::report,
    ))
}

pub fn crack(args: CrackArgs) -> ExitCode {
    emit(run(
        &args.file,
        &Keys {
            ltks: &args.ltks,
            tks: &args.tks,
        },
        true,
        args.json,
        args.color,
        render::keys,
    ))
}

const EXIT_ERROR_FINDINGS: u8 = 1;
const EXIT_UNREADABLE: u8 = 2;

/// What a command produced: its exit status, either its output or an error
/// message, and warnings for standard error.
struct Outcome {
    status: u8,
    output: Result<String, String>,
    warnings: Vec<String>,
}

impl Outcome {
    fn failed(message: String) -> Outcome {
        Outcome {
            status: EXIT_UNREADABLE,
            output: Err(message),
            warnings: Vec::new(),
        }
    }
}

fn emit(outcome: Outcome) -> ExitCode {
    for warning in &outcome.warnings {
        eprintln!("blepake: warning: {warning}");
    }
    match outcome.output {
        // A closed pipe (`| head`) is not an error worth reporting.
        Ok(text) => drop(std::io::stdout().lock().write_all(text.as_bytes())),
        Err(message) => eprintln!("blepake: {message}"),
    }
    ExitCode::from(outcome.status)
}

/// Keys given on the command line, as typed.
struct Keys<'a> {
    ltks: &'a [String],
    tks: &'a [String],
}

/// 128-bit keys in hex, most significant octet first.
fn parse_keys(option: &str, texts: &[String]) -> Result<Vec<[u8; 16]>, String> {
    texts
        .iter()
        .map(|text| {
            parse_hex::<16>(text)
                .ok_or_else(|| format!("{option} {text}: expected 32 hexadecimal digits"))
        })
        .collect()
}

fn run(
    file: &Path,
    keys: &Keys<'_>,
    brute_force: bool,
    json: bool,
    color: ColorChoice,
    render: fn(&Report, &render::Style) -> String,
) -> Outcome {
    let parsed =
        parse_keys("--ltk", keys.ltks).and_then(|ltks| Ok((ltks, parse_keys("--tk", keys.tks)?)));
    let (ltks, tks) = match parsed {
        Ok(parsed) => parsed,
        Err(message) => return Outcome::failed(message),
    };
    let options = Options {
        ltks,
        brute_force,
        tks,
    };
    let opened = std::fs::File::open(file).and_then(|f| Ok((f.metadata()?.len(), f)));
    let (size, input) = match opened {
        Ok(opened) => opened,
        Err(e) => return Outcome::failed(format!("{}: {e}", file.display())),
    };
    // Read as a stream: a device or a pipe that never ends is refused after its
    // first octets, and a large capture never sits in memory whole.
    let mut bars = Bars::new(size);
    let analysed = analyse_stream(BufReader::new(input), size, &options, &mut |p| {
        bars.update(p)
    });
    bars.finish();
    let report = match analysed {
        Ok(report) => report,
        Err(e) => {
            return Outcome::failed(format!(
                "{}: not a capture this tool reads ({e})",
                file.display()
            ));
        }
    };
    let output = if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => text + "\n",
            Err(e) => return Outcome::failed(format!("cannot write JSON: {e}")),
        }
    } else {
        let colour = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => std::io::stdout().is_terminal(),
        };
        render(
            &report,
            &render::Style {
                colour,
                ltk_given: !options.ltks.is_empty(),
            },
        )
    };
    let status = if report.worst_severity() == Some(Severity::Error) {
        EXIT_ERROR_FINDINGS
    } else {
        0
    };
    // A truncated file must not pass for a capture with nothing in it.
    let warnings = report
        .read_error
        .iter()
        .map(|e| {
            format!(
                "{}: reading stopped {e}; only the {} packet(s) before it were analysed",
                file.display(),
                report.packets
            )
        })
        .collect();
    Outcome {
        status,
        output: Ok(output),
        warnings,
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
                        "{spinner} TK search [{bar:40}] {pos}/{len} ({rate}, {eta})",
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
        bar.set_style(
            style
                .with_key(
                    "rate",
                    |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = w.write_str(&rate(state.per_sec()));
                    },
                )
                .progress_chars("=> "),
        );
    }
    bar
}

/// Candidates per second for people: whole numbers, thousands and millions.
fn rate(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.1} M/s", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.0} k/s", per_second / 1e3)
    } else {
        format!("{per_second:.0}/s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_KEYS: Keys<'static> = Keys {
        ltks: &[],
        tks: &[],
    };

    fn crack_of(path: &Path, keys: &Keys<'_>) -> Outcome {
        run(path, keys, true, false, ColorChoice::Never, render::keys)
    }

    fn ltks(ltks: &[String]) -> Keys<'_> {
        Keys { ltks, tks: &[] }
    }

    fn capture(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../blepake-sniff/tests/data")
            .join(path)
    }

    fn sniff_of(path: &str, json: bool, color: ColorChoice) -> Outcome {
        run(&capture(path), &NO_KEYS, true, json, color, render::report)
    }

    #[test]
    fn exit_status_says_whether_errors_were_found() {
        // A failed pairing is an error; Just Works over LE Secure Connections only a warning.
        assert_eq!(
            sniff_of(
                "bumble/bumble_lesc_passkey_654321_wrong_bit5.btsnoop",
                false,
                ColorChoice::Never
            )
            .status,
            1
        );
        assert_eq!(
            sniff_of(
                "crackle/le_secure_connections.pcapng",
                false,
                ColorChoice::Never
            )
            .status,
            0
        );
        let missing = sniff_of("no/such/file.pcap", false, ColorChoice::Never);
        assert_eq!(missing.status, 2);
        assert!(missing.output.is_err());
        let not_a_capture = sniff_of("README.md", false, ColorChoice::Never);
        assert_eq!(not_a_capture.status, 2);
        assert!(not_a_capture.output.unwrap_err().contains("not a capture"));
    }

    #[test]
    fn report_names_the_connection_pairing_and_findings_without_colour() {
        let text = sniff_of(
            "bumble/bumble_lesc_passkey_654321_wrong_bit5.pcap",
            false,
            ColorChoice::Never,
        )
        .output
        .unwrap();
        assert!(!text.contains('\x1b'));
        for expected in [
            "Connection 0: HCI handle 0x0001",
            "central     f0:f0:f0:f0:f0:f0 (random)",
            "interval 15.00 ms, latency 0, supervision timeout 720 ms",
            "LE Secure Connections passkey entry, failed",
            "learned the low 6 bits of the responder (peripheral)'s passkey: 110001",
            "ERROR smp.pairing_failed (packets 77)",
            "spec: Core Vol 3 Part H §3.5.5",
            "1 error(s), 1 warning(s) in 1 connection(s)",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        let coloured = sniff_of(
            "bumble/bumble_lesc_passkey_654321_wrong_bit5.pcap",
            false,
            ColorChoice::Always,
        )
        .output
        .unwrap();
        assert!(coloured.contains("\x1b[1;31mERROR\x1b[0m"));
    }

    #[test]
    fn json_output_is_the_report() {
        let text = sniff_of("crackle/numeric_pin.pcap", true, ColorChoice::Always)
            .output
            .unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["format"], "pcap");
        assert_eq!(value["connections"][0]["pairings"][0]["tk"], "461140");
        assert_eq!(
            value["connections"][0]["central"]["address"],
            "5c:f3:70:73:3e:f4"
        );
        assert!(
            value["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["code"] == "smp.keys_recovered")
        );
    }

    #[test]
    fn crack_lists_keys_and_decrypted_pdus_and_takes_an_ltk() {
        let path = capture("crackle/known_ltk.pcap");
        let ltk = ["7f62c053f104a5bbe68b1d896a2ed49c".to_string()];
        let text = crack_of(&path, &ltks(&ltk)).output.unwrap();
        assert!(text.contains("decrypted 7 of 7 encrypted PDUs"), "{text}");
        assert!(!text.contains("hint"), "{text}");
        assert!(text.contains("ATT_READ_BY_TYPE_RSP"), "{text}");
        let bad = crack_of(&path, &ltks(&["12".to_string()]));
        assert_eq!(bad.status, 2);
        // No key, then a wrong one (the right LTK with its octets reversed).
        let none = crack_of(&path, &NO_KEYS);
        let text = none.output.unwrap();
        assert!(text.contains("decrypted 0 of 7"), "{text}");
        assert!(
            text.contains("give the bond's LTK with --ltk HEX"),
            "{text}"
        );
        let reversed = ["9cd42e6a891d8be6bba504f153c0627f".to_string()];
        let wrong = crack_of(&path, &ltks(&reversed));
        let text = wrong.output.unwrap();
        assert!(text.contains("no --ltk given opens them"), "{text}");
    }

    #[test]
    fn crack_takes_a_legacy_oob_tk() {
        // bumble/make_captures.py: legacy OOB, TK ffeeddccbbaa99887766554433221100.
        let path = capture("bumble/bumble_legacy_oob_ok.btsnoop");
        let crack_with = |tks: &[String]| crack_of(&path, &Keys { ltks: &[], tks });
        let text = crack_with(&[]).output.unwrap();
        assert!(text.contains("give it with --tk HEX"), "{text}");
        let tk = "ffeeddccbbaa99887766554433221100".to_string();
        let text = crack_with(&[tk]).output.unwrap();
        assert!(
            text.contains("TK ffeeddccbbaa99887766554433221100 (--tk), STK "),
            "{text}"
        );
        let bad = crack_with(&["0011".to_string()]);
        assert_eq!(bad.status, 2);
        assert!(bad.output.unwrap_err().contains("--tk 0011"));
    }

    /// A copy of a test capture, cut or rewritten, in a scratch file.
    fn scratch_capture(name: &str, bytes: &[u8]) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("blepake-sniff-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn endless_devices_are_refused_at_once() {
        for device in ["/dev/zero", "/dev/urandom"] {
            let (send, receive) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let outcome = run(
                    Path::new(device),
                    &NO_KEYS,
                    true,
                    false,
                    ColorChoice::Never,
                    render::report,
                );
                let _ = send.send(outcome);
            });
            let outcome = receive
                .recv_timeout(std::time::Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("{device} is still being read"));
            assert_eq!(outcome.status, 2, "{device}");
            let message = outcome.output.unwrap_err();
            assert!(message.contains("not a capture"), "{message}");
        }
    }

    #[test]
    fn crack_on_a_truncated_capture_says_so() {
        // numeric_pin.pcap cut 10 octets into its record 200.
        let bytes = std::fs::read(capture("crackle/numeric_pin.pcap")).unwrap();
        let mut at = 24;
        for _ in 1..200 {
            at += 16 + u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        }
        let path = scratch_capture("cut.pcap", &bytes[..at + 10]);
        let outcome = crack_of(&path, &NO_KEYS);
        let _ = std::fs::remove_file(&path);
        let text = outcome.output.unwrap();
        assert!(
            text.contains(&format!("reading stopped at byte {at}"))
                && text.contains("199 packet(s)"),
            "{text}"
        );
        assert_eq!(outcome.warnings.len(), 1);
        assert!(
            outcome.warnings[0].contains("record 200"),
            "{:?}",
            outcome.warnings
        );
        assert_eq!(outcome.status, 1, "a truncated capture is an error finding");
    }

    #[test]
    fn a_capture_with_no_packets_says_so() {
        // The 24-octet file header of numeric_pin.pcap alone.
        let bytes = std::fs::read(capture("crackle/numeric_pin.pcap")).unwrap();
        let path = scratch_capture("empty.pcap", &bytes[..24]);
        let outcome = run(
            &path,
            &NO_KEYS,
            true,
            false,
            ColorChoice::Never,
            render::report,
        );
        let _ = std::fs::remove_file(&path);
        let text = outcome.output.unwrap();
        assert!(
            text.starts_with(
                "Capture: Pcap capture with no packets: the file ends after its header"
            ),
            "{text}"
        );
        assert!(!text.contains("link type ,"), "{text}");
    }

    #[test]
    fn rates_are_whole_numbers_for_people() {
        assert_eq!(rate(812.3456), "812/s");
        assert_eq!(rate(123_456.789_1), "123 k/s");
        assert_eq!(rate(7_654_321.0), "7.7 M/s");
    }

    #[test]
    fn long_packet_lists_keep_their_ends_and_count() {
        assert_eq!(render::packet_list(&[3, 5, 8]), "3, 5, 8");
        let rounds: Vec<u64> = (0..80).map(|i| 100 + 2 * i).collect();
        assert_eq!(
            render::packet_list(&rounds),
            "100, 102, 104, 106 … 256, 258 (80 packets)"
        );
    }
}
