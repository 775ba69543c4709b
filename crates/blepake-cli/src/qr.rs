//! QR codes for setup payloads: in the terminal, as SVG and as a PNG
//! label with the code printed under it.

use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::mono_font::ascii::FONT_10X20;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::{DrawTarget, OriginDimensions, Point, Size};
use embedded_graphics::text::{Alignment, Baseline, Text, TextStyleBuilder};
use embedded_graphics::{Drawable, Pixel};
use qrcode::render::{svg, unicode};
use qrcode::{Color, EcLevel, QrCode};

/// The QR code of a payload text, at error-correction level M (a code's
/// payload fits version 3, a QR secret's version 4).
pub fn encode(text: &str) -> QrCode {
    QrCode::with_error_correction_level(text, EcLevel::M).expect("a setup payload fits")
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

/// Grayscale pixels, 0 dark and 0xff light, for drawing text into.
struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl OriginDimensions for Canvas {
    fn size(&self) -> Size {
        Size::new(self.width as u32, self.height as u32)
    }
}

impl DrawTarget for Canvas {
    type Color = BinaryColor;
    type Error = std::convert::Infallible;

    fn draw_iter<I: IntoIterator<Item = Pixel<BinaryColor>>>(
        &mut self,
        pixels: I,
    ) -> Result<(), Self::Error> {
        for Pixel(point, color) in pixels {
            let (Ok(x), Ok(y)) = (usize::try_from(point.x), usize::try_from(point.y)) else {
                continue;
            };
            if x < self.width && y < self.height {
                self.pixels[y * self.width + x] = if color.is_on() { 0 } else { 0xff };
            }
        }
        Ok(())
    }
}

/// Height of the caption strip under the QR code, in font pixels.
const CAPTION_HEIGHT: usize = 28;

/// A grayscale PNG label: the QR code, `scale` pixels per module with its
/// 4-module quiet zone, and `caption` (the manual code, for typing) printed
/// under it.
pub fn png(qr: &QrCode, caption: &str, scale: usize) -> Vec<u8> {
    const QUIET: usize = 4;
    let modules = qr.width();
    let side = (modules + 2 * QUIET) * scale;
    // The caption is drawn at half the label's scale, then enlarged.
    let text_scale = (scale / 4).max(1);
    let height = side + CAPTION_HEIGHT * text_scale;
    let colors = qr.to_colors();
    let mut pixels = vec![0xff; side * height];
    for (i, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let (x, y) = ((i % modules + QUIET) * scale, (i / modules + QUIET) * scale);
            for row in pixels[y * side..].chunks_mut(side).take(scale) {
                row[x..x + scale].fill(0);
            }
        }
    }
    let mut canvas = Canvas {
        width: side / text_scale,
        height: CAPTION_HEIGHT,
        pixels: vec![0xff; (side / text_scale) * CAPTION_HEIGHT],
    };
    let style = MonoTextStyle::new(&FONT_10X20, BinaryColor::On);
    let centered = TextStyleBuilder::new()
        .alignment(Alignment::Center)
        .baseline(Baseline::Top)
        .build();
    let origin = Point::new((canvas.width / 2) as i32, 2);
    let _ = Text::with_text_style(caption, origin, style, centered).draw(&mut canvas);
    for y in 0..CAPTION_HEIGHT * text_scale {
        for x in 0..canvas.width * text_scale {
            pixels[(side + y) * side + x] =
                canvas.pixels[(y / text_scale) * canvas.width + x / text_scale];
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side as u32, height as u32);
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

    /// The label's pixels, width and height.
    fn decode(bytes: Vec<u8>) -> (Vec<u8>, usize, usize) {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        (pixels, info.width as usize, info.height as usize)
    }

    #[test]
    fn png_has_the_modules_quiet_zone_and_caption() {
        let qr = encode("BP:TEST");
        let (pixels, width, height) = decode(png(&qr, "314-159-266", 8));
        let side = (qr.width() + 8) * 8;
        assert_eq!((width, height), (side, side + 2 * CAPTION_HEIGHT));
        // The quiet zone is light; the top-left finder pattern's corner dark.
        assert_eq!(pixels[0], 0xff);
        assert_eq!(pixels[(4 * 8) * side + 4 * 8], 0);
        let (qr_part, caption) = pixels.split_at(side * side);
        let dark_pixels = qr_part.iter().filter(|&&p| p == 0).count();
        let dark_modules = qr.to_colors().iter().filter(|&&c| c == Color::Dark).count();
        assert_eq!(dark_pixels, dark_modules * 64);
        // The caption is printed, and it is the code's own: another code
        // prints differently, the same code the same.
        assert!(caption.contains(&0));
        let caption_of = |text: &str| decode(png(&qr, text, 8)).0.split_off(side * side);
        assert_eq!(caption_of("314-159-266"), caption);
        assert_ne!(caption_of("314-159-267"), caption);
        assert!(caption_of("").iter().all(|&p| p == 0xff));
    }

    #[test]
    fn payloads_fit_versions_3_and_4() {
        let code = "BP:".to_string() + &"A".repeat(54);
        assert_eq!(encode(&code).version(), qrcode::Version::Normal(3));
        let secret = "BP:".to_string() + &"A".repeat(72);
        assert_eq!(encode(&secret).version(), qrcode::Version::Normal(4));
    }
}
