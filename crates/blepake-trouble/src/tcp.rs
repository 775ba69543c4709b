//! A controller over H4 on a TCP socket: a virtual controller (Bumble's),
//! or a serial HCI controller behind a TCP bridge.
//!
//! It runs on tokio, the runtime btleplug needs as well: a current-thread
//! runtime is enough (trouble-host's futures run on one thread), and
//! embassy-time's std driver gives the stack its clock.

use bt_hci::controller::ExternalController;
use bt_hci_serial::SerialTransport;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embedded_io_adapters::tokio_1::FromTokio;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpStream, ToSocketAddrs};

// The std implementation of the critical sections embassy-sync takes.
use critical_section as _;

/// Commands the controller may have in flight at once.
const COMMANDS: usize = 10;

/// An HCI controller reached over TCP.
pub type TcpController = ExternalController<
    SerialTransport<NoopRawMutex, FromTokio<OwnedReadHalf>, FromTokio<OwnedWriteHalf>>,
    COMMANDS,
>;

/// Connects to a controller that speaks H4 on `address` (`host:port`).
pub async fn connect(address: impl ToSocketAddrs) -> std::io::Result<TcpController> {
    let stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (reader, writer) = stream.into_split();
    let transport = SerialTransport::new(FromTokio::new(reader), FromTokio::new(writer));
    Ok(ExternalController::new(transport))
}

/// Packets on the heap, as many as the stack asks for: a host on an OS
/// need not drop a burst of notifications for want of a static packet.
/// The host offers an ATT MTU of `MTU - 4`.
pub struct HeapPacketPool<const MTU: usize>;

/// A packet of a [`HeapPacketPool`].
pub struct HeapPacket<const MTU: usize>(std::boxed::Box<[u8; MTU]>);

impl<const MTU: usize> AsRef<[u8]> for HeapPacket<MTU> {
    fn as_ref(&self) -> &[u8] {
        &self.0[..]
    }
}

impl<const MTU: usize> AsMut<[u8]> for HeapPacket<MTU> {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.0[..]
    }
}

impl<const MTU: usize> trouble_host::Packet for HeapPacket<MTU> {}

impl<const MTU: usize> trouble_host::PacketPool for HeapPacketPool<MTU> {
    type Packet = HeapPacket<MTU>;
    const MTU: usize = MTU;

    fn allocate() -> Option<Self::Packet> {
        Some(HeapPacket(std::boxed::Box::new([0; MTU])))
    }

    fn capacity() -> usize {
        // What the stack plans its queues with; allocation never runs out.
        64
    }
}
