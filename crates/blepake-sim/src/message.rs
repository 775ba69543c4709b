//! What applications hand the link, and the PDUs that carry it.

use std::fmt;

use crate::config::{LinkConfig, MAX_ATTRIBUTE_LEN, MAX_LL_CONTROL_LEN, MAX_SMP_LEN};

/// Attribute handle used when a message does not name one.
pub const DEFAULT_HANDLE: u16 = 0x0010;

/// The two ends of the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The GATT client, which initiated the connection (a phone or host app).
    Central,
    /// The GATT server (the device).
    Peripheral,
}

impl Role {
    /// The other end.
    pub fn peer(self) -> Role {
        match self {
            Role::Central => Role::Peripheral,
            Role::Peripheral => Role::Central,
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Role::Central => 0,
            Role::Peripheral => 1,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Central => "central",
            Role::Peripheral => "peripheral",
        })
    }
}

/// How an application message travels, as its receiver sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Central → peripheral, acknowledged by a Write Response. Values longer
    /// than MTU − 3 go as a long write (Prepare Write Requests, then Execute Write).
    WriteRequest,
    /// Central → peripheral, not acknowledged.
    WriteCommand,
    /// Peripheral → central, not acknowledged.
    Notification,
    /// Peripheral → central, acknowledged by a Handle Value Confirmation.
    Indication,
    /// A value the central read from the peripheral: a Read Request, then Read
    /// Blob Requests while the responses come back full.
    Read,
    /// A Security Manager PDU on the L2CAP fixed channel 0x0006.
    Smp,
    /// A link-layer control PDU, sent as one LL PDU without an L2CAP header.
    LlControl,
}

impl Op {
    /// The role that sends values of this kind; `None` for SMP and LL control,
    /// which either side may send.
    pub fn sender(self) -> Option<Role> {
        match self {
            Op::WriteRequest | Op::WriteCommand => Some(Role::Central),
            Op::Notification | Op::Indication | Op::Read => Some(Role::Peripheral),
            Op::Smp | Op::LlControl => None,
        }
    }

    /// Longest value of this kind on a link with `config`.
    pub fn max_len(self, config: &LinkConfig) -> usize {
        match self {
            Op::WriteRequest | Op::Read => MAX_ATTRIBUTE_LEN,
            Op::WriteCommand | Op::Notification | Op::Indication => config.max_att_value(),
            Op::Smp => MAX_SMP_LEN,
            Op::LlControl => MAX_LL_CONTROL_LEN,
        }
    }

    fn min_len(self) -> usize {
        match self {
            // Both start with an opcode byte.
            Op::Smp | Op::LlControl => 1,
            _ => 0,
        }
    }

    /// The PDU that carries (the last part of) a value of this kind.
    pub fn pdu_kind(self) -> PduKind {
        match self {
            Op::WriteRequest => PduKind::WriteRequest,
            Op::WriteCommand => PduKind::WriteCommand,
            Op::Notification => PduKind::Notification,
            Op::Indication => PduKind::Indication,
            Op::Read => PduKind::ReadResponse,
            Op::Smp => PduKind::Smp,
            Op::LlControl => PduKind::LlControl,
        }
    }
}

/// Every PDU the link carries, with its ATT opcode where it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PduKind {
    WriteRequest,
    WriteResponse,
    WriteCommand,
    PrepareWriteRequest,
    PrepareWriteResponse,
    ExecuteWriteRequest,
    ExecuteWriteResponse,
    ReadRequest,
    ReadBlobRequest,
    ReadResponse,
    ReadBlobResponse,
    Notification,
    Indication,
    Confirmation,
    Smp,
    LlControl,
}

impl PduKind {
    /// Bytes of header in front of the value: opcode and handle, plus offset
    /// or flags where the PDU has them. SMP and LL control PDUs carry their own
    /// opcode in the value.
    pub fn header_len(self) -> usize {
        match self {
            PduKind::WriteRequest
            | PduKind::WriteCommand
            | PduKind::Notification
            | PduKind::Indication => 3,
            PduKind::ReadRequest => 3,
            PduKind::ReadBlobRequest
            | PduKind::PrepareWriteRequest
            | PduKind::PrepareWriteResponse => 5,
            PduKind::ExecuteWriteRequest => 2,
            PduKind::WriteResponse
            | PduKind::ExecuteWriteResponse
            | PduKind::ReadResponse
            | PduKind::ReadBlobResponse
            | PduKind::Confirmation => 1,
            PduKind::Smp | PduKind::LlControl => 0,
        }
    }

    /// ATT requests: a client has at most one outstanding (Core Vol 3 Part F §3.3.2).
    pub fn is_request(self) -> bool {
        matches!(
            self,
            PduKind::WriteRequest
                | PduKind::PrepareWriteRequest
                | PduKind::ExecuteWriteRequest
                | PduKind::ReadRequest
                | PduKind::ReadBlobRequest
        )
    }

    /// Whether the value is application data (as opposed to a stack echo or
    /// an empty request or response).
    pub fn carries_app_value(self) -> bool {
        matches!(
            self,
            PduKind::WriteRequest
                | PduKind::WriteCommand
                | PduKind::PrepareWriteRequest
                | PduKind::ReadResponse
                | PduKind::ReadBlobResponse
                | PduKind::Notification
                | PduKind::Indication
                | PduKind::Smp
                | PduKind::LlControl
        )
    }

    /// The name the Core specification gives the PDU.
    pub fn name(self) -> &'static str {
        match self {
            PduKind::WriteRequest => "ATT_WRITE_REQ",
            PduKind::WriteResponse => "ATT_WRITE_RSP",
            PduKind::WriteCommand => "ATT_WRITE_CMD",
            PduKind::PrepareWriteRequest => "ATT_PREPARE_WRITE_REQ",
            PduKind::PrepareWriteResponse => "ATT_PREPARE_WRITE_RSP",
            PduKind::ExecuteWriteRequest => "ATT_EXECUTE_WRITE_REQ",
            PduKind::ExecuteWriteResponse => "ATT_EXECUTE_WRITE_RSP",
            PduKind::ReadRequest => "ATT_READ_REQ",
            PduKind::ReadBlobRequest => "ATT_READ_BLOB_REQ",
            PduKind::ReadResponse => "ATT_READ_RSP",
            PduKind::ReadBlobResponse => "ATT_READ_BLOB_RSP",
            PduKind::Notification => "ATT_HANDLE_VALUE_NTF",
            PduKind::Indication => "ATT_HANDLE_VALUE_IND",
            PduKind::Confirmation => "ATT_HANDLE_VALUE_CFM",
            PduKind::Smp => "SMP",
            PduKind::LlControl => "LL_CONTROL",
        }
    }
}

impl fmt::Display for PduKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the application asks its stack to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Intent {
    Send(Op),
    /// The central starts a read; the value comes back as [`Op::Read`].
    StartRead,
    /// The peripheral answers a [`LinkEvent::ReadRequested`](crate::LinkEvent::ReadRequested).
    AnswerRead,
}

/// An application message: a value and how to send it.
///
/// Build one with a constructor, optionally name the attribute with
/// [`Message::with_handle`], and pass it to [`Link::send`](crate::Link::send).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub(crate) intent: Intent,
    pub(crate) handle: u16,
    pub(crate) value: Vec<u8>,
}

impl Message {
    fn new(intent: Intent, value: &[u8]) -> Message {
        Message {
            intent,
            handle: DEFAULT_HANDLE,
            value: value.to_vec(),
        }
    }

    /// Central: write with response, up to 512 bytes (long write past MTU − 3).
    pub fn write_request(value: &[u8]) -> Message {
        Message::new(Intent::Send(Op::WriteRequest), value)
    }

    /// Central: write without response, up to MTU − 3 bytes.
    pub fn write_command(value: &[u8]) -> Message {
        Message::new(Intent::Send(Op::WriteCommand), value)
    }

    /// Peripheral: notification, up to MTU − 3 bytes.
    pub fn notification(value: &[u8]) -> Message {
        Message::new(Intent::Send(Op::Notification), value)
    }

    /// Peripheral: indication, up to MTU − 3 bytes; one outstanding at a time.
    pub fn indication(value: &[u8]) -> Message {
        Message::new(Intent::Send(Op::Indication), value)
    }

    /// Central: read the attribute; the peripheral application is asked for
    /// the value by [`LinkEvent::ReadRequested`](crate::LinkEvent::ReadRequested).
    pub fn read() -> Message {
        Message::new(Intent::StartRead, &[])
    }

    /// Peripheral: the whole attribute value (up to 512 bytes) answering the
    /// pending read; the stack sends the part from the requested offset.
    pub fn read_response(value: &[u8]) -> Message {
        Message::new(Intent::AnswerRead, value)
    }

    /// Either side: an SMP PDU (code byte included), 1..=65 bytes.
    pub fn smp(pdu: &[u8]) -> Message {
        Message::new(Intent::Send(Op::Smp), pdu)
    }

    /// Either side: an LL control PDU (opcode included), 1..=27 bytes.
    pub fn ll_control(pdu: &[u8]) -> Message {
        Message::new(Intent::Send(Op::LlControl), pdu)
    }

    /// The same message addressed to attribute `handle`.
    pub fn with_handle(mut self, handle: u16) -> Message {
        self.handle = handle;
        self
    }

    /// Checks the message against the role sending it and the link's limits.
    pub(crate) fn validate(&self, role: Role, config: &LinkConfig) -> Result<(), SendError> {
        let (sender, op) = match self.intent {
            Intent::Send(op) => (op.sender(), op),
            Intent::StartRead => (Some(Role::Central), Op::Read),
            Intent::AnswerRead => (Some(Role::Peripheral), Op::Read),
        };
        if sender.is_some_and(|sender| sender != role) {
            return Err(SendError::WrongRole { role });
        }
        let (min, max) = (op.min_len(), op.max_len(config));
        let len = self.value.len();
        if len < min || len > max || (self.intent == Intent::StartRead && len > 0) {
            return Err(SendError::BadLength { len, min, max });
        }
        Ok(())
    }
}

/// Why [`Link::send`](crate::Link::send) refused a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The link is down.
    Disconnected,
    /// This role cannot send this kind of message (a peripheral cannot write, ...).
    WrongRole { role: Role },
    /// The value's length lies outside what the operation allows.
    BadLength { len: usize, min: usize, max: usize },
    /// The role already has `queue_limit` messages waiting to go out.
    QueueFull,
    /// A read response was sent but no read is waiting for one.
    NoPendingRead,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Disconnected => f.write_str("the link is down"),
            SendError::WrongRole { role } => {
                write!(f, "the {role} cannot send this kind of message")
            }
            SendError::BadLength { len, min, max } => {
                write!(f, "a value of {len} bytes is outside {min}..={max}")
            }
            SendError::QueueFull => f.write_str("the send queue is full"),
            SendError::NoPendingRead => f.write_str("no read request is waiting for a response"),
        }
    }
}

impl std::error::Error for SendError {}
