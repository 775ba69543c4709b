//! `blepake demo`: a device provisioned, paired from its QR code, messages
//! exchanged, a guesser refused, and a bonded reconnect, all on a simulated
//! BLE link, with a timeline of what went over the air.

use std::cell::Cell;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Instant as Clock;

use blepake::wire::Deframer;
use blepake::{
    Connection, Device, DeviceId, DevicePolicy, DeviceRecord, Error, HostConfig, HostConnection,
    Instant, KdfParams, MemoryStorage, Password, SetupCode, SetupInfo, SetupPayload,
};
use blepake_sim::driver::{Driver, HostWrite, SimDevice};
use blepake_sim::{DirectionStats, FaultPlan, Link, LinkConfig, Role};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde_json::{Value, json};

use crate::qr;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// ATT MTU of the simulated link (23 to 517); above 23 the link uses 251-byte LL payloads
    #[arg(long, default_value_t = 247, value_parser = clap::value_parser!(u16).range(23..=517))]
    pub mtu: u16,
    /// Connection interval, in units of 1.25 ms (6 to 3200)
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u64).range(6..=3200))]
    pub interval_units: u64,
    /// Seed for the simulation and every random choice: the same seed gives the same run
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the run as JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// A link run long enough for any step.
const LIMIT_US: u64 = 60_000_000;
/// Sim time between steps, as a user would take.
const PAUSE_MS: u64 = 2_000;
const GUESSES: usize = 4;

pub fn run(args: DemoArgs) -> ExitCode {
    match Demo::new(&args).and_then(|demo| demo.play(&args)) {
        Ok(report) => {
            if args.json {
                let text = serde_json::to_string_pretty(&report).expect("JSON");
                // A reader that went away (`| head`) is not an error.
                let _ = writeln!(io::stdout().lock(), "{text}");
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("blepake demo: {message}");
            ExitCode::FAILURE
        }
    }
}

struct Demo {
    link: LinkConfig,
    rng: ChaCha20Rng,
    /// The device's clock: it runs on across links.
    clock: Instant,
    quiet: bool,
    /// Set once standard output is closed (`blepake demo | head`): the
    /// demo then runs on quietly.
    stdout_closed: Cell<bool>,
}

/// The names of the frames `value` completes in its direction's stream.
fn frames_completed(stream: &mut Deframer, value: &[u8]) -> Vec<&'static str> {
    let mut input = value;
    let mut names = Vec::new();
    while let Ok(Some(frame)) = stream.read(&mut input) {
        names.push(frame.header().frame_type.name());
    }
    names
}

/// Consecutive values one way: one line of the timeline.
struct Flight {
    at_us: u64,
    from: Role,
    values: usize,
    bytes: usize,
    frames: Vec<&'static str>,
}

fn flights(values: &[(u64, Role, Vec<u8>)]) -> Vec<Flight> {
    let mut streams = [Deframer::new(), Deframer::new()];
    let mut flights: Vec<Flight> = Vec::new();
    for (at_us, from, value) in values {
        let stream = &mut streams[usize::from(*from == Role::Peripheral)];
        let frames = frames_completed(stream, value);
        match flights.last_mut() {
            Some(flight) if flight.from == *from => {
                flight.at_us = *at_us;
                flight.values += 1;
                flight.bytes += value.len();
                flight.frames.extend(frames);
            }
            _ => flights.push(Flight {
                at_us: *at_us,
                from: *from,
                values: 1,
                bytes: value.len(),
                frames,
            }),
        }
    }
    flights
}

/// What a step cost on the air.
struct StepCost {
    time_us: u64,
    value_bytes: u64,
    air_bytes: u64,
}

fn cost(before: &DirectionStats, after: &DirectionStats, time_us: u64) -> StepCost {
    StepCost {
        time_us,
        value_bytes: after.value_bytes - before.value_bytes,
        air_bytes: after.air_bytes - before.air_bytes,
    }
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn direction(from: Role) -> &'static str {
    match from {
        Role::Central => "host → device",
        Role::Peripheral => "device → host",
    }
}

impl Demo {
    fn new(args: &DemoArgs) -> Result<Self, String> {
        let interval_us = args.interval_units * 1250;
        let link = LinkConfig {
            att_mtu: args.mtu,
            ll_payload: if args.mtu > 23 { 251 } else { 27 },
            interval_us,
            // Long intervals need a supervision timeout above two of them:
            // six intervals in 10 ms steps, at least the usual 4 s, at most
            // the Core's 32 s.
            supervision_timeout_us: (6 * interval_us)
                .next_multiple_of(10_000)
                .clamp(4_000_000, 32_000_000),
            ..LinkConfig::default()
        };
        link.validate()
            .map_err(|e| format!("link parameters: {e}"))?;
        Ok(Self {
            link,
            rng: ChaCha20Rng::seed_from_u64(args.seed),
            clock: Instant::from_millis(0),
            quiet: args.json,
            stdout_closed: Cell::new(false),
        })
    }

    fn say(&self, text: impl AsRef<str>) {
        if self.quiet || self.stdout_closed.get() {
            return;
        }
        if writeln!(io::stdout().lock(), "{}", text.as_ref()).is_err() {
            self.stdout_closed.set(true);
        }
    }

    fn new_link(&mut self) -> Link {
        Link::new(self.link.clone(), FaultPlan::new(), self.rng.next_u64()).expect("validated")
    }

    /// Prints a link's flights and returns them as JSON.
    fn timeline(&self, values: &[(u64, Role, Vec<u8>)], from_us: u64) -> Value {
        let flights = flights(values);
        let mut rows = Vec::new();
        for flight in flights.iter().filter(|f| f.at_us >= from_us) {
            let frames = if flight.frames.is_empty() {
                "(part)".to_owned()
            } else {
                flight.frames.join(" + ")
            };
            self.say(format!(
                "   {:>8.1} ms  {}  {:<36} {:>4} B in {} value{}",
                ms(flight.at_us),
                direction(flight.from),
                frames,
                flight.bytes,
                flight.values,
                if flight.values == 1 { "" } else { "s" }
            ));
            rows.push(json!({
                "at_ms": ms(flight.at_us),
                "from": if flight.from == Role::Central { "host" } else { "device" },
                "frames": flight.frames,
                "bytes": flight.bytes,
                "values": flight.values,
            }));
        }
        Value::Array(rows)
    }

    fn summarize(&self, step: &str, cost: &StepCost) -> Value {
        self.say(format!(
            "   {step}: {:.1} ms of link time, {} B of values, {} B on air",
            ms(cost.time_us),
            cost.value_bytes,
            cost.air_bytes
        ));
        json!({ "time_ms": ms(cost.time_us), "value_bytes": cost.value_bytes, "air_bytes": cost.air_bytes })
    }

    /// A host that derives the secrets of `code` (Argon2id) and starts
    /// pairing with the device `info` describes.
    fn pairing_host(
        &mut self,
        info: &SetupInfo,
        code: &SetupCode,
    ) -> Result<HostConnection, String> {
        let secrets = info
            .kdf
            .derive(&Password::Code(code.clone()), &info.device_id)
            .map_err(|e| e.to_string())?;
        Ok(HostConnection::pair(
            info,
            &secrets,
            None,
            HostConfig::default(),
            &mut self.rng,
            self.clock,
        ))
    }

    /// A guesser's pairing with a random code: its outcome and the counter.
    fn guess(
        &mut self,
        info: &SetupInfo,
        device: &mut SimDevice,
        attempt: usize,
    ) -> Result<Value, String> {
        let guess = SetupCode::generate(&mut self.rng);
        let host = self.pairing_host(info, &guess)?;
        let link = self.new_link();
        let mut driver =
            Driver::new(link, host, device, HostWrite::Command).starting_at(self.clock);
        driver.run(LIMIT_US);
        let outcome = match driver.host_log.failure() {
            Some(Error::AuthenticationFailed) => {
                "wrong code: the device's confirmation did not verify".to_owned()
            }
            Some(error) => error.to_string(),
            None => "paired".to_owned(),
        };
        let status = driver.device().attempts();
        self.clock = driver.now(driver.link.now_us() + 500_000);
        if attempt > 0 {
            self.say(format!(
                "   guess {attempt} ({}): {outcome}; device counter {}/{}",
                guess.manual(),
                status.failures,
                DevicePolicy::default().max_failures
            ));
        }
        Ok(
            json!({ "guess": attempt, "outcome": outcome, "failures": status.failures, "locked": status.locked }),
        )
    }

    /// Runs a handshake on a new link until the host's first message, sent
    /// as soon as the host may, reaches the device; prints the timeline and
    /// the cost.
    fn handshake_step<'d>(
        &mut self,
        step: &str,
        host: HostConnection,
        device: &'d mut SimDevice,
    ) -> Result<(Driver<'d>, Value), String> {
        let link = self.new_link();
        let mut driver =
            Driver::new(link, host, device, HostWrite::Command).starting_at(self.clock);
        driver
            .host_log
            .outbox
            .push_back(b"unlock the door".to_vec());
        driver.run_until(LIMIT_US, |d| !d.device_log.messages.is_empty() || d.ended());
        let first_byte_us = driver
            .device_log
            .messages
            .first()
            .map(|(at, _)| *at)
            .ok_or_else(|| format!("the {step} failed"))?;
        let timeline = self.timeline(&driver.values, 0);
        let cost = cost(
            &DirectionStats::default(),
            &driver.link.stats().total(),
            first_byte_us,
        );
        let summary = self.summarize(&format!("{step} to first protected byte"), &cost);
        Ok((driver, json!({ "cost": summary, "timeline": timeline })))
    }

    fn play(mut self, args: &DemoArgs) -> Result<Value, String> {
        self.say(format!(
            "blepake demo: a device and a host on a simulated BLE link ({:.2} ms interval, ATT MTU {}, LL payload {}, seed {})\n",
            ms(self.link.interval_us),
            self.link.att_mtu,
            self.link.ll_payload,
            args.seed
        ));

        // 1. Provisioning.
        let device_id = DeviceId::random(&mut self.rng);
        let mut salt = [0; 16];
        self.rng.fill_bytes(&mut salt);
        let code = SetupCode::generate(&mut self.rng);
        let kdf = KdfParams::recommended(salt);
        let started = Clock::now();
        let password = Password::Code(code.clone());
        let record =
            DeviceRecord::provision(&password, device_id, kdf).map_err(|e| e.to_string())?;
        let provision_ms = started.elapsed().as_secs_f64() * 1e3;
        let payload = SetupPayload {
            info: record.setup_info(),
            password,
        }
        .to_text();
        self.say("1. Provisioning (at the factory)");
        self.say(format!("   device id    {device_id}"));
        self.say(format!(
            "   setup code   {}   (8 digits and a check digit, for typing)",
            code.manual()
        ));
        self.say(format!("   QR payload   {}", payload.as_str()));
        self.say(qr::terminal(&qr::encode(payload.as_str())));
        self.say(format!(
            "   Argon2id (64 MiB, 3 passes) took {provision_ms:.0} ms here. The device keeps a {}-byte record:\n   w0, L = w1·P, w0·M, w0·N and the parameters. Never the code, never w1.\n",
            DeviceRecord::LEN
        ));
        let mut device: SimDevice = Device::new(
            record,
            DevicePolicy::default(),
            MemoryStorage::default(),
            ChaCha20Rng::seed_from_u64(self.rng.next_u64()),
            self.clock,
        );

        // 2. Pairing from the QR code, with the first message riding along.
        self.say("2. Pairing: the host scans the QR code and runs SPAKE2+ over GATT");
        self.say(
            "   (it enables notifications of Outbound in the same connection event as its first write)",
        );
        let scanned = SetupPayload::parse(payload.as_str()).map_err(|e| e.to_string())?;
        let Password::Code(scanned_code) = &scanned.password else {
            return Err("the label carries no setup code".into());
        };
        let started = Clock::now();
        let host = self.pairing_host(&scanned.info, scanned_code)?;
        let derive_ms = started.elapsed().as_secs_f64() * 1e3;
        self.say(format!("   the host derives w0 and w1 from the code: {derive_ms:.0} ms of CPU before the link is used"));
        let (mut driver, pairing_json) = self.handshake_step("pairing", host, &mut device)?;
        let pairing_stats = driver.link.stats().total();
        self.say(format!(
            "   the host trusted the device at {:.1} ms, and its first message, \"unlock the door\", went with its confirmation",
            ms(driver.host_log.connected_at().unwrap_or_default()),
        ));
        let bond = driver.host_log.bond().ok_or("no bond")?;
        self.say(format!(
            "   both sides keep a bond (host id {})\n",
            bond.host_id
        ));

        // 3. Protected messages both ways, then an authenticated close.
        self.say("3. Protected messages (AES-128-CCM, 18 bytes per record)");
        let values_before = driver.values.len();
        let from_us = driver.link.now_us();
        driver
            .device_log
            .outbox
            .push_back(b"door unlocked".to_vec());
        driver.host_log.outbox.push_back(vec![b'#'; 300]);
        driver.run_until(LIMIT_US, |d| {
            d.host_log.messages.len() == 1 && d.device_log.messages.len() == 2
        });
        driver.host.close(0).map_err(|e| e.to_string())?;
        driver.run(LIMIT_US);
        let messages_timeline = self.timeline(&driver.values[values_before..], from_us);
        let last_us = driver.values.last().map_or(from_us, |(at, _, _)| *at);
        let messages = cost(
            &pairing_stats,
            &driver.link.stats().total(),
            last_us - from_us,
        );
        let replies: Vec<String> = driver
            .host_log
            .received()
            .iter()
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .collect();
        self.say(format!(
            "   the host read {replies:?}; the host closed the session with an authenticated close"
        ));
        let messages_json = self.summarize("messages and close", &messages);
        self.clock = driver.now(driver.link.now_us() + PAUSE_MS * 1000);
        drop(driver);
        self.say("");

        // 4. A typo, then a guesser.
        self.say("4. Wrong codes");
        let mut typo = code.manual().to_string();
        let digit = typo.pop().expect("nine digits");
        typo.push(if digit == '0' { '1' } else { '0' });
        let typo_error = SetupCode::parse_manual(&typo).expect_err("one wrong digit");
        self.say(format!(
            "   typed {typo}: the host refuses it before the radio is used ({typo_error})"
        ));
        let mut guesses = Vec::new();
        let closed = self.guess(&scanned.info, &mut device, 0)?;
        self.say(format!(
            "   a guesser in range while the device holds a bond and its pairing window is closed: refused\n   (\"{}\"), nothing counted",
            closed["outcome"].as_str().unwrap_or_default()
        ));
        guesses.push(closed);
        device
            .open_pairing_window(self.clock)
            .map_err(|e| format!("storage: {e:?}"))?;
        self.say(format!(
            "   the owner presses the device's button: the window opens for {} s, and a guesser in range tries",
            DevicePolicy::default().pairing_window.as_secs()
        ));
        for attempt in 1..=GUESSES {
            guesses.push(self.guess(&scanned.info, &mut device, attempt)?);
        }
        self.say(format!(
            "   the counter is stored before the device answers; after {} free attempts the device makes guessers wait,\n   and after {} it locks until someone presses its button\n",
            DevicePolicy::default().free_attempts,
            DevicePolicy::default().max_failures
        ));
        self.clock = Instant::from_millis(self.clock.as_millis() + PAUSE_MS);

        // 5. A bonded reconnect.
        self.say("5. Bonded reconnect: no code, no Argon2id, one round trip, fresh keys");
        let host = HostConnection::resume(&bond, HostConfig::default(), &mut self.rng, self.clock);
        let (_, reconnect_json) = self.handshake_step("reconnect", host, &mut device)?;

        Ok(json!({
            "link": {
                "interval_ms": ms(self.link.interval_us),
                "att_mtu": self.link.att_mtu,
                "ll_payload": self.link.ll_payload,
                "seed": args.seed,
            },
            "device_id": device_id.to_string(),
            "setup_code": code.manual().to_string(),
            "qr_payload": payload.as_str(),
            "kdf_ms": { "provision": provision_ms, "host": derive_ms },
            "steps": {
                "pairing": pairing_json,
                "messages": { "cost": messages_json, "timeline": messages_timeline, "replies": replies },
                "wrong_codes": { "typo": typo, "typo_refused": typo_error.to_string(), "guesses": guesses },
                "reconnect": reconnect_json,
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_named_when_they_complete() {
        let mut stream = Deframer::new();
        // A PairConfirm (32-byte body) cut across two values, then an alert.
        let mut bytes = vec![0x30, 32];
        bytes.extend_from_slice(&[0; 32]);
        bytes.extend_from_slice(&[0x70, 1, 1]);
        assert!(frames_completed(&mut stream, &bytes[..20]).is_empty());
        assert_eq!(
            frames_completed(&mut stream, &bytes[20..]),
            vec!["PairConfirm", "Alert"]
        );
    }
}
