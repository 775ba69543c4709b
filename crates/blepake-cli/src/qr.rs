//! QR codes for setup payloads: in the terminal, as SVG and as PNG.

use qrcode::render::{svg, unicode};
use qrcode::{Color, EcLevel, QrCode};

/// The QR code of a payload text, at error-correction level M (a payload
/// fits version 3).
pub fn encode(text: &str) -> QrCode {
    QrCode::with_error_correction_level(text, EcLevel::M).expect("57 alphanumeric characters fit")
}

/// Half-block characters, light modules drawn, for dark terminals.
pub fn terminal(qr: &QrCode) -> String {
    qr.render::<unicode::Dense1x2>()
        .dark_color(unicode::Dense1x2::Light)
        .light_color(unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build()
}

pub fn svg(qr: &QrCode) -> String {
    qr.render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .build()
}

/// A grayscale PNG, `scale` pixels per module, with the 4-module quiet zone.
pub fn png(qr: &QrCode, scale: usize) -> Vec<u8> {
    const QUIET: usize = 4;
    let modules = qr.width();
    let side = (modules + 2 * QUIET) * scale;
    let colors = qr.to_colors();
    let mut pixels = vec![0xff; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let (x, y) = ((i % modules + QUIET) * scale, (i / modules + QUIET) * scale);
            for row in pixels[y * side..].chunks_mut(side).take(scale) {
                row[x..x + scale].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side as u32, side as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().expect("writing to memory");
    writer.write_image_data(&pixels).expect("writing to memory");
    writer.finish().expect("writing to memory");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_has_the_modules_and_quiet_zone() {
        let qr = encode("BP:TEST");
        let bytes = png(&qr, 3);
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        let side = (qr.width() + 8) * 3;
        assert_eq!((info.width as usize, info.height as usize), (side, side));
        // The quiet zone is light; the top-left finder pattern's corner dark.
        assert_eq!(pixels[0], 0xff);
        assert_eq!(pixels[(4 * 3) * side + 4 * 3], 0);
        let dark_pixels = pixels.iter().filter(|&&p| p == 0).count();
        let dark_modules = qr.to_colors().iter().filter(|&&c| c == Color::Dark).count();
        assert_eq!(dark_pixels, dark_modules * 9);
    }

    #[test]
    fn payloads_fit_version_3() {
        let text = "BP:".to_string() + &"A".repeat(54);
        assert_eq!(encode(&text).version(), qrcode::Version::Normal(3));
    }
}
