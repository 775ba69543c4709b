//! What a label carries: the eight-digit setup code with its nine-digit
//! manual-entry form (a check digit added), or a 128-bit QR secret.

use core::fmt;
use core::str::FromStr;

use rand_core::CryptoRngCore;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Codes have eight decimal digits: 10^8 values, less the trivial ones.
const CODE_SPACE: u32 = 100_000_000;

/// Why a code was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum CodeError {
    /// Not eight digits (or nine for the manual form).
    Format,
    /// The check digit does not match: a digit was mistyped or two swapped.
    CheckDigit,
    /// A code people guess first (one digit repeated, a run, a repeated
    /// block), refused so that every device's code is worth its 26 bits.
    Trivial,
}

impl fmt::Display for CodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Format => "a setup code has 8 digits, or 9 with the check digit as on the label",
            Self::CheckDigit => "the check digit does not match: a digit is mistyped",
            Self::Trivial => "this code is too easy to guess",
        })
    }
}

impl core::error::Error for CodeError {}

/// A device's setup code. Zeroized on drop; `Debug` shows nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct SetupCode(u32);

impl Drop for SetupCode {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for SetupCode {}

impl SetupCode {
    /// A code from its value, refusing trivial ones.
    pub fn new(value: u32) -> Result<Self, CodeError> {
        if value >= CODE_SPACE {
            return Err(CodeError::Format);
        }
        let code = Self(value);
        if is_trivial(&code.digit_values()) {
            Err(CodeError::Trivial)
        } else {
            Ok(code)
        }
    }

    /// A uniformly random non-trivial code.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        // Rejection sampling keeps the distribution uniform: 2^32 is not a
        // multiple of 10^8.
        let limit = u32::MAX - u32::MAX % CODE_SPACE;
        loop {
            let candidate = rng.next_u32();
            if candidate < limit {
                if let Ok(code) = Self::new(candidate % CODE_SPACE) {
                    return code;
                }
            }
        }
    }

    /// The code's value.
    pub fn value(&self) -> u32 {
        self.0
    }

    /// The eight ASCII digits, the password the key derivation hashes.
    pub fn digits(&self) -> [u8; 8] {
        self.digit_values().map(|d| b'0' + d)
    }

    fn digit_values(&self) -> [u8; 8] {
        let mut digits = [0; 8];
        let mut rest = self.0;
        for digit in digits.iter_mut().rev() {
            *digit = (rest % 10) as u8;
            rest /= 10;
        }
        digits
    }

    /// The manual-entry form: the eight digits and a Damm check digit.
    pub fn manual(&self) -> ManualCode {
        let digits = self.digit_values();
        let mut all = [0; 9];
        all[..8].copy_from_slice(&digits);
        all[8] = damm_interim(&digits);
        ManualCode(all)
    }

    /// Reads a manual-entry code: nine digits, spaces and hyphens ignored
    /// wherever they are, the last a Damm check digit over the first eight.
    pub fn parse_manual(text: &str) -> Result<Self, CodeError> {
        match read_digits(text)? {
            (digits, 9) => Self::from_manual_digits(&digits),
            _ => Err(CodeError::Format),
        }
    }

    fn from_manual_digits(digits: &[u8; 9]) -> Result<Self, CodeError> {
        if damm_interim(digits) != 0 {
            return Err(CodeError::CheckDigit);
        }
        Self::from_digits(&digits[..8])
    }

    fn from_digits(digits: &[u8]) -> Result<Self, CodeError> {
        Self::new(digits.iter().fold(0, |value, &d| value * 10 + u32::from(d)))
    }
}

/// The decimal digits of `text`, spaces and hyphens ignored, and how many
/// there are (at most 9). The caller wipes them: they are the code.
fn read_digits(text: &str) -> Result<([u8; 9], usize), CodeError> {
    let mut digits = [0u8; 9];
    let mut count = 0;
    for c in text.bytes().filter(|c| !matches!(c, b' ' | b'-')) {
        if !c.is_ascii_digit() || count == 9 {
            digits.zeroize();
            return Err(CodeError::Format);
        }
        digits[count] = c - b'0';
        count += 1;
    }
    Ok((digits, count))
}

impl FromStr for SetupCode {
    type Err = CodeError;

    /// The code in either printed form: its eight digits, or the nine of
    /// the manual-entry form with the check digit (`314-159-266`). Spaces
    /// and hyphens are ignored wherever they are.
    fn from_str(text: &str) -> Result<Self, CodeError> {
        let (mut digits, count) = read_digits(text)?;
        let code = match count {
            8 => Self::from_digits(&digits[..8]),
            9 => Self::from_manual_digits(&digits),
            _ => Err(CodeError::Format),
        };
        digits.zeroize();
        code
    }
}

/// A 128-bit random secret that a QR code carries as the SPAKE2+ password
/// instead of a setup code. A stolen device record gives nothing to guess
/// against it. Zeroized on drop; `Debug` shows nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct QrSecret([u8; 16]);

impl QrSecret {
    /// Its length in bytes.
    pub const LEN: usize = 16;

    /// A fresh random secret.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut bytes = [0; Self::LEN];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A secret from its bytes.
    pub fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes)
    }

    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }
}

impl Drop for QrSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for QrSecret {}

impl fmt::Debug for QrSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("QrSecret(..)")
    }
}

impl fmt::Debug for SetupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SetupCode(..)")
    }
}

/// The nine-digit manual-entry form; displays as `123-456-789`.
#[derive(Clone, PartialEq, Eq)]
pub struct ManualCode([u8; 9]);

impl Drop for ManualCode {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for ManualCode {}

impl fmt::Display for ManualCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, digit) in self.0.iter().enumerate() {
            if i == 3 || i == 6 {
                f.write_str("-")?;
            }
            write!(f, "{digit}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ManualCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ManualCode(..)")
    }
}

/// Damm's totally anti-symmetric quasigroup of order 10 (H. M. Damm, 2004):
/// a check digit from it catches every single-digit error and every swap of
/// adjacent digits. Written out here because it is this table and a fold.
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/// The interim digit after `digits`: the check digit for them, and zero
/// when the last of them is a correct check digit.
fn damm_interim(digits: &[u8]) -> u8 {
    digits
        .iter()
        .fold(0, |interim, &d| DAMM[usize::from(interim)][usize::from(d)])
}

/// One digit repeated, an ascending or descending run (wrapping 9 to 0),
/// or a block of two or four digits repeated.
fn is_trivial(digits: &[u8; 8]) -> bool {
    let steps_by = |step: u8| digits.windows(2).all(|w| w[1] == (w[0] + step) % 10);
    let period = |p: usize| digits.iter().zip(&digits[p..]).all(|(a, b)| a == b);
    steps_by(0) || steps_by(1) || steps_by(9) || period(2) || period(4)
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use std::string::ToString;

    use super::*;

    #[test]
    fn damm_matches_the_published_example() {
        // The worked example of Damm's algorithm: 572 gets check digit 4.
        assert_eq!(damm_interim(&[5, 7, 2]), 4);
        assert_eq!(damm_interim(&[5, 7, 2, 4]), 0);
    }

    #[test]
    fn trivial_codes_are_refused() {
        for trivial in [
            0, 11_111_111, 99_999_999, 12_345_678, 87_654_321, 23_456_789, 98_765_432, 1_234_567,
            89_012_345, 10_987_654, 12_121_212, 12_341_234, 90_909_090,
        ] {
            assert_eq!(
                SetupCode::new(trivial),
                Err(CodeError::Trivial),
                "{trivial}"
            );
        }
        for fine in [12_345_679, 31_415_926, 20_240_517] {
            assert!(SetupCode::new(fine).is_ok(), "{fine}");
        }
        assert_eq!(SetupCode::new(100_000_000), Err(CodeError::Format));
    }

    #[test]
    fn manual_form_round_trips_and_formats() {
        let code = SetupCode::new(31_415_926).unwrap();
        let manual = code.manual().to_string();
        assert_eq!(manual.len(), 11);
        // The example of PROTOCOL.md §4.2, worked by hand from the table.
        assert_eq!(manual, "314-159-266");
        assert_eq!(SetupCode::parse_manual(&manual), Ok(code.clone()));
        assert_eq!(
            SetupCode::parse_manual(&manual.replace('-', " ")),
            Ok(code.clone())
        );
        assert_eq!(SetupCode::parse_manual("31415926"), Err(CodeError::Format));
        // Any grouping of the nine digits.
        assert_eq!(SetupCode::parse_manual(" 3-14159 266 "), Ok(code.clone()));
        assert_eq!(
            SetupCode::parse_manual("3141592601"),
            Err(CodeError::Format)
        );
        assert_eq!(SetupCode::parse_manual("31415926x"), Err(CodeError::Format));
    }

    #[test]
    fn check_digit_catches_every_single_error_and_adjacent_swap() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for _ in 0..2_000 {
            let manual = SetupCode::generate(&mut rng).manual().0;
            for position in 0..9 {
                for wrong in 0..10 {
                    if wrong != manual[position] {
                        let mut typo = manual;
                        typo[position] = wrong;
                        assert_ne!(damm_interim(&typo), 0, "{manual:?} -> {typo:?}");
                    }
                }
                if position < 8 && manual[position] != manual[position + 1] {
                    let mut swapped = manual;
                    swapped.swap(position, position + 1);
                    assert_ne!(damm_interim(&swapped), 0, "{manual:?} -> {swapped:?}");
                }
            }
        }
    }

    #[test]
    fn generated_codes_cover_the_space_and_are_never_trivial() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let mut leading = [0u32; 10];
        for _ in 0..10_000 {
            let code = SetupCode::generate(&mut rng);
            assert!(!is_trivial(&code.digit_values()));
            leading[usize::from(code.digit_values()[0])] += 1;
        }
        // Each leading digit near 1,000 of 10,000 (a wide bound; the
        // binomial standard deviation is 30).
        assert!(
            leading.iter().all(|&n| (850..1150).contains(&n)),
            "{leading:?}"
        );
    }

    #[test]
    fn codes_parse_and_hide_from_debug() {
        let code: SetupCode = "31415926".parse().unwrap();
        assert_eq!(code.value(), 31_415_926);
        assert_eq!(&code.digits(), b"31415926");
        assert_eq!(std::format!("{code:?}"), "SetupCode(..)");
        assert_eq!("3141592".parse::<SetupCode>(), Err(CodeError::Format));
        assert_eq!("3141592a".parse::<SetupCode>(), Err(CodeError::Format));
        assert_eq!("+1415926".parse::<SetupCode>(), Err(CodeError::Format));
        // The label's nine-digit form parses too, its check digit checked.
        assert_eq!("314-159-266".parse::<SetupCode>(), Ok(code.clone()));
        assert_eq!("3141-5926".parse::<SetupCode>(), Ok(code));
        assert_eq!(
            "314-159-265".parse::<SetupCode>(),
            Err(CodeError::CheckDigit)
        );
        assert_eq!("3141592600".parse::<SetupCode>(), Err(CodeError::Format));
    }
}
