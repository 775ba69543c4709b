//! The public identifiers of devices, hosts and sessions.

use core::fmt;

use rand_core::CryptoRngCore;

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub struct $name(pub [u8; 8]);

        impl $name {
            /// Length on the wire.
            pub const LEN: usize = 8;

            /// A fresh random identifier.
            pub fn random(rng: &mut impl CryptoRngCore) -> Self {
                let mut bytes = [0; 8];
                rng.fill_bytes(&mut bytes);
                Self(bytes)
            }

            /// The identifier as lowercase hex, as printed on labels and in logs.
            pub fn to_hex(&self) -> [u8; 16] {
                crate::hex::encode(&self.0)
            }

            /// Parses 16 hex digits.
            pub fn from_hex(text: &str) -> Option<Self> {
                crate::hex::decode(text).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let hex = self.to_hex();
                f.write_str(core::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }
    };
}

identifier!(
    /// A device's identity: unique per device, public (printed, advertised).
    /// It is SPAKE2+'s `idVerifier`.
    DeviceId
);
identifier!(
    /// A host's identity towards one device, chosen at random for each
    /// pairing so that it links nothing across devices. It is SPAKE2+'s
    /// `idProver` and names the bond.
    HostId
);
identifier!(
    /// A random value the host picks for each pairing and binds into the
    /// SPAKE2+ context.
    SessionId
);
