//! The values the pump sends, on their way to the radio.
//!
//! The pump's [`Transport`] sends synchronously; a GATT write or
//! notification is awaited. So each side runs two futures over one
//! [`Outbox`]: the one that steps the connection queues values here, and a
//! sender takes them out and awaits the stack. Receiving never waits for
//! sending, so a peer that streams never finds this side deaf.

use core::cell::{Cell, RefCell};
use core::convert::Infallible;

use blepake::pump::Transport;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::signal::Signal;
use heapless::{Deque, Vec};

/// The largest value sent: an ATT MTU of 247 (one LL packet of 251 bytes)
/// less 3.
pub const MAX_VALUE_LEN: usize = 244;

/// Values queued at once: enough to keep a connection event full.
const DEPTH: usize = 8;

/// One ATT value.
pub(crate) type Value = Vec<u8, MAX_VALUE_LEN>;

/// What the sender does next. (Moved once, never stored: its size is
/// the value's.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Item {
    /// A host enables notifications of Outbound (writes its CCCD).
    Subscribe,
    /// A host writes this value to Inbound, a device notifies it.
    Value(Value),
}

#[derive(Default)]
pub(crate) struct Outbox {
    values: RefCell<Deque<Value, DEPTH>>,
    /// A host asked to enable notifications; the sender does it first.
    subscribe: Cell<bool>,
    /// The sender holds a value it has not finished sending.
    sending: Cell<bool>,
    /// Something was queued: wakes the sender.
    queued: Signal<NoopRawMutex, ()>,
    /// Everything queued has gone out: wakes the stepper.
    drained: Signal<NoopRawMutex, ()>,
}

impl Outbox {
    /// The transport the pump sends into, for values of at most
    /// `max_value_len` bytes; `ready` says whether the link may carry them
    /// yet (a device: once the host has enabled notifications).
    pub(crate) fn transport(&self, max_value_len: usize, ready: bool) -> Values<'_> {
        Values {
            outbox: self,
            max_value_len: max_value_len.min(MAX_VALUE_LEN),
            ready,
        }
    }

    /// The next thing to send, when there is one: a host's subscription
    /// first, then the values in order. Call [`sent`](Self::sent) once it
    /// has gone.
    pub(crate) async fn next(&self) -> Item {
        loop {
            if self.subscribe.replace(false) {
                self.sending.set(true);
                return Item::Subscribe;
            }
            if let Some(value) = self.values.borrow_mut().pop_front() {
                self.sending.set(true);
                return Item::Value(value);
            }
            self.queued.wait().await;
        }
    }

    /// What [`next`](Self::next) gave has gone out.
    pub(crate) fn sent(&self) {
        self.sending.set(false);
        if self.is_drained() {
            self.drained.signal(());
        }
    }

    /// Whether nothing is queued or being sent.
    pub(crate) fn is_drained(&self) -> bool {
        !self.sending.get() && !self.subscribe.get() && self.values.borrow().is_empty()
    }

    /// Waits until everything queued has gone out.
    pub(crate) async fn wait_drained(&self) {
        while !self.is_drained() {
            self.drained.wait().await;
        }
    }

    /// Resolves when the queue empties: room for the pump to send more.
    pub(crate) async fn wait_room(&self) {
        self.drained.wait().await;
    }
}

/// The pump's view of an [`Outbox`].
pub(crate) struct Values<'a> {
    outbox: &'a Outbox,
    max_value_len: usize,
    ready: bool,
}

impl Transport for Values<'_> {
    type Error = Infallible;

    fn now(&self) -> blepake::Instant {
        crate::now()
    }

    fn max_value_len(&self) -> usize {
        self.max_value_len
    }

    fn can_send(&self) -> bool {
        self.ready && !self.outbox.values.borrow().is_full()
    }

    fn send(&mut self, value: &[u8]) -> Result<(), Infallible> {
        // The pump asks can_send first and never exceeds max_value_len, so
        // neither push can fail.
        let value = Value::from_slice(value).unwrap_or_default();
        let _ = self.outbox.values.borrow_mut().push_back(value);
        self.outbox.queued.signal(());
        Ok(())
    }

    fn subscribe(&mut self) -> Result<(), Infallible> {
        self.outbox.subscribe.set(true);
        self.outbox.queued.signal(());
        Ok(())
    }
}
