//! Decoders, one module per protocol layer. They only turn bytes into values;
//! connection state lives in `analysis`, keys and ciphers in `crypto`.

pub mod att;
pub mod frame;
pub mod hci;
pub mod l2cap;
pub mod ll;
pub mod smp;
