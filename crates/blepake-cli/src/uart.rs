//! `blepake connect --uart tcp:HOST:PORT`: a device on a serial line
//! behind a TCP socket (QEMU's `-serial tcp:…`, a serial-to-TCP bridge),
//! in the UART framing of `PROTOCOL.md` §16.
//!
//! The frames stand in for GATT: Open and Close for the connection,
//! ReadSetupInfo, Subscribe for the CCCD, Inbound writes and Outbound
//! notifications. The session loop is `blepake_trouble::client::run`,
//! the one the BLE links run.

use std::collections::VecDeque;
use std::time::Duration;

use blepake::{HostConnection, SetupInfo};
use blepake_trouble::client::{self, Ended, Notifications, ServiceClient};
use blepake_uart::{Decoder, FrameType, MAX_ENCODED_LEN, MAX_VALUE_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Mutex;

use crate::connect::{Failure, HostLink, Session};

fn link_failed(error: std::io::Error) -> Failure {
    Failure::Link(format!("UART: {error}"))
}

/// A device's link over the UART's TCP socket.
pub struct UartLink {
    writer: Mutex<OwnedWriteHalf>,
    frames: Frames,
}

/// Connects to `address` (`tcp:HOST:PORT`), opens a link, runs `f` with it,
/// and closes the link.
pub async fn with_link<T>(
    address: &str,
    timeout: Duration,
    f: impl AsyncFnOnce(&mut UartLink) -> Result<T, Failure>,
) -> Result<Result<T, Failure>, Failure> {
    let target = crate::tcp_address("--uart", address).map_err(Failure::Usage)?;
    let stream = tokio::time::timeout(timeout, TcpStream::connect(target))
        .await
        .map_err(|_| Failure::NotFound)?
        .map_err(|e| Failure::Usage(format!("cannot reach the UART at {target}: {e}")))?;
    let _ = stream.set_nodelay(true);
    let (reader, writer) = stream.into_split();
    let mut link = UartLink {
        writer: Mutex::new(writer),
        frames: Frames {
            reader,
            decoder: Box::default(),
            pending: VecDeque::new(),
            closed: false,
        },
    };
    send(&link.writer, FrameType::Open, &[])
        .await
        .map_err(link_failed)?;
    let result = f(&mut link).await;
    let _ = send(&link.writer, FrameType::Close, &[]).await;
    link.leave().await;
    Ok(result)
}

/// How long the far end has to take the last frames and close.
const CLOSE_WITHIN: Duration = Duration::from_secs(2);

impl UartLink {
    /// Closes the socket gently: no more writes, then reads until the far
    /// end closes. (A socket closed at once with bytes in flight may make
    /// a bridge drop the bytes it had not yet passed on: the Close frame.)
    async fn leave(&mut self) {
        let _ = self.writer.lock().await.shutdown().await;
        let _ = tokio::time::timeout(CLOSE_WITHIN, async {
            while self.frames.next_frame().await.is_some() {}
        })
        .await;
    }
}

async fn send(
    writer: &Mutex<OwnedWriteHalf>,
    kind: FrameType,
    payload: &[u8],
) -> std::io::Result<()> {
    let mut out = [0; MAX_ENCODED_LEN];
    let len = blepake_uart::encode(kind, payload, &mut out)
        .map_err(|_| std::io::Error::other("a value too long for a frame"))?;
    writer.lock().await.write_all(&out[..len]).await
}

/// The frames the device sends, as they arrive.
struct Frames {
    reader: OwnedReadHalf,
    decoder: Box<Decoder>,
    /// Frames decoded and not yet taken: (type, payload).
    pending: VecDeque<(FrameType, Vec<u8>)>,
    /// The device closed the link, or the socket ended.
    closed: bool,
}

impl Frames {
    /// The next frame, or `None` once the socket has ended. Safe to drop
    /// while waiting: a read that has not completed takes nothing.
    async fn next_frame(&mut self) -> Option<(FrameType, Vec<u8>)> {
        loop {
            if let Some(frame) = self.pending.pop_front() {
                return Some(frame);
            }
            let mut buf = [0; 512];
            let n = self.reader.read(&mut buf).await.ok().filter(|&n| n > 0)?;
            let mut rest = &buf[..n];
            while !rest.is_empty() {
                let (taken, frame) = self.decoder.push(rest);
                if let Some(frame) = frame {
                    self.pending.push_back((frame.kind, frame.payload.to_vec()));
                }
                rest = &rest[taken..];
            }
        }
    }
}

/// The writing half: Subscribe and Inbound frames.
struct Client<'a> {
    writer: &'a Mutex<OwnedWriteHalf>,
}

impl ServiceClient for Client<'_> {
    type Error = std::io::Error;

    /// The framing carries values of up to MTU − 3 bytes at this MTU.
    fn att_mtu(&self) -> u16 {
        MAX_VALUE_LEN as u16 + 3
    }

    async fn enable_notifications(&self) -> std::io::Result<()> {
        send(self.writer, FrameType::Subscribe, &[]).await
    }

    async fn write_inbound(&self, value: &[u8]) -> std::io::Result<()> {
        send(self.writer, FrameType::Inbound, value).await
    }
}

impl Notifications for Frames {
    type Value = Vec<u8>;

    /// Outbound values until the device sends Close or the socket ends.
    async fn next(&mut self) -> Option<Vec<u8>> {
        while !self.closed {
            match self.next_frame().await {
                Some((FrameType::Outbound, value)) => return Some(value),
                Some((FrameType::Close, _)) | None => self.closed = true,
                Some(_) => {}
            }
        }
        None
    }
}

impl HostLink for UartLink {
    async fn setup_info(&mut self) -> Result<SetupInfo, Failure> {
        send(&self.writer, FrameType::ReadSetupInfo, &[])
            .await
            .map_err(link_failed)?;
        loop {
            match self.frames.next_frame().await {
                Some((FrameType::SetupInfo, value)) => {
                    return SetupInfo::decode(&value)
                        .map_err(|_| Failure::Link("the device's Setup Info is invalid".into()));
                }
                Some((FrameType::Close, _)) | None => {
                    return Err(Failure::Session(blepake::Error::LinkLost));
                }
                Some(_) => {}
            }
        }
    }

    async fn run(
        &mut self,
        host: &mut HostConnection,
        session: &mut Session,
    ) -> Result<(), Failure> {
        let client = Client {
            writer: &self.writer,
        };
        client::run(&client, &mut self.frames, host, session)
            .await
            .map_err(|ended| match ended {
                Ended::LinkLost => Failure::Session(blepake::Error::LinkLost),
                Ended::Stack(error) => link_failed(error),
            })
    }
}
