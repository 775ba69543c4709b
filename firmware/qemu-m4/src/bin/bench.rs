//! The device's steps, measured: a host and the device run inside the
//! image, joined by in-memory pipes and driven by the core's pump, and
//! each step of the device is bracketed by two calls of
//! [`blepake_bench_mark`], whose address bench/m4's QEMU plugin watches to
//! read its exact instruction count. Before each step the stack below is
//! painted, and after it scanned for the deepest word written.
//!
//! The steps, in order (two marks each): loading the device record at
//! boot; PairRequest → PairResponse; PairConfirm and the host's first
//! record → session open; sealing a 100-byte record; opening one;
//! ResumeRequest → ResumeResponse; ResumeFinish → session open.
//!
//! It exits with success only if the pairing and the resume both opened
//! their sessions inside the image and every message arrived intact.

#![no_std]
#![no_main]

use blepake::pump::{self, Input, Output, Transport};
use blepake::{
    Bond, Connection, Device, DeviceId, DevicePolicy, DeviceRecord, Event, HostConfig,
    HostConnection, Instant, KdfParams, LinkId, Mode, ProverSecrets,
};
use blepake_qemu_m4::flash::Flash;
use blepake_qemu_m4::{entry, exit, println};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

type BenchDevice = Device<Flash, ChaCha20Rng>;

/// The message each way, as the table's records: 100 bytes.
const RECORD: [u8; 100] = [0x5a; 100];

/// Marks a step's start or end for the instruction counter. Never inlined,
/// so that it has an address; the `nop` keeps it from being optimised away.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn blepake_bench_mark() {
    cortex_m::asm::nop();
}

/// The stack painted below a step, and the pattern.
const PAINT_LEN: usize = 64 * 1024;
const PAINT: u32 = 0xa5c3_5a3c;
/// Left unpainted right below the caller, for the painter's own frame.
const PAINT_GAP: usize = 256;

/// Runs one device step between two marks, with the stack below painted
/// first; returns its result and the deepest stack it used below the
/// caller's stack pointer.
fn measured<T>(deepest: &mut usize, step: impl FnOnce() -> T) -> T {
    let top = cortex_m::register::msp::read() as usize;
    let bottom = top - PAINT_LEN;
    for address in (bottom..top - PAINT_GAP).step_by(4) {
        // SAFETY: free stack below this frame (RAM is 4 MiB, the images
        // use a few KiB), not yet used by anything live.
        unsafe { core::ptr::write_volatile(address as *mut u32, PAINT) };
    }
    blepake_bench_mark();
    let result = step();
    blepake_bench_mark();
    let touched = (bottom..top)
        .step_by(4)
        // SAFETY: as above; reads only.
        .find(|&address| unsafe { core::ptr::read_volatile(address as *const u32) } != PAINT)
        .unwrap_or(top);
    *deepest = (*deepest).max(top - touched);
    result
}

/// One direction of the link: the values a side sent, as one byte stream.
struct Pipe {
    bytes: [u8; 2048],
    len: usize,
}

impl Pipe {
    const fn new() -> Self {
        Self {
            bytes: [0; 2048],
            len: 0,
        }
    }
}

impl Transport for Pipe {
    type Error = core::convert::Infallible;

    fn now(&self) -> Instant {
        Instant::from_millis(0)
    }

    fn max_value_len(&self) -> usize {
        244
    }

    fn can_send(&self) -> bool {
        self.len + 244 <= self.bytes.len()
    }

    fn send(&mut self, value: &[u8]) -> Result<(), Self::Error> {
        self.bytes[self.len..self.len + value.len()].copy_from_slice(value);
        self.len += value.len();
        Ok(())
    }

    fn subscribe(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// What each side saw.
#[derive(Default)]
struct Seen {
    connected: Option<Mode>,
    bond: Option<Bond>,
    messages: usize,
    intact: bool,
}

impl Seen {
    fn on<C: Connection + ?Sized>(&mut self, conn: &mut C, output: Output<'_>, reply: bool) {
        match output {
            Output::Event(Event::Connected(info)) => {
                self.connected = Some(info.mode);
                // The host's first record rides with its confirmation.
                if reply && info.mode == Mode::Paired {
                    let _ = conn.send(&RECORD);
                }
            }
            Output::Event(Event::Bonded(bond)) => self.bond = Some(bond),
            Output::Message(message) => {
                self.messages += 1;
                self.intact = message == RECORD;
            }
            _ => {}
        }
    }
}

/// Gives the device what the host sent, in values of 244 bytes.
fn to_device(
    device: &mut BenchDevice,
    id: LinkId,
    from_host: &mut Pipe,
    to_host: &mut Pipe,
    seen: &mut Seen,
) {
    let len = core::mem::take(&mut from_host.len);
    for value in from_host.bytes[..len].chunks(244) {
        if let Some(mut link) = device.link(id) {
            let Ok(()) = pump::step(&mut link, to_host, Input::Received(value), |link, out| {
                seen.on(link, out, false)
            });
        }
    }
}

/// Gives the host what the device sent.
fn to_host(
    host: &mut HostConnection,
    from_device: &mut Pipe,
    to_device: &mut Pipe,
    seen: &mut Seen,
) {
    let len = core::mem::take(&mut from_device.len);
    for value in from_device.bytes[..len].chunks(244) {
        let Ok(()) = pump::step(host, to_device, Input::Received(value), |host, out| {
            seen.on(host, out, true)
        });
    }
}

/// A handshake from the host's first flight: the device's answer and its
/// last step, each measured. The link, and what each side saw.
fn handshake(
    device: &mut BenchDevice,
    host: &mut HostConnection,
    up: &mut Pipe,
    down: &mut Pipe,
    deepest: &mut usize,
    now: Instant,
) -> (LinkId, Seen, Seen) {
    let (mut host_seen, mut device_seen) = (Seen::default(), Seen::default());
    let Ok(()) = pump::step(host, up, Input::Ready, |_, _| {});
    let id = device.accept(now).expect("a link slot");
    measured(deepest, || {
        to_device(device, id, up, down, &mut device_seen)
    });
    to_host(host, down, up, &mut host_seen);
    measured(deepest, || {
        to_device(device, id, up, down, &mut device_seen)
    });
    (id, host_seen, device_seen)
}

#[entry]
fn main() -> ! {
    let mut rng = ChaCha20Rng::seed_from_u64(9383);
    // The factory's side, not measured: secrets and the record's bytes.
    let secrets = ProverSecrets::from_scalars(&[0x17; 32], &[0x29; 32]).expect("scalars below n");
    let record = DeviceRecord::new(
        DeviceId([0x42; 8]),
        KdfParams::for_qr_secret([0x33; 16]),
        secrets.verifier(),
    )
    .to_bytes();
    let storage = Flash::open();
    let mut deepest = 0;

    // Boot: the record from flash, the counter and bonds from storage.
    let mut device: BenchDevice = measured(&mut deepest, || {
        let record = DeviceRecord::from_bytes(&record).expect("the record decodes");
        Device::new(
            record,
            DevicePolicy::default(),
            storage,
            ChaCha20Rng::seed_from_u64(1),
            Instant::from_millis(0),
        )
    });
    let now = Instant::from_millis(0);
    let (mut up, mut down) = (Pipe::new(), Pipe::new());

    // Pairing.
    let info = device.setup_info();
    let mut host =
        HostConnection::pair(&info, &secrets, None, HostConfig::default(), &mut rng, now);
    let (id, mut host_seen, mut device_seen) = handshake(
        &mut device,
        &mut host,
        &mut up,
        &mut down,
        &mut deepest,
        now,
    );
    let paired = device_seen.connected == Some(Mode::Paired)
        && host_seen.connected == Some(Mode::Paired)
        && device_seen.messages == 1
        && device_seen.intact;

    // One 100-byte record each way.
    measured(&mut deepest, || {
        if let Some(mut link) = device.link(id) {
            let _ = link.send(&RECORD);
            let Ok(()) = pump::step(&mut link, &mut down, Input::Ready, |_, _| {});
        }
    });
    to_host(&mut host, &mut down, &mut up, &mut host_seen);
    let _ = host.send(&RECORD);
    let Ok(()) = pump::step(&mut host, &mut up, Input::Ready, |_, _| {});
    measured(&mut deepest, || {
        to_device(&mut device, id, &mut up, &mut down, &mut device_seen)
    });
    let talked = host_seen.messages == 1 && host_seen.intact && device_seen.messages == 2;
    device.remove(id);

    // A bonded resume.
    let Some(bond) = host_seen.bond.take() else {
        println!("bench: the pairing left no bond");
        exit(false)
    };
    let mut host = HostConnection::resume(&bond, HostConfig::default(), &mut rng, now);
    let (_, host_seen, device_seen) = handshake(
        &mut device,
        &mut host,
        &mut up,
        &mut down,
        &mut deepest,
        now,
    );
    let resumed =
        device_seen.connected == Some(Mode::Resumed) && host_seen.connected == Some(Mode::Resumed);

    let one = core::mem::size_of::<Device<Flash, ChaCha20Rng, 1>>();
    let link = core::mem::size_of::<Device<Flash, ChaCha20Rng, 2>>() - one;
    println!(
        "bench: paired={} talked={} resumed={} stack={} device={} link={} rng={}",
        paired,
        talked,
        resumed,
        deepest,
        one - link,
        link,
        core::mem::size_of::<ChaCha20Rng>()
    );
    exit(paired && talked && resumed)
}
